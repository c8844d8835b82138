"""Volunteer operations shared by the chat, the JSON API and the background jobs.

Places are given under the shift's row lock (``SELECT ... FOR NO KEY UPDATE`` on
PostgreSQL; SQLite runs one writing transaction at a time), so a shift never has more
confirmed volunteers than places and its waitlist is numbered 1..n in the order the
sign-ups took the lock, which is the order they commit. Operations of one volunteer
(sign-up, cancellation, redemption, adjustment) first lock that volunteer's profile row:
two overlapping shifts cannot both be taken at once, and a redemption spends a balance
nothing else is lowering. Errors are ``VolunteerError`` with a catalogue message id.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from handlers.roles import Who, who_of
from handlers.roles import actor as actor_name
from handlers.volunteers import rules
from handlers.volunteers.rules import LOCAL, LedgerKind, Policy, ScanAction, SignUpStatus, Window
from models import sql
from models.audit import record
from models.outbox import Notification
from models.residents import Resident, Role, RoleAssignment
from models.volunteers import (
    Activity,
    CheckRecord,
    PointsEntry,
    Redemption,
    Reward,
    Shift,
    SignUp,
    TeamMember,
    VolunteerProfile,
    VolunteerTeam,
)

log = logging.getLogger(__name__)
who = who_of  # the chat and the API load a Who once and pass it here

POLICY_FILE = Path(__file__).resolve().parents[2] / "config" / "volunteers.toml"
TITLE_MAX = 100
TEXT_MAX = 2000
REASON_MAX = 500
SKILLS_MAX = 10
SKILL_MAX = 24
POINTS_MAX = 100_000
ACTIVE = [s.value for s in rules.ACTIVE]
# Each reminder's once-only column and the notification kind it owes.
REMINDERS = {
    rules.Reminder.DAY: ("reminded_day_at", "volunteer.reminder_day"),
    rules.Reminder.HOUR: ("reminded_hour_at", "volunteer.reminder_hour"),
}
GRANT_ACTIONS = {
    LedgerKind.BONUS: "volunteer.points_bonus",
    LedgerKind.ADJUSTED: "volunteer.points_adjusted",
}


class VolunteerError(Exception):
    """A refusal the volunteer or worker is told about: ``code`` is a catalogue message id."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@cache
def policy() -> Policy:
    """Rates, windows and reminders as the community configures them."""
    with POLICY_FILE.open("rb") as fh:
        return rules.policy_from_mapping(tomllib.load(fh))


def span(starts_at: datetime, ends_at: datetime) -> str:
    """A shift's time as residents read it, in local time: 11-08 09:00–11:00."""
    start, end = starts_at.astimezone(LOCAL), ends_at.astimezone(LOCAL)
    tail = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%m-%d %H:%M")
    return f"{start.strftime('%m-%d %H:%M')}–{tail}"


def when(shift: Shift) -> str:
    return span(shift.starts_at, shift.ends_at)


def local_time(value: datetime) -> str:
    return value.astimezone(LOCAL).strftime("%m-%d %H:%M")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# --- who may do what ------------------------------------------------------------------------------


def _forbid_unless(allowed: bool) -> None:
    if not allowed:
        raise VolunteerError("volunteer.error.forbidden")


# --- registration and teams -----------------------------------------------------------------------


def clean_skills(skills: Iterable[object]) -> list[str]:
    out: list[str] = []
    for raw in skills:
        skill = str(raw).strip()[:SKILL_MAX]
        if skill and skill.casefold() not in {s.casefold() for s in out}:
            out.append(skill)
    if len(out) > SKILLS_MAX:
        raise VolunteerError("volunteer.error.too_many_skills", limit=SKILLS_MAX)
    return out


async def profile_of(resident_id: int) -> VolunteerProfile | None:
    return await VolunteerProfile.get_or_none(resident_id=resident_id, active=True)


async def register(
    resident: Resident,
    now: datetime,
    skills: Iterable[object] = (),
    birth_year: int | None = None,
) -> tuple[VolunteerProfile, bool]:
    """网上注册: the profile and the volunteer role; registering again updates the skills.

    Returns the profile and whether it is new.
    """
    if resident.erased_at is not None:
        raise VolunteerError("volunteer.error.forbidden")
    cleaned = clean_skills(skills)
    if birth_year is not None and not 1900 <= birth_year <= now.year:
        raise VolunteerError("volunteer.error.bad_birth_year")
    existing = await VolunteerProfile.get_or_none(resident_id=resident.id)
    if existing is not None:
        changes: dict[str, Any] = {"active": True}
        if cleaned:
            changes["skills"] = cleaned
        if birth_year is not None:
            changes["birth_year"] = birth_year
        await VolunteerProfile.filter(id=existing.id).update(**changes)
        for field, value in changes.items():
            setattr(existing, field, value)
        await _grant_role(resident, None)
        return existing, False
    try:
        async with in_transaction() as conn:
            profile = await VolunteerProfile.create(
                resident_id=resident.id,
                community_id=resident.community_id,  # type: ignore[attr-defined]
                skills=cleaned,
                birth_year=birth_year,
                registered_at=now,
                using_db=conn,
            )
            await _grant_role(resident, conn)
            await record(
                actor_name(resident),
                "volunteer.registered",
                "resident",
                resident.id,
                after={"skills": cleaned},
                using_db=conn,
            )
    except IntegrityError:
        return await VolunteerProfile.get(resident_id=resident.id), False
    return profile, True


