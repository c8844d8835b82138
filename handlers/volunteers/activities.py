"""Activities (志愿活动) and their shifts: made by workers, or by a team's leader (队长)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from handlers.refusal import Refused
from handlers.roles import Who
from handlers.volunteers import rules
from handlers.volunteers.shared import (
    TEXT_MAX,
    TITLE_MAX,
    clean_text,
    forbid_unless,
    optional_text,
    policy,
)
from handlers.volunteers.teams import clean_skills
from models.audit import record
from models.volunteers import Activity, Shift, VolunteerTeam


def _real(value: object) -> float | None:
    """A JSON number as a float; None for anything else, booleans too."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _coordinates(latitude: object, longitude: object) -> tuple[float | None, float | None]:
    if latitude is None and longitude is None:
        return None, None
    lat, lng = _real(latitude), _real(longitude)
    if lat is None or lng is None:
        raise Refused("volunteer.error.bad_location", 400)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise Refused("volunteer.error.bad_location", 400)
    return lat, lng


@dataclass(frozen=True)
class ShiftPlan:
    """A shift to add: aware instants, the places, and who may take one."""

    starts_at: datetime
    ends_at: datetime
    capacity: int
    min_age: int | None = None
    skills: tuple[str, ...] = ()


def _check_plan(plan: ShiftPlan, now: datetime) -> None:
    refusal = rules.check_shift(plan.starts_at, plan.ends_at, plan.capacity, now)
    if refusal == "capacity":
        raise Refused("volunteer.error.bad_capacity", 400, limit=rules.MAX_CAPACITY)
    if refusal is not None:
        raise Refused("volunteer.error.bad_time", 400)
    if plan.min_age is not None and not 0 < plan.min_age < 120:
        raise Refused("volunteer.error.bad_age", 400)


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
    forbid_unless(who.leads(team_id))
    if (
        team_id is not None
        and not await VolunteerTeam.filter(id=team_id, community_id=who.community_id).exists()
    ):
        raise Refused("volunteer.error.team_not_found", 404, id=team_id)
    title = clean_text(title, TITLE_MAX, "volunteer.error.bad_title")
    description = optional_text(description, TEXT_MAX)
    place = optional_text(place, TITLE_MAX)
    if category not in {c.value for c in rules.Category}:
        raise Refused("volunteer.error.bad_category", 400)
    lat, lng = _coordinates(latitude, longitude)
    radius = policy().default_radius_m if radius_m is None else radius_m
    if not 1 <= radius <= rules.MAX_RADIUS_M:
        raise Refused("volunteer.error.bad_radius", 400, limit=rules.MAX_RADIUS_M)
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
            place=place,
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
        raise Refused("volunteer.error.activity_not_found", 404, id=activity_id)
    return activity


async def add_shift(who: Who, activity_id: int, plan: ShiftPlan, now: datetime) -> Shift:
    activity = await get_activity(activity_id, who.community_id)
    forbid_unless(who.leads(activity.team_id))
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
        raise Refused("volunteer.error.shift_not_found", 404, id=shift_id)
    return shift
