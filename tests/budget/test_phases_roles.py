"""The round's phases and who may move it, through the service, on both backends: what
creating a round checks, each gate between phases, the menu fixed once published,
comments during publicity only, the notifications told once, the roles, and a round of
another community that nobody outside it can find."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from handlers.budget import closing, doors, menu, money, ordering, rounds
from handlers.budget.doors import BallotForm
from handlers.budget.rounds import Source
from handlers.refusal import Refused
from handlers.roles import Who
from models.audit import AuditLog
from models.budget import BallotVisit, BudgetElector, FundSource, MenuComment, Order, Round
from models.community import Building, Community, Grid, Household
from models.outbox import Notification
from models.residents import Resident, Role, RoleAssignment
from tests.budget import factories
from tests.budget.factories import AFTER, DURING, PLAN
from tests.world import World

# The publicity's last minute and ordering's first (Beijing is UTC+8).
LAST_OF_PUBLICITY = datetime(2026, 10, 31, 15, 59, tzinfo=UTC)
FIRST_OF_ORDERING = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
END = datetime(2026, 11, 14, 16, 0, tzinfo=UTC)  # 11-15 00:00 in Beijing
ORAL = ("户主本人", "oral")


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


async def grid_worker(world: World, grid: Grid) -> Resident:
    person = await world.resident()
    await RoleAssignment.create(
        resident=person, role=Role.GRID_WORKER, community=world.community, grid=grid
    )
    return person


def fund(amount: Any = Decimal("100000"), kind: str = "government") -> list[Source]:
    return [Source(kind, amount, "区级民生微实事资金")]


# --- creating a round ----------------------------------------------------------------


def _plan(**changes: date | None) -> dict[str, date]:
    plan = {**PLAN, **changes}
    return {k: v for k, v in plan.items() if v is not None}


BAD_ROUNDS = [
    ("year_1999", {"year": 1999}, "budget.error.bad_year"),
    ("year_2101", {"year": 2101}, "budget.error.bad_year"),
    ("unknown_rule", {"rule_name": "nope"}, "budget.error.bad_rule"),
    ("blank_title", {"title": "   "}, "budget.error.bad_title"),
    ("result_missing", {"phases": _plan(result=None)}, "budget.error.bad_phases"),
    (
        "review_before_collection",
        {"phases": _plan(review=date(2026, 9, 30))},
        "budget.error.bad_phases",
    ),
    (
        "ordering_after_result",
        {"phases": _plan(ordering=date(2026, 11, 16))},
        "budget.error.bad_phases",
    ),
    (
        "result_on_ordering_day",
        {"phases": _plan(result=date(2026, 11, 1))},
        "budget.error.bad_phases",
    ),
    (
        "finished_is_not_planned",
        {"phases": {**PLAN, "finished": date(2026, 12, 31)}},
        "budget.error.bad_phases",
    ),
    ("unknown_phase", {"phases": {**PLAN, "party": date(2026, 12, 31)}}, "budget.error.bad_phases"),
    ("no_sources", {"sources": []}, "budget.error.no_sources"),
    ("float_amount", {"sources": fund(100000.0)}, "budget.error.bad_amount"),
    ("negative_amount", {"sources": fund(Decimal("-100"))}, "budget.error.bad_amount"),
    ("zero_amount", {"sources": fund("0")}, "budget.error.bad_amount"),
    ("fraction_of_a_fen", {"sources": fund("100.001")}, "budget.error.bad_amount"),
    ("not_a_number", {"sources": fund("十万")}, "budget.error.bad_amount"),
    ("unknown_source_kind", {"sources": fund(kind="bank")}, "budget.error.bad_source"),
    (
        "one_bad_source_of_two",
        {"sources": [*fund(), Source("street", -1)]},
        "budget.error.bad_amount",
    ),
]


@pytest.mark.parametrize(
    ("changes", "code"), [c[1:] for c in BAD_ROUNDS], ids=[c[0] for c in BAD_ROUNDS]
)
async def test_create_round_refuses_what_it_cannot_run(
    world: World, changes: dict[str, Any], code: str
):
    who = await world.who(await world.worker())
    kwargs: dict[str, Any] = {
        "year": 2026,
        "title": "2026年民生微实事",
        "rule_name": "fit",
        "phases": PLAN,
        "sources": fund(),
        **changes,
    }
    await refused(code, 400, rounds.create_round(who, **kwargs))
    assert await Round.all().count() == 0
    assert await FundSource.all().count() == 0


async def test_a_round_keeps_its_plan_and_sources_and_one_per_year(world: World):
    who = await world.who(await world.worker())
    made = await rounds.create_round(
        who,
        year=2026,
        title="  2026年民生微实事  ",
        rule_name="three",
        phases=PLAN,
        sources=[Source("government", "60,000.50", "区级"), Source("residents", "39999.50")],
    )
    stored = await Round.get(id=made.id)
    assert (stored.status, stored.title, stored.rule_name, stored.rule) == (
        "collection",
        "2026年民生微实事",
        "three",
        None,
    )
    assert stored.phases == {k: v.isoformat() for k, v in PLAN.items()}
    assert await rounds.fund_of(made.id) == Decimal("100000.00")
    entry = await AuditLog.get(action="budget.created")
    assert entry.after == {"year": 2026, "rule": "three", "fund": "100000.00"}
    again = rounds.create_round(
        who, year=2026, title="重复", rule_name="fit", phases=PLAN, sources=fund()
    )
    await refused("budget.error.round_exists", 409, again)
    assert await Round.all().count() == 1 and await FundSource.all().count() == 2
    # Another year is another round.
    await rounds.create_round(
        who, year=2027, title="2027年民生微实事", rule_name="fit", phases=PLAN, sources=fund()
    )
    assert await Round.all().count() == 2


# --- the phases ------------------------------------------------------------------------


async def test_a_round_moves_one_phase_at_a_time_through_each_gate(world: World):
    people = await homes(world, 2)
    boss = await world.worker()
    who = await world.who(boss)
    lock = lock_of(world)
    round_id = await factories.new_round(world, boss)
    assert (await rounds.advance(who, round_id, DURING, lock)).status == "review"
    await refused("budget.error.empty_menu", 409, rounds.advance(who, round_id, DURING, lock))
    # A withdrawn project is no menu either.
    first = await factories.add(world, boss, round_id, "1000")
    await menu.withdraw_item(who, round_id, first, "与2号项目重复")
    await refused("budget.error.empty_menu", 409, rounds.advance(who, round_id, DURING, lock))
    number = await factories.add(world, boss, round_id, "50000")
    assert (await rounds.advance(who, round_id, DURING, lock)).status == "publicity"
    # Ordering opens on its planned day (Beijing), not a minute before.
    await refused(
        "budget.error.publicity_not_over",
        409,
        rounds.advance(who, round_id, LAST_OF_PUBLICITY, lock),
    )
    assert (await Round.get(id=round_id)).status == "publicity"
    assert await BudgetElector.filter(round_id=round_id).count() == 0
    opened = await rounds.advance(who, round_id, FIRST_OF_ORDERING, lock)
    assert opened.status == "ordering"
    stored = await Round.get(id=round_id)
    assert stored.eligible_count == 2 and stored.rule is not None
    assert stored.rule["selection"] == "fit" and stored.rule["coverage"] == "all"
    assert stored.ordering_ends_at == END
    assert await BudgetElector.filter(round_id=round_id).count() == 2
    for person in people:
        await ordering.place_order(await world.who(person), round_id, [number], DURING)
    await refused(
        "budget.error.ordering_not_over",
        409,
        rounds.advance(who, round_id, END - timedelta(seconds=1), lock),
    )
    assert (await Round.get(id=round_id)).status == "ordering"
    assert (await rounds.advance(who, round_id, END, lock)).status == "result"
    assert (await rounds.advance(who, round_id, AFTER, lock)).status == "implementation"
    assert (await rounds.advance(who, round_id, AFTER, lock)).status == "finished"
    await refused("budget.error.bad_phase", 409, rounds.advance(who, round_id, AFTER, lock))
    moves = (
        await AuditLog.filter(
            action__in=[
                f"budget.{p}"
                for p in ("review", "publicity", "ordering", "result", "implementation", "finished")
            ]
        )
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert moves == [
        "budget.review",
        "budget.publicity",
        "budget.ordering",
        "budget.result",
        "budget.implementation",
        "budget.finished",
    ]
    # Each piece of news told once, to the community, about this round; none for a refusal.
    told = await Notification.filter(subject="budget_round").values_list(
        "kind", "audience", "subject_id"
    )
    kinds = Counter(kind for kind, _, _ in told)
    for kind in ("budget.menu_published", "budget.ordering_opened", "budget.result"):
        assert kinds[kind] == 1, kinds
    assert {(a, s) for _, a, s in told} == {("community", round_id)}
    assert sum(kinds.values()) == 4  # and budget.implementation


async def test_ordering_too_late_to_open_is_refused(world: World):
    await homes(world, 1)
    boss = await world.worker()
    who = await world.who(boss)
    lock = lock_of(world)
    round_id = await factories.new_round(world, boss)
    await factories.add(world, boss, round_id, "1000")
    await rounds.advance(who, round_id, DURING, lock)
    await rounds.advance(who, round_id, DURING, lock)
    await refused("budget.error.ordering_too_late", 409, rounds.advance(who, round_id, END, lock))
    assert (await Round.get(id=round_id)).status == "publicity"


async def test_the_menu_and_the_fund_are_fixed_once_published(world: World):
    await homes(world, 1)
    boss = await world.worker()
    who = await world.who(boss)
    lock = lock_of(world)
    round_id = await factories.new_round(world, boss)
    number = await factories.add(world, boss, round_id, "1000")
    # Until publication, review and costing change the menu and the fund.
    changed = await menu.update_item(
        who, round_id, number, cost="1200.50", responsible="街道城管科"
    )
    assert changed.cost == Decimal("1200.50")
    assert await rounds.set_sources(who, round_id, fund("80000")) == Decimal("80000")
    await rounds.advance(who, round_id, DURING, lock)
    await rounds.advance(who, round_id, DURING, lock)
    for phase_now in (DURING, None):
        if phase_now is None:
            await rounds.advance(who, round_id, DURING, lock)  # now ordering
        await refused(
            "budget.error.menu_fixed",
            409,
            menu.add_item(who, round_id, cost="500", responsible="居委会", title="新项目"),
        )
        await refused(
            "budget.error.menu_fixed", 409, menu.update_item(who, round_id, number, cost="1")
        )
        await refused(
            "budget.error.menu_fixed", 409, menu.withdraw_item(who, round_id, number, "不做了")
        )
        await refused("budget.error.fund_fixed", 409, rounds.set_sources(who, round_id, fund("1")))
    item = await menu.item_of(await Round.get(id=round_id), number)
    assert (item.cost, item.status) == (Decimal("1200.50"), "listed")
    assert await rounds.fund_of(round_id) == Decimal("80000")


async def test_comments_only_during_publicity_and_hidden_ones_only_for_managers(world: World):
    people = await homes(world, 2)
    unverified = await world.resident(await people[0].household, verified=False)
    boss = await world.worker()
    who = await world.who(boss)
    lock = lock_of(world)
    round_id = await factories.new_round(world, boss)
    number = await factories.add(world, boss, round_id, "1000")
    await rounds.advance(who, round_id, DURING, lock)
    first = await world.who(people[0])
    second = await world.who(people[1])
    await refused("budget.error.not_publicity", 409, menu.comment(first, round_id, number, "好"))
    # A resident sees no draft menu and no comments on it.
    assert (await menu.menu(first, round_id))[1] == []
    await refused("budget.error.no_item", 404, menu.comments(first, round_id, number))
    await rounds.advance(who, round_id, DURING, lock)
    assert [i.number for i in (await menu.menu(first, round_id))[1]] == [number]
    kept = await menu.comment(first, round_id, number, "支持，楼道太暗了")
    rude = await menu.comment(second, round_id, number, "广告：专业开锁")
    await refused(
        "proposal.error.not_verified",
        403,
        menu.comment(await world.who(unverified), round_id, number, "我也说两句"),
    )
    await refused("budget.error.bad_comment", 400, menu.comment(first, round_id, number, "  "))
    await refused("budget.error.no_item", 404, menu.comment(first, round_id, 99, "没有这个"))
    await refused(
        "api.error.forbidden", 403, menu.hide_comment(first, round_id, rude.id, "广告", DURING)
    )
    await refused(
        "budget.error.reason_required", 400, menu.hide_comment(who, round_id, rude.id, " ", DURING)
    )
    await refused(
        "budget.error.no_comment",
        404,
        menu.hide_comment(who, round_id, rude.id + 99, "广告", DURING),
    )
    await menu.hide_comment(who, round_id, rude.id, "广告", DURING)
    seen = await menu.comments(second, round_id, number)
    assert [(c["id"], c["text"], c["mine"]) for c in seen] == [(kept.id, "支持，楼道太暗了", False)]
    assert set(seen[0]) == {"id", "text", "created_at", "hidden_reason", "mine"}
    mine = await menu.comments(first, round_id, number)
    assert [c["mine"] for c in mine] == [True]
    managed = await menu.comments(who, round_id, number)
    assert [(c["id"], c["hidden_reason"]) for c in managed] == [(kept.id, None), (rude.id, "广告")]
    assert await MenuComment.filter(id=rude.id).exists()  # hidden, never deleted
    assert (await AuditLog.get(action="budget.comment_hidden")).after == {
        "comment": rude.id,
        "reason": "广告",
    }
    await rounds.advance(who, round_id, DURING, lock)
    await refused("budget.error.not_publicity", 409, menu.comment(first, round_id, number, "晚了"))
    assert await MenuComment.all().count() == 2


# --- roles ------------------------------------------------------------------------------


async def _not_a_manager(world: World, kind: str) -> Resident:
    if kind == "resident":
        return (await homes(world, 1))[0]
    return await grid_worker(world, world.grid)


@pytest.mark.parametrize("kind", ["resident", "grid_worker"])
async def test_only_managers_run_the_round(world: World, kind: str):
    await homes(world, 1)
    boss = await world.worker()
    lock = lock_of(world)
    round_id = await factories.new_round(world, boss)
    number = await factories.add(world, boss, round_id, "1000")
    who = await world.who(await _not_a_manager(world, kind))
    calls: list[Awaitable[Any]] = [
        rounds.create_round(
            who, year=2027, title="2027年", rule_name="fit", phases=PLAN, sources=fund()
        ),
        rounds.set_sources(who, round_id, fund("1")),
        rounds.advance(who, round_id, DURING, lock),
        menu.add_item(who, round_id, cost="10", responsible="居委会", title="我的项目"),
        menu.update_item(who, round_id, number, cost="1"),
        menu.withdraw_item(who, round_id, number, "不要"),
        money.record_spending(
            who, round_id, number, amount="1", spent_on=date(2026, 11, 1), purpose="x", now=AFTER
        ),
        money.step(who, round_id, number, "start"),
    ]
    for call in calls:
        await refused("api.error.forbidden", 403, call)
    stored = await Round.get(id=round_id)
    assert (stored.status, await Round.all().count()) == ("collection", 1)
    assert await rounds.fund_of(round_id) == Decimal("100000")
    assert [i.number for i in (await menu.menu(await world.who(boss), round_id))[1]] == [number]


async def test_a_grid_worker_records_ballots_only_in_their_grids(world: World):
    other_grid = await Grid.create(community=world.community, name="第二网格")
    far = await Building.create(community=world.community, grid=other_grid, name="9栋")
    near_people = await homes(world, 2)
    far_people = await homes(world, 1, far)
    boss = await world.worker()
    round_id = await factories.ordering_round(world, boss, ["1000", "2000"], lock_of(world))
    mine = await world.who(await grid_worker(world, world.grid))
    form = BallotForm("answered", (1,), *ORAL)
    near = near_people[0].household_id
    far_hid = far_people[0].household_id
    done = await doors.record_ballot(mine, round_id, near, form, DURING)
    assert done.items == (1,) and done.previous is None
    await refused(
        "canvass.error.outside_grid",
        403,
        doors.record_ballot(mine, round_id, far_hid, form, DURING),
    )
    await refused(
        "canvass.error.outside_grid",
        403,
        doors.record_ballot(mine, round_id, far_hid, BallotForm("not_home"), DURING),
    )
    assert await BallotVisit.filter(household_id=far_hid).count() == 0
    assert await Order.all().count() == 1
    # They see their own grid's doors only.
    seen = await doors.coverage(mine, round_id)
    assert seen["total"]["eligible"] == 2 and seen["total"]["in_person"] == 1
    assert seen["live_support"] is False
    assert [d["household_id"] for d in await doors.to_visit(mine, round_id)] == [
        near_people[1].household_id
    ]
    # A community worker records for every grid; a resident for none.
    manager = await world.who(boss)
    await doors.record_ballot(manager, round_id, far_hid, form, DURING)
    assert await Order.all().count() == 2
    resident = await world.who(near_people[1])
    await refused(
        "api.error.forbidden",
        403,
        doors.record_ballot(resident, round_id, near_people[1].household_id, form, DURING),
    )
    await refused("api.error.forbidden", 403, doors.coverage(resident, round_id))
    await refused("api.error.forbidden", 403, doors.to_visit(resident, round_id))
    everything = await doors.coverage(manager, round_id)
    assert everything["total"]["eligible"] == 3 and everything["total"]["not_reached"] == 1


async def test_closing_before_every_household_is_reached_needs_an_admin_and_a_reason(world: World):
    people = await homes(world, 3)
    boss = await world.who(await world.worker())
    chief = await world.who(await world.worker(Role.ADMIN))
    lock = lock_of(world)
    round_id = await factories.ordering_round(world, boss.resident, ["1000"], lock)
    await factories.order(world, people[0], round_id, [1])
    failed = await refused(
        "proposal.error.coverage_incomplete", 409, rounds.advance(boss, round_id, AFTER, lock)
    )
    assert failed.params == {"missing": 2}
    await refused(
        "proposal.error.override_forbidden",
        403,
        rounds.advance(boss, round_id, AFTER, lock, override="来不及了"),
    )
    await refused(
        "proposal.error.override_reason_required",
        400,
        rounds.advance(chief, round_id, AFTER, lock, override="   "),
    )
    await refused(
        "proposal.error.coverage_incomplete", 409, rounds.advance(chief, round_id, AFTER, lock)
    )
    # The background job waits too.
    assert await closing.close_due(AFTER, lock) == 0
    assert (await Round.get(id=round_id)).status == "ordering"
    closed = await rounds.advance(chief, round_id, AFTER, lock, override="两户长期联系不上")
    assert closed.status == "result"
    stored = await Round.get(id=round_id)
    assert stored.result is not None
    assert stored.result["override"] == {"by": chief.name, "reason": "两户长期联系不上"}
    assert stored.result["coverage"]["not_reached"] == 2
    entry = await AuditLog.get(action="budget.coverage_override")
    assert entry.after == {"not_reached": 2, "reason": "两户长期联系不上"}


# --- another community's round ------------------------------------------------------------


async def _stranger(world: World) -> tuple[Resident, Resident]:
    """An admin and a verified resident of another community."""
    other = await Community.create(slug="other", name="别的社区")
    grid = await Grid.create(community=other, name="外网格")
    building = await Building.create(community=other, grid=grid, name="外1栋")
    household = await Household.create(building=building, unit="1", room="0101")
    admin = await Resident.create(community=other, openid="o_stranger_admin")
    await RoleAssignment.create(resident=admin, role=Role.ADMIN, community=other)
    resident = await Resident.create(
        community=other, openid="o_stranger_res", household=household, verified=True
    )
    return admin, resident


@dataclass(frozen=True)
class Outsider:
    """Another community's admin and verified resident, and the ids of our round."""

    admin: Who
    resident: Who
    round_id: int
    household_id: int
    lock: Any


