"""One proposal's page asks the API for its scope's names; the list keeps the bare ids."""

from __future__ import annotations

from tests.proposals import factories
from tests.world import World


async def test_one_proposal_names_its_buildings(client, world: World):
    home = (await world.add_households(world.buildings[1], 1))[0]
    proposer = await world.resident(home)
    worker = await world.worker()
    scope = {"kind": "buildings", "ids": [world.buildings[1].id, world.buildings[0].id]}
    proposal_id = await factories.published(world, proposer, worker, scope=scope)
    headers = await world.headers(proposer)
    one = await (await client.get(f"/api/v1/proposals/{proposal_id}", headers=headers)).json()
    ids = sorted([world.buildings[0].id, world.buildings[1].id])
    assert one["scope"] == {
        "kind": "buildings",
        "ids": ids,
        "names": [b.name for b in sorted(world.buildings, key=lambda b: b.id)],
    }
    listed = await (await client.get("/api/v1/proposals", headers=headers)).json()
    assert listed["items"][0]["scope"] == {"kind": "buildings", "ids": ids}


async def test_the_whole_community_has_no_names(client, world: World):
    proposer = await world.resident((await world.add_households(world.buildings[0], 1))[0])
    proposal_id = await factories.published(
        world, proposer, await world.worker(), scope={"kind": "community"}
    )
    got = await client.get(
        f"/api/v1/proposals/{proposal_id}", headers=await world.headers(proposer)
    )
    assert (await got.json())["scope"] == {"kind": "community", "ids": [], "names": []}
