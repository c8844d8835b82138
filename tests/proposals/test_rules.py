"""Proposal rules: every transition, every vote rule at its exact boundary, early closes."""

from __future__ import annotations

import itertools
import random
import tomllib
from dataclasses import FrozenInstanceError
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from handlers.proposals.rules import (
    DEFAULT_RULES,
    ERROR_CODES,
    OUTCOME_STATUS,
    PROJECT,
    RECTIFICATION,
    TRANSITIONS,
    Action,
    Actor,
    Basis,
    Category,
    Coverage,
    Funding,
    Outcome,
    Status,
    Tally,
    TransitionError,
    Unit,
    Vacant,
    VoteRule,
    allowed_actions,
    decide,
    decided_early,
    publicity_ended,
    rule_from_mapping,
    rule_to_mapping,
    rules_from_config,
    transition,
)

VOTE_RULES_TOML = Path(__file__).resolve().parents[2] / "config" / "vote_rules.toml"
A, R = Outcome.APPROVED, Outcome.NOT_APPROVED


def ok_kwargs(action: Action) -> dict[str, object]:
    """What an otherwise legal call of ``action`` needs besides status and actor."""
    return {
        Action.REJECT: {"reason": "预算超出民生微实事上限"},
        Action.OPEN_VOTE: {"publicity_over": True},
        Action.CLOSE_VOTE: {"outcome": Outcome.APPROVED},
    }.get(action, {})


# --- Lifecycle ---------------------------------------------------------------

EXPECTED_TABLE = {
    ("draft", "submit"): ("submitted", {"proposer"}),
    ("submitted", "review"): ("under_review", {"community_worker", "admin"}),
    ("submitted", "reject"): ("rejected", {"community_worker", "admin"}),
    ("under_review", "reject"): ("rejected", {"community_worker", "admin"}),
    ("under_review", "publish"): ("published", {"community_worker", "admin"}),
    ("published", "open_vote"): ("voting", {"community_worker", "admin", "system"}),
    ("voting", "close_vote"): (None, {"community_worker", "admin", "system"}),
    ("approved", "start"): ("in_progress", {"community_worker", "admin"}),
    ("in_progress", "progress"): ("in_progress", {"community_worker", "admin"}),
    ("in_progress", "complete"): ("completed", {"community_worker", "admin"}),
    ("completed", "rate"): ("rated", {"proposer", "resident"}),
    ("rated", "rate"): ("rated", {"proposer", "resident"}),
    ("draft", "withdraw"): ("withdrawn", {"proposer"}),
    ("submitted", "withdraw"): ("withdrawn", {"proposer"}),
    ("under_review", "withdraw"): ("withdrawn", {"proposer"}),
    ("published", "withdraw"): ("withdrawn", {"proposer"}),
}

ALLOWED = [
    pytest.param(status, action, actor, id=f"{status}-{action}-{actor}")
    for (status, action), (_, actors) in TRANSITIONS.items()
    for actor in sorted(actors)
]
FORBIDDEN = [
    pytest.param(status, action, actor, id=f"{status}-{action}-{actor}")
    for (status, action), (_, actors) in TRANSITIONS.items()
    for actor in Actor
    if actor not in actors
]
ILLEGAL = [
    pytest.param(status, action, id=f"{status}-{action}")
    for status, action in itertools.product(Status, Action)
    if (status, action) not in TRANSITIONS
]


def test_the_table_is_the_documented_lifecycle():
    table = {
        (str(s), str(a)): (None if t is None else str(t), {str(x) for x in actors})
        for (s, a), (t, actors) in TRANSITIONS.items()
    }
    assert table == EXPECTED_TABLE


def test_enums_have_the_stored_values():
    assert [s.value for s in Status] == [
        "draft",
        "submitted",
        "under_review",
        "rejected",
        "published",
        "voting",
        "approved",
        "not_approved",
        "in_progress",
        "completed",
        "rated",
        "withdrawn",
    ]
    assert {c.value for c in Category} == {"project", "rectification"}
    assert {f.value for f in Funding} == {
        "government",
        "street",
        "grant",
        "residents",
        "donation",
        "foundation",
    }
    assert OUTCOME_STATUS == {A: Status.APPROVED, R: Status.NOT_APPROVED}


