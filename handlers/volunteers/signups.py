"""Sign-up (报名), the waitlist (候补) and cancellation, and the volunteer's own list.

A shift never has more confirmed volunteers than places, and its waitlist is numbered
1..n in the order the sign-ups took the shift's lock, which is the order they commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from handlers.refusal import Refused
from handlers.roles import Who
from handlers.volunteers import rules
from handlers.volunteers.rules import LOCAL, SignUpStatus
from handlers.volunteers.shared import (
    ACTIVE,
    iso,
    lock_shift,
    lock_volunteer,
    notify,
    policy,
    required_reason,
    signup_for_leader,
    span,
)
from models import sql
from models.audit import record
from models.volunteers import Shift, SignUp


@dataclass(frozen=True)
class SignUpOutcome:
    signup_id: int
    status: SignUpStatus
    position: int | None
    shift_id: int
    title: str
    place: str
    starts_at: datetime
    ends_at: datetime

    @property
    def when(self) -> str:
        return span(self.starts_at, self.ends_at)


def _check_eligible(
    birth_year: int | None,
    skills: list[str],
    min_age: int | None,
    required: list[str],
    starts_at: datetime,
) -> None:
    if min_age is not None:
        if birth_year is None:
            raise Refused("volunteer.error.age_unknown", 403, age=min_age)
        if rules.age_in(birth_year, starts_at.astimezone(LOCAL).year) < min_age:
            raise Refused("volunteer.error.too_young", 403, age=min_age)
    missing = rules.missing_skills(required, skills)
    if missing:
        raise Refused("volunteer.error.missing_skills", 403, skills="、".join(missing))


async def sign_up(shift_id: int, resident_id: int, now: datetime) -> SignUpOutcome:
    """Take a place on the shift, or the next place on its waitlist.

    The hot path of an event opening for sign-up, so it is plain SQL in one transaction
    (the ORM's model layer costs more than the sign-up). The volunteer's own checks
    (registered, eligible, not already on it, no overlap) run under their profile lock;
    only the placing itself, three short statements, holds the shift's lock.
    """
    async with in_transaction() as conn:
        pg = conn.capabilities.dialect == "postgres"
        found = await sql.run(
            conn,
            "SELECT p.community_id, p.skills, p.birth_year FROM volunteer_profile p"
            " JOIN resident r ON r.id = p.resident_id"
            " WHERE p.resident_id = $1 AND p.active AND r.erased_at IS NULL"
            + (" FOR NO KEY UPDATE OF p" if pg else ""),
            [resident_id],
        )
        if not found:
            raise Refused("volunteer.error.not_registered", 403)
        profile = found[0]
        rows = await sql.run(
            conn,
            "SELECT s.starts_at, s.ends_at, s.min_age, s.skills, a.title, a.place, a.status,"
            " a.required_skills FROM volunteer_shift s"
            " JOIN volunteer_activity a ON a.id = s.activity_id"
            " WHERE s.id = $1 AND a.community_id = $2",
            [shift_id, profile["community_id"]],
        )
        if not rows or rows[0]["status"] != "open":
            raise Refused("volunteer.error.shift_not_found", 404, id=shift_id)
        shift = rows[0]
        starts, ends = sql.as_datetime(shift["starts_at"]), sql.as_datetime(shift["ends_at"])
        if not rules.sign_up_open(starts, now):
            raise Refused("volunteer.error.shift_started", 409, id=shift_id)
        _check_eligible(
            profile["birth_year"],
            sql.as_json(profile["skills"]),
            shift["min_age"],
            [*sql.as_json(shift["required_skills"]), *sql.as_json(shift["skills"])],
            starts,
        )
        mine = await sql.run(
            conn,
            "SELECT u.id, u.shift_id, u.status, s.starts_at, s.ends_at, a.title"
            " FROM volunteer_signup u JOIN volunteer_shift s ON s.id = u.shift_id"
            " JOIN volunteer_activity a ON a.id = s.activity_id"
            " WHERE u.volunteer_id = $1 AND (u.shift_id = $2 OR (u.status IN ($3, $4)"
            " AND s.starts_at < $5 AND s.ends_at > $6))",
            [resident_id, shift_id, *ACTIVE, sql.db_time(ends, pg), sql.db_time(starts, pg)],
        )
        existing = next((m for m in mine if m["shift_id"] == shift_id), None)
        if existing is not None and existing["status"] != SignUpStatus.CANCELLED:
            raise Refused("volunteer.error.already_signed_up", 409, id=shift_id)
        clash = rules.first_overlap(
            starts,
            ends,
            (
                (m, sql.as_datetime(m["starts_at"]), sql.as_datetime(m["ends_at"]))
                for m in mine
                if m["shift_id"] != shift_id and m["status"] in ACTIVE
            ),
        )
        if clash is not None:
            raise Refused(
                "volunteer.error.overlap",
                409,
                id=clash["shift_id"],
                title=clash["title"],
                time=span(sql.as_datetime(clash["starts_at"]), sql.as_datetime(clash["ends_at"])),
            )
        locked = (
            await sql.run(
                conn,
                "SELECT capacity, confirmed_count, waitlist_count FROM volunteer_shift"
                " WHERE id = $1" + (" FOR NO KEY UPDATE" if pg else ""),
                [shift_id],
            )
        )[0]
        placed = rules.place(
            locked["capacity"], locked["confirmed_count"], locked["waitlist_count"]
        )
        confirmed = placed.status is SignUpStatus.CONFIRMED
        at = sql.db_time(now, pg)
        values = [placed.status.value, placed.position, at, at if confirmed else None]
        if existing is None:
            made = await sql.run(
                conn,
                "INSERT INTO volunteer_signup (status, position, signed_up_at, confirmed_at,"
                " shift_id, volunteer_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                [*values, shift_id, resident_id],
            )
            signup_id = made[0]["id"]
        else:
            signup_id = existing["id"]
            await sql.run(
                conn,
                "UPDATE volunteer_signup SET status = $1, position = $2, signed_up_at = $3,"
                " confirmed_at = $4, cancelled_at = NULL, reminded_day_at = NULL,"
                " reminded_hour_at = NULL WHERE id = $5",
                [*values, signup_id],
            )
        counter = "confirmed_count" if confirmed else "waitlist_count"
        await sql.run(
            conn,
            f"UPDATE volunteer_shift SET {counter} = {counter} + 1 WHERE id = $1",
            [shift_id],
        )
        await sql.run(
            conn,
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                at,
                f"resident:{resident_id}",
                "volunteer.signed_up",
                "volunteer_shift",
                str(shift_id),
                None,
                json.dumps({"status": placed.status.value, "position": placed.position}),
            ],
        )
    return SignUpOutcome(
        signup_id,
        placed.status,
        placed.position,
        shift_id,
        shift["title"],
        shift["place"],
        starts,
        ends,
    )


@dataclass(frozen=True)
class CancelOutcome:
    was: SignUpStatus
    shift: Shift
    promoted: tuple[int, ...]


async def cancel(shift_id: int, resident_id: int, now: datetime) -> CancelOutcome:
    """Give up a place (the head of the waitlist takes it, and is told) or leave the waitlist.

    A confirmed place cannot be given up within the cancellation window (2 h): the
    volunteer asks the team leader, who can find someone and mark attendance.
    """
    async with in_transaction() as conn:
        await lock_volunteer(resident_id, conn)
        # The line may have moved since: read the place only under the shift's lock.
        shift = (
            await Shift.filter(id=shift_id).using_db(conn).select_for_update(no_key=True).first()
        )
        signup = (
            None
            if shift is None
            else await SignUp.filter(shift_id=shift_id, volunteer_id=resident_id, status__in=ACTIVE)
            .using_db(conn)
            .first()
        )
        if shift is None or signup is None:
            raise Refused("volunteer.error.not_signed_up", 409, id=shift_id)
        if not rules.sign_up_open(shift.starts_at, now):
            raise Refused("volunteer.error.shift_started", 409, id=shift_id)
        if signup.status == SignUpStatus.CONFIRMED and not rules.may_cancel(
            shift.starts_at, now, policy()
        ):
            hours = policy().cancel_window.total_seconds() / 3600
            raise Refused(
                "volunteer.error.too_late_to_cancel", 409, hours=f"{hours:g}", id=shift_id
            )
        promoted = await _leave(signup, shift, now, conn)
        await record(
            f"resident:{resident_id}",
            "volunteer.cancelled",
            "volunteer_shift",
            shift.id,
            before={"status": signup.status, "position": signup.position},
            after={"status": SignUpStatus.CANCELLED.value, "promoted": list(promoted)},
            using_db=conn,
        )
        await shift.fetch_related("activity", using_db=conn)
    return CancelOutcome(SignUpStatus(signup.status), shift, promoted)


async def release(who: Who, signup_id: int, reason: str | None, now: datetime) -> CancelOutcome:
    """A leader gives up a volunteer's place for them (the "ask the leader" path), with a reason.

    Allowed until the start, also within the cancellation window; the volunteer is told,
    and the head of the waitlist moves up as for any cancellation.
    """
    signup = await signup_for_leader(who, signup_id)
    reason = required_reason(reason)
    async with in_transaction() as conn:
        fresh = (
            await SignUp.filter(id=signup.id, status__in=ACTIVE)
            .using_db(conn)
            .select_related("shift__activity")
            .first()
        )
        if fresh is None:
            raise Refused("volunteer.error.bad_status", 409)
        shift = fresh.shift
        if not rules.sign_up_open(shift.starts_at, now):
            raise Refused("volunteer.error.shift_started", 409, id=shift.id)
        locked = await lock_shift(shift.id, conn)
        fresh = await SignUp.filter(id=signup.id).using_db(conn).first()
        if fresh is None or fresh.status not in ACTIVE:
            raise Refused("volunteer.error.changed_meanwhile", 409)
        promoted = await _leave(fresh, locked, now, conn)
        await notify(shift, "volunteer.released", fresh.volunteer_id, conn, reason=reason)
        await record(
            who.name,
            "volunteer.released",
            "volunteer_signup",
            fresh.id,
            before={"status": fresh.status, "position": fresh.position},
            after={
                "status": SignUpStatus.CANCELLED.value,
                "promoted": list(promoted),
                "reason": reason,
            },
            using_db=conn,
        )
    return CancelOutcome(SignUpStatus(fresh.status), shift, promoted)


async def _leave(signup: SignUp, shift: Shift, now: datetime, conn: Any) -> tuple[int, ...]:
    """Cancel ``signup`` on the locked ``shift``; move the line up and fill free places."""
    await (
        SignUp.filter(id=signup.id)
        .using_db(conn)
        .update(status=SignUpStatus.CANCELLED.value, position=None, cancelled_at=now)
    )
    confirmed, waiting = shift.confirmed_count, shift.waitlist_count
    line = SignUp.filter(shift_id=shift.id, status=SignUpStatus.WAITLISTED).using_db(conn)
    if signup.status == SignUpStatus.CONFIRMED:
        confirmed -= 1
    else:
        waiting -= 1
        await line.filter(position__gt=signup.position).update(position=F("position") - 1)
    return await fill_places(shift, confirmed, waiting, now, conn)


async def fill_places(
    shift: Shift, confirmed: int, waiting: int, now: datetime, conn: Any
) -> tuple[int, ...]:
    """On the locked ``shift`` (its capacity as it now stands), move the head of the
    waitlist into the free places, in order, and tell each; store the counts."""
    line = SignUp.filter(shift_id=shift.id, status=SignUpStatus.WAITLISTED).using_db(conn)
    take = rules.promotions(shift.capacity, confirmed, waiting)
    promoted: list[tuple[int, int]] = []
    if take:
        promoted = await line.order_by("position").limit(take).values_list("id", "volunteer_id")
        await (
            SignUp.filter(id__in=[i for i, _ in promoted])
            .using_db(conn)
            .update(status=SignUpStatus.CONFIRMED.value, position=None, confirmed_at=now)
        )
        await line.update(position=F("position") - len(promoted))
        for _, volunteer_id in promoted:
            await notify(
                shift, "volunteer.promoted", volunteer_id, conn, starts_at=iso(shift.starts_at)
            )
    await (
        Shift.filter(id=shift.id)
        .using_db(conn)
        .update(confirmed_count=confirmed + len(promoted), waitlist_count=waiting - len(promoted))
    )
    return tuple(v for _, v in promoted)


def _my_signups(resident_id: int, now: datetime, history: bool) -> Any:
    query = SignUp.filter(volunteer_id=resident_id)
    if not history:
        query = query.filter(status__in=ACTIVE, shift__ends_at__gte=now)
    order = ("shift__starts_at", "id") if not history else ("-shift__starts_at", "-id")
    return query.select_related("shift__activity").order_by(*order)


async def my_signups(resident_id: int, now: datetime, history: bool = False) -> list[SignUp]:
    """Upcoming and current places and waitlist positions; with ``history``, every sign-up."""
    return await _my_signups(resident_id, now, history).limit(50)


async def my_signups_page(
    resident_id: int, now: datetime, history: bool, offset: int, limit: int
) -> tuple[int, list[SignUp]]:
    """``my_signups`` a page at a time: how many in all, and the page from ``offset``."""
    query = _my_signups(resident_id, now, history)
    return await query.count(), await query.offset(offset).limit(limit)
