"""What a 民生微实事 round's printed records are made from, and nothing more.

The round's exports (``handlers.budget.exports``) fill these from the database; the
renderers read only them. Texts are already worded (the rule, the override's reason)
and anonymised: a household is its building, unit and room, a worker their id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class SourceRow:
    """Part of the fund; ``kind`` is government, street, grant, residents, donation or
    foundation."""

    kind: str
    name: str
    amount: Decimal


@dataclass(frozen=True)
class ProjectRow:
    """One project of the result, by rank; ``standing`` is funded, below_support or
    no_money; ``eligible`` and ``needed`` are the households of its scope that count and
    the support the rule asked of it."""

    rank: int
    number: int
    title: str
    cost: Decimal
    support: int
    eligible: int
    needed: int
    standing: str


@dataclass(frozen=True)
class OrderRow:
    """A household's current order; ``channel`` is online or in_person (a paper ballot),
    ``recorded_by`` the id of the worker who recorded a paper ballot."""

    grid: str
    building: str
    unit: str
    room: str
    channel: str
    items: tuple[int, ...]
    updated_at: datetime | None
    recorded_by: int | None


@dataclass(frozen=True)
class VisitRow:
    """One call at a door: ``outcome`` answered (a paper ballot, with its ``items``) or the
    reason there was none; ``method`` form or oral; ``photos`` how many were attached."""

    grid: str
    building: str
    unit: str
    room: str
    visited_at: datetime
    outcome: str
    items: tuple[int, ...] | None
    method: str | None
    photos: int
    worker: int | None


@dataclass(frozen=True)
class RoundRecord:
    """A counted round as posted (公示) and filed (留档). ``language`` is a catalogue's;
    ``rule`` the rule in words and ``rule_terms`` the frozen rule as data; ``override``
    the admin's reason when ordering closed before every household was reached."""

    community: str
    round_id: int
    year: int
    title: str
    language: str
    fund: Decimal
    sources: tuple[SourceRow, ...]
    rule: str
    rule_terms: tuple[tuple[str, str], ...]
    eligible: int
    vacant_excluded: int
    orders: int
    online: int
    in_person: int
    visited: int
    not_reached: int
    override: str | None
    projects: tuple[ProjectRow, ...]
    funded_total: Decimal
    left: Decimal
    closed_at: datetime
    digest: str
    url: str
    order_rows: tuple[OrderRow, ...] = ()
    visits: tuple[VisitRow, ...] = ()


@dataclass(frozen=True)
class MoneyRow:
    """A funded project's money and outcome; ``status`` funded, implementing or accepted;
    ``stars`` the mean rating (None before any)."""

    number: int
    title: str
    responsible: str
    status: str
    budget: Decimal
    spent: Decimal
    left: Decimal
    stars: Decimal | None
    ratings: int


@dataclass(frozen=True)
class SpendingRow:
    """One spending entry; ``over_reason`` the admin's reason past the budget line."""

    number: int
    title: str
    spent_on: date
    amount: Decimal
    purpose: str
    receipts: int
    over_reason: str | None


@dataclass(frozen=True)
class YearReport:
    """The round's year-end figures (资金公开) as of ``made_at``: the fund, what was ordered
    (``menu``, with support), funded, completed and spent, and the satisfaction."""

    community: str
    round_id: int
    year: int
    title: str
    language: str
    status: str
    fund: Decimal
    sources: tuple[SourceRow, ...]
    ordered: int
    funded: int
    completed: int
    menu: tuple[ProjectRow, ...]
    projects: tuple[MoneyRow, ...]
    budgeted: Decimal
    spent: Decimal
    balance: Decimal
    stars: Decimal | None
    ratings: int
    spendings: tuple[SpendingRow, ...]
    made_at: datetime
    url: str
