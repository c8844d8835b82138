"""The round's pure rules at their boundaries, and the funded set against an independent
recount for every small case."""

from __future__ import annotations

import itertools
import tomllib
from collections import Counter
from datetime import date
from decimal import Decimal
from fractions import Fraction
from random import Random

import pytest

from handlers.budget import rules
from handlers.budget.rounds import RULES_FILE, round_rules
from handlers.budget.rules import (
    Funding,
    Item,
    OrderError,
    Phase,
    RoundRule,
    RuleError,
    Selection,
    Standing,
    TieBreak,
)

FIT = RoundRule(selection=Selection.FIT)


def menu(*costs: str) -> dict[int, Item]:
    return {n: Item(100 + n, n, Decimal(c)) for n, c in enumerate(costs, start=1)}


def refused(code: str, call) -> dict:  # type: ignore[no-untyped-def]
    with pytest.raises(OrderError) as caught:
        call()
    assert caught.value.code == code
    return caught.value.params


# --- orders --------------------------------------------------------------------


def test_a_selection_exactly_at_the_fund_fits_and_one_fen_more_does_not():
    items = menu("60000.00", "40000.00", "0.01")
    assert rules.check_order(FIT, Decimal("100000"), items, [2, 1]) == (1, 2)
    params = refused(
        "budget.error.over_fund",
        lambda: rules.check_order(FIT, Decimal("100000"), items, [1, 2, 3]),
    )
    assert params == {"total": "100,000.01", "fund": "100,000.00"}


def test_any_number_ignores_the_cost_and_count_keeps_between_its_limits():
    items = menu("60000", "60000", "60000", "1")
    anything = RoundRule(selection=Selection.ANY)
    assert rules.check_order(anything, Decimal("1"), items, [1, 2, 3]) == (1, 2, 3)
    three = RoundRule(selection=Selection.COUNT, min_projects=1, max_projects=3)
    assert rules.check_order(three, Decimal("1"), items, [4, 1, 2]) == (1, 2, 4)
    assert refused(
        "budget.error.too_many", lambda: rules.check_order(three, Decimal(1), items, [1, 2, 3, 4])
    ) == {"max": 3}
    assert refused(
        "budget.error.too_few", lambda: rules.check_order(three, Decimal(1), items, [])
    ) == {"min": 1}


def test_a_minimum_rule_wants_a_share_of_the_fund_rounded_up_to_the_fen():
    rule = RoundRule(selection=Selection.MINIMUM, share=Fraction(2, 3))
    assert rules.minimum_spend(rule, Decimal("100.00")) == Decimal("66.67")
    items = menu("66.66", "0.01", "40")
    refused("budget.error.under_minimum", lambda: rules.check_order(rule, Decimal(100), items, [1]))
    assert rules.check_order(rule, Decimal(100), items, [1, 2]) == (1, 2)
    refused("budget.error.under_minimum", lambda: rules.check_order(rule, Decimal(100), items, []))
    refused("budget.error.over_fund", lambda: rules.check_order(rule, Decimal(100), items, [1, 3]))


def test_a_scoped_project_is_ordered_only_by_its_own_households():
    items = menu("10", "10")
    assert refused(
        "budget.error.out_of_scope",
        lambda: rules.check_order(FIT, Decimal(100), items, [2], frozenset({1})),
    ) == {"number": 2}
    unscoped = RoundRule(scoped=False)
    assert rules.check_order(unscoped, Decimal(100), items, [2], frozenset({1})) == (2,)


def test_unknown_and_repeated_numbers_are_refused():
    items = menu("10")
    refused("budget.error.unknown_item", lambda: rules.check_order(FIT, Decimal(100), items, [7]))
    refused(
        "budget.error.duplicate_pick", lambda: rules.check_order(FIT, Decimal(100), items, [1, 1])
    )


def test_toggling_adds_and_removes_in_menu_order_and_left_counts_only_under_a_fund_rule():
    picks = rules.toggle(rules.toggle(rules.toggle((), 3), 1), 3)
    assert picks == (1,)
    assert rules.toggle((1, 5), 2) == (1, 2, 5)
    items = menu("30", "20")
    assert rules.remaining(FIT, Decimal(100), items, (1, 2)) == Decimal(50)
    assert rules.remaining(RoundRule(selection=Selection.ANY), Decimal(100), items, (1,)) is None


