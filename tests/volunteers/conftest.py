"""Volunteers, a site with coordinates, and activities with shifts for the test community."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.volunteers import service
from handlers.volunteers.service import CheckOutcome, ShiftPlan
from models.residents import Resident
from models.volunteers import Activity, Shift
from tests.world import World

SITE = (31.2304, 121.4737)  # 幸福里北门
# Far enough ahead that the shifts are in the future whatever the wall clock says.
DAY = datetime(2031, 11, 8, 1, 0, tzinfo=UTC)  # Saturday 09:00 in Beijing
CREATED = DAY - timedelta(days=7)


async def volunteer(world: World, name: str | None = None, **profile) -> Resident:  # type: ignore[no-untyped-def]
    person = await world.resident()
    if name:
        person.name = name
        await person.save(update_fields=["name"])
    await service.register(person, CREATED, **profile)
    return person


async def patrol(
    world: World,
    starts: datetime = DAY,
    hours: float = 2,
    capacity: int = 10,
    *,
    by: Resident | None = None,
    now: datetime = CREATED,
    title: str = "治安巡逻",
    **options,  # type: ignore[no-untyped-def]
) -> tuple[Activity, Shift]:
    """An activity at the site with one shift; made by a community worker unless ``by``."""
    boss = await service.who(by or await world.worker())
    activity = await service.create_activity(
        boss,
        now,
        title=title,
        category="patrol",
        place="幸福里北门",
        latitude=SITE[0],
        longitude=SITE[1],
        radius_m=200,
        shifts=[ShiftPlan(starts, starts + timedelta(hours=hours), capacity, **options)],
    )
    return activity, await Shift.get(activity_id=activity.id)


async def site_code(
    world: World, activity: Activity | int, now: datetime, shift: Shift | None = None
) -> str:
    """The scene key the site's QR code carries at ``now``: the shift's, else the activity's."""
    activity_id = activity if isinstance(activity, int) else activity.id
    made = await Activity.get(id=activity_id)  # by a worker, or a leader of its team
    assert made.created_by_id is not None
    maker = await service.who(await Resident.get(id=made.created_by_id))
    codes = await service.site_codes(maker, activity_id, now)
    if shift is None:
        return str(codes["activity"]["scene"])
    return next(str(s["scene"]) for s in codes["shifts"] if s["id"] == shift.id)


async def scan_at(
    world: World, resident_id: int, shift: Shift, at: datetime, *, whole_activity: bool = False
) -> CheckOutcome:
    """A WeChat scan at ``at`` of the code the site shows then: the shift's or the activity's."""
    key = await site_code(world, shift.activity_id, at, None if whole_activity else shift)
    return await service.check_by_scene(resident_id, key, at, scanned=True)
