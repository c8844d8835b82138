"""The ticket loop's pure rules: transitions, office-time deadlines, duplicates, numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.complaints import rules
from handlers.complaints.rules import Action, Actor, Status
from handlers.refusal import Refused

BJ = rules.LOCAL


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A Beijing-time instant in the week of Monday 2026-11-16."""
    return datetime(2026, 11, day, hour, minute, tzinfo=BJ)


@pytest.mark.parametrize(
    ("status", "action", "actor"),
    sorted(
        (s.value, a.value, actor.value)
        for (s, a), (_, actors) in rules.TRANSITIONS.items()
        for actor in actors
    ),
)
def test_every_allowed_transition(status, action, actor):
    note = "说明" if Action(action) in rules.NEEDS_NOTE else None
    target = rules.transition(status, action, actor, note=note)
    assert target == rules.TRANSITIONS[(Status(status), Action(action))][0]


REFUSED = sorted(
    (s.value, a.value) for s in Status for a in Action if (s, a) not in rules.TRANSITIONS
)


@pytest.mark.parametrize(("status", "action"), REFUSED)
def test_everything_else_is_illegal(status, action):
    with pytest.raises(Refused) as caught:
        rules.transition(status, action, Actor.WORKER, note="x")
    assert (caught.value.code, caught.value.status) == (rules.ERROR_ILLEGAL, 409)


def test_roles_are_403_and_a_missing_note_400():
    with pytest.raises(Refused) as caught:
        rules.transition(Status.ASSIGNED, Action.ACCEPT, Actor.REPORTER)
    assert (caught.value.code, caught.value.status) == (rules.ERROR_FORBIDDEN, 403)
    for action in (Action.RESOLVE, Action.REJECT, Action.REASSIGN):
        with pytest.raises(Refused) as caught:
            rules.transition(Status.ACCEPTED, action, Actor.HANDLER, note="  ")
        assert (caught.value.code, caught.value.status) == (rules.ERROR_NOTE_REQUIRED, 400)
    with pytest.raises(Refused) as caught:
        rules.transition(Status.RESOLVED, Action.RATE, Actor.HANDLER)
    assert (caught.value.code, caught.value.status) == (rules.ERROR_FORBIDDEN, 403)


def test_a_low_rating_reopens_once():
    assert rules.after_rating(2, reopened=0) is Action.REOPEN
    assert rules.after_rating(2, reopened=1) is Action.RATE
    assert rules.after_rating(3, reopened=0) is Action.RATE
    with pytest.raises(Refused) as caught:
        rules.transition(Status.RESOLVED, Action.REOPEN, Actor.REPORTER, reopened=1)
    assert (caught.value.code, caught.value.status) == (rules.ERROR_REOPEN_USED, 409)


def test_accept_within_two_office_hours():
    # Monday 10:00 → 12:00; Monday 17:00 → Tuesday 10:00; Friday 17:30 → Monday 10:30.
    assert rules.add_working_time(at(16, 10), timedelta(hours=2)) == at(16, 12)
    assert rules.add_working_time(at(16, 17), timedelta(hours=2)) == at(17, 10)
    assert rules.add_working_time(at(20, 17, 30), timedelta(hours=2)) == at(23, 10, 30)
    # Saturday night counts from Monday morning; before 9:00 from 9:00.
    assert rules.add_working_time(at(21, 23), timedelta(hours=2)) == at(23, 11)
    assert rules.add_working_time(at(17, 7), timedelta(hours=2)) == at(17, 11)


def test_resolve_within_three_working_days():
    due = rules.deadlines(at(18, 14), accept_hours=2, resolve_days=3, emergency=False)
    assert due.accept_by == at(18, 16)
    assert due.resolve_by == at(23, 14)  # Wed 14:00 + 3 working days → Monday 14:00


def test_emergencies_run_on_the_wall_clock():
    saturday_night = at(21, 23).astimezone(UTC)
    due = rules.deadlines(saturday_night, 2, 3, emergency=True)
    assert due.accept_by - saturday_night == timedelta(minutes=30)