def test_scopes_cover_their_buildings_or_grids():
    assert rules.covers({"kind": "community", "ids": []}, 5, None)
    assert rules.covers({"kind": "buildings", "ids": [5]}, 5, 1)
    assert not rules.covers({"kind": "buildings", "ids": [6]}, 5, 1)
    assert rules.covers({"kind": "grids", "ids": [1]}, 5, 1)
    assert not rules.covers({"kind": "grids", "ids": [1]}, 5, None)


# --- the count -------------------------------------------------------------------


def test_a_tie_for_the_last_funded_place_goes_to_the_cheaper_then_the_earlier_project():
    items = menu("50", "40", "45")  # 1 leads; 2 and 3 tie; only one of them fits after 1
    support = {1: 9, 2: 5, 3: 5}
    eligible = dict.fromkeys(items, 10)
    cheaper = rules.allocate(RoundRule(), Decimal(95), items.values(), support, eligible)
    assert cheaper.funded == (1, 2)
    assert cheaper.left == Decimal(5)
    by_number = RoundRule(tie_break=(TieBreak.NUMBER,))
    assert rules.allocate(by_number, Decimal(95), items.values(), support, eligible).funded == (
        1,
        2,
    )
    same_cost = menu("50", "45", "45")
    assert rules.allocate(
        RoundRule(), Decimal(95), same_cost.values(), support, eligible
    ).funded == (1, 2)
    # With no tie the more wanted wins, whatever it costs.
    assert rules.allocate(
        RoundRule(), Decimal(95), items.values(), {**support, 3: 6}, eligible
    ).funded == (1, 3)


def test_a_project_below_the_minimum_support_is_not_funded_though_money_is_left():
    items = menu("10", "10")
    rule = RoundRule(min_support=Fraction(1, 10))
    # 10% of 95 households is 9.5: 10 are needed (以上), 9 are not enough.
    done = rules.allocate(rule, Decimal(1000), items.values(), {1: 10, 2: 9}, {1: 95, 2: 95})
    assert done.funded == (1,)
    standing = {r.item.number: (r.standing, r.needed) for r in done.ranked}
    assert standing == {1: (Standing.FUNDED, 10), 2: (Standing.BELOW_SUPPORT, 10)}
    # A building's lift counts against that building's households, not the community's.
    lift = rules.allocate(rule, Decimal(1000), items.values(), {1: 10, 2: 3}, {1: 95, 2: 30})
    assert lift.funded == (1, 2)


def test_a_project_nobody_ordered_is_never_funded():
    items = menu("10")
    assert rules.allocate(RoundRule(), Decimal(100), items.values(), {}, {1: 10}).funded == ()


def test_skip_passes_over_what_does_not_fit_and_stop_ends_there():
    items = menu("80", "30", "20")
    support = {1: 9, 2: 8, 3: 7}
    eligible = dict.fromkeys(items, 10)
    assert rules.allocate(RoundRule(), Decimal(100), items.values(), support, eligible).funded == (
        1,
        3,
    )
    stop = RoundRule(funding=Funding.STOP)
    done = rules.allocate(stop, Decimal(100), items.values(), support, eligible)
    assert done.funded == (1,)
    assert [r.standing for r in done.ranked] == [
        Standing.FUNDED,
        Standing.NO_MONEY,
        Standing.NO_MONEY,
    ]


def _before(rule: RoundRule, a: Item, b: Item, support: dict[int, int]) -> bool:
    """Whether ``a`` ranks before ``b``, written out case by case (not via sort_key)."""
    sa, sb = support.get(a.number, 0), support.get(b.number, 0)
    if sa != sb:
        return sa > sb
    for tie in rule.tie_break:
        if tie == TieBreak.CHEAPER and a.cost != b.cost:
            return a.cost < b.cost
        if tie == TieBreak.NUMBER and a.number != b.number:
            return a.number < b.number
    return a.number < b.number