EVERY_FUNCTION: list[tuple[str, Callable[[Outsider], Awaitable[Any]]]] = [
    ("set_sources", lambda o: rounds.set_sources(o.admin, o.round_id, fund())),
    ("advance", lambda o: rounds.advance(o.admin, o.round_id, AFTER, o.lock)),
    (
        "advance_override",
        lambda o: rounds.advance(o.admin, o.round_id, AFTER, o.lock, override="理由"),
    ),
    ("close_ordering", lambda o: closing.close_ordering(o.round_id, o.admin, AFTER, o.lock)),
    (
        "add_item",
        lambda o: menu.add_item(o.admin, o.round_id, cost="1", responsible="x", title="x"),
    ),
    ("update_item", lambda o: menu.update_item(o.admin, o.round_id, 1, cost="1")),
    ("withdraw_item", lambda o: menu.withdraw_item(o.admin, o.round_id, 1, "理由")),
    ("menu_as_admin", lambda o: menu.menu(o.admin, o.round_id)),
    ("menu_as_resident", lambda o: menu.menu(o.resident, o.round_id)),
    ("comment", lambda o: menu.comment(o.resident, o.round_id, 1, "好")),
    ("comments", lambda o: menu.comments(o.admin, o.round_id, 1)),
    ("hide_comment", lambda o: menu.hide_comment(o.admin, o.round_id, 1, "理由", DURING)),
    ("ballot", lambda o: ordering.ballot(o.resident, o.round_id, DURING)),
    ("place_order", lambda o: ordering.place_order(o.resident, o.round_id, [1], DURING)),
    (
        "record_ballot",
        lambda o: doors.record_ballot(
            o.admin, o.round_id, o.household_id, BallotForm("answered", (1,), *ORAL), DURING
        ),
    ),
    ("coverage", lambda o: doors.coverage(o.admin, o.round_id)),
    ("to_visit", lambda o: doors.to_visit(o.admin, o.round_id)),
    (
        "record_spending",
        lambda o: money.record_spending(
            o.admin, o.round_id, 1, amount="1", spent_on=date(2026, 11, 1), purpose="x", now=AFTER
        ),
    ),
    ("step", lambda o: money.step(o.admin, o.round_id, 1, "start")),
    ("rate", lambda o: money.rate(o.resident, o.round_id, 1, 5)),
    ("finances", lambda o: money.finances(o.resident, o.round_id)),
    ("spendings", lambda o: money.spendings(o.resident, o.round_id, 1)),
    ("year_report", lambda o: money.year_report(o.admin, o.round_id)),
]


