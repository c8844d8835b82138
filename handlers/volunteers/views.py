"""What people see: the JSON shapes of shifts, sign-ups, activities, ledger lines, rewards."""

from __future__ import annotations

from typing import Any

from handlers.volunteers.shared import iso
from models.volunteers import Activity, PointsEntry, Reward, Shift, SignUp


def shift_view(shift: Shift, mine: SignUp | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": shift.id,
        "activity_id": shift.activity_id,
        "starts_at": iso(shift.starts_at),
        "ends_at": iso(shift.ends_at),
        "capacity": shift.capacity,
        "confirmed": shift.confirmed_count,
        "waitlisted": shift.waitlist_count,
        "min_age": shift.min_age,
        "skills": shift.skills,
    }
    if mine is not None:
        data["mine"] = signup_view(mine)
    return data


def signup_view(signup: SignUp) -> dict[str, Any]:
    return {
        "id": signup.id,
        "status": signup.status,
        "position": signup.position,
        "checked_in_at": iso(signup.checked_in_at),
        "checked_out_at": iso(signup.checked_out_at),
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
        "team_id": activity.team_id,
        "required_skills": activity.required_skills,
        "status": activity.status,
    }


async def activity_detail(activity: Activity, resident_id: int) -> dict[str, Any]:
    shifts = await Shift.filter(activity_id=activity.id).order_by("starts_at", "id")
    mine = {
        s.shift_id: s
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
        "signup_id": entry.signup_id,
        "at": iso(entry.at),
    }


def reward_view(reward: Reward) -> dict[str, Any]:
    return {
        "id": reward.id,
        "name": reward.name,
        "description": reward.description,
        "cost": reward.cost,
        "stock": reward.stock,
    }
