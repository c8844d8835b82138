"""``linli verify-round N``: 0 and the poster's digest for an untouched round, 1 once an
order was changed behind the record."""

from __future__ import annotations

from models.budget import Order, Round
from tests.budget import factories
from tests.households.test_cli import linli as linli  # the command as a worker types it
from tests.world import World


async def test_verify_round_recomputes_the_digest(world: World, linli):
    homes = await world.add_households(world.buildings[0], 3)
    people = [await world.resident(h) for h in homes]
    worker = await world.worker()
    lock = world.app_state.store.lock  # type: ignore[attr-defined]
    round_id = await factories.ordering_round(world, worker, ["100", "200"], lock)
    await factories.order(world, people[0], round_id, [1])
    await factories.order(world, people[0], round_id, [1, 2])
    await factories.order(world, people[1], round_id, [2])
    await factories.ballot(world, worker, round_id, homes[2].id, [1])
    await factories.close(world, worker, round_id, lock)
    digest = (await Round.get(id=round_id)).result["digest"]
    status, out, _ = await linli("verify-round", str(round_id))
    assert status == 0 and out[0] == f"digest    {digest}" and out[-1] == "OK"
    await Order.filter(round_id=round_id, channel="in_person").update(items=[2])
    status, out, _ = await linli("verify-round", str(round_id))
    assert status == 1 and out[-1] == "MISMATCH"
    assert f"order of household {homes[2].id} differs from its last recorded order" in out
    assert (await linli("verify-round", "999999"))[0] == 2
