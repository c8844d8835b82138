"""Pure rules for proposals and their votes. No I/O, no database, no clock.

Everything here is exact: counts are ints, thresholds are Fractions, floor areas
are ints or Decimals; no float ever takes part in deciding a vote.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TypeVar

from handlers.i18n import N_

# --- Lifecycle ---------------------------------------------------------------


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    REJECTED = "rejected"
    PUBLISHED = "published"
    VOTING = "voting"
    APPROVED = "approved"
    NOT_APPROVED = "not_approved"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    RATED = "rated"
    WITHDRAWN = "withdrawn"


class Category(StrEnum):
    PROJECT = "project"  # 民生微实事
    RECTIFICATION = "rectification"  # 整改/环境整治


class Funding(StrEnum):
    GOVERNMENT = "government"
    STREET = "street"
    GRANT = "grant"  # a higher-level grant
    RESIDENTS = "residents"  # 居民自筹
    DONATION = "donation"
    FOUNDATION = "foundation"  # 社区基金会


class Actor(StrEnum):
    """Who acts, relative to the proposal: the caller maps roles onto these.

    ``resident`` is any verified resident of the scope other than the proposer;
    only rating needs it. ``system`` is the background job that opens and closes votes.
    """

    PROPOSER = "proposer"
    RESIDENT = "resident"
    COMMUNITY_WORKER = "community_worker"
    ADMIN = "admin"
    SYSTEM = "system"


class Action(StrEnum):
    SUBMIT = "submit"
    REVIEW = "review"
    REJECT = "reject"
    PUBLISH = "publish"
    OPEN_VOTE = "open_vote"
    CLOSE_VOTE = "close_vote"
    START = "start"
    PROGRESS = "progress"
    COMPLETE = "complete"
    RATE = "rate"
    WITHDRAW = "withdraw"


class Outcome(StrEnum):
    APPROVED = "approved"
    NOT_APPROVED = "not_approved"


ERROR_ILLEGAL = N_("proposal.error.illegal_transition")
ERROR_FORBIDDEN = N_("proposal.error.forbidden")
ERROR_REASON_REQUIRED = N_("proposal.error.reason_required")
ERROR_OUTCOME_REQUIRED = N_("proposal.error.outcome_required")
ERROR_PUBLICITY_NOT_OVER = N_("proposal.error.publicity_not_over")
# Message ids for gettext: renaming one breaks every catalogue, so keep them stable.
ERROR_CODES: frozenset[str] = frozenset(
    {
        ERROR_ILLEGAL,
        ERROR_FORBIDDEN,
        ERROR_REASON_REQUIRED,
        ERROR_OUTCOME_REQUIRED,
        ERROR_PUBLICITY_NOT_OVER,
    }
)


class TransitionError(Exception):
    """A refused transition; ``code`` is one of ERROR_CODES, shown translated."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


_STAFF = frozenset({Actor.COMMUNITY_WORKER, Actor.ADMIN})
_STAFF_OR_SYSTEM = _STAFF | {Actor.SYSTEM}
_PROPOSER = frozenset({Actor.PROPOSER})
_RATERS = frozenset({Actor.PROPOSER, Actor.RESIDENT})

# (from, action) → (to, who may). A target of None means "from the vote's outcome"
# (see OUTCOME_STATUS): closing a vote is one action with two possible ends.
TRANSITIONS: dict[tuple[Status, Action], tuple[Status | None, frozenset[Actor]]] = {
    (Status.DRAFT, Action.SUBMIT): (Status.SUBMITTED, _PROPOSER),
    (Status.SUBMITTED, Action.REVIEW): (Status.UNDER_REVIEW, _STAFF),
    (Status.SUBMITTED, Action.REJECT): (Status.REJECTED, _STAFF),
    (Status.UNDER_REVIEW, Action.REJECT): (Status.REJECTED, _STAFF),
    (Status.UNDER_REVIEW, Action.PUBLISH): (Status.PUBLISHED, _STAFF),
    (Status.PUBLISHED, Action.OPEN_VOTE): (Status.VOTING, _STAFF_OR_SYSTEM),
    (Status.VOTING, Action.CLOSE_VOTE): (None, _STAFF_OR_SYSTEM),
    (Status.APPROVED, Action.START): (Status.IN_PROGRESS, _STAFF),
    (Status.IN_PROGRESS, Action.PROGRESS): (Status.IN_PROGRESS, _STAFF),
    (Status.IN_PROGRESS, Action.COMPLETE): (Status.COMPLETED, _STAFF),  # 验收
    (Status.COMPLETED, Action.RATE): (Status.RATED, _RATERS),
    (Status.RATED, Action.RATE): (Status.RATED, _RATERS),
    # Withdrawing stops before voting: once households vote, the vote is theirs.
    (Status.DRAFT, Action.WITHDRAW): (Status.WITHDRAWN, _PROPOSER),
    (Status.SUBMITTED, Action.WITHDRAW): (Status.WITHDRAWN, _PROPOSER),
    (Status.UNDER_REVIEW, Action.WITHDRAW): (Status.WITHDRAWN, _PROPOSER),
    (Status.PUBLISHED, Action.WITHDRAW): (Status.WITHDRAWN, _PROPOSER),
}