def test_overdue_looks_at_the_current_step():
    accept_by, resolve_by = at(16, 12), at(19, 12)
    assert not rules.overdue("assigned", at(16, 11, 59), accept_by, resolve_by)
    assert rules.overdue("assigned", at(16, 12), accept_by, resolve_by)
    assert not rules.overdue("accepted", at(16, 13), accept_by, resolve_by)
    assert rules.overdue("in_progress", at(19, 12), accept_by, resolve_by)
    assert not rules.overdue("resolved", at(30, 12), accept_by, resolve_by)


def test_resolved_tickets_close_themselves_after_seven_days():
    resolved = at(16, 10)
    assert not rules.auto_close_due(
        "resolved", resolved, resolved + timedelta(days=7) - timedelta(seconds=1)
    )
    assert rules.auto_close_due("resolved", resolved, resolved + timedelta(days=7))
    assert not rules.auto_close_due("closed", resolved, resolved + timedelta(days=30))


def test_numbers_are_short_unambiguous_and_forgiving():
    number = rules.new_number()
    assert len(number) == 7 and number[0] == "T"
    assert not set(number[1:]) & set("01OIL")
    assert rules.normalize_number(" " + number.lower() + " ") == number
    assert rules.normalize_number("Ｔ" + number[1:]) == number
    assert rules.normalize_number("T12") is None
    assert rules.normalize_number("TO0000O") is None


def test_duplicates_need_the_same_building_department_time_and_words():
    text = "3栋电梯又坏了，困了人"
    close = "3栋电梯坏了好几天了"
    t0 = at(16, 10)
    assert rules.is_duplicate(
        text, "property", 3, t0, close, "property", 3, t0 + timedelta(hours=5)
    )
    assert not rules.is_duplicate(text, "property", 4, t0, close, "property", 3, t0)
    assert not rules.is_duplicate(text, "property", 3, t0, close, "sanitation", 3, t0)
    assert not rules.is_duplicate(
        text, "property", 3, t0, close, "property", 3, t0 + timedelta(days=4)
    )
    assert not rules.is_duplicate(text, "property", 3, t0, "楼道灯不亮", "property", 3, t0)
    assert not rules.is_duplicate(text, "property", None, t0, close, "property", None, t0)


def test_stats_helpers():
    assert rules.median_hours([timedelta(hours=1), timedelta(hours=3), timedelta(hours=10)]) == 3
    assert rules.median_hours([]) is None
    assert rules.week_of(at(16, 10)) == "2026-W47"


ACCEPT_BY = datetime(2026, 11, 2, 11, 0, tzinfo=UTC)
RESOLVE_BY = datetime(2026, 11, 4, 18, 0, tzinfo=UTC)
ACCEPTED_AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "accepted_at", "expected"),
    [
        (Status.RECEIVED, None, ACCEPT_BY),
        (Status.ASSIGNED, None, ACCEPT_BY),
        (Status.REASSIGNED, None, ACCEPT_BY),
        (Status.ACCEPTED, ACCEPTED_AT, RESOLVE_BY),
        (Status.IN_PROGRESS, ACCEPTED_AT, RESOLVE_BY),
        (Status.ESCALATED, None, ACCEPT_BY),  # escalated before anyone accepted it
        (Status.ESCALATED, ACCEPTED_AT, RESOLVE_BY),
        (Status.RESOLVED, ACCEPTED_AT, None),
        (Status.CLOSED, ACCEPTED_AT, None),
        (Status.REJECTED, None, None),
    ],
)
def test_the_deadline_workers_see_is_the_current_steps(status, accepted_at, expected):
    assert rules.current_deadline(status, accepted_at, ACCEPT_BY, RESOLVE_BY) == expected


def test_late_counts_escalated_tickets_but_overdue_does_not_escalate_twice():
    after = RESOLVE_BY + timedelta(minutes=1)
    assert rules.late(Status.ESCALATED, ACCEPTED_AT, ACCEPT_BY, RESOLVE_BY, after)
    assert not rules.overdue(Status.ESCALATED, after, ACCEPT_BY, RESOLVE_BY)
    assert not rules.late(
        Status.ACCEPTED, ACCEPTED_AT, ACCEPT_BY, RESOLVE_BY, RESOLVE_BY - timedelta(seconds=1)
    )
    assert rules.late(Status.ASSIGNED, None, ACCEPT_BY, RESOLVE_BY, ACCEPT_BY)
