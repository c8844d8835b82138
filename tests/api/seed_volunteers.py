"""Volunteers: rows for the API-wide tests to find.

Everyone is registered; a fourth volunteer leads a team the resident has joined; there are
activities with shifts to come (the resident and the neighbour on them), a shift that
has ended with attended places (points earned, hours for the CSV), a bonus, rewards
and a redemption.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.volunteers import service
from handlers.volunteers.service import ShiftPlan
from models.residents import Resident
from tests.world import World

SITE = (31.2304, 121.4737)


def _plan(starts: datetime, hours: float = 2, capacity: int = 5) -> ShiftPlan:
    return ShiftPlan(starts, starts + timedelta(hours=hours), capacity)


async def seed(world: World, people: dict[str, Resident]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    resident, neighbour = people["resident"], people["neighbour"]
    for person, skills, born in (
        (people["worker"], ["组织"], 1980),
        (resident, ["急救"], 1990),
        (neighbour, ["巡逻"], 1975),
    ):
        await service.register(person, now, skills, born)
    # The team leader is a volunteer of their own: leaders see their volunteers' names.
    captain = await world.resident()
    await service.register(captain, now, ["巡逻"], 1970)
    boss = await service.who(people["worker"])
    team = await service.create_team(boss, "巡逻队", "patrol", captain.id)
    await service.join_team(resident, team.id)

    site = {"place": "幸福里北门", "latitude": SITE[0], "longitude": SITE[1], "radius_m": 200}
    coming = await service.create_activity(
        boss,
        now,
        title="清洁家园",
        category="cleaning",
        shifts=[_plan(now + timedelta(days=3)), _plan(now + timedelta(days=4), capacity=1)],
        **site,
    )
    leader = await service.who(captain)
    patrol = await service.create_activity(
        leader,
        now,
        title="治安巡逻",
        category="patrol",
        team_id=team.id,
        shifts=[_plan(now + timedelta(days=5))],
        **site,
    )
    shifts = [s.id for s in await coming.shifts.all().order_by("starts_at")]
    [patrol_shift] = [s.id for s in await patrol.shifts.all()]
    await service.sign_up(shifts[0], resident.id, now)
    await service.sign_up(shifts[1], neighbour.id, now)
    await service.sign_up(shifts[1], resident.id, now)  # on the waitlist
    await service.sign_up(patrol_shift, resident.id, now)

    # A shift that has ended: both came, their points earned.
    started = now - timedelta(hours=5)
    past = await service.create_activity(
        boss,
        started - timedelta(days=2),
        title="关爱老人",
        category="elderly_care",
        shifts=[_plan(started)],
        **site,
    )
    [ended] = await past.shifts.all()
    codes = await service.site_codes(boss, past.id, started)  # the code shown at the site
    for person in (resident, neighbour):
        await service.sign_up(ended.id, person.id, started - timedelta(days=1))
        await service.check_by_scene(person.id, codes["shifts"][0]["scene"], started, scanned=True)
    await service.close_ended_shifts(ended.ends_at)

    await service.grant_points(boss, resident.id, 50, "巡逻表彰", "bonus", now)
    gift = await service.create_reward(boss, "大米", 20, 10, "五公斤")
    await service.create_reward(boss, "毛巾", 5, 0)
    await service.redeem(resident.id, gift.id, now)