def test_error_codes_are_stable_message_ids():
    assert {
        "proposal.error.illegal_transition",
        "proposal.error.forbidden",
        "proposal.error.reason_required",
        "proposal.error.outcome_required",
        "proposal.error.publicity_not_over",
    } == ERROR_CODES


@pytest.mark.parametrize(("status", "action", "actor"), ALLOWED)
def test_every_allowed_transition(status, action, actor):
    target, _ = TRANSITIONS[(status, action)]
    result = transition(status, action, actor, **ok_kwargs(action))
    assert result == (Status.APPROVED if target is None else target)
    assert isinstance(result, Status)


@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("actor", [Actor.COMMUNITY_WORKER, Actor.ADMIN, Actor.SYSTEM])
def test_closing_lands_on_the_outcome(actor, outcome):
    assert transition(Status.VOTING, Action.CLOSE_VOTE, actor, outcome=outcome) == Status(outcome)


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_every_pair_outside_the_table_is_illegal_for_everyone(status, action):
    for actor in Actor:
        with pytest.raises(TransitionError) as caught:
            transition(status, action, actor, reason="r", publicity_over=True)
        assert caught.value.code == "proposal.error.illegal_transition"


@pytest.mark.parametrize(("status", "action", "actor"), FORBIDDEN)
def test_every_wrong_actor_is_forbidden(status, action, actor):
    with pytest.raises(TransitionError) as caught:
        transition(status, action, actor, **ok_kwargs(action))
    assert caught.value.code == "proposal.error.forbidden"


def test_illegal_is_reported_before_forbidden():
    # A resident poking at a closed vote learns that it is closed.
    with pytest.raises(TransitionError) as caught:
        transition(Status.APPROVED, Action.CLOSE_VOTE, Actor.RESIDENT)
    assert caught.value.code == "proposal.error.illegal_transition"


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.UNDER_REVIEW])
@pytest.mark.parametrize("reason", [None, "", "   ", "\n\t"])
def test_rejection_needs_a_reason(status, reason):
    with pytest.raises(TransitionError) as caught:
        transition(status, Action.REJECT, Actor.COMMUNITY_WORKER, reason=reason)
    assert caught.value.code == "proposal.error.reason_required"
    assert str(caught.value) == "proposal.error.reason_required"


def test_forbidden_is_reported_before_a_missing_reason():
    with pytest.raises(TransitionError) as caught:
        transition(Status.SUBMITTED, Action.REJECT, Actor.PROPOSER)
    assert caught.value.code == "proposal.error.forbidden"


def test_reason_is_optional_elsewhere():
    assert transition(Status.DRAFT, Action.WITHDRAW, Actor.PROPOSER) == Status.WITHDRAWN
    assert (
        transition(Status.DRAFT, Action.WITHDRAW, Actor.PROPOSER, reason="搬家了")
        == Status.WITHDRAWN
    )


@pytest.mark.parametrize("actor", [Actor.COMMUNITY_WORKER, Actor.ADMIN, Actor.SYSTEM])
def test_voting_opens_only_after_publicity(actor):
    with pytest.raises(TransitionError) as caught:
        transition(Status.PUBLISHED, Action.OPEN_VOTE, actor)
    assert caught.value.code == "proposal.error.publicity_not_over"
    assert (
        transition(Status.PUBLISHED, Action.OPEN_VOTE, actor, publicity_over=True) == Status.VOTING
    )


def test_closing_needs_an_outcome():
    with pytest.raises(TransitionError) as caught:
        transition(Status.VOTING, Action.CLOSE_VOTE, Actor.SYSTEM)
    assert caught.value.code == "proposal.error.outcome_required"


def test_an_outcome_with_another_action_is_a_programming_error():
    with pytest.raises(ValueError, match="close_vote"):
        transition(Status.APPROVED, Action.START, Actor.ADMIN, outcome=Outcome.APPROVED)