async def _grant_role(resident: Resident, conn: Any) -> None:
    community_id = resident.community_id  # type: ignore[attr-defined]
    if not await (
        RoleAssignment.filter(
            resident_id=resident.id, role=Role.VOLUNTEER, community_id=community_id
        )
        .using_db(conn)
        .exists()
    ):
        await RoleAssignment.create(
            resident_id=resident.id, role=Role.VOLUNTEER, community_id=community_id, using_db=conn
        )


async def create_team(who: Who, name: str, category: str, leader_id: int | None) -> VolunteerTeam:
    _forbid_unless(who.is_manager)
    name = _clean_text(name, 64, "volunteer.error.bad_title")
    if category not in {c.value for c in rules.Category}:
        raise VolunteerError("volunteer.error.bad_category")
    if (
        leader_id is not None
        and not await Resident.filter(
            id=leader_id, community_id=who.community_id, erased_at=None
        ).exists()
    ):
        raise VolunteerError("volunteer.error.bad_leader")
    try:
        async with in_transaction() as conn:
            team = await VolunteerTeam.create(
                community_id=who.community_id,
                name=name,
                category=category,
                leader_id=leader_id,
                using_db=conn,
            )
            await record(
                who.name,
                "volunteer_team.created",
                "volunteer_team",
                team.id,
                after={"name": name, "leader": leader_id},
                using_db=conn,
            )
    except IntegrityError:
        raise VolunteerError("volunteer.error.team_exists", name=name) from None
    return team


async def join_team(resident: Resident, team_id: int) -> VolunteerTeam:
    team = await VolunteerTeam.get_or_none(
        id=team_id,
        community_id=resident.community_id,  # type: ignore[attr-defined]
    )
    if team is None:
        raise VolunteerError("volunteer.error.team_not_found", id=team_id)
    if await profile_of(resident.id) is None:
        raise VolunteerError("volunteer.error.not_registered")
    with contextlib.suppress(IntegrityError):  # already a member: joining twice is joining
        await TeamMember.create(team_id=team.id, resident_id=resident.id)
    return team


# --- activities and shifts ------------------------------------------------------------------------


def _clean_text(text: object, limit: int, code: str) -> str:
    cleaned = str(text or "").strip()
    if not cleaned or len(cleaned) > limit:
        raise VolunteerError(code, limit=limit)
    return cleaned


def _coordinates(latitude: object, longitude: object) -> tuple[float | None, float | None]:
    if latitude is None and longitude is None:
        return None, None
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in (latitude, longitude)
    ):
        raise VolunteerError("volunteer.error.bad_location")
    lat, lng = float(latitude), float(longitude)  # type: ignore[arg-type]
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise VolunteerError("volunteer.error.bad_location")
    return lat, lng


@dataclass(frozen=True)
class ShiftPlan:
    starts_at: datetime
    ends_at: datetime
    capacity: int
    min_age: int | None = None
    skills: tuple[str, ...] = ()


def _check_plan(plan: ShiftPlan, now: datetime) -> None:
    refusal = rules.check_shift(plan.starts_at, plan.ends_at, plan.capacity, now)
    if refusal == "capacity":
        raise VolunteerError("volunteer.error.bad_capacity", limit=rules.MAX_CAPACITY)
    if refusal is not None:
        raise VolunteerError("volunteer.error.bad_time")
    if plan.min_age is not None and not 0 < plan.min_age < 120:
        raise VolunteerError("volunteer.error.bad_age")


async def create_activity(
    who: Who,
    now: datetime,
    *,
    title: str,
    description: str = "",
    category: str = "event",
    place: str = "",
    latitude: object = None,
    longitude: object = None,
    radius_m: int | None = None,
    team_id: int | None = None,
    required_skills: Iterable[object] = (),
    shifts: Iterable[ShiftPlan] = (),
) -> Activity:
    """A worker's activity, or a team leader's for their own team, with its first shifts."""
    _forbid_unless(who.leads(team_id))
    if (
        team_id is not None
        and not await VolunteerTeam.filter(id=team_id, community_id=who.community_id).exists()
    ):
        raise VolunteerError("volunteer.error.team_not_found", id=team_id)
    title = _clean_text(title, TITLE_MAX, "volunteer.error.bad_title")
    description = str(description or "").strip()[:TEXT_MAX]
    if category not in {c.value for c in rules.Category}:
        raise VolunteerError("volunteer.error.bad_category")
    lat, lng = _coordinates(latitude, longitude)
    radius = policy().default_radius_m if radius_m is None else radius_m
    if not 1 <= radius <= rules.MAX_RADIUS_M:
        raise VolunteerError("volunteer.error.bad_radius", limit=rules.MAX_RADIUS_M)
    plans = list(shifts)
    for plan in plans:
        _check_plan(plan, now)
    async with in_transaction() as conn:
        activity = await Activity.create(
            community_id=who.community_id,
            team_id=team_id,
            title=title,
            description=description,
            category=category,
            place=str(place or "").strip()[:TITLE_MAX],
            latitude=lat,
            longitude=lng,
            radius_m=radius,
            required_skills=clean_skills(required_skills),
            created_by_id=who.resident.id,
            using_db=conn,
        )
        for plan in plans:
            await _create_shift(activity, plan, conn)
        await record(
            who.name,
            "volunteer_activity.created",
            "volunteer_activity",
            activity.id,
            after={"title": title, "shifts": len(plans)},
            using_db=conn,
        )
    return activity


