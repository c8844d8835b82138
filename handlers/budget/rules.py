"""Pure rules of the yearly 民生微实事 round: phases, what a household may order, and
which projects the fund pays for.

Money is ``Decimal`` to the fen and shares are ``Fraction``: a rule must say exactly what
it means, and a total must come out the same on every recount. The round's rule is data
(``config/budget_rules.toml``), frozen into the round when ordering opens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from typing import Any

from handlers.proposals.rules import Coverage, Vacant, member, parse_share

CENT = Decimal("0.01")


class Phase(StrEnum):
    """征集 → 评议与测算 → 项目库公示 → 群众点菜 → 结果 → 实施 → 年终公开."""

    COLLECTION = "collection"
    REVIEW = "review"
    PUBLICITY = "publicity"
    ORDERING = "ordering"
    RESULT = "result"
    IMPLEMENTATION = "implementation"
    FINISHED = "finished"


PHASES = tuple(Phase)
# The planned dates a round is created with: the day each phase starts.
PLANNED = (
    Phase.COLLECTION,
    Phase.REVIEW,
    Phase.PUBLICITY,
    Phase.ORDERING,
    Phase.RESULT,
    Phase.IMPLEMENTATION,
)
# While the menu may still change: projects added, costed, withdrawn.
MENU_OPEN = frozenset({Phase.COLLECTION, Phase.REVIEW})


class Selection(StrEnum):
    """How a household orders (Decidim's budgets rules, counted per household)."""

    ANY = "any"  # any number of projects, whatever they cost
    FIT = "fit"  # a selection whose cost fits the fund
    MINIMUM = "minimum"  # fits the fund and spends at least ``share`` of it
    COUNT = "count"  # between ``min_projects`` and ``max_projects`` projects


class Funding(StrEnum):
    SKIP = "skip"  # a project the rest of the fund cannot pay is passed over; the next may fit
    STOP = "stop"  # the first project that does not fit ends the funding


class TieBreak(StrEnum):
    """After support, in the order the rule lists them; the menu number always ends a tie."""

    CHEAPER = "cheaper"  # the cheaper project first: more of the fund left for the others
    NUMBER = "number"  # the project earlier on the menu first


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class RoundRule:
    """How a round's orders are taken and its fund shared out; data, so a community can
    configure it, and frozen into the round when ordering opens."""

    selection: Selection = Selection.FIT
    share: Fraction = Fraction(0)
    min_projects: int = 0
    max_projects: int = 0  # 0: no limit
    min_support: Fraction = Fraction(0)  # of all eligible households
    funding: Funding = Funding.SKIP
    tie_break: tuple[TieBreak, ...] = (TieBreak.CHEAPER, TieBreak.NUMBER)
    scoped: bool = True  # a project's scope limits who may order it
    coverage: Coverage = Coverage.ALL
    vacant: Vacant = Vacant.EXCLUDE

    def __post_init__(self) -> None:
        if self.min_projects < 0 or self.max_projects < 0:
            raise RuleError("min_projects and max_projects must not be negative")
        if self.max_projects and self.min_projects > self.max_projects:
            raise RuleError("min_projects must not exceed max_projects")
        if self.selection == Selection.COUNT and not self.max_projects:
            raise RuleError('selection "count" needs max_projects')
        if self.selection == Selection.MINIMUM and not self.share:
            raise RuleError('selection "minimum" needs a share, e.g. "70%"')
        if not 0 <= self.share <= 1 or not 0 <= self.min_support <= 1:
            raise RuleError("share and min_support must be between 0 and 1")
        if len(set(self.tie_break)) != len(self.tie_break):
            raise RuleError("tie_break names a key twice")


_KEYS = frozenset(f.name for f in fields(RoundRule))


def _optional_share(value: object, name: str) -> Fraction:
    if value in (0, "0", "0%"):
        return Fraction(0)
    try:
        return parse_share(value, name)
    except ValueError as exc:
        raise RuleError(str(exc)) from None


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError(f"{name} must be a whole number, not {value!r}")
    return value


def rule_from_mapping(data: object) -> RoundRule:
    """A RoundRule from a TOML table (or a round's stored rule), with a clear RuleError."""
    if not isinstance(data, Mapping):
        raise RuleError(f"a round rule must be a table, not {data!r}")
    unknown = set(data) - _KEYS
    if unknown:
        raise RuleError(f"unknown round rule keys: {', '.join(sorted(map(str, unknown)))}")
    try:
        ties = data.get("tie_break", ["cheaper", "number"])
        if not isinstance(ties, list | tuple):
            raise RuleError(f"tie_break must be a list, not {ties!r}")
        scoped = data.get("scoped", True)
        if not isinstance(scoped, bool):
            raise RuleError(f"scoped must be true or false, not {scoped!r}")
        return RoundRule(
            selection=member(Selection, data.get("selection", "fit"), "selection"),
            share=_optional_share(data.get("share", 0), "share"),
            min_projects=_count(data.get("min_projects", 0), "min_projects"),
            max_projects=_count(data.get("max_projects", 0), "max_projects"),
            min_support=_optional_share(data.get("min_support", 0), "min_support"),
            funding=member(Funding, data.get("funding", "skip"), "funding"),
            tie_break=tuple(member(TieBreak, t, "tie_break") for t in ties),
            scoped=scoped,
            coverage=member(Coverage, data.get("coverage", "all"), "coverage"),
            vacant=member(Vacant, data.get("vacant", "exclude"), "vacant"),
        )
    except ValueError as exc:
        raise RuleError(str(exc)) from None


def rule_to_mapping(rule: RoundRule) -> dict[str, Any]:
    """JSON/TOML-safe; ``rule_from_mapping`` reads it back to the same rule."""
    return {
        "selection": str(rule.selection),
        "share": str(rule.share),
        "min_projects": rule.min_projects,
        "max_projects": rule.max_projects,
        "min_support": str(rule.min_support),
        "funding": str(rule.funding),
        "tie_break": [str(t) for t in rule.tie_break],
        "scoped": rule.scoped,
        "coverage": str(rule.coverage),
        "vacant": str(rule.vacant),
    }


def rules_from_config(doc: Mapping[str, object]) -> dict[str, RoundRule]:
    out = {}
    for name, table in doc.items():
        try:
            out[str(name)] = rule_from_mapping(table)
        except RuleError as exc:
            raise RuleError(f"[{name}]: {exc}") from None
    if not out:
        raise RuleError("no round rule configured")
    return out


# --- phases ------------------------------------------------------------------


def check_plan(planned: Mapping[str, date]) -> dict[str, date]:
    """Every planned phase has a date, in phase order, none before the one before it."""
    missing = [p for p in PLANNED if p not in planned]
    if missing or set(planned) - set(PLANNED):
        raise RuleError("budget.error.bad_phases")
    ordered = [planned[p] for p in PLANNED]
    if any(b < a for a, b in pairwise(ordered)):
        raise RuleError("budget.error.bad_phases")
    if planned[Phase.RESULT] <= planned[Phase.ORDERING]:
        raise RuleError("budget.error.bad_phases")  # ordering lasts at least a day
    return {str(p): planned[p] for p in PLANNED}


def next_phase(phase: Phase) -> Phase | None:
    at = PHASES.index(phase)
    return PHASES[at + 1] if at + 1 < len(PHASES) else None


# --- orders ------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """What the rules need of a menu item: its id, menu number (what residents type, what
    orders hold) and reviewed cost."""

    id: int
    number: int
    cost: Decimal


class OrderError(ValueError):
    """An order the rule refuses; ``code`` is a locale message id, ``params`` its values."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code, self.params = code, params


