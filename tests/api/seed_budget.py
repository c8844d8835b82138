"""民生微实事 rounds: rows for the API-wide tests to find, one round in each stage.

Round 1 (last year) is counted, with spending, an accepted project and a rating; round 2
is open for ordering now; round 3 is in publicity with comments, one of them hidden.
Menu numbers 1-3 exist in each, so ids 1-3 reach real rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from handlers.budget import menu, money, ordering, rounds
from handlers.budget.rounds import Source
from handlers.clock import LOCAL
from models.residents import Resident
from tests.world import World


def _plan(ordering_day: date) -> dict[str, date]:
    """Phases around the day ordering opens; ordering lasts ten days."""
    return {
        "collection": ordering_day - timedelta(days=20),
        "review": ordering_day - timedelta(days=15),
        "publicity": ordering_day - timedelta(days=10),
        "ordering": ordering_day,
        "result": ordering_day + timedelta(days=10),
        "implementation": ordering_day + timedelta(days=15),
    }


async def seed(world: World, people: dict[str, Resident]) -> None:
    now = datetime.now(UTC)
    today = now.astimezone(LOCAL).date()
    boss = await world.who(people["worker"])  # also an admin
    resident, neighbour = await world.who(people["resident"]), await world.who(people["neighbour"])
    lock = world.app_state.store.lock  # type: ignore[attr-defined]

    async def made(year: int, ordering_day: date, costs: tuple[str, ...]) -> int:
        found = await rounds.create_round(
            boss,
            year=year,
            title=f"{year}年民生微实事",
            rule_name="fit",
            phases=_plan(ordering_day),
            sources=[
                Source("government", "60000", "区级民生微实事资金"),
                Source("residents", "5000.50", "居民自筹"),
            ],
        )
        for n, cost in enumerate(costs, start=1):
            await menu.add_item(
                boss,
                found.id,
                cost=cost,
                responsible="社区居委会",
                title=f"项目{n}",
                description="说明",
            )
        return found.id

    # Last year's: ordered, closed early by the admin with a reason, then the money.
    opened = today - timedelta(days=40)
    at = datetime.combine(opened, time(10), LOCAL)
    done = await made(today.year - 1, opened, ("30000", "20000.50", "30000"))
    for _ in range(3):
        await rounds.advance(boss, done, at, lock)
    await ordering.place_order(resident, done, [1, 2], at)
    await ordering.place_order(neighbour, done, [1, 3], at)
    closing = datetime.combine(opened + timedelta(days=10), time(9), LOCAL)
    await rounds.advance(boss, done, closing, lock, override="两户长期外出，电话联系不上")
    await money.record_spending(
        boss, done, 1, amount="1200.00", spent_on=today, purpose="材料费", now=now
    )
    await money.step(boss, done, 1, "start")
    await money.step(boss, done, 1, "accept")
    await money.rate(neighbour, done, 1, 4)

    # This year's, ordering now.
    open_now = await made(today.year, today - timedelta(days=1), ("10000", "25000", "8000.80"))
    for _ in range(3):
        await rounds.advance(boss, open_now, now, lock)
    await ordering.place_order(resident, open_now, [2, 3], now)

    # Next year's, its menu in publicity.
    later = await made(today.year + 1, today + timedelta(days=30), ("5000", "6000", "7000"))
    for _ in range(2):
        await rounds.advance(boss, later, now, lock)
    await menu.comment(resident, later, 1, "支持，楼道太暗了")
    rude = await menu.comment(neighbour, later, 2, "广告：低价装修")
    await menu.hide_comment(boss, later, rude.id, "广告", now)
