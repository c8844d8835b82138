"""``linli verify-vote N``: 0 and the poster's digest for an untouched vote, 1 once an
answer was changed behind the record."""

from __future__ import annotations

from datetime import timedelta

from handlers.proposals import service
from models.proposals import Proposal, Vote
from tests.households.test_cli import linli as linli  # the command as a worker types it
from tests.proposals import factories
from tests.world import T0, World

DURING = T0 + timedelta(days=6)
END = T0 + timedelta(days=12, hours=1)


async def test_verify_vote_recomputes_the_digest(world: World, linli):
    homes = await world.add_households(world.buildings[0], 3)
    people = [await world.resident(h) for h in homes]
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[0], worker)
    await service.cast_vote(proposal_id, people[0].id, "yes", DURING)
    await factories.visited(world, proposal_id, worker, people[1:], DURING, choice="yes")
    await service.close_due(END, world.app_state.store.lock)  # type: ignore[attr-defined]
    digest = (await Proposal.get(id=proposal_id)).result["digest"]
    status, out, _ = await linli("verify-vote", str(proposal_id))
    assert status == 0 and out[0] == f"digest    {digest}" and out[-1] == "OK"
    await Vote.filter(proposal_id=proposal_id).limit(1).update(choice="no")
    status, out, _ = await linli("verify-vote", str(proposal_id))
    assert status == 1 and out[-1] == "MISMATCH"
    assert (await linli("verify-vote", "999999"))[0] == 2