OUTCOME_STATUS: dict[Outcome, Status] = {
    Outcome.APPROVED: Status.APPROVED,
    Outcome.NOT_APPROVED: Status.NOT_APPROVED,
}

DEFAULT_PUBLICITY_DAYS = 5


def transition(
    status: Status,
    action: Action,
    actor: Actor,
    *,
    reason: str | None = None,
    outcome: Outcome | None = None,
    publicity_over: bool = False,
) -> Status:
    """The status after ``actor`` does ``action``, or TransitionError.

    Checks run in a fixed order (illegal, forbidden, then the action's own
    conditions) so a resident poking at a closed vote learns it is closed, not
    that they lack a role. ``outcome`` is required by close_vote and refused by
    every other action. ``publicity_over`` is the caller's reading of the clock
    (see publicity_ended); it defaults to False so forgetting it cannot open a vote early.
    """
    entry = TRANSITIONS.get((status, action))
    if entry is None:
        raise TransitionError(ERROR_ILLEGAL)
    target, allowed = entry
    if actor not in allowed:
        raise TransitionError(ERROR_FORBIDDEN)
    if outcome is not None and action != Action.CLOSE_VOTE:
        raise ValueError(f"an outcome only goes with close_vote, not {action}")
    if action == Action.REJECT and not (reason or "").strip():
        raise TransitionError(ERROR_REASON_REQUIRED)
    if action == Action.OPEN_VOTE and not publicity_over:
        raise TransitionError(ERROR_PUBLICITY_NOT_OVER)
    if target is None:
        if outcome is None:
            raise TransitionError(ERROR_OUTCOME_REQUIRED)
        return OUTCOME_STATUS[Outcome(outcome)]
    return target


def allowed_actions(status: Status, actor: Actor) -> frozenset[Action]:
    """What ``actor`` may try now: for buttons and menus, not a substitute for transition()."""
    return frozenset(
        action
        for (source, action), (_, allowed) in TRANSITIONS.items()
        if source == status and actor in allowed
    )


def publicity_ended(
    published_at: datetime, now: datetime, days: int = DEFAULT_PUBLICITY_DAYS
) -> bool:
    """True once the 公示 period has fully run: published Monday 10:00, 5 days → Saturday 10:00."""
    if days < 0:
        raise ValueError("publicity days cannot be negative")
    return now >= published_at + timedelta(days=days)


# --- Vote rules --------------------------------------------------------------


_E = TypeVar("_E", bound=StrEnum)


def _member(enum: type[_E], value: object, name: str) -> _E:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return enum(value)
    allowed = ", ".join(repr(m.value) for m in enum)
    raise ValueError(f"{name} must be one of {allowed}, not {value!r}")