async def _create_shift(activity: Activity, plan: ShiftPlan, conn: Any) -> Shift:
    return await Shift.create(
        activity_id=activity.id,
        starts_at=plan.starts_at,
        ends_at=plan.ends_at,
        capacity=plan.capacity,
        min_age=plan.min_age,
        skills=clean_skills(plan.skills),
        using_db=conn,
    )


async def get_activity(activity_id: int, community_id: int) -> Activity:
    activity = await Activity.get_or_none(id=activity_id, community_id=community_id)
    if activity is None:
        raise VolunteerError("volunteer.error.activity_not_found", id=activity_id)
    return activity


async def add_shift(who: Who, activity_id: int, plan: ShiftPlan, now: datetime) -> Shift:
    activity = await get_activity(activity_id, who.community_id)
    _forbid_unless(who.leads(activity.team_id))  # type: ignore[attr-defined]
    _check_plan(plan, now)
    async with in_transaction() as conn:
        shift = await _create_shift(activity, plan, conn)
        await record(
            who.name,
            "volunteer_shift.created",
            "volunteer_shift",
            shift.id,
            after={"activity": activity.id, "capacity": plan.capacity},
            using_db=conn,
        )
    return shift


async def upcoming(community_id: int, now: datetime, limit: int = 10) -> list[Shift]:
    """Shifts still open for sign-up, soonest first, with their activity."""
    return (
        await Shift.filter(
            activity__community_id=community_id, activity__status="open", starts_at__gt=now
        )
        .select_related("activity")
        .order_by("starts_at", "id")
        .limit(limit)
    )


async def get_shift(shift_id: int, community_id: int) -> Shift:
    shift = (
        await Shift.filter(id=shift_id, activity__community_id=community_id)
        .select_related("activity")
        .first()
    )
    if shift is None:
        raise VolunteerError("volunteer.error.shift_not_found", id=shift_id)
    return shift


# --- sign-up, waitlist, cancellation --------------------------------------------------------------


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


async def _lock_volunteer(resident_id: int, conn: Any) -> VolunteerProfile:
    """The volunteer's profile row, locked until the transaction ends."""
    profile = (
        await VolunteerProfile.filter(
            resident_id=resident_id, active=True, resident__erased_at=None
        )
        .using_db(conn)
        .select_for_update(no_key=True, of=("volunteer_profile",))
        .first()
    )
    if profile is None:
        raise VolunteerError("volunteer.error.not_registered")
    return profile


async def _lock_shift(shift_id: int, conn: Any) -> Shift:
    locked = await Shift.filter(id=shift_id).using_db(conn).select_for_update(no_key=True).first()
    assert locked is not None  # shifts are never deleted
    return locked


