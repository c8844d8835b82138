"""The door-to-door API: the same service functions as the chat, behind the declared roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.community import Grid
from models.proposals import Proposal, Vote
from models.residents import Resident, Role, RoleAssignment
from tests.proposals import factories
from tests.world import World, bearer


async def _open_now(client, world: World, proposer: Resident, worker: Resident) -> int:  # type: ignore[no-untyped-def]
    """A rectification opened by the API at the real clock (the API acts at now)."""
    proposal_id = await factories.published(world, proposer, worker)
    await Proposal.filter(id=proposal_id).update(published_at=datetime.now(UTC) - timedelta(days=6))
    opened = await client.post(
        f"/api/v1/proposals/{proposal_id}/actions/open",
        json={"days": 3},
        headers=bearer(await world.token(worker)),
    )
    assert opened.status == 200, await opened.text()
    return proposal_id


async def test_a_grid_worker_records_at_the_door_and_sees_coverage_without_the_tally(
    client, world: World
):
    homes = await world.add_households(world.buildings[0], 3)
    people = [await world.resident(h) for h in homes]
    manager = await world.worker()
    walker = await world.resident()
    await RoleAssignment.create(
        resident=walker, role=Role.GRID_WORKER, community=world.community, grid=world.grid
    )
    proposal_id = await _open_now(client, world, people[0], manager)
    base = f"/api/v1/proposals/{proposal_id}"
    mine = bearer(await world.token(walker))
    doors = await (await client.get(f"{base}/doors", headers=mine)).json()
    assert [d["household_id"] for d in doors["items"]] == [h.id for h in homes]
    made = await client.post(
        f"{base}/visits",
        json={
            "household_id": homes[0].id,
            "outcome": "answered",
            "choice": "yes",
            "respondent": "户主的女儿",
            "method": "oral",
        },
        headers=mine,
    )
    assert made.status == 201, await made.text()
    assert (await made.json())["state"] == "in_person"
    away = await client.post(
        f"{base}/visits", json={"household_id": homes[1].id, "outcome": "not_home"}, headers=mine
    )
    assert away.status == 201
    bad = await client.post(
        f"{base}/visits",
        json={
            "household_id": homes[2].id,
            "outcome": "answered",
            "choice": "yes",
            "method": "oral",
        },
        headers=mine,
    )
    assert bad.status == 400
    error = (await bad.json())["error"]
    assert (error["code"], error["message"]) == (
        "canvass.error.respondent_required",
        "请登记表态人（姓名或与户主的关系）。",
    )
    seen = await (await client.get(f"{base}/coverage", headers=mine)).json()
    total = seen["total"]
    assert (total["in_person"], total["visited"], total["not_reached"]) == (1, 1, 1)
    assert total["yes"] is None  # a grid worker sees coverage, not the live tally
    boss = await (
        await client.get(f"{base}/coverage", headers=bearer(await world.token(manager)))
    ).json()
    assert boss["total"]["yes"] == 1
    assert boss["buildings"][0]["building"] == world.buildings[0].name
    vote = await Vote.get(proposal_id=proposal_id)
    assert (vote.channel, vote.recorded_by_id) == ("in_person", walker.id)


async def test_residents_and_other_grids_are_refused(client, world: World):
    elsewhere = await Grid.create(community=world.community, name="第三网格")
    homes = await world.add_households(world.buildings[0], 2)
    people = [await world.resident(h) for h in homes]
    manager = await world.worker()
    stranger = await world.resident()
    await RoleAssignment.create(
        resident=stranger, role=Role.GRID_WORKER, community=world.community, grid=elsewhere
    )
    proposal_id = await _open_now(client, world, people[0], manager)
    base = f"/api/v1/proposals/{proposal_id}"
    body = {"household_id": homes[0].id, "outcome": "answered", "choice": "no"}
    body |= {"respondent": "本人", "method": "oral"}
    resident = bearer(await world.token(people[1]))
    for path in ("coverage", "doors"):
        assert (await client.get(f"{base}/{path}", headers=resident)).status == 403
    assert (await client.post(f"{base}/visits", json=body, headers=resident)).status == 403
    other = bearer(await world.token(stranger))
    assert (await client.post(f"{base}/visits", json=body, headers=other)).status == 403
    assert (await (await client.get(f"{base}/doors", headers=other)).json())["items"] == []
    # The household disputes only once something was recorded at its door.
    nothing = await client.post(f"{base}/dispute", json={"reason": "?"}, headers=resident)
    assert nothing.status == 409
    done = await client.post(
        f"{base}/visits",
        json=body | {"household_id": homes[1].id},
        headers=bearer(await world.token(manager)),
    )
    assert done.status == 201
    disputed = await client.post(f"{base}/dispute", json={"reason": "不是我们"}, headers=resident)
    assert disputed.status == 201
    listed = await client.get(f"{base}/disputes", headers=bearer(await world.token(manager)))
    assert [d["household_id"] for d in (await listed.json())["items"]] == [homes[1].id]
    assert (await client.get(f"{base}/disputes", headers=resident)).status == 403
