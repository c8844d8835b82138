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
    ACTIVE,
    TEXT_MAX,
    TITLE_MAX,
    clean_text,
    forbid_unless,
    iso,
    lock_shift,
    notify,
    optional_text,
    policy,
    when,
)
from handlers.volunteers.signups import fill_places
from handlers.volunteers.teams import clean_skills
from models.audit import record
from models.volunteers import Activity, Shift, SignUp, VolunteerTeam


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


# --- changing a shift before it starts ------------------------------------------------------------


@dataclass(frozen=True)
class ShiftChanged:
    """A shift after a change: who moved up into added places, and how many were told."""

    shift: Shift
    promoted: tuple[int, ...]
    told: int


async def change_shift(
    who: Who,
    shift_id: int,
    now: datetime,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    capacity: int | None = None,
) -> ShiftChanged:
    """Move a shift or change its places, only before it starts; by whoever may manage its
    activity (workers, or the leader of its team), as for adding a shift.

    Places may not drop below the volunteers already confirmed (``rules.check_shift_change``);
    places added are taken by the head of the waitlist, in order, and each is told. When
    the time moves, everyone signed up (confirmed or waiting) is told the new time, each
    in their own language, and their reminders are owed again for the new time.
    """
    found = await get_shift(shift_id, who.community_id)
    forbid_unless(who.leads(found.activity.team_id))
    async with in_transaction() as conn:
        shift = await lock_shift(shift_id, conn)
        new_starts = starts_at or shift.starts_at
        new_ends = ends_at or shift.ends_at
        new_capacity = shift.capacity if capacity is None else capacity
        wrong = rules.check_shift_change(
            shift.starts_at, new_starts, new_ends, new_capacity, shift.confirmed_count, now
        )
        if wrong is rules.ShiftChange.STARTED:
            raise Refused("volunteers.shift_changed.error.started", 409, id=shift_id)
        if wrong is rules.ShiftChange.CAPACITY:
            raise Refused("volunteer.error.bad_capacity", 400, limit=rules.MAX_CAPACITY)
        if wrong is rules.ShiftChange.BELOW_CONFIRMED:
            raise Refused(
                "volunteers.shift_changed.error.below_confirmed",
                409,
                id=shift_id,
                confirmed=shift.confirmed_count,
            )
        if wrong is not None:
            raise Refused("volunteer.error.bad_time", 400)
        before = {
            "starts_at": iso(shift.starts_at),
            "ends_at": iso(shift.ends_at),
            "capacity": shift.capacity,
        }
        moved = (new_starts, new_ends) != (shift.starts_at, shift.ends_at)
        if not moved and new_capacity == shift.capacity:
            return ShiftChanged(shift, (), 0)
        was = when(shift)
        await (
            Shift.filter(id=shift.id)
            .using_db(conn)
            .update(starts_at=new_starts, ends_at=new_ends, capacity=new_capacity)
        )
        shift.starts_at, shift.ends_at, shift.capacity = new_starts, new_ends, new_capacity
        told = 0
        if moved:
            active = SignUp.filter(shift_id=shift.id, status__in=ACTIVE).using_db(conn)
            await active.update(reminded_day_at=None, reminded_hour_at=None)
            for signup in await active.order_by("id"):
                await notify(
                    shift,
                    "volunteer.shift_changed",
                    signup.volunteer_id,
                    conn,
                    when=when(shift),
                    was=was,
                    id=shift.id,
                )
                told += 1
        promoted = await fill_places(shift, shift.confirmed_count, shift.waitlist_count, now, conn)
        await record(
            who.name,
            "volunteer_shift.changed",
            "volunteer_shift",
            shift.id,
            before=before,
            after={
                "starts_at": iso(new_starts),
                "ends_at": iso(new_ends),
                "capacity": new_capacity,
                "promoted": list(promoted),
                "told": told,
            },
            using_db=conn,
        )
        fresh = await Shift.get(id=shift.id, using_db=conn)
    return ShiftChanged(fresh, promoted, told)