def total(items: Iterable[Item]) -> Decimal:
    return sum((i.cost for i in items), Decimal(0))


def check_order(
    rule: RoundRule,
    fund: Decimal,
    menu: Mapping[int, Item],
    picks: Sequence[int],
    allowed: frozenset[int] | None = None,
) -> tuple[int, ...]:
    """The order as it will be stored (menu numbers, each once, in order), or OrderError.

    ``menu`` is the items that may be ordered, by menu number; ``picks`` and ``allowed``
    (the numbers whose scope covers the household; None: all) are menu numbers too.
    """
    if len(set(picks)) != len(picks):
        raise OrderError("budget.error.duplicate_pick")
    chosen = []
    for pick in picks:
        item = menu.get(pick)
        if item is None:
            raise OrderError("budget.error.unknown_item")
        if rule.scoped and allowed is not None and pick not in allowed:
            raise OrderError("budget.error.out_of_scope", number=item.number)
        chosen.append(item)
    n = len(chosen)
    if rule.max_projects and n > rule.max_projects:
        raise OrderError("budget.error.too_many", max=rule.max_projects)
    if n < rule.min_projects:
        raise OrderError("budget.error.too_few", min=rule.min_projects)
    cost = total(chosen)
    if rule.selection in (Selection.FIT, Selection.MINIMUM) and cost > fund:
        raise OrderError("budget.error.over_fund", total=money(cost), fund=money(fund))
    least = minimum_spend(rule, fund)
    if rule.selection == Selection.MINIMUM and cost < least:
        raise OrderError("budget.error.under_minimum", total=money(cost), minimum=money(least))
    return tuple(sorted(i.number for i in chosen))


