"""Households' orders (群众点菜) and the count, through the service, on both backends: one
household, one order, the latest counts, online or on paper; what the rule refuses;
coverage before closing; and the count's ties, minimum support and recount."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from handlers.budget import doors, menu, ordering, rounds
from handlers.budget.doors import BallotForm
from handlers.canvass.chain import broken_links, genesis, link
from handlers.refusal import Refused
from models.audit import AuditLog
from models.budget import BallotVisit, MenuItem, Order, Round
from models.community import Building
from models.outbox import Notification
from models.residents import Resident
from tests.budget import factories
from tests.budget.factories import AFTER, DURING
from tests.world import World

END = datetime(2026, 11, 14, 16, 0, tzinfo=UTC)  # ordering ends: 11-15 00:00 in Beijing
LATE = END + timedelta(hours=2)


async def refused(code: str, status: int, call: Awaitable[Any]) -> Refused:
    with pytest.raises(Refused) as caught:
        await call
    assert (caught.value.code, caught.value.status) == (code, status), caught.value.params
    return caught.value


async def homes(world: World, count: int, building: Building | None = None) -> list[Resident]:
    made = await world.add_households(building or world.buildings[0], count)
    return [await world.resident(h) for h in made]


def lock_of(world: World) -> Any:
    return world.app_state.store.lock  # type: ignore[attr-defined]


def paper(*picks: int) -> BallotForm:
    return BallotForm("answered", tuple(picks), "户主本人", "oral")


async def chain_entries(round_id: int, household_id: int) -> list[dict[str, Any]]:
    return (
        await AuditLog.filter(chain=ordering.chain_of(round_id, household_id))
        .order_by("id")
        .values("id", "actor", "action", "before", "after", "chain", "prev", "digest")
    )


async def close(world: World, worker: Resident, round_id: int, now: datetime = AFTER) -> Round:
    await rounds.advance(await world.who(worker), round_id, now, lock_of(world))
    return await Round.get(id=round_id)


# --- one household, one order -------------------------------------------------------------


async def test_one_household_one_order_and_the_latest_counts(world: World):
    people = await homes(world, 1)
    spouse = await world.resident(await people[0].household)
    boss = await world.worker()
    round_id = await factories.ordering_round(world, boss, ["1000", "2000", "3000"], lock_of(world))
    hid = people[0].household_id
    first = await ordering.place_order(await world.who(people[0]), round_id, [1], DURING)
    assert (first.items, first.previous) == ((1,), None)
    second = await ordering.place_order(await world.who(spouse), round_id, [3, 2], DURING)
    assert (second.items, second.previous) == ((2, 3), (1,))
    rows = await Order.filter(round_id=round_id)
    assert [(o.items, o.resident_id, o.channel) for o in rows] == [([2, 3], spouse.id, "online")]
    entries = await chain_entries(round_id, hid)
    assert [e["action"] for e in entries] == ["order.placed", "order.changed"]
    assert [e["after"]["items"] for e in entries] == [[1], [2, 3]]
    assert entries[1]["before"] == {"items": [1]}
    assert [e["actor"] for e in entries] == [f"resident:{people[0].id}", f"resident:{spouse.id}"]
    chain = ordering.chain_of(round_id, hid)
    assert entries[0]["prev"] == genesis(chain)
    assert entries[1]["prev"] == entries[0]["digest"]
    for e in entries:
        assert e["digest"] == link(e["prev"], e["actor"], e["action"], e["after"])
    # The same order again changes nothing and adds nothing to the trail.
    again = await ordering.place_order(await world.who(people[0]), round_id, [2, 3], DURING)
    assert again.previous == (2, 3)
    assert len(await chain_entries(round_id, hid)) == 2
    mine = await ordering.ballot(await world.who(people[0]), round_id, DURING)
    assert mine.picks == (2, 3) and mine.left([2, 3]) == Decimal("95000")


async def test_two_members_ordering_at_the_same_moment_leave_one_order(world: World):
    people = await homes(world, 1)
    spouse = await world.resident(await people[0].household)
    boss = await world.worker()
    round_id = await factories.ordering_round(world, boss, ["1000", "2000", "3000"], lock_of(world))
    one, two = await world.who(people[0]), await world.who(spouse)
    for attempt in range(6):
        mine, theirs = ([1], [2, 3]) if attempt % 2 else ([2], [1, 3])
        await asyncio.gather(
            ordering.place_order(one, round_id, mine, DURING),
            ordering.place_order(two, round_id, theirs, DURING),
        )
        rows = await Order.filter(round_id=round_id)
        assert len(rows) == 1
        assert rows[0].items in (mine, theirs)
    # Every change is in one unbroken chain, and it ends with the order that counts.
    entries = await chain_entries(round_id, people[0].household_id)
    assert entries[0]["action"] == "order.placed"
    assert {e["action"] for e in entries[1:]} == {"order.changed"}
    assert broken_links(entries) == []
    assert entries[-1]["after"]["items"] == rows[0].items


@pytest.mark.parametrize(
    ("picks", "code"),
    [
        ([1, 2], "budget.error.over_fund"),  # 60,000 + 50,000 of 100,000
        ([3], "budget.error.out_of_scope"),  # 2栋's lift
        ([9], "budget.error.unknown_item"),
        ([1, 1], "budget.error.duplicate_pick"),
    ],
)
async def test_an_order_the_fit_rule_refuses_leaves_nothing(
    world: World, picks: list[int], code: str
):
    people = await homes(world, 1)
    neighbour = (await homes(world, 1, world.buildings[1]))[0]
    boss = await world.worker()
    lock = lock_of(world)
    round_id = await factories.new_round(world, boss)
    await factories.add(world, boss, round_id, "60000")
    await factories.add(world, boss, round_id, "50000")
    lift = {"kind": "buildings", "ids": [world.buildings[1].id]}
    await factories.add(world, boss, round_id, "1000", title="2栋电梯", scope=lift)
    await factories.open_round(world, boss, round_id, lock)
    await refused(code, 400, factories.order(world, people[0], round_id, picks))
    assert await Order.all().count() == 0
    assert await AuditLog.filter(chain__isnull=False).count() == 0
    mine = await ordering.ballot(await world.who(people[0]), round_id, DURING)
    assert mine.allowed == frozenset({1, 2})
    # 2栋's household may order its lift.
    await factories.order(world, neighbour, round_id, [3])
    assert await Order.all().values_list("items", flat=True) == [[3]]


@pytest.mark.parametrize(
    ("picks", "code"),
    [([1, 2, 3, 4], "budget.error.too_many"), ([], "budget.error.too_few")],
)
async def test_the_count_rule_takes_one_to_three_projects(
    world: World, picks: list[int], code: str
):
    people = await homes(world, 1)
    boss = await world.worker()
    costs = ["50000", "50000", "50000", "50000"]
    round_id = await factories.ordering_round(world, boss, costs, lock_of(world), rule="three")
    await refused(code, 400, factories.order(world, people[0], round_id, picks))
    assert await Order.all().count() == 0
    # Three projects are fine, and under "count" their cost is not limited by the fund.
    await factories.order(world, people[0], round_id, [1, 2, 3])
    assert await Order.all().values_list("items", flat=True) == [[1, 2, 3]]


async def test_a_selection_exactly_at_the_fund_is_accepted_and_funded(world: World):
    people = await homes(world, 2)
    boss = await world.worker()
    round_id = await factories.ordering_round(
        world, boss, ["60000", "40000", "0.01"], lock_of(world)
    )
    for person in people:
        await factories.order(world, person, round_id, [1, 2])
    await refused(
        "budget.error.over_fund", 400, factories.order(world, people[0], round_id, [1, 2, 3])
    )
    done = await close(world, boss, round_id)
    assert done.result is not None
    assert sorted(done.result["funded"]) == [1, 2]  # in rank order: the cheaper first
    assert (done.result["spent"], done.result["left"]) == ("100000.00", "0.00")


async def test_who_may_order_and_when(world: World):
    people = await homes(world, 2)
    unverified = await world.resident(await people[0].household, verified=False)
    homeless = await world.resident(None)
    boss = await world.worker()
    lock = lock_of(world)
    round_id = await factories.ordering_round(world, boss, ["1000", "2000"], lock)
    for person in (unverified, homeless):
        await refused(
            "proposal.error.not_verified",
            403,
            ordering.place_order(await world.who(person), round_id, [1], DURING),
        )
    # A household that moved in after ordering opened is not in the frozen electorate.
    newcomer = (await homes(world, 1))[0]
    await refused(
        "budget.error.not_eligible",
        403,
        ordering.place_order(await world.who(newcomer), round_id, [1], DURING),
    )
    await refused(
        "budget.error.not_eligible",
        403,
        doors.record_ballot(
            await world.who(boss), round_id, newcomer.household_id, paper(1), DURING
        ),
    )
    # The last second of ordering counts; its end does not.
    who = await world.who(people[0])
    await ordering.place_order(who, round_id, [1], END - timedelta(seconds=1))
    await refused("budget.error.not_ordering", 409, ordering.place_order(who, round_id, [2], END))
    await factories.ballot(world, boss, round_id, people[1].household_id, [2])
    await close(world, boss, round_id)
    await refused("budget.error.not_ordering", 409, ordering.place_order(who, round_id, [2], AFTER))
    await refused(
        "budget.error.not_ordering",
        409,
        doors.record_ballot(
            await world.who(boss), round_id, people[0].household_id, paper(2), AFTER
        ),
    )
    assert sorted(await Order.filter(round_id=round_id).values_list("items", flat=True)) == [
        [1],
        [2],
    ]


async def test_a_paper_ballot_and_an_online_order_overwrite_each_other(world: World):
    people = await homes(world, 1)
    spouse = await world.resident(await people[0].household)
    boss = await world.worker()
    worker = await world.who(boss)
    round_id = await factories.ordering_round(
        world, boss, ["60000", "30000", "20000"], lock_of(world)
    )
    hid = people[0].household_id
    await factories.order(world, people[0], round_id, [1])
    done = await doors.record_ballot(worker, round_id, hid, paper(2, 3), DURING)
    assert (done.items, done.previous, done.state) == ((2, 3), (1,), "in_person")
    row = await Order.get(round_id=round_id)
    assert (row.items, row.channel, row.recorded_by_id, row.resident_id) == (
        [2, 3],
        "in_person",
        boss.id,
        None,
    )
    told = await Notification.filter(kind="budget.ballot_recorded").values_list(
        "audience", flat=True
    )
    assert sorted(told) == sorted([f"resident:{people[0].id}", f"resident:{spouse.id}"])
    # A paper ballot over the fund is refused as an order online would be.
    await refused(
        "budget.error.over_fund",
        400,
        doors.record_ballot(worker, round_id, hid, paper(1, 2, 3), DURING),
    )
    assert await BallotVisit.filter(round_id=round_id).count() == 1
    assert (await Order.get(round_id=round_id)).items == [2, 3]
    await factories.order(world, spouse, round_id, [1, 3])
    row = await Order.get(round_id=round_id)
    assert (row.items, row.channel, row.recorded_by_id, row.resident_id) == (
        [1, 3],
        "online",
        None,
        spouse.id,
    )
    actions = [e["action"] for e in await chain_entries(round_id, hid)]
    assert actions == ["order.placed", "order.changed", "order.changed"]
    assert await Order.all().count() == 1


async def test_a_paper_ballot_racing_an_online_order_leaves_one(world: World):
    people = await homes(world, 1)
    boss = await world.worker()
    worker = await world.who(boss)
    round_id = await factories.ordering_round(world, boss, ["1000", "2000"], lock_of(world))
    hid = people[0].household_id
    who = await world.who(people[0])
    for attempt in range(4):
        online, door = ([1], [2]) if attempt % 2 else ([2], [1])
        await asyncio.gather(
            ordering.place_order(who, round_id, online, DURING),
            doors.record_ballot(worker, round_id, hid, paper(*door), DURING),
        )
        rows = await Order.filter(round_id=round_id)
        assert len(rows) == 1 and rows[0].items in (online, door)
        channel = "online" if rows[0].items == online else "in_person"
        assert rows[0].channel == channel
    entries = await chain_entries(round_id, hid)
    assert broken_links(entries) == [] and entries[-1]["after"]["items"] == rows[0].items


# --- coverage ------------------------------------------------------------------------------


async def test_closing_waits_for_every_household_and_late_visits_only_reach_the_rest(
    world: World,
):
    people = await homes(world, 4)
    boss = await world.worker()
    worker = await world.who(boss)
    lock = lock_of(world)
    round_id = await factories.ordering_round(world, boss, ["1000"], lock)
    await factories.order(world, people[0], round_id, [1])
    await factories.ballot(world, boss, round_id, people[1].household_id, [1])
    failed = await refused(
        "proposal.error.coverage_incomplete", 409, rounds.advance(worker, round_id, AFTER, lock)
    )
    assert failed.params == {"missing": 2}
    # After the end, nothing already answered changes, online or at the door.
    for hid in (people[0].household_id, people[1].household_id):
        for form in (BallotForm("not_home"), paper(1)):
            await refused(
                "budget.error.not_ordering",
                409,
                doors.record_ballot(worker, round_id, hid, form, LATE),
            )
    # The households not reached may still be recorded, with their reasons.
    done = await doors.record_ballot(
        worker, round_id, people[2].household_id, BallotForm("not_home"), LATE
    )
    assert done.state == "visited"
    await refused(
        "proposal.error.coverage_incomplete", 409, rounds.advance(worker, round_id, LATE, lock)
    )
    await doors.record_ballot(
        worker, round_id, people[3].household_id, BallotForm("moved_out"), LATE
    )
    closed = await close(world, boss, round_id, LATE)
    assert closed.status == "result" and closed.result is not None
    assert "override" not in closed.result
    assert closed.result["coverage"] == {
        "online": 1,
        "in_person": 1,
        "visited": 2,
        "not_reached": 0,
        "vacant": 0,
        "reasons": {"not_home": 1, "moved_out": 1},
    }
    assert await BallotVisit.filter(round_id=round_id).count() == 3


@pytest.mark.parametrize(
    ("vacant", "eligible", "needed", "standing"),
    [("exclude", 9, 1, "funded"), ("count", 12, 2, "below_support")],
)
async def test_vacant_households_leave_the_minimum_support_denominator(
    world: World, vacant: str, eligible: int, needed: int, standing: str
):
    people = await homes(world, 12)
    boss = await world.worker()
    round_id = await factories.ordering_round(world, boss, ["1000"], lock_of(world))
    found = await Round.get(id=round_id)
    assert found.rule is not None
    await Round.filter(id=round_id).update(rule={**found.rule, "vacant": vacant})
    await factories.order(world, people[0], round_id, [1])
    for person in people[1:4]:
        await factories.ballot(world, boss, round_id, person.household_id, None, "vacant")
    for person in people[4:]:
        await factories.ballot(world, boss, round_id, person.household_id, None, "not_home")
    done = await close(world, boss, round_id)
    assert done.result is not None
    assert done.result["eligible"] == 12
    assert done.result["vacant_excluded"] == (3 if vacant == "exclude" else 0)
    [row] = done.result["items"]
    # 10% of 9 occupied households is 0.9, so one order is enough; 10% of 12 needs two.
    assert (row["support"], row["eligible"], row["needed"], row["standing"]) == (
        1,
        eligible,
        needed,
        standing,
    )
    assert done.result["coverage"]["vacant"] == 3


# --- the count ---------------------------------------------------------------------------------


async def recount(round_id: int) -> dict[int, int]:
    out: dict[int, int] = {}
    for items in await Order.filter(round_id=round_id).values_list("items", flat=True):
        for number in set(items):
            out[number] = out.get(number, 0) + 1
    return out


@pytest.mark.parametrize(
    ("costs", "funded", "beaten"),
    [
        (["50000", "50000", "40000"], [1, 3], 2),  # equal support: the cheaper first
        (["50000", "45000", "45000"], [1, 2], 3),  # and equal cost: the menu number
    ],
)
async def test_a_tie_for_the_last_funded_place_is_broken_by_the_rule(
    world: World, costs: list[str], funded: list[int], beaten: int
):
    people = await homes(world, 5)
    boss = await world.worker()
    round_id = await factories.ordering_round(world, boss, costs, lock_of(world))
    # 1: three households; 2 and 3: two each. After 1, 50,000 is left: one of 2 and 3 fits.
    for person, picks in zip(people, ([1, 2], [1, 3], [1], [2], [3]), strict=True):
        await factories.order(world, person, round_id, picks)
    done = await close(world, boss, round_id)
    assert done.result is not None
    assert done.result["funded"] == funded
    by_number = {r["number"]: r for r in done.result["items"]}
    assert [by_number[n]["support"] for n in (1, 2, 3)] == [3, 2, 2]
    assert by_number[beaten]["standing"] == "no_money"
    assert [by_number[n]["rank"] for n in (*funded, beaten)] == [1, 2, 3]
    statuses = dict(await MenuItem.filter(round_id=round_id).values_list("number", "status"))
    assert statuses == {**{n: "funded" for n in funded}, beaten: "unfunded"}
    budgets = dict(await MenuItem.filter(round_id=round_id).values_list("number", "budget"))
    assert budgets[beaten] is None
    assert all(Decimal(budgets[n]) == Decimal(costs[n - 1]) for n in funded)


async def test_a_project_below_minimum_support_is_not_funded_though_money_is_left(world: World):
    people = await homes(world, 20)
    boss = await world.worker()
    round_id = await factories.ordering_round(world, boss, ["1000", "1000", "1000"], lock_of(world))
    # 20 households: 10% is two. Item 2 has one order, item 3 exactly two.
    for person in people[:18]:
        await factories.order(world, person, round_id, [1])
    await factories.order(world, people[18], round_id, [1, 3])
    await ordering.place_order(await world.who(people[19]), round_id, [2, 3], DURING)
    done = await close(world, boss, round_id)
    assert done.result is not None
    by_number = {r["number"]: r for r in done.result["items"]}
    assert (by_number[2]["support"], by_number[2]["needed"], by_number[2]["standing"]) == (
        1,
        2,
        "below_support",
    )
    assert (by_number[3]["support"], by_number[3]["standing"]) == (2, "funded")
    assert done.result["funded"] == [1, 3]
    assert Decimal(done.result["left"]) == Decimal("98000")
    assert (await MenuItem.get(round_id=round_id, number=2)).status == "unfunded"


async def test_the_stored_support_is_a_recount_of_the_order_rows(world: World):
    people = await homes(world, 8)
    boss = await world.worker()
    round_id = await factories.ordering_round(
        world, boss, ["30000", "20000", "10000", "5000"], lock_of(world)
    )
    picks = ([1, 2], [2, 3], [1, 3, 4], [4], [2], [1, 2, 3], [3, 4])
    for person, chosen in zip(people, picks, strict=False):
        await factories.order(world, person, round_id, chosen)
    # Changes and paper ballots: only the latest counts.
    await factories.order(world, people[0], round_id, [3])
    await factories.ballot(world, boss, round_id, people[7].household_id, [1, 4])
    await factories.ballot(world, boss, round_id, people[4].household_id, [1])
    done = await close(world, boss, round_id)
    assert done.result is not None
    stored = {r["number"]: r["support"] for r in done.result["items"]}
    again = await recount(round_id)
    assert stored == {n: again.get(n, 0) for n in (1, 2, 3, 4)}
    assert stored == {1: 4, 2: 2, 3: 5, 4: 4}
    assert done.result["orders"] == await Order.filter(round_id=round_id).count() == 8
    item_rows = await menu.listed_items(done)
    assert {i.number: i.status for i in item_rows} == {
        n: ("funded" if n in done.result["funded"] else "unfunded") for n in (1, 2, 3, 4)
    }
