"""资金公开 through the service, on both backends: spending on funded projects only, in the
result and implementation phases, within the budget line unless an admin writes why;
two spendings at once; the balance; a project's steps; households' ratings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from handlers.budget import money, rounds
from handlers.refusal import Refused
from models.audit import AuditLog
from models.budget import ItemRating, MenuItem, Round, Spending
from models.outbox import Notification
from models.residents import Resident, Role
from tests.budget import factories
from tests.budget.factories import AFTER, DURING
from tests.world import World

DAY = date(2026, 11, 15)  # AFTER's day in Beijing


async def refused(code: str, status: int, call: Awaitable[Any]) -> Refused:
    with pytest.raises(Refused) as caught:
        await call
    assert (caught.value.code, caught.value.status) == (code, status), caught.value.params
    return caught.value


def lock_of(world: World) -> Any:
    return world.app_state.store.lock  # type: ignore[attr-defined]


async def funded_round(
    world: World, worker: Resident, close: bool = True
) -> tuple[int, list[Resident]]:
    """Items 1 (10,000) and 2 (20,000) ordered by all three households and funded; item 3
    (500) ordered by none, so unfunded. Fund 100,000."""
    made = await world.add_households(world.buildings[0], 3)
    people = [await world.resident(h) for h in made]
    round_id = await factories.ordering_round(
        world, worker, ["10000", "20000", "500"], lock_of(world)
    )
    for person in people:
        await factories.order(world, person, round_id, [1, 2])
    if close:
        await rounds.advance(await world.who(worker), round_id, AFTER, lock_of(world))
    return round_id, people


def spend(who: Any, round_id: int, number: int, amount: Any, **kwargs: Any) -> Awaitable[Spending]:
    fields: dict[str, Any] = {"spent_on": DAY, "purpose": "材料费", "now": AFTER, **kwargs}
    return money.record_spending(who, round_id, number, amount=amount, **fields)


async def test_spending_only_on_funded_projects_in_result_or_implementation(world: World):
    boss = await world.worker()
    who = await world.who(boss)
    lock = lock_of(world)
    round_id, _ = await funded_round(world, boss, close=False)
    await refused(
        "budget.error.not_spending",
        409,
        spend(who, round_id, 1, "100", spent_on=date(2026, 11, 2), now=DURING),
    )
    await rounds.advance(who, round_id, AFTER, lock)
    assert (await MenuItem.get(round_id=round_id, number=3)).status == "unfunded"
    await refused("budget.error.not_funded", 409, spend(who, round_id, 3, "100"))
    await refused("budget.error.no_item", 404, spend(who, round_id, 9, "100"))
    await spend(who, round_id, 1, "100")  # result
    await rounds.advance(who, round_id, AFTER, lock)
    await spend(who, round_id, 1, "200")  # implementation
    await rounds.advance(who, round_id, AFTER, lock)
    await refused("budget.error.not_spending", 409, spend(who, round_id, 1, "300"))  # finished
    assert await Spending.all().values_list("amount", flat=True) == [
        Decimal("100"),
        Decimal("200"),
    ]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"spent_on": date(2026, 11, 16)}, "budget.error.future_date"),
        ({"purpose": ""}, "budget.error.bad_purpose"),
        ({"purpose": "   "}, "budget.error.bad_purpose"),
        ({"purpose": "料" * 201}, "budget.error.bad_purpose"),
        ({"receipts": [f"m{i}" for i in range(10)]}, "budget.error.too_many_photos"),
        ({"amount": 100.0}, "budget.error.bad_amount"),
        ({"amount": "0"}, "budget.error.bad_amount"),
        ({"amount": "-1"}, "budget.error.bad_amount"),
        ({"amount": "1.005"}, "budget.error.bad_amount"),
        ({"over_reason": "理" * 501}, "budget.error.reason_too_long"),
    ],
)
async def test_a_spending_needs_a_sum_a_past_day_a_purpose_and_few_receipts(
    world: World, changes: dict[str, Any], code: str
):
    boss = await world.worker(Role.ADMIN)
    round_id, _ = await funded_round(world, boss)
    fields = {"amount": "100", **changes}
    await refused(code, 400, spend(await world.who(boss), round_id, 1, **fields))
    assert await Spending.all().count() == 0
    assert await AuditLog.filter(action="budget.spent").count() == 0


async def test_the_day_of_a_spending_is_beijing_s(world: World):
    boss = await world.worker()
    who = await world.who(boss)
    round_id, _ = await funded_round(world, boss)
    # 01:00 on 11-15 in Beijing is still 11-14 in UTC: 11-15 is today, 11-16 tomorrow.
    early = datetime(2026, 11, 14, 17, 0, tzinfo=UTC)
    await spend(who, round_id, 1, "10", spent_on=date(2026, 11, 15), now=early)
    await refused(
        "budget.error.future_date",
        400,
        spend(who, round_id, 1, "10", spent_on=date(2026, 11, 16), now=early),
    )
    assert await Spending.all().values_list("spent_on", flat=True) == [date(2026, 11, 15)]


async def test_passing_the_budget_line_needs_an_admin_and_a_written_reason(world: World):
    boss = await world.worker()
    chief = await world.worker(Role.ADMIN)
    worker, admin = await world.who(boss), await world.who(chief)
    round_id, _ = await funded_round(world, boss)
    await spend(worker, round_id, 1, "9000")
    await refused("budget.error.over_budget_admin", 403, spend(worker, round_id, 1, "1000.01"))
    # Up to the line exactly is within it; a fen more is not.
    within = await spend(worker, round_id, 1, "1000", over_reason="多写的理由")
    assert within.over_reason is None
    await refused("budget.error.over_budget_admin", 403, spend(worker, round_id, 1, "0.01"))
    await refused("budget.error.over_budget_reason", 400, spend(admin, round_id, 1, "500"))
    await refused(
        "budget.error.over_budget_reason", 400, spend(admin, round_id, 1, "500", over_reason="  ")
    )
    assert await Spending.all().count() == 2
    over = await spend(admin, round_id, 1, "500", over_reason="材料涨价，经居民议事会同意")
    stored = await Spending.get(id=over.id)
    assert (stored.amount, stored.over_reason, stored.recorded_by_id) == (
        Decimal("500"),
        "材料涨价，经居民议事会同意",
        chief.id,
    )
    entries = await AuditLog.filter(action="budget.spent").order_by("id")
    assert [e.after["over_budget"] for e in entries if e.after] == [False, False, True]
    last = entries[-1]
    assert last.actor == admin.name and last.after is not None
    assert last.after["reason"] == "材料涨价，经居民议事会同意"
    assert last.after["amount"] == "500.00" and last.after["number"] == 1
    assert "reason" not in (entries[1].after or {})
    listed = await money.spendings(worker, round_id, 1)
    assert [s["over_reason"] for s in listed] == [None, None, "材料涨价，经居民议事会同意"]


async def test_two_spendings_at_once_cannot_both_slip_under_the_line(world: World):
    boss = await world.worker()
    round_id, _ = await funded_round(world, boss)
    for number, amount, tries in ((1, "6000", 1), (2, "8000", 2)):
        # Item 1 (10,000): 6,000 twice at once, one too many. Item 2 (20,000): 8,000 twice
        # at once fits; the next pair both cross the line.
        who = [await world.who(boss), await world.who(await world.worker())]
        outcomes: list[Any] = []
        for _ in range(tries):
            outcomes += await asyncio.gather(
                *(spend(w, round_id, number, amount) for w in who), return_exceptions=True
            )
        refusals = [o for o in outcomes if isinstance(o, BaseException)]
        assert all(
            isinstance(o, Refused) and o.code == "budget.error.over_budget_admin" for o in refusals
        ), refusals
        kept = await Spending.filter(item__round_id=round_id, item__number=number).count()
        assert kept == len(outcomes) - len(refusals)
        total = sum(
            await Spending.filter(item__round_id=round_id, item__number=number).values_list(
                "amount", flat=True
            ),
            Decimal(0),
        )
        assert total == {1: Decimal("6000"), 2: Decimal("16000")}[number]
        assert kept == {1: 1, 2: 2}[number]


async def test_the_balance_is_the_fund_less_what_was_spent(world: World):
    boss = await world.worker()
    chief = await world.who(await world.worker(Role.ADMIN))
    who = await world.who(boss)
    round_id, people = await funded_round(world, boss)
    await spend(who, round_id, 1, "2500.50")
    await spend(who, round_id, 2, "19999.99")
    await spend(chief, round_id, 2, "1000", over_reason="追加防水层")
    seen = await money.finances(await world.who(people[0]), round_id)
    assert seen["fund"] == Decimal("100000")
    assert seen["spent"] == Decimal("23500.49")
    assert seen["balance"] == Decimal("100000") - Decimal("23500.49")
    assert seen["budgeted"] == Decimal("30000")
    projects = {p["number"]: p for p in seen["projects"]}
    assert set(projects) == {1, 2}
    assert (projects[1]["budget"], projects[1]["spent"], projects[1]["left"]) == (
        Decimal("10000"),
        Decimal("2500.50"),
        Decimal("7499.50"),
    )
    assert projects[2]["left"] == Decimal("-999.99")
    assert [
        s["amount"] for s in await money.spendings(await world.who(people[1]), round_id, 2)
    ] == [
        Decimal("19999.99"),
        Decimal("1000"),
    ]


async def test_a_project_starts_before_it_is_accepted(world: World):
    boss = await world.worker()
    who = await world.who(boss)
    round_id, people = await funded_round(world, boss)
    await refused("budget.error.bad_step", 409, money.step(who, round_id, 1, "accept"))
    await refused("budget.error.bad_step", 400, money.step(who, round_id, 1, "finish"))
    await refused("budget.error.bad_step", 409, money.step(who, round_id, 3, "start"))  # unfunded
    assert (await money.step(who, round_id, 1, "start")).status == "implementing"
    await refused("budget.error.bad_step", 409, money.step(who, round_id, 1, "start"))
    assert (await money.step(who, round_id, 1, "accept")).status == "accepted"
    await refused("budget.error.bad_step", 409, money.step(who, round_id, 1, "accept"))
    assert (await MenuItem.get(round_id=round_id, number=1)).status == "accepted"
    kinds = await Notification.filter(kind__startswith="budget.item_").values_list(
        "kind", flat=True
    )
    assert sorted(kinds) == ["budget.item_accepted", "budget.item_started"]
    actions = await AuditLog.filter(
        action__in=["budget.item_start", "budget.item_accept"]
    ).values_list("action", flat=True)
    assert sorted(actions) == ["budget.item_accept", "budget.item_start"]
    # Spending goes on after acceptance (the last invoice comes late).
    await spend(who, round_id, 1, "100")
    resident = await world.who(people[0])
    await refused("api.error.forbidden", 403, money.step(resident, round_id, 2, "start"))


async def test_households_rate_accepted_projects_once_each(world: World):
    boss = await world.worker()
    who = await world.who(boss)
    round_id, people = await funded_round(world, boss)
    spouse = await world.resident(await people[0].household)
    await refused(
        "budget.error.not_accepted", 409, money.rate(await world.who(people[0]), round_id, 1, 5)
    )
    await money.step(who, round_id, 1, "start")
    await refused(
        "budget.error.not_accepted", 409, money.rate(await world.who(people[0]), round_id, 1, 5)
    )
    await money.step(who, round_id, 1, "accept")
    for stars in (0, 6, -1):
        await refused(
            "proposal.error.bad_stars",
            400,
            money.rate(await world.who(people[0]), round_id, 1, stars),
        )
    unverified = await world.resident(await people[1].household, verified=False)
    await refused(
        "proposal.error.not_verified", 403, money.rate(await world.who(unverified), round_id, 1, 5)
    )
    newcomer = await world.resident((await world.add_households(world.buildings[1], 1))[0])
    await refused(
        "budget.error.not_eligible", 403, money.rate(await world.who(newcomer), round_id, 1, 5)
    )
    await money.rate(await world.who(people[0]), round_id, 1, 4)
    await money.rate(await world.who(spouse), round_id, 1, 1)
    await money.rate(await world.who(people[1]), round_id, 1, 5)
    rows = await ItemRating.filter(item__round_id=round_id).order_by("household_id")
    assert [(r.household_id, r.stars) for r in rows] == [
        (people[0].household_id, 1),
        (people[1].household_id, 5),
    ]
    seen = await money.finances(await world.who(people[2]), round_id)
    project = next(p for p in seen["projects"] if p["number"] == 1)
    assert (project["ratings"], project["stars"]) == (2, Decimal("3.0"))
    assert await AuditLog.filter(action="budget.rated").count() == 3


async def test_two_members_rating_at_once_leave_one_rating(world: World):
    boss = await world.worker()
    who = await world.who(boss)
    round_id, people = await funded_round(world, boss)
    spouse = await world.resident(await people[0].household)
    await money.step(who, round_id, 1, "start")
    await money.step(who, round_id, 1, "accept")
    one, two = await world.who(people[0]), await world.who(spouse)
    for _ in range(8):
        await ItemRating.all().delete()  # each time a first rating, both at once
        outcomes = await asyncio.gather(
            money.rate(one, round_id, 1, 2), money.rate(two, round_id, 1, 4), return_exceptions=True
        )
        assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
        rows = await ItemRating.filter(item__round_id=round_id)
        assert len(rows) == 1 and rows[0].stars in (2, 4)


@pytest.mark.parametrize("action", ["spend", "step"])
async def test_a_spending_racing_the_year_end_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch, action: str
):
    boss = await world.worker()
    who = await world.who(boss)
    lock = lock_of(world)
    round_id, _ = await funded_round(world, boss)
    await rounds.advance(who, round_id, AFTER, lock)  # implementation
    original = money.in_transaction
    pending = [lambda: rounds.advance(who, round_id, AFTER, lock)]

    @contextlib.asynccontextmanager
    async def later(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        # The year-end commits between the spending's checks and its transaction.
        if pending:
            await pending.pop()()
        async with original(*args, **kwargs) as conn:
            yield conn

    monkeypatch.setattr(money, "in_transaction", later)
    call = (
        spend(who, round_id, 1, "10")
        if action == "spend"
        else money.step(who, round_id, 1, "start")
    )
    await refused("budget.error.not_spending", 409, call)
    assert (await Round.get(id=round_id)).status == "finished"
    assert await Spending.all().count() == 0
    assert (await MenuItem.get(round_id=round_id, number=1)).status == "funded"