@pytest.mark.parametrize(
    "status",
    [
        Status.VOTING,
        Status.APPROVED,
        Status.NOT_APPROVED,
        Status.IN_PROGRESS,
        Status.COMPLETED,
        Status.RATED,
        Status.REJECTED,
        Status.WITHDRAWN,
    ],
)
def test_withdrawal_stops_once_voting_opens(status):
    with pytest.raises(TransitionError) as caught:
        transition(status, Action.WITHDRAW, Actor.PROPOSER)
    assert caught.value.code == "proposal.error.illegal_transition"


@pytest.mark.parametrize("status", [Status.REJECTED, Status.NOT_APPROVED, Status.WITHDRAWN])
def test_dead_ends_have_no_way_out(status):
    assert all(allowed_actions(status, actor) == frozenset() for actor in Actor)


def test_rating_again_stays_rated():
    status = transition(Status.COMPLETED, Action.RATE, Actor.RESIDENT)
    assert status == Status.RATED
    assert transition(status, Action.RATE, Actor.PROPOSER) == Status.RATED


def test_progress_keeps_the_project_in_progress():
    assert (
        transition(Status.IN_PROGRESS, Action.PROGRESS, Actor.COMMUNITY_WORKER)
        == Status.IN_PROGRESS
    )


def test_plain_strings_from_the_database_work():
    assert transition("draft", "submit", "proposer") == Status.SUBMITTED
    with pytest.raises(TransitionError) as caught:
        transition("draft", "teleport", "proposer")
    assert caught.value.code == "proposal.error.illegal_transition"


def test_allowed_actions():
    assert allowed_actions(Status.UNDER_REVIEW, Actor.COMMUNITY_WORKER) == {
        Action.REJECT,
        Action.PUBLISH,
    }
    assert allowed_actions(Status.UNDER_REVIEW, Actor.PROPOSER) == {Action.WITHDRAW}
    assert allowed_actions(Status.VOTING, Actor.PROPOSER) == frozenset()
    assert allowed_actions(Status.VOTING, Actor.SYSTEM) == {Action.CLOSE_VOTE}


def test_publicity_period_boundaries():
    published = datetime(2025, 3, 3, 10, 0)
    assert not publicity_ended(published, published + timedelta(days=5) - timedelta(seconds=1))
    assert publicity_ended(published, published + timedelta(days=5))
    assert publicity_ended(published, published + timedelta(days=2), days=2)
    assert publicity_ended(published, published, days=0)
    with pytest.raises(ValueError):
        publicity_ended(published, published, days=-1)


# --- Vote rules --------------------------------------------------------------


def test_default_rules():
    assert (
        VoteRule(
            unit=Unit.HOUSEHOLD,
            basis=Basis.ELIGIBLE,
            threshold=Fraction(3, 5),
            strict=False,
            coverage=Coverage.ALL,
        )
        == RECTIFICATION
    )
    assert RECTIFICATION.vacant == Vacant.EXCLUDE and PROJECT.coverage == Coverage.NONE
    assert RECTIFICATION.quorum is None and not RECTIFICATION.area
    assert PROJECT.basis == Basis.CAST and PROJECT.strict
    assert PROJECT.threshold == Fraction(1, 2) and PROJECT.quorum == Fraction(1, 2)
    assert DEFAULT_RULES == {Category.RECTIFICATION: RECTIFICATION, Category.PROJECT: PROJECT}
    with pytest.raises(FrozenInstanceError):
        RECTIFICATION.threshold = Fraction(1, 2)  # type: ignore[misc]


def test_config_file_holds_the_defaults():
    with VOTE_RULES_TOML.open("rb") as f:
        doc = tomllib.load(f)
    assert set(doc) == {"rectification", "project"}
    assert rules_from_config(doc) == DEFAULT_RULES
    for category, table in doc.items():
        assert rule_from_mapping(table) == DEFAULT_RULES[Category(category)]


