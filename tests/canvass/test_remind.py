"""Gap reminders: only the households that have not answered hear, once a Beijing day."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.app import job_context
from handlers.canvass import service as canvass
from handlers.canvass.remind import local_day, remind_gap
from handlers.canvass.rules import VisitForm
from handlers.notices.relay import relay
from handlers.proposals import service
from handlers.refusal import Refused
from models.canvass import Reminder
from models.community import Building, Grid
from models.db import using
from models.notices import Notice
from models.outbox import Notification
from models.residents import Resident, Role, RoleAssignment
from tests.proposals import factories
from tests.world import T0, World

OPEN = T0 + timedelta(days=5)
DURING = OPEN + timedelta(days=1)  # 2026-11-08 09:00 UTC, 17:00 in Beijing
LATER_TODAY = DURING + timedelta(hours=6)  # 23:00 in Beijing: the same day
# 16:30 UTC is 00:30 the next morning in Beijing: a new day though UTC says otherwise.
NEXT_DAY = DURING.replace(hour=16, minute=30)
END = OPEN + timedelta(days=7)
ORAL_YES = VisitForm("answered", "yes", "户主", "oral")
NOT_HOME = VisitForm("not_home")


async def grid_worker(world: World, grid: Grid) -> Resident:
    person = await world.resident()
    await RoleAssignment.create(
        resident=person, role=Role.GRID_WORKER, community=world.community, grid=grid
    )
    return person


class Compound:
    """Two grids, six households: answered online, in person, or not at all."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def build(self) -> Compound:
        world = self.world
        self.far_grid = await Grid.create(community=world.community, name="第二网格")
        far = await Building.create(community=world.community, grid=self.far_grid, name="9栋")
        near = await world.add_households(world.buildings[0], 4)
        away = await world.add_households(far, 2)
        self.online_home, self.pair_home, self.empty_home, self.door_home = near
        self.far_home, self.not_home = away
        self.proposer = await world.resident(self.online_home)
        self.pair = [await world.resident(self.pair_home) for _ in range(2)]
        self.door_resident = await world.resident(self.door_home)
        self.far_resident = await world.resident(self.far_home)
        self.not_home_resident = await world.resident(self.not_home)
        await world.resident(self.pair_home, verified=False)  # not bound: never messaged
        self.manager = await world.worker()
        self.boss = await world.who(self.manager)
        self.proposal_id = await factories.voting(
            world, self.proposer, self.manager, scope={"kind": "community"}
        )
        await service.cast_vote(self.proposal_id, self.proposer.id, "yes", DURING)
        await canvass.record_visit(self.boss, self.proposal_id, self.door_home.id, ORAL_YES, DURING)
        await canvass.record_visit(self.boss, self.proposal_id, self.not_home.id, NOT_HOME, DURING)
        return self


async def notes(proposal_id: int, kind: str) -> list[Notification]:
    return await Notification.filter(subject_id=proposal_id, kind=kind).order_by("id")


async def test_only_the_unanswered_households_bound_residents_are_reminded(world: World):
    c = await Compound(world).build()
    done = await remind_gap(c.boss, c.proposal_id, DURING)
    assert done == {
        "households": 3,
        "residents": 4,
        "skipped_today": 0,
        "grids": [
            {"grid_id": world.grid.id, "grid": "第一网格", "to_visit": 2},
            {"grid_id": c.far_grid.id, "grid": "第二网格", "to_visit": 2},
        ],
    }
    (told,) = await notes(c.proposal_id, "canvass.remind")
    assert told.audience == "residents"
    assert told.payload["residents"] == sorted(
        [c.pair[0].id, c.pair[1].id, c.far_resident.id, c.not_home_resident.id]
    )
    assert told.payload["id"] == c.proposal_id
    grids = {
        n.audience: n.payload["to_visit"] for n in await notes(c.proposal_id, "canvass.to_visit")
    }
    assert grids == {f"grid:{world.grid.id}": 2, f"grid:{c.far_grid.id}": 2}
    rows = await Reminder.filter(proposal_id=c.proposal_id).values_list("household_id", "day")
    day = local_day(DURING)
    assert day == "2026-11-08"
    assert sorted(rows) == sorted(
        (h.id, day) for h in (c.pair_home, c.empty_home, c.far_home, c.not_home)
    )