def minimum_spend(rule: RoundRule, fund: Decimal) -> Decimal:
    """The least a selection must cost under a "minimum" rule, rounded up to the fen."""
    exact = Fraction(fund) * rule.share
    cents = -(-exact * 100 // 1)  # ceiling
    return Decimal(int(cents)) / 100


def remaining(
    rule: RoundRule, fund: Decimal, menu: Mapping[int, Item], picks: Iterable[int]
) -> Decimal | None:
    """What is left of the fund after the household's picks, under a rule that counts it
    (None under "any" and "count")."""
    if rule.selection not in (Selection.FIT, Selection.MINIMUM):
        return None
    return fund - total(menu[p] for p in picks if p in menu)


def toggle(picks: Sequence[int], number: int) -> tuple[int, ...]:
    """The picks with ``number`` added, or removed if it was there, in menu order."""
    if number in picks:
        return tuple(p for p in picks if p != number)
    return tuple(sorted((*picks, number)))


# --- the result --------------------------------------------------------------


class Standing(StrEnum):
    FUNDED = "funded"
    BELOW_SUPPORT = "below_support"  # fewer households than the rule's minimum support
    NO_MONEY = "no_money"  # what was left of the fund could not pay for it


@dataclass(frozen=True)
class Ranked:
    item: Item
    support: int
    eligible: int  # the households of the item's scope that count
    needed: int  # the support the rule asks of it
    standing: Standing
    rank: int


@dataclass(frozen=True)
class Allocation:
    ranked: tuple[Ranked, ...]
    fund: Decimal
    spent: Decimal

    @property
    def funded(self) -> tuple[int, ...]:
        return tuple(r.item.number for r in self.ranked if r.standing == Standing.FUNDED)

    @property
    def left(self) -> Decimal:
        return self.fund - self.spent


def min_support_count(rule: RoundRule, eligible: int) -> int:
    """The fewest households a project needs: a share of the eligible households of its
    scope, reached (以上: 10% of 95 is 9.5, so 10), and never fewer than one."""
    need = rule.min_support * eligible
    return max(int(-(-need // 1)), 1)


def sort_key(rule: RoundRule, item: Item, support: int) -> tuple[Any, ...]:
    """More support first; then the rule's tie breaks; the menu number last."""
    key: list[Any] = [-support]
    for tie in rule.tie_break:
        key.append(item.cost if tie == TieBreak.CHEAPER else item.number)
    key.append(item.number)
    return tuple(key)


def allocate(
    rule: RoundRule,
    fund: Decimal,
    items: Iterable[Item],
    support: Mapping[int, int],
    eligible: Mapping[int, int],
) -> Allocation:
    """The funded projects: by household support, in order, while the fund lasts.

    ``support`` and ``eligible`` are by menu number: the households that ordered it, and
    the households of its scope that count towards its minimum support.
    """
    order = sorted(items, key=lambda i: sort_key(rule, i, support.get(i.number, 0)))
    spent = Decimal(0)
    stopped = False
    ranked = []
    for rank, item in enumerate(order, start=1):
        votes = support.get(item.number, 0)
        base = eligible.get(item.number, 0)
        need = min_support_count(rule, base)
        if votes < need:
            standing = Standing.BELOW_SUPPORT
        elif stopped or item.cost > fund - spent:
            standing = Standing.NO_MONEY
            stopped = stopped or rule.funding == Funding.STOP
        else:
            standing = Standing.FUNDED
            spent += item.cost
        ranked.append(Ranked(item, votes, base, need, standing, rank))
    return Allocation(tuple(ranked), fund, spent)


def covers(scope: Mapping[str, Any], building_id: int, grid_id: int | None) -> bool:
    """Whether a project's scope takes in a household of this building and grid."""
    kind, ids = scope.get("kind"), set(scope.get("ids") or ())
    if kind == "buildings":
        return building_id in ids
    if kind == "grids":
        return grid_id is not None and grid_id in ids
    return True


def support_of(orders: Iterable[Sequence[int]]) -> dict[int, int]:
    """How many households ordered each menu number (each order counts an item once)."""
    out: dict[int, int] = {}
    for order in orders:
        for number in set(order):
            out[number] = out.get(number, 0) + 1
    return out


def money(value: Decimal) -> str:
    """A sum as residents read it: 12,345.60."""
    return f"{value.quantize(CENT):,}"


# --- spending ------------------------------------------------------------------


def over_budget(budget: Decimal, spent: Decimal, amount: Decimal) -> bool:
    """Whether this spending takes the project past its budget line."""
    return spent + amount > budget