def test_config_may_leave_a_category_out_or_change_one():
    two_thirds = {"unit": "household", "basis": "eligible", "threshold": "2/3"}
    rules = rules_from_config({"rectification": two_thirds})
    assert rules[Category.PROJECT] == PROJECT
    assert rules[Category.RECTIFICATION].threshold == Fraction(2, 3)
    assert rules_from_config({}) == DEFAULT_RULES


def test_config_errors_name_the_table():
    with pytest.raises(ValueError, match=r"\[project\]: .*threshold"):
        rules_from_config({"project": {"unit": "household", "basis": "cast", "threshold": 0.5}})
    with pytest.raises(ValueError, match="category"):
        rules_from_config({"parking": dict(rule_to_mapping(PROJECT))})


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        pytest.param(
            {"unit": "household", "basis": "eligible", "threshold": "3/5", "coverage": "all"},
            RECTIFICATION,
            id="minimal",
        ),
        pytest.param(
            {
                "unit": "household",
                "basis": "eligible",
                "threshold": "60%",
                "strict": False,
                "coverage": "all",
            },
            RECTIFICATION,
            id="percent",
        ),
        pytest.param(
            {"unit": "household", "basis": "eligible", "threshold": " 0.6 ", "coverage": "all"},
            RECTIFICATION,
            id="decimal-string",
        ),
        pytest.param(
            {"unit": "household", "basis": "eligible", "threshold": "3 / 5", "coverage": "all"},
            RECTIFICATION,
            id="spaces",
        ),
        pytest.param(
            {
                "unit": "household",
                "basis": "cast",
                "threshold": "1/2",
                "strict": True,
                "quorum": "50%",
                "area": False,
            },
            PROJECT,
            id="project",
        ),
        pytest.param(
            {"unit": "resident", "basis": "cast", "threshold": 1, "quorum": "2/3", "area": True},
            VoteRule(
                unit=Unit.RESIDENT,
                basis=Basis.CAST,
                threshold=Fraction(1),
                quorum=Fraction(2, 3),
                area=True,
            ),
            id="unanimous-int",
        ),
    ],
)
def test_rule_from_mapping_good(table, expected):
    rule = rule_from_mapping(table)
    assert rule == expected
    assert isinstance(rule.unit, Unit) and isinstance(rule.basis, Basis)
    assert isinstance(rule.threshold, Fraction)


BASE = {"unit": "household", "basis": "eligible", "threshold": "3/5"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param("3/5", "table", id="not-a-table"),
        pytest.param({"unit": "household", "basis": "eligible"}, "lacks: threshold", id="missing"),
        pytest.param({**BASE, "treshold": "3/5"}, "unknown vote rule keys: treshold", id="typo"),
        pytest.param({**BASE, "unit": "building"}, "unit must be one of", id="bad-unit"),
        pytest.param({**BASE, "basis": "votes"}, "basis must be one of", id="bad-basis"),
        pytest.param({**BASE, "threshold": 0.6}, "exact", id="float"),
        pytest.param({**BASE, "threshold": True}, "exact", id="bool"),
        pytest.param({**BASE, "threshold": "sixty"}, "not a share", id="words"),
        pytest.param({**BASE, "threshold": "3/0"}, "not a share", id="zero-denominator"),
        pytest.param({**BASE, "threshold": "0"}, "above 0", id="zero"),
        pytest.param({**BASE, "threshold": "120%"}, "at most 1", id="over-one"),
        pytest.param({**BASE, "threshold": "-1/2"}, "above 0", id="negative"),
        pytest.param({**BASE, "threshold": [3, 5]}, "share", id="list"),
        pytest.param({**BASE, "quorum": 0.5}, "quorum must be exact", id="float-quorum"),
        pytest.param({**BASE, "quorum": "0%"}, "quorum must be above 0", id="zero-quorum"),
        pytest.param({**BASE, "strict": "yes"}, "strict must be true or false", id="strict-str"),
        pytest.param({**BASE, "area": 1}, "area must be true or false", id="area-int"),
        pytest.param({**BASE, "threshold": "1", "strict": True}, "never be met", id="impossible"),
    ],
)
def test_rule_from_mapping_bad(table, message):
    with pytest.raises(ValueError, match=message):
        rule_from_mapping(table)