async def test_twice_the_same_day_sends_nothing_new_and_the_next_day_again(world: World):
    c = await Compound(world).build()
    await remind_gap(c.boss, c.proposal_id, DURING)
    again = await remind_gap(c.boss, c.proposal_id, LATER_TODAY)
    assert (again["households"], again["residents"], again["skipped_today"]) == (0, 0, 4)
    assert [g["to_visit"] for g in again["grids"]] == [2, 2]  # still shown, not sent again
    assert len(await notes(c.proposal_id, "canvass.remind")) == 1
    assert len(await notes(c.proposal_id, "canvass.to_visit")) == 2

    await service.cast_vote(c.proposal_id, c.pair[0].id, "no", LATER_TODAY)
    tomorrow = await remind_gap(c.boss, c.proposal_id, NEXT_DAY)
    assert tomorrow == {
        "households": 2,
        "residents": 2,
        "skipped_today": 0,
        "grids": [
            {"grid_id": world.grid.id, "grid": "第一网格", "to_visit": 1},
            {"grid_id": c.far_grid.id, "grid": "第二网格", "to_visit": 2},
        ],
    }
    latest = (await notes(c.proposal_id, "canvass.remind"))[-1]
    assert latest.payload["residents"] == sorted([c.far_resident.id, c.not_home_resident.id])
    assert await Reminder.filter(proposal_id=c.proposal_id, day="2026-11-09").count() == 3


async def test_two_clicks_at_once_send_one_reminder(world: World):
    c = await Compound(world).build()
    both = await asyncio.gather(
        remind_gap(c.boss, c.proposal_id, DURING), remind_gap(c.boss, c.proposal_id, DURING)
    )
    assert sorted(d["households"] for d in both) == [0, 3]
    assert sorted(d["skipped_today"] for d in both) == [0, 4]
    assert len(await notes(c.proposal_id, "canvass.remind")) == 1
    assert len(await notes(c.proposal_id, "canvass.to_visit")) == 2


async def test_the_relay_sends_the_reminder_to_exactly_the_listed_residents(
    world: World, app_state
):
    c = await Compound(world).build()
    c.far_resident.language = "en"
    await c.far_resident.save(update_fields=["language"])
    await Notification.filter(sent_at=None).update(sent_at=DURING)  # the visits' news
    await remind_gap(c.boss, c.proposal_id, DURING)
    await relay(job_context(app_state, DURING))
    notices = await Notice.filter(kind="canvass.remind").order_by("id")
    by_ids = {tuple(n.scope["ids"]): n for n in notices}
    assert len(notices) == 2 and all(n.scope["kind"] == "residents" for n in notices)
    english = by_ids[(c.far_resident.id,)]
    assert f"vote {c.proposal_id} yes" in english.body
    chinese = by_ids[tuple(sorted([c.pair[0].id, c.pair[1].id, c.not_home_resident.id]))]
    assert f"投票 {c.proposal_id} 赞成" in chinese.body and "{" not in chinese.body
    workers = await Notice.filter(kind="canvass.to_visit").count()
    assert workers == 2  # no grid worker holds those grids: the managers hear, per grid


async def test_a_closed_or_ended_vote_is_not_reminded(world: World):
    c = await Compound(world).build()
    with pytest.raises(Refused) as caught:
        await remind_gap(c.boss, c.proposal_id, END)
    assert (caught.value.code, caught.value.status) == ("proposal.error.vote_closed", 409)
    with pytest.raises(Refused) as caught:
        await remind_gap(c.boss, c.proposal_id + 100, DURING)
    assert caught.value.status == 404
    assert await Reminder.all().count() == 0


async def test_only_managers_may_remind_over_the_api(client, world: World, app_state):
    with using(app_state.db):
        c = await Compound(world).build()
        grid = await grid_worker(world, world.grid)
    app_state.clock = lambda: DURING
    url = f"/api/v1/proposals/{c.proposal_id}/remind"
    for person in (grid, c.proposer):
        resp = await client.post(url, headers=await world.headers(person))
        assert resp.status == 403, await resp.text()
        assert (await resp.json())["error"]["code"] == "api.error.forbidden"
    with using(app_state.db):
        assert await Reminder.all().count() == 0
    resp = await client.post(url, headers=await world.headers(c.manager))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["households"], body["residents"], body["skipped_today"]) == (3, 4, 0)
    assert [g["grid"] for g in body["grids"]] == ["第一网格", "第二网格"]
    with using(app_state.db):
        assert await Reminder.filter(proposal_id=c.proposal_id).count() == 4
