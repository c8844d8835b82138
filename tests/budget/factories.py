"""Builders for 民生微实事 rounds: plain async functions over the service, for any test.

The round's plan puts ordering from 2026-11-01 to the end of 11-14 (Beijing time), so
``tests.world.T0`` (11-02) is during ordering and ``AFTER`` is after it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from handlers.budget import doors, menu, ordering, rounds
from handlers.budget.doors import BallotForm
from handlers.budget.rounds import Source
from models.residents import Resident
from tests.world import T0, World

PLAN = {
    "collection": date(2026, 10, 1),
    "review": date(2026, 10, 10),
    "publicity": date(2026, 10, 20),
    "ordering": date(2026, 11, 1),
    "result": date(2026, 11, 15),
    "implementation": date(2026, 11, 20),
}
DURING = T0
AFTER = datetime(2026, 11, 15, 1, 0, tzinfo=UTC)  # 09:00 on 11-15 in Beijing


async def new_round(
    world: World,
    worker: Resident,
    rule: str = "fit",
    fund: str = "100000",
    year: int = 2026,
) -> int:
    made = await rounds.create_round(
        await world.who(worker),
        year=year,
        title=f"{year}年民生微实事",
        rule_name=rule,
        phases=PLAN,
        sources=[Source("government", Decimal(fund), "区级民生微实事资金")],
    )
    return made.id


async def add(
    world: World,
    worker: Resident,
    round_id: int,
    cost: str,
    title: str = "项目",
    scope: dict | None = None,
) -> int:
    item = await menu.add_item(
        await world.who(worker),
        round_id,
        cost=Decimal(cost),
        responsible="社区居委会",
        title=title,
        description="",
        scope=scope,
    )
    return item.number


async def open_round(world: World, worker: Resident, round_id: int, lock) -> None:  # type: ignore[no-untyped-def]
    """Review, publicity, then ordering at ``DURING``."""
    who = await world.who(worker)
    await rounds.advance(who, round_id, DURING, lock)
    await rounds.advance(who, round_id, DURING, lock)
    await rounds.advance(who, round_id, DURING, lock)


async def ordering_round(
    world: World,
    worker: Resident,
    costs: list[str],
    lock,  # type: ignore[no-untyped-def]
    rule: str = "fit",
    fund: str = "100000",
) -> int:
    """A round whose menu holds one item per cost (numbers 1…), open for ordering."""
    round_id = await new_round(world, worker, rule, fund)
    for n, cost in enumerate(costs, start=1):
        await add(world, worker, round_id, cost, title=f"项目{n}")
    await open_round(world, worker, round_id, lock)
    return round_id


async def order(world: World, resident: Resident, round_id: int, picks: list[int]) -> None:
    await ordering.place_order(await world.who(resident), round_id, picks, DURING)


async def ballot(
    world: World,
    worker: Resident,
    round_id: int,
    household_id: int,
    picks: list[int] | None,
    outcome: str = "answered",
) -> None:
    form = (
        BallotForm("answered", tuple(picks), "户主本人", "oral")
        if picks is not None
        else BallotForm(outcome, note="" if outcome != "other" else "无人应答")
    )
    await doors.record_ballot(await world.who(worker), round_id, household_id, form, DURING)


async def close(world: World, worker: Resident, round_id: int, lock) -> None:  # type: ignore[no-untyped-def]
    """Ordering's count, after its end (``AFTER``)."""
    await rounds.advance(await world.who(worker), round_id, AFTER, lock)