@pytest.mark.parametrize(
    "rule",
    [
        RECTIFICATION,
        PROJECT,
        VoteRule(unit="resident", basis="cast", threshold=Fraction(2, 3), area=True),
    ],
)
def test_rule_round_trips_through_stored_data(rule):
    data = rule_to_mapping(rule)
    assert all(isinstance(v, str | bool) for v in data.values())
    assert rule_from_mapping(data) == rule


# --- Tallies -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"eligible": -1, "yes": 0, "no": 0, "abstain": 0}, "eligible", id="neg-e"),
        pytest.param({"eligible": 5, "yes": -1, "no": 0, "abstain": 0}, "yes", id="neg-yes"),
        pytest.param({"eligible": 5, "yes": 0, "no": -1, "abstain": 0}, "no", id="neg-no"),
        pytest.param({"eligible": 5, "yes": 0, "no": 0, "abstain": -1}, "abstain", id="neg-ab"),
        pytest.param({"eligible": 5, "yes": 2, "no": 2, "abstain": 2}, "6 votes cast", id="over"),
        pytest.param({"eligible": 5.0, "yes": 0, "no": 0, "abstain": 0}, "int", id="float"),
        pytest.param({"eligible": 5, "yes": True, "no": 0, "abstain": 0}, "int", id="bool"),
        pytest.param(
            {"eligible": 5, "yes": 1, "no": 0, "abstain": 0, "eligible_area": 500},
            "all four",
            id="some-areas",
        ),
        pytest.param(
            {"eligible": 2, "yes": 1, "no": 0, "abstain": 0}
            | {"eligible_area": 100, "yes_area": -1, "no_area": 0, "abstain_area": 0},
            "negative",
            id="neg-area",
        ),
        pytest.param(
            {"eligible": 2, "yes": 1, "no": 0, "abstain": 0}
            | {"eligible_area": 100, "yes_area": 50.5, "no_area": 0, "abstain_area": 0},
            "int or a Decimal",
            id="float-area",
        ),
        pytest.param(
            {"eligible": 2, "yes": 1, "no": 0, "abstain": 0}
            | {"eligible_area": 100, "yes_area": Decimal("NaN"), "no_area": 0, "abstain_area": 0},
            "finite",
            id="nan-area",
        ),
        pytest.param(
            {"eligible": 3, "yes": 1, "no": 1, "abstain": 0}
            | {"eligible_area": 100, "yes_area": 60, "no_area": 41, "abstain_area": 0},
            "more area",
            id="area-over",
        ),
        pytest.param(
            {"eligible": 2, "yes": 1, "no": 1, "abstain": 0}
            | {"eligible_area": 100, "yes_area": 60, "no_area": 30, "abstain_area": 0},
            "all the eligible area",
            id="area-left-nobody-left",
        ),
    ],
)
def test_tally_invariants(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Tally(**kwargs)


def test_tally_figures():
    t = Tally(
        eligible=120,
        yes=30,
        no=8,
        abstain=3,
        eligible_area=Decimal("10000.50"),
        yes_area=Decimal("2500.25"),
        no_area=700,
        abstain_area=Decimal("0.25"),
    )
    assert (t.cast, t.remaining, t.has_area) == (41, 79, True)
    assert t.cast_area == Fraction(32005, 10)
    assert t.remaining_area == Fraction(100005, 10) - Fraction(32005, 10)
    assert not Tally(0, 0, 0, 0).has_area


# --- Decisions: exact boundaries ----------------------------------------------


@pytest.mark.parametrize(
    ("yes", "no", "abstain", "expected"),
    [
        (71, 0, 0, R),
        (71, 49, 0, R),  # everyone voted, 71 for: still not 72
        (71, 20, 29, R),
        (72, 0, 0, A),  # 48 households never voted: counted against nobody but the 60%
        (72, 48, 0, A),
        (72, 0, 48, A),
        (120, 0, 0, A),
        (0, 0, 0, R),
        (0, 120, 0, R),
    ],
)
def test_rectification_is_sixty_percent_of_all_120_households(yes, no, abstain, expected):
    assert decide(RECTIFICATION, Tally(120, yes, no, abstain)) == expected


def test_rectification_rounds_up_on_uneven_scopes():
    # 60% of 121 is 72.6: 72 households fall short, 73 reach it.
    assert decide(RECTIFICATION, Tally(121, 72, 0, 0)) == R
    assert decide(RECTIFICATION, Tally(121, 73, 0, 0)) == A
    # 60% of 5 is exactly 3.
    assert decide(RECTIFICATION, Tally(5, 3, 2, 0)) == A


def test_strict_threshold_needs_more_than_the_share():
    strict = VoteRule(unit="household", basis="eligible", threshold=Fraction(3, 5), strict=True)
    assert decide(strict, Tally(120, 72, 48, 0)) == R
    assert decide(strict, Tally(120, 73, 0, 0)) == A


@pytest.mark.parametrize(
    ("yes", "no", "abstain", "expected"),
    [
        (60, 0, 0, A),  # exactly half of 120 took part: quorum reached
        (59, 0, 0, R),  # one short: not even unanimity helps
        (31, 29, 0, A),
        (30, 30, 0, R),  # a tie is not a majority
        (30, 29, 1, R),  # abstaining is taking part: 30 of 60 is not more than half
        (31, 28, 1, A),
        (31, 30, 0, A),  # 61 cast, 31 is more than 30.5
        (30, 31, 0, R),
        (30, 0, 29, R),  # 59 cast
        (61, 59, 0, A),
        (60, 60, 0, R),
        (0, 60, 0, R),
    ],
)
def test_project_quorum_and_majority_of_votes_cast(yes, no, abstain, expected):
    assert decide(PROJECT, Tally(120, yes, no, abstain)) == expected


def test_project_majority_without_quorum():
    rule = VoteRule(unit="household", basis="cast", threshold=Fraction(1, 2), strict=True)
    assert decide(rule, Tally(120, 2, 1, 0)) == A
    assert decide(rule, Tally(120, 1, 1, 0)) == R
    assert decide(rule, Tally(120, 0, 0, 0)) == R  # nobody voted: nothing passes


def test_nothing_passes_without_a_single_vote_for():
    assert decide(RECTIFICATION, Tally(0, 0, 0, 0)) == R
    reach_half = VoteRule(unit="household", basis="cast", threshold=Fraction(1, 2))
    assert decide(reach_half, Tally(10, 0, 0, 0)) == R
    assert decide(reach_half, Tally(10, 1, 1, 0)) == A  # reach: 1 of 2 is half


def test_resident_unit_rule_counts_residents():
    # 300 residents of 120 households, two thirds of the residents.
    rule = rule_from_mapping({"unit": "resident", "basis": "eligible", "threshold": "2/3"})
    assert rule.unit == Unit.RESIDENT
    assert decide(rule, Tally(300, 199, 0, 0)) == R
    assert decide(rule, Tally(300, 200, 100, 0)) == A


# Owners' assembly under Civil Code art. 278: two thirds of owners and of area take
# part, then more than half of those voting agree, by headcount and by area.
OWNERS = VoteRule(
    unit="household",
    basis="cast",
    threshold=Fraction(1, 2),
    strict=True,
    quorum=Fraction(2, 3),
    area=True,
)


def area_tally(eligible, yes, no, abstain, eligible_area, yes_area, no_area, abstain_area):
    return Tally(
        eligible,
        yes,
        no,
        abstain,
        Decimal(eligible_area),
        Decimal(yes_area),
        Decimal(no_area),
        Decimal(abstain_area),
    )


@pytest.mark.parametrize(
    ("tally", "expected"),
    [
        pytest.param(area_tally(9, 4, 2, 0, "900", "350", "250", "0"), A, id="both-pass"),
        pytest.param(
            area_tally(9, 4, 2, 0, "900", "250", "350", "0"), R, id="heads-pass-area-fails"
        ),
        pytest.param(
            area_tally(9, 2, 4, 0, "900", "400", "200", "0"), R, id="area-passes-heads-fail"
        ),
        pytest.param(
            area_tally(9, 4, 2, 0, "900", "300.01", "300.00", "0"), A, id="area-by-a-hair"
        ),
        pytest.param(area_tally(9, 4, 2, 0, "900", "300", "300", "0"), R, id="area-tie"),
        pytest.param(area_tally(9, 6, 0, 0, "900", "599.99", "0", "0"), R, id="area-quorum-short"),
        pytest.param(area_tally(9, 5, 0, 0, "900", "800", "0", "0"), R, id="heads-quorum-short"),
    ],
)
def test_double_majority(tally, expected):
    assert decide(OWNERS, tally) == expected
    # The same tally without the area condition only looks at headcount.
    heads_only = VoteRule(
        unit="household", basis="cast", threshold=Fraction(1, 2), strict=True, quorum=Fraction(2, 3)
    )
    assert decide(heads_only, tally) == (A if tally.yes > tally.no and tally.cast >= 6 else R)


def test_double_majority_against_all_eligible_area():
    rule = VoteRule(unit="household", basis="eligible", threshold=Fraction(3, 5), area=True)
    assert decide(rule, area_tally(5, 3, 0, 0, "500", "300", "0", "0")) == A
    assert decide(rule, area_tally(5, 3, 0, 0, "500", "299.99", "0", "0")) == R
    assert decide(rule, area_tally(5, 2, 0, 0, "500", "450", "0", "0")) == R


def test_area_rule_needs_area_figures():
    with pytest.raises(ValueError, match="area"):
        decide(OWNERS, Tally(9, 6, 0, 0))
    with pytest.raises(ValueError, match="area"):
        decided_early(OWNERS, Tally(9, 6, 0, 0))


def test_area_figures_are_ignored_by_a_headcount_rule():
    assert decide(RECTIFICATION, area_tally(5, 3, 0, 0, "500", "1", "0", "0")) == A


# --- Early close ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "tally", "expected"),
    [
        pytest.param(RECTIFICATION, Tally(120, 72, 0, 0), A, id="rect-72-for-decided"),
        pytest.param(RECTIFICATION, Tally(120, 71, 0, 0), None, id="rect-71-open"),
        pytest.param(RECTIFICATION, Tally(120, 71, 48, 0), None, id="rect-one-left-could-reach"),
        pytest.param(RECTIFICATION, Tally(120, 71, 49, 0), R, id="rect-nobody-left"),
        pytest.param(RECTIFICATION, Tally(120, 0, 49, 0), R, id="rect-49-against"),
        pytest.param(RECTIFICATION, Tally(120, 0, 30, 19), R, id="rect-49-against-or-abstain"),
        pytest.param(RECTIFICATION, Tally(120, 0, 48, 0), None, id="rect-48-against"),
        pytest.param(RECTIFICATION, Tally(120, 0, 0, 0), None, id="rect-nobody-voted"),
        pytest.param(PROJECT, Tally(120, 61, 0, 0), A, id="proj-61-for-decided"),
        pytest.param(PROJECT, Tally(120, 60, 0, 0), None, id="proj-60-for-tie-possible"),
        pytest.param(PROJECT, Tally(120, 0, 60, 0), R, id="proj-60-against"),
        pytest.param(PROJECT, Tally(120, 0, 30, 30), R, id="proj-60-against-or-abstain"),
        pytest.param(PROJECT, Tally(120, 1, 59, 0), None, id="proj-59-against-open"),
        pytest.param(PROJECT, Tally(120, 59, 59, 0), None, id="proj-two-left"),
        pytest.param(PROJECT, Tally(120, 60, 59, 0), None, id="proj-last-decides"),
        pytest.param(PROJECT, Tally(120, 61, 59, 0), A, id="proj-all-but-none"),
        pytest.param(PROJECT, Tally(0, 0, 0, 0), R, id="empty-scope"),
        pytest.param(
            OWNERS, area_tally(9, 6, 0, 0, "900", "610", "0", "0"), A, id="owners-decided"
        ),
        pytest.param(
            OWNERS, area_tally(9, 6, 0, 0, "900", "440", "0", "0"), None, id="owners-area-open"
        ),
        pytest.param(
            OWNERS, area_tally(9, 0, 1, 0, "900", "0", "450", "0"), R, id="owners-area-blocked"
        ),
    ],
)
def test_decided_early(rule, tally, expected):
    assert decided_early(rule, tally) == expected
    if expected is not None:
        assert decide(rule, tally) == expected