def _share(value: object, name: str) -> Fraction:
    """A share in (0, 1] from a Fraction, an int, or a string: "3/5", "0.6", "60%".

    Floats are refused: 0.6 is not 3/5 in binary, and a rule must say exactly
    what it means. In TOML write the share as a string.
    """
    if isinstance(value, bool | float):
        raise ValueError(f'{name} must be exact, e.g. "3/5" or "60%", not {value!r}')
    if isinstance(value, Fraction | int):
        share = Fraction(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            share = Fraction(text[:-1]) / 100 if text.endswith("%") else Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{name} is not a share: {value!r}") from None
    else:
        raise ValueError(f'{name} must be a share such as "3/5", not {value!r}')
    if not 0 < share <= 1:
        raise ValueError(f"{name} must be above 0 and at most 1, not {value!r}")
    return share


# For other capabilities' rules as data (the 民生微实事 round's): the same exact reading.
parse_share = _share
member = _member


class Unit(StrEnum):
    HOUSEHOLD = "household"  # 一户一票
    RESIDENT = "resident"


class Basis(StrEnum):
    ELIGIBLE = "eligible"  # against every eligible unit, frozen when voting opens
    CAST = "cast"  # against the votes cast (for + against + abstain)


class Coverage(StrEnum):
    NONE = "none"  # the vote closes on time, whoever answered
    ALL = "all"  # 全覆盖: every eligible household reached before it can be decided


class Vacant(StrEnum):
    EXCLUDE = "exclude"  # a household a worker found vacant leaves the denominator
    COUNT = "count"  # it stays in, as a household that did not say yes


@dataclass(frozen=True)
class VoteRule:
    """How a category's votes are decided; data, so a community can configure it.

    ``threshold`` is the share of the basis that must vote for. ``strict`` False
    means "reach" (>=), which is what Chinese 以上 means: 60%以上 of 120 households
    is 72 or more, so 72 passes and 71 fails. ``strict`` True means "more than"
    (>), as in 过半数. ``quorum`` is the share of eligible units that must take
    part (abstaining counts as taking part) and is always "reach". ``area`` asks
    for a double majority: the same quorum and threshold must also hold for floor
    area, as owners decide common property under Civil Code art. 278. ``unit``
    tells the caller what to count; the arithmetic is the same for both.
    ``coverage`` "all" keeps the vote from being decided until every eligible household
    is reached (answered, or a visit recorded with a reason); ``vacant`` says whether a
    household found vacant at the door stays in the denominator (see README).
    """

    unit: Unit
    basis: Basis
    threshold: Fraction
    strict: bool = False
    quorum: Fraction | None = None
    area: bool = False
    coverage: Coverage = Coverage.NONE
    vacant: Vacant = Vacant.EXCLUDE

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", _member(Unit, self.unit, "unit"))
        object.__setattr__(self, "basis", _member(Basis, self.basis, "basis"))
        object.__setattr__(self, "coverage", _member(Coverage, self.coverage, "coverage"))
        object.__setattr__(self, "vacant", _member(Vacant, self.vacant, "vacant"))
        object.__setattr__(self, "threshold", _share(self.threshold, "threshold"))
        if self.quorum is not None:
            object.__setattr__(self, "quorum", _share(self.quorum, "quorum"))
        for name in ("strict", "area"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")
        if self.strict and self.threshold == 1:
            raise ValueError("a strict threshold of 1 can never be met")


# 整不整，社区居民代表会议定: 60%以上 of all households of the scope, not of the votes cast.
RECTIFICATION = VoteRule(
    unit=Unit.HOUSEHOLD,
    basis=Basis.ELIGIBLE,
    threshold=Fraction(3, 5),
    strict=False,
    coverage=Coverage.ALL,
)
# Half of the households take part, and more than half of those taking part agree.
PROJECT = VoteRule(
    unit=Unit.HOUSEHOLD,
    basis=Basis.CAST,
    threshold=Fraction(1, 2),
    strict=True,
    quorum=Fraction(1, 2),
)
DEFAULT_RULES: dict[Category, VoteRule] = {
    Category.RECTIFICATION: RECTIFICATION,
    Category.PROJECT: PROJECT,
}

_RULE_KEYS = frozenset(f.name for f in fields(VoteRule))
_REQUIRED_KEYS = frozenset({"unit", "basis", "threshold"})


def rule_from_mapping(data: object) -> VoteRule:
    """A VoteRule from a TOML table (or a stored JSON rule), with a clear ValueError."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a vote rule must be a table, not {data!r}")
    unknown = set(data) - _RULE_KEYS
    if unknown:
        raise ValueError(f"unknown vote rule keys: {', '.join(sorted(map(str, unknown)))}")
    missing = _REQUIRED_KEYS - set(data)
    if missing:
        raise ValueError(f"vote rule lacks: {', '.join(sorted(missing))}")
    quorum = data.get("quorum")
    return VoteRule(
        unit=data["unit"],  # validated in __post_init__
        basis=data["basis"],
        threshold=_share(data["threshold"], "threshold"),
        strict=data.get("strict", False),
        quorum=None if quorum is None else _share(quorum, "quorum"),
        area=data.get("area", False),
        coverage=data.get("coverage", Coverage.NONE),
        vacant=data.get("vacant", Vacant.EXCLUDE),
    )


def rule_to_mapping(rule: VoteRule) -> dict[str, object]:
    """The rule as JSON/TOML-safe data, to store with a result; rule_from_mapping reads it back."""
    data: dict[str, object] = {
        "unit": str(rule.unit),
        "basis": str(rule.basis),
        "threshold": str(rule.threshold),
        "strict": rule.strict,
        "area": rule.area,
        "coverage": str(rule.coverage),
        "vacant": str(rule.vacant),
    }
    if rule.quorum is not None:
        data["quorum"] = str(rule.quorum)
    return data


def rules_from_config(doc: Mapping[str, object]) -> dict[Category, VoteRule]:
    """Rules per category from parsed config/vote_rules.toml; absent categories keep defaults."""
    rules = dict(DEFAULT_RULES)
    for key, table in doc.items():
        category = _member(Category, key, "vote rule category")
        try:
            rules[category] = rule_from_mapping(table)
        except ValueError as exc:
            raise ValueError(f"[{key}]: {exc}") from None
    return rules


# --- Tallies and decisions ---------------------------------------------------

_AREA_FIELDS = ("eligible_area", "yes_area", "no_area", "abstain_area")


@dataclass(frozen=True)
class Tally:
    """The inputs of a decision: eligible units frozen at opening, and the votes cast.

    Counts are of the rule's unit. Areas are floor areas in square metres as int
    or Decimal (房产证 give two decimals; the database keeps Decimal), summed over
    the same units; they are all given or all None, and needed only by area rules.
    """

    eligible: int
    yes: int
    no: int
    abstain: int
    eligible_area: int | Decimal | None = None
    yes_area: int | Decimal | None = None
    no_area: int | Decimal | None = None
    abstain_area: int | Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("eligible", "yes", "no", "abstain"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, not {value!r}")
        if self.cast > self.eligible:
            raise ValueError(f"{self.cast} votes cast but only {self.eligible} eligible")
        areas = [getattr(self, name) for name in _AREA_FIELDS]
        if all(a is None for a in areas):
            return
        if any(a is None for a in areas):
            raise ValueError("give all four areas or none")
        for name, value in zip(_AREA_FIELDS, areas, strict=True):
            if isinstance(value, bool) or not isinstance(value, int | Decimal):
                raise ValueError(f"{name} must be an int or a Decimal, not {value!r}")
            if isinstance(value, Decimal) and not value.is_finite():
                raise ValueError(f"{name} must be a finite number, not {value!r}")
            if value < 0:
                raise ValueError(f"{name} cannot be negative: {value!r}")
        if self.remaining_area < 0:
            raise ValueError("more area cast than eligible")
        if self.remaining == 0 and self.remaining_area != 0:
            raise ValueError("every unit voted, so all the eligible area has voted")

    @property
    def cast(self) -> int:
        """Units that took part; abstaining is taking part."""
        return self.yes + self.no + self.abstain

    @property
    def remaining(self) -> int:
        return self.eligible - self.cast

    @property
    def has_area(self) -> bool:
        return self.eligible_area is not None

    @property
    def cast_area(self) -> Fraction:
        return _area(self.yes_area) + _area(self.no_area) + _area(self.abstain_area)

    @property
    def remaining_area(self) -> Fraction:
        return _area(self.eligible_area) - self.cast_area


def _area(value: int | Decimal | None) -> Fraction:
    return Fraction(0) if value is None else Fraction(value)


def _passes(rule: VoteRule, eligible: Fraction, yes: Fraction, cast: Fraction) -> bool:
    """One measure (headcount or area) against the rule, exactly.

    Nothing passes without a single "for": otherwise a scope of zero households,
    or a vote nobody took part in, would pass a "reach 0" test.
    """
    if yes == 0:
        return False
    if rule.quorum is not None and cast < rule.quorum * eligible:
        return False
    needed = rule.threshold * (eligible if rule.basis == Basis.ELIGIBLE else cast)
    return yes > needed if rule.strict else yes >= needed


def decide(rule: VoteRule, tally: Tally) -> Outcome:
    """The result if the vote closed on this tally; units that did not vote count as not for.

    Abstentions are votes cast: they count towards the quorum and, under basis
    "cast", in the denominator, so an abstention weighs like "against". This is
    how Civil Code art. 278 counts (过半数 of those 参与表决, abstainers included),
    and it keeps one notion of "took part" for quorum and majority alike.
    """
    return _decide(rule, tally, None)


def _decide(rule: VoteRule, tally: Tally, rest: str | None) -> Outcome:
    """decide() as if every unit that has not voted voted ``rest`` ("yes", "no"; None: nobody)."""
    if rule.area and not tally.has_area:
        raise ValueError("this rule counts floor area, but the tally has none")
    units, area = (tally.remaining, tally.remaining_area) if rest else (0, Fraction(0))
    for_units, for_area = (units, area) if rest == "yes" else (0, Fraction(0))
    approved = _passes(
        rule,
        Fraction(tally.eligible),
        Fraction(tally.yes + for_units),
        Fraction(tally.cast + units),
    )
    if rule.area:
        approved = approved and _passes(
            rule,
            _area(tally.eligible_area),
            _area(tally.yes_area) + for_area,
            tally.cast_area + area,
        )
    return Outcome.APPROVED if approved else Outcome.NOT_APPROVED


def decided_early(rule: VoteRule, tally: Tally) -> Outcome | None:
    """The outcome if the units that have not voted can no longer change it, else None.

    While a vote is open anyone may change their vote, so if changes counted,
    nothing would ever be decided before the end: the last "for" could turn.
    An early close ends changes too, so the question is only about the units
    that have not voted: the outcome is fixed when it is the same however each
    of them votes (for, against, abstain) or does not vote, the votes cast so far
    staying as they are. When not None it equals decide(rule, tally).

    Three completions suffice, whatever the split of the remaining floor area:
    every condition of a rule gets easier when a remaining unit votes for. So
    approval is possible at all only if it holds with everyone left voting for;
    and it is certain only if it holds both with nobody else voting (the worst
    for a quorum and an "eligible" threshold) and with everyone left voting
    against (the worst for a majority of votes cast; abstaining weighs the same).
    All three are real completions, so None means both outcomes are still reachable.
    """
    if _decide(rule, tally, "yes") == Outcome.NOT_APPROVED:
        return Outcome.NOT_APPROVED
    if _decide(rule, tally, None) == _decide(rule, tally, "no") == Outcome.APPROVED:
        return Outcome.APPROVED
    return None


# --- Coverage (全覆盖) ----------------------------------------------------------


class Reach(StrEnum):
    """Where one eligible household stands in a vote's survey."""

    ONLINE = "online"  # answered over chat or the mini-program
    IN_PERSON = "in_person"  # answered at the door, recorded by a worker
    VISITED = "visited"  # a visit recorded with a reason, no answer
    NOT_REACHED = "not_reached"


class VisitOutcome(StrEnum):
    ANSWERED = "answered"
    NOT_HOME = "not_home"
    REFUSED = "refused"
    VACANT = "vacant"
    MOVED_OUT = "moved_out"
    OTHER = "other"


def reach(channel: str | None, last_visit: str | None) -> Reach:
    """A household's state from its current vote's channel (None: no vote) and the outcome
    of its latest visit (None: never visited). An answer, whatever the channel, wins."""
    if channel is not None:
        return Reach.IN_PERSON if channel == Reach.IN_PERSON else Reach.ONLINE
    if last_visit is not None and last_visit != VisitOutcome.ANSWERED:
        return Reach.VISITED
    return Reach.NOT_REACHED


def not_reached(rule: VoteRule, states: Mapping[Reach, int]) -> int:
    """How many households keep a coverage rule from being decided (0 when it has none)."""
    if rule.coverage != Coverage.ALL:
        return 0
    return states.get(Reach.NOT_REACHED, 0)


def counted_eligible(rule: VoteRule, frozen: int, vacant_unanswered: int) -> int:
    """The denominator at close: the electorate frozen at opening, less the households a
    worker found vacant and nobody answered for, when the rule leaves them out."""
    if vacant_unanswered < 0 or vacant_unanswered > frozen:
        raise ValueError(f"{vacant_unanswered} vacant of {frozen} eligible")
    return frozen - vacant_unanswered if rule.vacant == Vacant.EXCLUDE else frozen