@pytest.mark.parametrize("phase", ["collection", "ordering", "result"])
async def test_a_round_of_another_community_is_not_found_by_any_function(world: World, phase: str):
    people = await homes(world, 1)
    boss = await world.worker()
    lock = lock_of(world)
    if phase == "collection":
        round_id = await factories.new_round(world, boss)
        await factories.add(world, boss, round_id, "1000")
    else:
        round_id = await factories.ordering_round(world, boss, ["1000"], lock)
    if phase == "result":
        await factories.order(world, people[0], round_id, [1])
        await rounds.advance(await world.who(boss), round_id, AFTER, lock)
    admin, resident = await _stranger(world)
    outsider = Outsider(
        await world.who(admin), await world.who(resident), round_id, people[0].household_id, lock
    )
    before = await Round.get(id=round_id)
    orders = await Order.all().values_list("items", flat=True)
    wrong = []
    for name, call in EVERY_FUNCTION:
        try:
            await call(outsider)
        except Refused as exc:
            if (exc.code, exc.status) != ("budget.error.not_found", 404):
                wrong.append((name, exc.code, exc.status))
        else:
            wrong.append((name, "answered", 200))
    assert wrong == []
    after = await Round.get(id=round_id)
    assert (after.status, after.result) == (before.status, before.result)
    assert await Order.all().values_list("items", flat=True) == orders
    assert await BallotVisit.all().count() == 0
    assert await rounds.fund_of(round_id) == Decimal("100000")