def completions(ballots, areas):
    """Every final (ballots, areas) reachable if those who have not voted still may."""
    open_ = [i for i, b in enumerate(ballots) if b is None]
    for choices in itertools.product(("yes", "no", "abstain", None), repeat=len(open_)):
        final = list(ballots)
        for i, choice in zip(open_, choices, strict=True):
            final[i] = choice
        yield final


def tally_of(ballots, areas):
    def area(choice):
        return sum((a for b, a in zip(ballots, areas, strict=True) if b == choice), Decimal(0))

    return Tally(
        eligible=len(ballots),
        yes=ballots.count("yes"),
        no=ballots.count("no"),
        abstain=ballots.count("abstain"),
        eligible_area=sum(areas, Decimal(0)),
        yes_area=area("yes"),
        no_area=area("no"),
        abstain_area=area("abstain"),
    )


def random_rule(rng: random.Random) -> VoteRule:
    threshold = rng.choice([Fraction(1, 2), Fraction(3, 5), Fraction(2, 3), Fraction(1, 3)])
    return VoteRule(
        unit=rng.choice(list(Unit)),
        basis=rng.choice(list(Basis)),
        threshold=threshold,
        strict=rng.random() < 0.5,
        quorum=rng.choice([None, Fraction(1, 2), Fraction(2, 3)]),
        area=rng.random() < 0.5,
    )