def _recount(
    rule: RoundRule, fund: Decimal, items: list[Item], support: dict[int, int], eligible: int
) -> set[int]:
    """The funded set as the one subset the rule's definition accepts, by brute force."""
    need = max(-(-rule.min_support * eligible // 1), 1)
    wanted = [i for i in items if support.get(i.number, 0) >= need]
    accepted = []
    for size in range(len(wanted) + 1):
        for chosen in itertools.combinations(wanted, size):
            funded = {i.number for i in chosen}
            ok = True
            for i in wanted:
                ahead = [j for j in wanted if _before(rule, j, i, support)]
                paid = sum((j.cost for j in ahead if j.number in funded), Decimal(0))
                fits = paid + i.cost <= fund
                if rule.funding == Funding.STOP:
                    fits = fits and all(j.number in funded for j in ahead)
                if (i.number in funded) != fits:
                    ok = False
                    break
            if ok:
                accepted.append(funded)
    assert len(accepted) == 1, accepted
    return accepted[0]


def test_the_funded_set_equals_an_independent_recount_for_every_small_case():
    """Three projects, costs 1–3, funds 0–6, supports 0–3 of 3 households, three minimum
    supports, both funding rules and both tie orders: every case."""
    cases = 0
    for costs in itertools.product((1, 2, 3), repeat=3):
        items = [Item(n, n, Decimal(c)) for n, c in enumerate(costs, start=1)]
        for supports in itertools.product(range(4), repeat=3):
            support = {n: s for n, s in enumerate(supports, start=1)}
            for fund, minimum, funding, ties in itertools.product(
                range(7),
                (Fraction(0), Fraction(1, 3), Fraction(1, 2)),
                tuple(Funding),
                ((TieBreak.CHEAPER, TieBreak.NUMBER), (TieBreak.NUMBER,)),
            ):
                rule = RoundRule(min_support=minimum, funding=funding, tie_break=ties)
                got = rules.allocate(rule, Decimal(fund), items, support, dict.fromkeys(support, 3))
                assert set(got.funded) == _recount(rule, Decimal(fund), items, support, 3), (
                    costs,
                    supports,
                    fund,
                    rule,
                )
                assert got.spent == sum(
                    (i.cost for i in items if i.number in got.funded), Decimal(0)
                )
                assert got.spent <= fund
                cases += 1
    assert cases == 27 * 64 * 7 * 3 * 2 * 2


def test_support_counts_each_household_once_per_project():
    rng = Random(15)
    orders = [tuple(rng.sample(range(1, 8), rng.randint(0, 4))) for _ in range(500)]
    expected = Counter(n for order in orders for n in set(order))
    assert rules.support_of(orders) == dict(expected)
    assert rules.support_of([(1, 1, 2)]) == {1: 1, 2: 1}


# --- rules as data and phases --------------------------------------------------------


def test_the_configured_rules_load_and_read_back_the_same():
    with RULES_FILE.open("rb") as fh:
        doc = tomllib.load(fh)
    configured = round_rules()
    assert set(configured) == set(doc)
    for rule in configured.values():
        assert rules.rule_from_mapping(rules.rule_to_mapping(rule)) == rule
    assert configured["fit"].min_support == Fraction(1, 10)
    assert configured["three"].max_projects == 3


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"selection": "fits"}, "selection"),
        ({"min_support": 0.1}, "exact"),
        ({"selection": "count"}, "max_projects"),
        ({"selection": "minimum"}, "share"),
        ({"min_projects": 3, "max_projects": 2}, "exceed"),
        ({"tie_break": ["cheaper", "cheaper"]}, "twice"),
        ({"tie_break": "cheaper"}, "list"),
        ({"scoped": "yes"}, "true or false"),
        ({"quorum": "1/2"}, "unknown"),
        ({"max_projects": 1.5}, "whole number"),
    ],
)
def test_a_wrong_rule_is_refused_with_what_is_wrong(table: dict, says: str):
    with pytest.raises(RuleError, match=says):
        rules.rule_from_mapping(table)


PLAN = {
    Phase.COLLECTION: date(2027, 1, 1),
    Phase.REVIEW: date(2027, 2, 1),
    Phase.PUBLICITY: date(2027, 3, 1),
    Phase.ORDERING: date(2027, 3, 8),
    Phase.RESULT: date(2027, 3, 22),
    Phase.IMPLEMENTATION: date(2027, 4, 1),
}


def test_phases_are_planned_in_order_and_ordering_lasts_at_least_a_day():
    assert rules.check_plan(PLAN)["ordering"] == date(2027, 3, 8)
    with pytest.raises(RuleError):
        rules.check_plan({**PLAN, Phase.REVIEW: date(2026, 12, 1)})
    with pytest.raises(RuleError):
        rules.check_plan({**PLAN, Phase.RESULT: PLAN[Phase.ORDERING]})
    with pytest.raises(RuleError):
        rules.check_plan({k: v for k, v in PLAN.items() if k != Phase.REVIEW})
    assert [rules.next_phase(p) for p in Phase] == [*list(Phase)[1:], None]
