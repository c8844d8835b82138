"""What the parts of the volunteer service share: the policy and limits, times as
residents read them, who may act on what, texts, the row locks and the outbox.

Places are given under the shift's row lock (``SELECT ... FOR NO KEY UPDATE`` on
PostgreSQL; SQLite runs one writing transaction at a time). Operations of one volunteer
(sign-up, cancellation, redemption, adjustment) first lock that volunteer's profile row
(``lock_volunteer``): two overlapping shifts cannot both be taken at once, and a
redemption spends a balance nothing else is lowering.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from handlers.refusal import Refused
from handlers.roles import Who
from handlers.volunteers import rules
from handlers.volunteers.rules import LOCAL, Policy
from models.outbox import Notification
from models.volunteers import Activity, Shift, SignUp, VolunteerProfile

POLICY_FILE = Path(__file__).resolve().parents[2] / "config" / "volunteers.toml"
TITLE_MAX = 100
TEXT_MAX = 2000
REASON_MAX = 500
SKILLS_MAX = 10
SKILL_MAX = 24
POINTS_MAX = 100_000
ACTIVE = [s.value for s in rules.ACTIVE]


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


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# --- who may do what ------------------------------------------------------------------------------


def forbid_unless(allowed: bool) -> None:
    if not allowed:
        raise Refused("volunteer.error.forbidden", 403)


def forbid_own_credit(who: Who, volunteer_id: int) -> None:
    """Nobody decides their own hours or points: a leader's or worker's own sign-up and
    balance are another leader's or worker's to correct (attendance, adjustments, grants)."""
    if who.id == volunteer_id:
        raise Refused("volunteer.error.own_credit", 403)


async def signup_for_leader(who: Who, signup_id: int) -> SignUp:
    """A sign-up of the community, if ``who`` leads its activity (workers lead all)."""
    signup = (
        await SignUp.filter(id=signup_id, shift__activity__community_id=who.community_id)
        .select_related("shift__activity")
        .first()
    )
    if signup is None:
        raise Refused("volunteer.error.signup_not_found", 404, id=signup_id)
    forbid_unless(who.leads(signup.shift.activity.team_id))
    return signup


# --- texts ---------------------------------------------------------------------------------------


def clean_text(text: object, limit: int, code: str) -> str:
    """A name or title: 1 to ``limit`` characters once trimmed, else ``code``."""
    cleaned = str(text or "").strip()
    if not cleaned or len(cleaned) > limit:
        raise Refused(code, 400, limit=limit)
    return cleaned


def optional_text(text: object, limit: int) -> str:
    """A text that may be empty (a description, a place); a longer one is refused, never cut."""
    cleaned = str(text or "").strip()
    if len(cleaned) > limit:
        raise Refused("volunteer.error.too_long", 400, limit=limit)
    return cleaned


def required_reason(reason: str | None) -> str:
    """Why a leader or worker acted: required, at most ``REASON_MAX`` characters."""
    cleaned = (reason or "").strip()
    if not cleaned:
        raise Refused("volunteer.error.reason_required", 400)
    if len(cleaned) > REASON_MAX:
        raise Refused("volunteer.error.too_long", 400, limit=REASON_MAX)
    return cleaned


# --- locks and the outbox -------------------------------------------------------------------------


async def lock_volunteer(
    resident_id: int, conn: Any, unknown: Refused | None = None
) -> VolunteerProfile:
    """The volunteer's profile row, locked until the transaction ends.

    Without one, ``unknown`` is raised: by default the caller is told they are not
    registered; a worker naming someone else is told that one is not.
    """
    profile = (
        await VolunteerProfile.filter(
            resident_id=resident_id, active=True, resident__erased_at=None
        )
        .using_db(conn)
        .select_for_update(no_key=True, of=("volunteer_profile",))
        .first()
    )
    if profile is None:
        raise unknown or Refused("volunteer.error.not_registered", 403)
    return profile


async def lock_shift(shift_id: int, conn: Any) -> Shift:
    locked = await Shift.filter(id=shift_id).using_db(conn).select_for_update(no_key=True).first()
    assert locked is not None  # shifts are never deleted
    return locked


async def notify(shift: Shift, kind: str, volunteer_id: int, conn: Any, **payload: Any) -> None:
    activity = await Activity.get(id=shift.activity_id, using_db=conn)
    await Notification.create(
        community_id=activity.community_id,
        kind=kind,
        audience=f"resident:{volunteer_id}",
        subject="volunteer_shift",
        subject_id=shift.id,
        payload={"title": activity.title, "place": activity.place, **payload},
        using_db=conn,
    )