def test_early_outcome_holds_for_every_way_the_rest_could_vote():
    """Household by household, with real floor areas: the early answer is exact.

    Not None: every completion decides the same, and so does closing now.
    None: some completion approves and another does not.
    """
    rng = random.Random(20250303)
    decided = undecided = 0
    for _ in range(400):
        rule = rng.choice([RECTIFICATION, PROJECT, OWNERS, random_rule(rng)])
        n = rng.randint(0, 6)
        areas = [Decimal(rng.randint(3000, 15000)) / 100 for _ in range(n)]
        p_none = rng.random()
        ballots = [
            None if rng.random() < p_none else rng.choice(["yes", "no", "abstain"])
            for _ in range(n)
        ]
        early = decided_early(rule, tally_of(ballots, areas))
        outcomes = {decide(rule, tally_of(final, areas)) for final in completions(ballots, areas)}
        if early is None:
            undecided += 1
            assert outcomes == {A, R}, (rule, ballots, areas)
        else:
            decided += 1
            assert outcomes == {early}, (rule, ballots, areas)
            assert decide(rule, tally_of(ballots, areas)) == early
    assert decided > 50 and undecided > 50  # the sample exercises both answers


def test_early_outcome_on_larger_headcount_scopes():
    """Counts only, larger scopes: every split of the remaining units is tried."""
    rng = random.Random(7)
    for _ in range(150):
        rule = rng.choice([RECTIFICATION, PROJECT, random_rule(rng)])
        if rule.area:
            continue
        eligible = rng.randint(1, 40)
        remaining = rng.randint(0, min(eligible, 12))
        cast = eligible - remaining
        yes = rng.randint(0, cast)
        no = rng.randint(0, cast - yes)
        tally = Tally(eligible, yes, no, cast - yes - no)
        outcomes = set()
        for a in range(remaining + 1):
            for b in range(remaining - a + 1):
                for c in range(remaining - a - b + 1):
                    outcomes.add(decide(rule, Tally(eligible, yes + a, no + b, tally.abstain + c)))
        early = decided_early(rule, tally)
        assert outcomes == ({A, R} if early is None else {early}), (rule, tally)