def run_first(monkeypatch: pytest.MonkeyPatch, module: Any, first: Callable[[], Awaitable[Any]]):
    """``module``'s next transaction opens only after ``first`` ran: a concurrent request
    that commits between the caller's checks and its transaction, made certain."""
    original = module.in_transaction
    pending = [first]

    @contextlib.asynccontextmanager
    async def later(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        if pending:
            await pending.pop()()
        async with original(*args, **kwargs) as conn:
            yield conn

    monkeypatch.setattr(module, "in_transaction", later)


MENU_EDITS: list[tuple[str, Any, Callable[[Who, int], Awaitable[Any]], str]] = [
    (
        "add_item",
        menu,
        lambda w, rid: menu.add_item(w, rid, cost="500", responsible="居委会", title="加一个"),
        "budget.error.menu_fixed",
    ),
    (
        "update_item",
        menu,
        lambda w, rid: menu.update_item(w, rid, 1, cost="99999"),
        "budget.error.menu_fixed",
    ),
    (
        "withdraw_item",
        menu,
        lambda w, rid: menu.withdraw_item(w, rid, 1, "不做了"),
        "budget.error.menu_fixed",
    ),
    (
        "set_sources",
        rounds,
        lambda w, rid: rounds.set_sources(w, rid, fund("1")),
        "budget.error.fund_fixed",
    ),
]


@pytest.mark.parametrize(
    ("module", "edit", "code"), [e[1:] for e in MENU_EDITS], ids=[e[0] for e in MENU_EDITS]
)
async def test_a_menu_edit_racing_the_publication_is_refused(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    edit: Callable[[Who, int], Awaitable[Any]],
    code: str,
):
    await homes(world, 1)
    boss = await world.worker()
    who = await world.who(boss)
    lock = lock_of(world)
    round_id = await factories.new_round(world, boss)
    await factories.add(world, boss, round_id, "1000")
    await rounds.advance(who, round_id, DURING, lock)  # review
    run_first(monkeypatch, module, lambda: rounds.advance(who, round_id, DURING, lock))
    await refused(code, 409, edit(who, round_id))
    # What residents were shown is what stays: one item at 1,000, the fund as published.
    assert (await Round.get(id=round_id)).status == "publicity"
    items = await menu.listed_items(await Round.get(id=round_id))
    assert [(i.number, i.cost) for i in items] == [(1, Decimal("1000"))]
    assert await rounds.fund_of(round_id) == Decimal("100000")