def _check_eligible(
    birth_year: int | None,
    skills: list[str],
    min_age: int | None,
    required: list[str],
    starts_at: datetime,
) -> None:
    if min_age is not None:
        if birth_year is None:
            raise VolunteerError("volunteer.error.age_unknown", age=min_age)
        if rules.age_in(birth_year, starts_at.astimezone(LOCAL).year) < min_age:
            raise VolunteerError("volunteer.error.too_young", age=min_age)
    missing = rules.missing_skills(required, skills)
    if missing:
        raise VolunteerError("volunteer.error.missing_skills", skills="、".join(missing))


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
            raise VolunteerError("volunteer.error.not_registered")
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
            raise VolunteerError("volunteer.error.shift_not_found", id=shift_id)
        shift = rows[0]
        starts, ends = sql.as_datetime(shift["starts_at"]), sql.as_datetime(shift["ends_at"])
        if not rules.sign_up_open(starts, now):
            raise VolunteerError("volunteer.error.shift_started", id=shift_id)
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
            raise VolunteerError("volunteer.error.already_signed_up", id=shift_id)
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
            raise VolunteerError(
                "volunteer.error.overlap",
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
        await _lock_volunteer(resident_id, conn)
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
            raise VolunteerError("volunteer.error.not_signed_up", id=shift_id)
        if not rules.sign_up_open(shift.starts_at, now):
            raise VolunteerError("volunteer.error.shift_started", id=shift_id)
        if signup.status == SignUpStatus.CONFIRMED and not rules.may_cancel(
            shift.starts_at, now, policy()
        ):
            hours = policy().cancel_window.total_seconds() / 3600
            raise VolunteerError(
                "volunteer.error.too_late_to_cancel", hours=f"{hours:g}", id=shift_id
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
    signup = await _signup_for_leader(who, signup_id)
    reason = _reason(reason)
    async with in_transaction() as conn:
        fresh = (
            await SignUp.filter(id=signup.id, status__in=ACTIVE)
            .using_db(conn)
            .select_related("shift__activity")
            .first()
        )
        if fresh is None:
            raise VolunteerError("volunteer.error.bad_status")
        shift = fresh.shift
        if not rules.sign_up_open(shift.starts_at, now):
            raise VolunteerError("volunteer.error.shift_started", id=shift.id)
        locked = await _lock_shift(shift.id, conn)
        fresh = await SignUp.filter(id=signup.id).using_db(conn).first()
        if fresh is None or fresh.status not in ACTIVE:
            raise VolunteerError("volunteer.error.changed_meanwhile")
        promoted = await _leave(fresh, locked, now, conn)
        await _notify(shift, "volunteer.released", fresh.volunteer_id, conn, reason=reason)  # type: ignore[attr-defined]
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
            await _notify(
                shift, "volunteer.promoted", volunteer_id, conn, starts_at=_iso(shift.starts_at)
            )
    await (
        Shift.filter(id=shift.id)
        .using_db(conn)
        .update(confirmed_count=confirmed + len(promoted), waitlist_count=waiting - len(promoted))
    )
    return tuple(v for _, v in promoted)


async def _notify(shift: Shift, kind: str, volunteer_id: int, conn: Any, **payload: Any) -> None:
    activity = await Activity.get(id=shift.activity_id).using_db(conn)  # type: ignore[attr-defined]
    await Notification.create(
        community_id=activity.community_id,  # type: ignore[attr-defined]
        kind=kind,
        audience=f"resident:{volunteer_id}",
        subject="volunteer_shift",
        subject_id=shift.id,
        payload={"title": activity.title, "place": activity.place, **payload},
        using_db=conn,
    )


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


# --- check-in and check-out -----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckOutcome:
    action: ScanAction
    signup: SignUp
    shift: Shift
    activity: Activity
    at: datetime
    minutes: int | None = None
    points: int | None = None
    distance: float | None = None


async def check_by_scene(resident_id: int, key: str, now: datetime) -> CheckOutcome:
    """签到 by scanning the site's QR code: a shift's (``shift_3``) or an activity's."""
    parsed = rules.parse_scene(key)
    if parsed is None:
        raise VolunteerError("volunteer.error.bad_scene")
    kind, ident = parsed
    where = Q(shift_id=ident) if kind == "shift" else Q(shift__activity_id=ident)
    found = await _candidates(resident_id, where)
    if not found:
        raise VolunteerError("volunteer.error.not_on_shift")
    return await _check(found, now, "scan")


async def check_by_location(
    resident_id: int, latitude: float, longitude: float, now: datetime
) -> CheckOutcome | None:
    """签到 by sending one's location; None when no shift of theirs is in its window."""
    pol = policy()
    where = Q(shift__starts_at__lte=now + pol.check_in_opens) & (
        Q(shift__ends_at__gte=now) | Q(checked_in_at__not_isnull=True, checked_out_at=None)
    )
    found = await _candidates(resident_id, where)
    if not found:
        return None
    return await _check(found, now, "location", latitude, longitude)


async def _candidates(resident_id: int, where: Q) -> list[SignUp]:
    """The volunteer's places the scan or location may be about, checked-out ones included."""
    return (
        await SignUp.filter(
            where, volunteer_id=resident_id, status__in=[*ACTIVE, SignUpStatus.ATTENDED]
        )
        .select_related("shift__activity")
        .order_by("shift__starts_at", "id")
    )


async def _check(
    found: list[SignUp],
    now: datetime,
    method: str,
    latitude: float | None = None,
    longitude: float | None = None,
) -> CheckOutcome:
    pol = policy()
    placed = [s for s in found if s.status != SignUpStatus.WAITLISTED]
    if not placed:
        raise VolunteerError("volunteer.error.waitlisted", position=found[0].position)
    signup = rules.pick(
        (
            (
                s,
                s.shift.starts_at,
                s.shift.ends_at,
                s.checked_in_at is not None and s.checked_out_at is None,
            )
            for s in placed
        ),
        now,
        pol,
    )
    assert signup is not None
    shift, activity = signup.shift, signup.shift.activity
    action = rules.scan_action(
        shift.starts_at, signup.checked_in_at, signup.checked_out_at, now, pol
    )
    if action is ScanAction.CHECK_IN:
        window = rules.check_in_window(shift.starts_at, shift.ends_at, now, pol)
        if window is Window.EARLY:
            raise VolunteerError(
                "volunteer.error.check_in_early",
                title=activity.title,
                time=local_time(shift.starts_at - pol.check_in_opens),
            )
        if window is Window.CLOSED:
            raise VolunteerError("volunteer.error.check_in_closed", title=activity.title)
    distance = None
    moving = action in {ScanAction.CHECK_IN, ScanAction.CHECK_OUT}
    if latitude is not None and longitude is not None and moving:
        if activity.latitude is None or activity.longitude is None:
            raise VolunteerError("volunteer.error.no_location", title=activity.title)
        distance = rules.distance_m(latitude, longitude, activity.latitude, activity.longitude)
        if not rules.within_radius(distance, activity.radius_m):
            raise VolunteerError(
                "volunteer.error.too_far",
                distance=round(distance),
                radius=activity.radius_m,
                place=activity.place or activity.title,
            )
    where = {"latitude": latitude, "longitude": longitude, "distance": distance}
    if action is ScanAction.CHECK_IN:
        async with in_transaction() as conn:
            done = (
                await SignUp.filter(id=signup.id, status=SignUpStatus.CONFIRMED, checked_in_at=None)
                .using_db(conn)
                .update(checked_in_at=now)
            )
            if done:
                await _check_record(signup, "in", now, method, where, conn)
        if not done:
            action = ScanAction.ALREADY_IN  # a second scan raced the first
        return CheckOutcome(action, signup, shift, activity, now, distance=distance)
    if action is ScanAction.CHECK_OUT:
        return await _check_out(signup, now, method, where)
    at = signup.checked_in_at if action is ScanAction.ALREADY_IN else signup.checked_out_at
    return CheckOutcome(action, signup, shift, activity, at or now, signup.minutes, signup.points)


async def _check_record(
    signup: SignUp, kind: str, at: datetime, method: str, where: dict[str, Any], conn: Any
) -> None:
    distance = where.get("distance")
    await CheckRecord.create(
        signup_id=signup.id,
        kind=kind,
        at=at,
        method=method,
        latitude=where.get("latitude"),
        longitude=where.get("longitude"),
        distance_m=None if distance is None else round(distance),
        using_db=conn,
    )


async def _check_out(
    signup: SignUp, now: datetime, method: str, where: dict[str, Any] | None = None
) -> CheckOutcome:
    """签退: hours from check-in to check-out within the shift, and their points, once."""
    shift, activity = signup.shift, signup.shift.activity
    assert signup.checked_in_at is not None
    out_at = rules.check_out_time(shift.starts_at, shift.ends_at, now)
    minutes = rules.served_minutes(shift.starts_at, shift.ends_at, signup.checked_in_at, out_at)
    points = rules.points_for(minutes, policy().points_per_hour)
    async with in_transaction() as conn:
        done = (
            await SignUp.filter(id=signup.id, status=SignUpStatus.CONFIRMED, checked_out_at=None)
            .using_db(conn)
            .update(
                status=SignUpStatus.ATTENDED.value,
                checked_out_at=out_at,
                minutes=minutes,
                points=points,
            )
        )
        if not done:
            raise VolunteerError("volunteer.error.changed_meanwhile")
        await _check_record(signup, "out", out_at, method, where or {}, conn)
        if points:
            await PointsEntry.create(
                community_id=activity.community_id,  # type: ignore[attr-defined]
                volunteer_id=signup.volunteer_id,  # type: ignore[attr-defined]
                kind=LedgerKind.EARNED.value,
                points=points,
                signup_id=signup.id,
                actor="system" if method == "auto" else f"resident:{signup.volunteer_id}",  # type: ignore[attr-defined]
                at=out_at,
                using_db=conn,
            )
    distance = (where or {}).get("distance")
    return CheckOutcome(
        ScanAction.CHECK_OUT, signup, shift, activity, out_at, minutes, points, distance
    )


# --- background jobs ------------------------------------------------------------------------------


async def close_ended_shifts(now: datetime) -> int:
    """The job: check out, at the shift's end, everyone still checked in when it ended."""
    due = await SignUp.filter(
        status=SignUpStatus.CONFIRMED,
        checked_in_at__not_isnull=True,
        checked_out_at=None,
        shift__ends_at__lte=now,
    ).select_related("shift__activity")
    done = 0
    for signup in due:
        try:
            await _check_out(signup, now, "auto")
            done += 1
        except VolunteerError:
            continue  # checked out meanwhile, by a scan or another process
    return done


async def send_reminders(now: datetime) -> dict[str, int]:
    """The job: the day-before and hour-before reminders, each once per confirmed volunteer."""
    pol = policy()
    sent = {rules.Reminder.DAY.value: 0, rules.Reminder.HOUR.value: 0}
    due = await SignUp.filter(
        Q(reminded_day_at=None) | Q(reminded_hour_at=None),
        status=SignUpStatus.CONFIRMED,
        shift__starts_at__gt=now,
        shift__starts_at__lte=now + pol.day_reminder,
    ).select_related("shift")
    for signup in due:
        reminder = rules.reminder_due(
            signup.shift.starts_at,
            now,
            signup.reminded_day_at is not None,
            signup.reminded_hour_at is not None,
            pol,
        )
        if reminder is None:
            continue
        column, kind = REMINDERS[reminder]
        async with in_transaction() as conn:
            claimed = (
                await SignUp.filter(id=signup.id, status=SignUpStatus.CONFIRMED, **{column: None})
                .using_db(conn)
                .update(**{column: now})
            )
            if claimed:
                await _notify(
                    signup.shift,
                    kind,
                    signup.volunteer_id,  # type: ignore[attr-defined]
                    conn,
                    starts_at=_iso(signup.shift.starts_at),
                )
                sent[reminder.value] += 1
    return sent


# --- leaders: attendance --------------------------------------------------------------------------


async def _signup_for_leader(who: Who, signup_id: int) -> SignUp:
    signup = (
        await SignUp.filter(id=signup_id, shift__activity__community_id=who.community_id)
        .select_related("shift__activity")
        .first()
    )
    if signup is None:
        raise VolunteerError("volunteer.error.signup_not_found", id=signup_id)
    _forbid_unless(who.leads(signup.shift.activity.team_id))  # type: ignore[attr-defined]
    return signup


async def attendance(who: Who, shift_id: int) -> tuple[Shift, list[dict[str, Any]]]:
    """Who is on the shift, who has checked in and out: for its leader and workers."""
    shift = await get_shift(shift_id, who.community_id)
    _forbid_unless(who.leads(shift.activity.team_id))  # type: ignore[attr-defined]
    rows = await (
        SignUp.filter(shift_id=shift.id)
        .select_related("volunteer")
        .order_by("status", "position", "id")
    )
    return shift, [
        {
            "signup_id": s.id,
            "volunteer": {"id": s.volunteer.id, "name": s.volunteer.name},
            "status": s.status,
            "position": s.position,
            "signed_up_at": _iso(s.signed_up_at),
            "checked_in_at": _iso(s.checked_in_at),
            "checked_out_at": _iso(s.checked_out_at),
            "minutes": s.minutes,
            "points": s.points,
        }
        for s in rows
    ]


def _reason(reason: str | None) -> str:
    cleaned = (reason or "").strip()
    if not cleaned:
        raise VolunteerError("volunteer.error.reason_required")
    return cleaned[:REASON_MAX]


async def mark_no_show(who: Who, signup_id: int, reason: str | None, now: datetime) -> SignUp:
    """A confirmed volunteer who never checked in, once the shift has started."""
    signup = await _signup_for_leader(who, signup_id)
    reason = _reason(reason)
    if now < signup.shift.starts_at:
        raise VolunteerError("volunteer.error.not_started")
    if signup.status != SignUpStatus.CONFIRMED or signup.checked_in_at is not None:
        raise VolunteerError("volunteer.error.bad_status")
    async with in_transaction() as conn:
        done = (
            await SignUp.filter(id=signup.id, status=SignUpStatus.CONFIRMED, checked_in_at=None)
            .using_db(conn)
            .update(status=SignUpStatus.NO_SHOW.value)
        )
        if not done:
            raise VolunteerError("volunteer.error.changed_meanwhile")
        await record(
            who.name,
            "volunteer.no_show",
            "volunteer_signup",
            signup.id,
            before={"status": signup.status},
            after={"status": SignUpStatus.NO_SHOW.value, "reason": reason},
            using_db=conn,
        )
    signup.status = SignUpStatus.NO_SHOW.value
    return signup


async def adjust(
    who: Who, signup_id: int, minutes: int, reason: str | None, now: datetime
) -> SignUp:
    """A leader's correction of the minutes served, with a reason; points follow the minutes.

    The difference in points is one ``adjusted`` line of the ledger; a correction may take
    a balance below zero, and then nothing can be redeemed until it is positive again.
    """
    signup = await _signup_for_leader(who, signup_id)
    reason = _reason(reason)
    shift = signup.shift
    limit = rules.shift_minutes(shift.starts_at, shift.ends_at)
    if not 0 <= minutes <= limit:
        raise VolunteerError("volunteer.error.bad_minutes", limit=limit)
    if now < shift.starts_at:
        raise VolunteerError("volunteer.error.not_started")
    points = rules.points_for(minutes, policy().points_per_hour)
    status = SignUpStatus.ATTENDED if minutes > 0 else SignUpStatus.NO_SHOW
    adjustable = [SignUpStatus.CONFIRMED, SignUpStatus.ATTENDED, SignUpStatus.NO_SHOW]
    async with in_transaction() as conn:
        volunteer_id = signup.volunteer_id  # type: ignore[attr-defined]
        await (  # the ledger line below may lower the balance: as a redemption would
            VolunteerProfile.filter(resident_id=volunteer_id)
            .using_db(conn)
            .select_for_update(no_key=True)
            .first()
        )
        fresh = (
            await SignUp.filter(id=signup.id, status__in=[s.value for s in adjustable])
            .using_db(conn)
            .select_for_update(no_key=True)
            .first()
        )
        if fresh is None:
            raise VolunteerError("volunteer.error.bad_status")
        before = {"status": fresh.status, "minutes": fresh.minutes, "points": fresh.points}
        delta = points - (fresh.points or 0)
        await (
            SignUp.filter(id=signup.id)
            .using_db(conn)
            .update(status=status.value, minutes=minutes, points=points)
        )
        if delta:
            await PointsEntry.create(
                community_id=who.community_id,
                volunteer_id=fresh.volunteer_id,  # type: ignore[attr-defined]
                kind=LedgerKind.ADJUSTED.value,
                points=delta,
                signup_id=signup.id,
                reason=reason,
                actor=who.name,
                at=now,
                using_db=conn,
            )
        await record(
            who.name,
            "volunteer.attendance_adjusted",
            "volunteer_signup",
            signup.id,
            before=before,
            after={"status": status.value, "minutes": minutes, "points": points, "reason": reason},
            using_db=conn,
        )
    signup.status, signup.minutes, signup.points = status.value, minutes, points
    return signup


# --- points and rewards ---------------------------------------------------------------------------


async def balance(resident_id: int, conn: Any = None) -> int:
    """The points balance: the sum of the volunteer's ledger."""
    total = (
        await PointsEntry.filter(volunteer_id=resident_id)
        .using_db(conn)
        .annotate(total=Sum("points"))
        .values_list("total", flat=True)
    )
    return int(total[0] or 0) if total else 0


async def total_minutes(resident_id: int) -> int:
    """Minutes served over all attended shifts (the profile's total hours)."""
    total = (
        await SignUp.filter(volunteer_id=resident_id, status=SignUpStatus.ATTENDED)
        .annotate(total=Sum("minutes"))
        .values_list("total", flat=True)
    )
    return int(total[0] or 0) if total else 0


async def ledger(
    resident_id: int, offset: int = 0, limit: int = 20
) -> tuple[int, list[PointsEntry]]:
    query = PointsEntry.filter(volunteer_id=resident_id)
    return await query.count(), await query.order_by("-id").offset(offset).limit(limit)


async def grant_points(
    who: Who, resident_id: int, points: int, reason: str | None, kind: str, now: datetime
) -> PointsEntry:
    """A worker's bonus (表彰) or correction of a volunteer's points, with a reason."""
    _forbid_unless(who.is_manager)
    reason = _reason(reason)
    if kind not in {LedgerKind.BONUS, LedgerKind.ADJUSTED}:
        raise VolunteerError("volunteer.error.bad_points")
    if not 0 < abs(points) <= POINTS_MAX or (kind == LedgerKind.BONUS and points < 0):
        raise VolunteerError("volunteer.error.bad_points")
    async with in_transaction() as conn:
        profile = await _lock_volunteer(resident_id, conn)
        if profile.community_id != who.community_id:  # type: ignore[attr-defined]
            raise VolunteerError("volunteer.error.not_registered")
        entry = await PointsEntry.create(
            community_id=who.community_id,
            volunteer_id=resident_id,
            kind=kind,
            points=points,
            reason=reason,
            actor=who.name,
            at=now,
            using_db=conn,
        )
        await record(
            who.name,
            GRANT_ACTIONS[LedgerKind(kind)],
            "resident",
            resident_id,
            after={"points": points, "reason": reason},
            using_db=conn,
        )
    return entry


async def create_reward(
    who: Who, name: str, cost: int, stock: int, description: str = ""
) -> Reward:
    _forbid_unless(who.is_manager)
    name = _clean_text(name, 64, "volunteer.error.bad_title")
    if not 0 < cost <= POINTS_MAX or not 0 <= stock <= POINTS_MAX:
        raise VolunteerError("volunteer.error.bad_points")
    async with in_transaction() as conn:
        reward = await Reward.create(
            community_id=who.community_id,
            name=name,
            description=str(description or "").strip()[:TEXT_MAX],
            cost=cost,
            stock=stock,
            using_db=conn,
        )
        await record(
            who.name,
            "volunteer_reward.created",
            "volunteer_reward",
            reward.id,
            after={"name": name, "cost": cost, "stock": stock},
            using_db=conn,
        )
    return reward


async def update_reward(
    who: Who, reward_id: int, *, stock: int | None = None, active: bool | None = None
) -> Reward:
    """Restock a reward or take it off the catalogue (audited); redemptions stay as they were."""
    _forbid_unless(who.is_manager)
    if stock is not None and not 0 <= stock <= POINTS_MAX:
        raise VolunteerError("volunteer.error.bad_points")
    async with in_transaction() as conn:
        reward = (
            await Reward.filter(id=reward_id, community_id=who.community_id)
            .using_db(conn)
            .select_for_update(no_key=True)
            .first()
        )
        if reward is None:
            raise VolunteerError("volunteer.error.reward_not_found", id=reward_id)
        before = {"stock": reward.stock, "active": reward.active}
        if stock is not None:
            reward.stock = stock
        if active is not None:
            reward.active = active
        await (
            Reward.filter(id=reward.id)
            .using_db(conn)
            .update(stock=reward.stock, active=reward.active)
        )
        await record(
            who.name,
            "volunteer_reward.updated",
            "volunteer_reward",
            reward.id,
            before=before,
            after={"stock": reward.stock, "active": reward.active},
            using_db=conn,
        )
    return reward


async def rewards(community_id: int) -> list[Reward]:
    return await Reward.filter(community_id=community_id, active=True).order_by("cost", "id")


@dataclass(frozen=True)
class RedeemOutcome:
    redemption: Redemption
    reward: Reward
    balance: int


async def redeem(resident_id: int, reward_id: int, now: datetime) -> RedeemOutcome:
    """积分兑换: balance and stock checked and spent in one transaction.

    The profile lock serialises the volunteer's own spending (two redemptions cannot both
    spend the same points); the reward lock serialises everyone's claims on the stock.
    """
    async with in_transaction() as conn:
        profile = await _lock_volunteer(resident_id, conn)
        reward = (
            await Reward.filter(
                id=reward_id,
                community_id=profile.community_id,  # type: ignore[attr-defined]
                active=True,
            )
            .using_db(conn)
            .select_for_update(no_key=True)
            .first()
        )
        if reward is None:
            raise VolunteerError("volunteer.error.reward_not_found", id=reward_id)
        if reward.stock <= 0:
            raise VolunteerError("volunteer.error.out_of_stock", name=reward.name)
        have = await balance(resident_id, conn)
        if have < reward.cost:
            raise VolunteerError(
                "volunteer.error.not_enough_points", balance=have, cost=reward.cost
            )
        taken = (
            await Reward.filter(id=reward.id, stock__gt=0)
            .using_db(conn)
            .update(stock=F("stock") - 1)
        )
        if not taken:
            raise VolunteerError("volunteer.error.out_of_stock", name=reward.name)
        made = await Redemption.create(
            reward_id=reward.id, volunteer_id=resident_id, cost=reward.cost, at=now, using_db=conn
        )
        await PointsEntry.create(
            community_id=profile.community_id,  # type: ignore[attr-defined]
            volunteer_id=resident_id,
            kind=LedgerKind.REDEEMED.value,
            points=-reward.cost,
            redemption_id=made.id,
            reason=reward.name,
            actor=f"resident:{resident_id}",
            at=now,
            using_db=conn,
        )
        await record(
            f"resident:{resident_id}",
            "volunteer.redeemed",
            "volunteer_reward",
            reward.id,
            before={"stock": reward.stock, "balance": have},
            after={"stock": reward.stock - 1, "balance": have - reward.cost},
            using_db=conn,
        )
    reward.stock -= 1
    return RedeemOutcome(made, reward, have - reward.cost)


# --- recognition and statistics -------------------------------------------------------------------


async def leaderboard(community_id: int, now: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """最美志愿者: the month's points earned (not spent) and hours served, ranked."""
    start, end = rules.month_bounds(now)
    earned = (
        await PointsEntry.filter(
            community_id=community_id,
            at__gte=start,
            at__lt=end,
            kind__in=[LedgerKind.EARNED, LedgerKind.BONUS, LedgerKind.ADJUSTED],
        )
        .group_by("volunteer_id")
        .annotate(total=Sum("points"))
        .values_list("volunteer_id", "total")
    )
    served = (
        await SignUp.filter(
            shift__activity__community_id=community_id,
            shift__starts_at__gte=start,
            shift__starts_at__lt=end,
            status=SignUpStatus.ATTENDED,
        )
        .group_by("volunteer_id")
        .annotate(total=Sum("minutes"))
        .values_list("volunteer_id", "total")
    )
    points = {v: int(t or 0) for v, t in earned}
    minutes = {v: int(t or 0) for v, t in served}
    ranked = rules.leaderboard(
        ((v, points.get(v, 0), minutes.get(v, 0)) for v in set(points) | set(minutes)), limit
    )
    names = dict(
        await Resident.filter(id__in=[s.volunteer for s in ranked]).values_list("id", "name")
    )
    return [
        {
            "rank": s.rank,
            "volunteer": {"id": s.volunteer, "name": names.get(s.volunteer)},
            "points": s.points,
            "hours": round(s.minutes / 60, 2),
        }
        for s in ranked
    ]


async def registration(community_id: int) -> dict[str, Any]:
    """The share of the community's residents registered as volunteers (网上注册率)."""
    residents = Resident.filter(community_id=community_id, erased_at=None, active=True)
    volunteers = await VolunteerProfile.filter(
        community_id=community_id,
        active=True,
        resident__erased_at=None,
        resident__active=True,
    ).count()
    total = await residents.count()
    verified = await residents.filter(verified=True).count()
    share = rules.registration_share(volunteers, total)
    return {
        "volunteers": volunteers,
        "residents": total,
        "verified_residents": verified,
        "share": None if share is None else round(float(share), 4),
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "date",
    "activity",
    "starts_at",
    "ends_at",
    "volunteer_id",
    "name",
    "status",
    "checked_in_at",
    "checked_out_at",
    "minutes",
    "hours",
    "points",
)


async def hours_csv(community_id: int, since: datetime, until: datetime) -> str:
    """Attended and missed places of shifts starting in [since, until), for the records."""
    rows = await (
        SignUp.filter(
            shift__activity__community_id=community_id,
            shift__starts_at__gte=since,
            shift__starts_at__lt=until,
            status__in=[SignUpStatus.ATTENDED, SignUpStatus.NO_SHOW],
        )
        .select_related("shift__activity", "volunteer")
        .order_by("shift__starts_at", "shift_id", "id")
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for s in rows:
        start = s.shift.starts_at.astimezone(LOCAL)
        minutes = s.minutes or 0
        writer.writerow(
            [
                start.date().isoformat(),
                _cell(s.shift.activity.title),
                start.strftime("%Y-%m-%d %H:%M"),
                s.shift.ends_at.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M"),
                s.volunteer.id,
                _cell(s.volunteer.name or ""),
                s.status,
                _local_or_blank(s.checked_in_at),
                _local_or_blank(s.checked_out_at),
                minutes,
                f"{minutes / 60:.2f}",
                s.points or 0,
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """Text a spreadsheet shows as text: a name typed as ``=HYPERLINK(...)`` is no formula."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _local_or_blank(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


# --- what people see ------------------------------------------------------------------------------


def shift_view(shift: Shift, mine: SignUp | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": shift.id,
        "activity_id": shift.activity_id,  # type: ignore[attr-defined]
        "starts_at": _iso(shift.starts_at),
        "ends_at": _iso(shift.ends_at),
        "capacity": shift.capacity,
        "confirmed": shift.confirmed_count,
        "waitlisted": shift.waitlist_count,
        "min_age": shift.min_age,
        "skills": shift.skills,
        "scene": rules.scene_key("shift", shift.id),
    }
    if mine is not None:
        data["mine"] = signup_view(mine)
    return data


def signup_view(signup: SignUp) -> dict[str, Any]:
    return {
        "id": signup.id,
        "status": signup.status,
        "position": signup.position,
        "checked_in_at": _iso(signup.checked_in_at),
        "checked_out_at": _iso(signup.checked_out_at),
        "minutes": signup.minutes,
        "points": signup.points,
    }


def activity_view(activity: Activity) -> dict[str, Any]:
    return {
        "id": activity.id,
        "title": activity.title,
        "description": activity.description,
        "category": activity.category,
        "place": activity.place,
        "latitude": activity.latitude,
        "longitude": activity.longitude,
        "radius_m": activity.radius_m,
        "team_id": activity.team_id,  # type: ignore[attr-defined]
        "required_skills": activity.required_skills,
        "status": activity.status,
        "scene": rules.scene_key("activity", activity.id),
    }


async def activity_detail(activity: Activity, resident_id: int) -> dict[str, Any]:
    shifts = await Shift.filter(activity_id=activity.id).order_by("starts_at", "id")
    mine = {
        s.shift_id: s  # type: ignore[attr-defined]
        for s in await SignUp.filter(volunteer_id=resident_id, shift_id__in=[s.id for s in shifts])
    }
    return {
        **activity_view(activity),
        "shifts": [shift_view(s, mine.get(s.id)) for s in shifts],
    }


def entry_view(entry: PointsEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "points": entry.points,
        "reason": entry.reason,
        "signup_id": entry.signup_id,  # type: ignore[attr-defined]
        "at": _iso(entry.at),
    }


def reward_view(reward: Reward) -> dict[str, Any]:
    return {
        "id": reward.id,
        "name": reward.name,
        "description": reward.description,
        "cost": reward.cost,
        "stock": reward.stock,
    }


__all__ = ["VolunteerError"]
