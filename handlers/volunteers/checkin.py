"""On site: 签到 and 签退 by the site's QR code or a sent location; hours and points."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from handlers.refusal import Refused
from handlers.roles import Who
from handlers.volunteers import rules
from handlers.volunteers.rules import LedgerKind, ScanAction, SignUpStatus, Window
from handlers.volunteers.shared import ACTIVE, forbid_unless, local_time, policy
from models.volunteers import Activity, CheckRecord, PointsEntry, Shift, SignUp


@dataclass(frozen=True)
class CheckOutcome:
    """What a scan or a sent location did, and the hours and points of a check-out."""

    action: ScanAction
    signup: SignUp
    shift: Shift
    activity: Activity
    at: datetime
    minutes: int | None = None
    points: int | None = None
    distance: float | None = None


async def site_codes(who: Who, activity_id: int, now: datetime) -> dict[str, Any]:
    """The scene keys of the site's QR codes at ``now``: the activity's and each shift's.

    For the activity's leader and the community's workers only; each key works until
    ``expires_at`` (its rotation window and the next), so the code shown is made afresh.
    """
    activity = await Activity.filter(id=activity_id, community_id=who.community_id).first()
    if activity is None:
        raise Refused("volunteer.error.activity_not_found", 404, id=activity_id)
    forbid_unless(who.leads(activity.team_id))
    secret = await _scene_secret(activity)
    pol = policy()
    shifts = await Shift.filter(activity_id=activity.id).order_by("starts_at", "id")
    return {
        "activity": {
            "id": activity.id,
            "scene": rules.scene_key("activity", activity.id, secret, now, pol),
        },
        "shifts": [
            {"id": s.id, "scene": rules.scene_key("shift", s.id, secret, now, pol)} for s in shifts
        ],
        "expires_at": rules.scene_expires(now, pol).isoformat(),
    }


async def _scene_secret(activity: Activity) -> str:
    """The activity's QR key, issued once (two first requests at once agree on one)."""
    if activity.scene_secret is None:
        await Activity.filter(id=activity.id, scene_secret=None).update(
            scene_secret=secrets.token_hex(32)
        )
        await activity.refresh_from_db(fields=["scene_secret"])
    assert activity.scene_secret is not None
    return activity.scene_secret


async def check_by_scene(
    resident_id: int,
    key: str,
    now: datetime,
    latitude: float | None = None,
    longitude: float | None = None,
    *,
    scanned: bool = False,
) -> CheckOutcome:
    """签到 by the site's QR code: a shift's or an activity's current scene key.

    The key proves presence only when WeChat reports the scan (``scanned``: the official
    account's subscribe or SCAN event); a key handed in any other way needs a location
    within the activity's radius as well. A key nobody issued, or one past its window,
    checks no one in.
    """
    scene = rules.parse_scene(key)
    if scene is None:
        raise Refused("volunteer.error.bad_scene", 400)
    activity = await (
        Activity.filter(id=scene.ident)
        if scene.kind == "activity"
        else Activity.filter(shifts__id=scene.ident)
    ).first()
    if activity is None or activity.scene_secret is None:
        raise Refused("volunteer.error.bad_scene", 400)
    if not rules.scene_genuine(scene, activity.scene_secret):
        raise Refused("volunteer.error.bad_scene", 400)
    if not rules.scene_current(scene, now, policy()):
        raise Refused("volunteer.error.scene_expired", 409, title=activity.title)
    if not scanned and (latitude is None or longitude is None):
        raise Refused("volunteer.error.scene_needs_location", 400)
    where = Q(shift_id=scene.ident) if scene.kind == "shift" else Q(shift__activity_id=scene.ident)
    found = await _candidates(resident_id, where)
    if not found:
        raise Refused("volunteer.error.not_on_shift", 403)
    if scanned:
        return await _check(found, now, "scan")
    return await _check(found, now, "scan+location", latitude, longitude)


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
        raise Refused("volunteer.error.waitlisted", 409, position=found[0].position)
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
            raise Refused(
                "volunteer.error.check_in_early",
                409,
                title=activity.title,
                time=local_time(shift.starts_at - pol.check_in_opens),
            )
        if window is Window.CLOSED:
            raise Refused("volunteer.error.check_in_closed", 409, title=activity.title)
    distance = None
    moving = action in {ScanAction.CHECK_IN, ScanAction.CHECK_OUT}
    if latitude is not None and longitude is not None and moving:
        if activity.latitude is None or activity.longitude is None:
            raise Refused("volunteer.error.no_location", 400, title=activity.title)
        distance = rules.distance_m(latitude, longitude, activity.latitude, activity.longitude)
        if not rules.within_radius(distance, activity.radius_m):
            raise Refused(
                "volunteer.error.too_far",
                409,
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
        return await check_out(signup, now, method, where)
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


async def check_out(
    signup: SignUp, now: datetime, method: str, where: dict[str, Any] | None = None
) -> CheckOutcome:
    """签退: hours from check-in to check-out within the shift, and their points, once.

    ``changed_meanwhile`` when another scan or the closing job checked out first.
    """
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
            raise Refused("volunteer.error.changed_meanwhile", 409)
        await _check_record(signup, "out", out_at, method, where or {}, conn)
        if points:
            await PointsEntry.create(
                community_id=activity.community_id,
                volunteer_id=signup.volunteer_id,
                kind=LedgerKind.EARNED.value,
                points=points,
                signup_id=signup.id,
                actor="system" if method == "auto" else f"resident:{signup.volunteer_id}",
                at=out_at,
                using_db=conn,
            )
    distance = (where or {}).get("distance")
    return CheckOutcome(
        ScanAction.CHECK_OUT, signup, shift, activity, out_at, minutes, points, distance
    )
