"""Leaders and workers on attendance: who came, no-shows, corrected minutes (with reasons)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from handlers.refusal import Refused
from handlers.roles import Who
from handlers.volunteers import rules
from handlers.volunteers.activities import get_shift
from handlers.volunteers.rules import LedgerKind, SignUpStatus
from handlers.volunteers.shared import (
    forbid_own_credit,
    forbid_unless,
    iso,
    policy,
    required_reason,
    signup_for_leader,
)
from models.audit import record
from models.volunteers import PointsEntry, Shift, SignUp, VolunteerProfile


async def attendance(who: Who, shift_id: int) -> tuple[Shift, list[dict[str, Any]]]:
    """Who is on the shift, who has checked in and out: for its leader and workers."""
    shift = await get_shift(shift_id, who.community_id)
    forbid_unless(who.leads(shift.activity.team_id))
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
            "signed_up_at": iso(s.signed_up_at),
            "checked_in_at": iso(s.checked_in_at),
            "checked_out_at": iso(s.checked_out_at),
            "minutes": s.minutes,
            "points": s.points,
        }
        for s in rows
    ]


async def mark_no_show(who: Who, signup_id: int, reason: str | None, now: datetime) -> SignUp:
    """A confirmed volunteer who never checked in, once the shift has started."""
    signup = await signup_for_leader(who, signup_id)
    forbid_own_credit(who, signup.volunteer_id)
    reason = required_reason(reason)
    if now < signup.shift.starts_at:
        raise Refused("volunteer.error.not_started", 409)
    if signup.status != SignUpStatus.CONFIRMED or signup.checked_in_at is not None:
        raise Refused("volunteer.error.bad_status", 409)
    async with in_transaction() as conn:
        done = (
            await SignUp.filter(id=signup.id, status=SignUpStatus.CONFIRMED, checked_in_at=None)
            .using_db(conn)
            .update(status=SignUpStatus.NO_SHOW.value)
        )
        if not done:
            raise Refused("volunteer.error.changed_meanwhile", 409)
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
    signup = await signup_for_leader(who, signup_id)
    forbid_own_credit(who, signup.volunteer_id)
    reason = required_reason(reason)
    shift = signup.shift
    limit = rules.shift_minutes(shift.starts_at, shift.ends_at)
    if not 0 <= minutes <= limit:
        raise Refused("volunteer.error.bad_minutes", 400, limit=limit)
    if now < shift.starts_at:
        raise Refused("volunteer.error.not_started", 409)
    points = rules.points_for(minutes, policy().points_per_hour)
    status = SignUpStatus.ATTENDED if minutes > 0 else SignUpStatus.NO_SHOW
    adjustable = [SignUpStatus.CONFIRMED, SignUpStatus.ATTENDED, SignUpStatus.NO_SHOW]
    async with in_transaction() as conn:
        volunteer_id = signup.volunteer_id
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
            raise Refused("volunteer.error.bad_status", 409)
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
                volunteer_id=fresh.volunteer_id,
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
