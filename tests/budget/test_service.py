"""The round through its service functions, on both backends: phases, orders online and on
paper (one per household, the latest counts), coverage, the count, spending in the open."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from handlers.budget import money, rounds
from handlers.refusal import Refused
from models.audit import AuditLog
from models.budget import MenuItem, Order, Round
from models.community import Building
from models.residents import Resident, Role
from tests.budget import factories
from tests.budget.factories import AFTER, DURING
from tests.world import World


async def refused(code: str, status: int, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as caught:
        await call
    assert (caught.value.code, caught.value.status) == (code, status), caught.value.params


async def homes(world: World, count: int, building: Building | None = None) -> list[Resident]:
    made = await world.add_households(building or world.buildings[0], count)
    return [await world.resident(h) for h in made]


def lock_of(world: World):  # type: ignore[no-untyped-def]
    return world.app_state.store.lock  # type: ignore[attr-defined]


async def test_a_round_from_menu_to_money(world: World):
    people = await homes(world, 10)
    boss = await world.worker()
    chief = await world.worker(Role.ADMIN)
    lock = lock_of(world)
    round_id = await factories.ordering_round(
        world, boss, ["40000", "30000", "50000"], lock, fund="100000"
    )
    # 1: 6 households, 2: 5, 3: 7 — but 3 + 1 = 90,000 fits, then 2 (30,000) does not.
    for n, person in enumerate(people):
        picks = [p for p, wanted in ((1, n < 6), (2, 3 <= n < 8), (3, n >= 3)) if wanted]
        try:
            await factories.order(world, person, round_id, picks)
        except Refused as exc:
            assert exc.code == "budget.error.over_fund"
            await factories.order(world, person, round_id, picks[:1])
    await refused(
        "budget.error.ordering_not_over",
        409,
        rounds.advance(await world.who(boss), round_id, DURING, lock),
    )
    await rounds.advance(await world.who(boss), round_id, AFTER, lock)
    done = await Round.get(id=round_id)
    assert done.status == "result"
    assert done.result is not None
    orders = [o.items for o in await Order.filter(round_id=round_id)]
    support = {n: sum(1 for o in orders if n in o) for n in (1, 2, 3)}
    assert [r["support"] for r in sorted(done.result["items"], key=lambda r: r["number"])] == [
        support[1],
        support[2],
        support[3],
    ]
    funded = await MenuItem.filter(round_id=round_id, status="funded").values_list(
        "number", flat=True
    )
    assert sorted(funded) == sorted(done.result["funded"])
    first = funded[0]
    item = await MenuItem.get(round_id=round_id, number=first)
    await money.record_spending(
        await world.who(boss),
        round_id,
        first,
        amount="1000.50",
        spent_on=date(2026, 11, 14),
        purpose="材料费",
        now=AFTER,
    )
    await refused(
        "budget.error.over_budget_admin",
        403,
        money.record_spending(
            await world.who(boss),
            round_id,
            first,
            amount=str(item.cost),
            spent_on=date(2026, 11, 14),
            purpose="超支",
            now=AFTER,
        ),
    )
    await refused(
        "budget.error.over_budget_reason",
        400,
        money.record_spending(
            await world.who(chief),
            round_id,
            first,
            amount=str(item.cost),
            spent_on=date(2026, 11, 14),
            purpose="超支",
            now=AFTER,
        ),
    )
    await money.record_spending(
        await world.who(chief),
        round_id,
        first,
        amount=str(item.cost),
        spent_on=date(2026, 11, 14),
        purpose="超支",
        over_reason="材料涨价，经居民代表会议同意",
        now=AFTER,
    )
    seen = await money.finances(await world.who(people[0]), round_id)
    assert seen["spent"] == Decimal("1000.50") + Decimal(item.cost)
    assert seen["balance"] == Decimal("100000") - seen["spent"]
    assert await AuditLog.filter(action="budget.spent").count() == 2
