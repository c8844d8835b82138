"""Binding codes in the console: who may see and issue them, what a new one revokes, and
who hears when someone new binds to a household."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.capabilities import texts
from handlers.residents import service
from handlers.residents.rules import CodeStatus
from models.community import Building, Grid, Household
from models.db import using
from models.outbox import Notification
from models.residents import BindingCode, Resident, Role, RoleAssignment
from tests.world import World


async def grid_worker(world: World) -> Resident:
    """A grid worker (网格员) of the world's own grid (buildings 1 and 2)."""
    person = await world.resident()
    await RoleAssignment.create(
        resident=person, role=Role.GRID_WORKER, community=world.community, grid=world.grid
    )
    return person


async def other_grid_household(world: World) -> Household:
    grid = await Grid.create(community=world.community, name="第二网格")
    building = await Building.create(community=world.community, grid=grid, name="3栋")
    return (await world.add_households(building, 1))[0]


async def test_a_grid_worker_lists_and_issues_codes_only_for_their_own_grids(client, world):
    with using(world.app_state.db):
        mine = (await world.add_households(world.buildings[0], 1))[0]
        elsewhere = await other_grid_household(world)
        await service.issue_code(elsewhere, datetime.now(UTC), 30)
        headers = await world.headers(await grid_worker(world))
    listed = await (await client.get("/api/v1/households", headers=headers)).json()
    assert [item["id"] for item in listed["items"]] == [mine.id]
    assert listed["total"] == 1
    refused = await client.post(f"/api/v1/households/{elsewhere.id}/binding-code", headers=headers)
    assert refused.status == 404
    with using(world.app_state.db):
        assert await BindingCode.filter(household_id=elsewhere.id).count() == 1
    issued = await client.post(f"/api/v1/households/{mine.id}/binding-code", headers=headers)
    assert issued.status == 201


async def test_a_grid_worker_without_a_grid_sees_no_household(client, world):
    with using(world.app_state.db):
        await world.add_households(world.buildings[0], 2)
        headers = await world.headers(await world.worker(Role.GRID_WORKER))
    listed = await (await client.get("/api/v1/households", headers=headers)).json()
    assert listed["items"] == [] and listed["total"] == 0


async def test_community_workers_look_after_every_household_of_the_community(client, world):
    with using(world.app_state.db):
        await world.add_households(world.buildings[0], 1)
        elsewhere = await other_grid_household(world)
        headers = await world.headers(await world.worker(Role.COMMUNITY_WORKER))
    listed = await (await client.get("/api/v1/households", headers=headers)).json()
    assert listed["total"] == 2
    issued = await client.post(f"/api/v1/households/{elsewhere.id}/binding-code", headers=headers)
    assert issued.status == 201


async def test_a_new_code_revokes_the_households_unused_codes(client, world):
    with using(world.app_state.db):
        home = (await world.add_households(world.buildings[0], 1))[0]
        headers = await world.headers(await world.worker())
    first = await (
        await client.post(f"/api/v1/households/{home.id}/binding-code", headers=headers)
    ).json()
    second = await (
        await client.post(f"/api/v1/households/{home.id}/binding-code", headers=headers)
    ).json()
    with using(world.app_state.db):
        someone = await world.resident()
        old = await service.bind(someone, first["code"], datetime.now(UTC))
        assert old.status is CodeStatus.EXPIRED
        new = await service.bind(someone, second["code"], datetime.now(UTC))
        assert new.status is CodeStatus.OK
    listed = await (await client.get("/api/v1/households", headers=headers)).json()
    assert [item["code"] for item in listed["items"]] == [None]


async def test_the_households_bound_residents_hear_when_someone_new_binds(world):
    with using(world.app_state.db):
        home = (await world.add_households(world.buildings[0], 1))[0]
        already = await world.resident(home)
        unverified = await world.resident(home, verified=False)
        code = await service.issue_code(home, datetime.now(UTC), 30)
        newcomer = await world.resident()
        assert (await service.bind(newcomer, code, datetime.now(UTC))).status is CodeStatus.OK
        notes = await Notification.filter(kind="household.bound")
    label = await _label(world, home)
    assert [(n.audience, n.subject, n.subject_id) for n in notes] == [
        (f"resident:{already.id}", "household", home.id)
    ]
    assert notes[0].payload == {"household": label}
    assert f"resident:{unverified.id}" not in {n.audience for n in notes}
    # The relay words it with the text the capability declares, in each language.
    msgid = texts()["household.bound"]
    for language in ("zh_Hans", "zh_Hant", "en"):
        assert label in world.app_state.translate(language, msgid, household=label)


async def test_the_first_resident_to_bind_tells_nobody(world):
    with using(world.app_state.db):
        home = (await world.add_households(world.buildings[0], 1))[0]
        code = await service.issue_code(home, datetime.now(UTC), 30)
        await service.bind(await world.resident(), code, datetime.now(UTC))
        assert await Notification.filter(kind="household.bound").count() == 0


async def _label(world: World, home: Household) -> str:
    with using(world.app_state.db):
        return await service.household_label(home.id)
