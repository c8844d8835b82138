"""Volunteer rules at their boundaries: places, waitlist, windows, radius, hours, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from handlers.volunteers import rules
from handlers.volunteers.rules import (
    Policy,
    Reminder,
    ScanAction,
    SignUpStatus,
    Window,
)

BJ = rules.LOCAL
POLICY = Policy()
START = datetime(2026, 11, 7, 9, 0, tzinfo=BJ)  # a Saturday morning patrol, 09:00-11:00
END = START + timedelta(hours=2)
SITE = (31.2304, 121.4737)


# --- places and the waitlist ----------------------------------------------------------------------


def test_places_fill_then_the_waitlist_grows_in_arrival_order():
    confirmed = waitlisted = 0
    placements = []
    for _ in range(100):
        placed = rules.place(10, confirmed, waitlisted)
        placements.append(placed)
        if placed.status is SignUpStatus.CONFIRMED:
            confirmed += 1
        else:
            waitlisted += 1
    assert placements[:10] == [rules.Placement(SignUpStatus.CONFIRMED)] * 10
    assert [p.position for p in placements[10:]] == list(range(1, 91))
    assert (confirmed, waitlisted) == (10, 90)


def test_a_full_shift_never_confirms_and_a_shift_of_no_places_only_waitlists():
    assert rules.place(10, 10, 0) == rules.Placement(SignUpStatus.WAITLISTED, 1)
    assert rules.place(10, 11, 3).status is SignUpStatus.WAITLISTED  # over capacity stays so
    assert rules.place(0, 0, 0) == rules.Placement(SignUpStatus.WAITLISTED, 1)
    with pytest.raises(ValueError):
        rules.place(10, -1, 0)


@pytest.mark.parametrize(
    ("capacity", "confirmed", "waitlisted", "promoted"),
    [
        (10, 9, 5, 1),  # one cancellation, one promotion
        (10, 9, 0, 0),  # nobody waiting
        (12, 9, 5, 3),  # places added: three move up
        (12, 9, 2, 2),  # fewer waiting than places
        (10, 10, 5, 0),  # full
        (10, 11, 5, 0),  # over capacity after a capacity cut: nobody moves up
    ],
)
def test_promotions_fill_free_places_from_the_head_of_the_line(
    capacity, confirmed, waitlisted, promoted
):
    assert rules.promotions(capacity, confirmed, waitlisted) == promoted


def test_overlap_is_shared_time_and_back_to_back_is_fine():
    assert rules.overlaps(START, END, START + timedelta(hours=1), END + timedelta(hours=1))
    assert rules.overlaps(START, END, START, END)
    assert rules.overlaps(START, END, START + timedelta(minutes=30), START + timedelta(minutes=40))
    assert not rules.overlaps(START, END, END, END + timedelta(hours=2))
    assert not rules.overlaps(START, END, START - timedelta(hours=2), START)
    taken = [
        ("a", END, END + timedelta(hours=1)),
        ("b", START - timedelta(hours=1), START + timedelta(minutes=1)),
    ]
    assert rules.first_overlap(START, END, taken) == "b"
    assert rules.first_overlap(START, END, taken[:1]) is None


def test_sign_up_closes_at_the_start():
    assert rules.sign_up_open(START, START - timedelta(seconds=1))
    assert not rules.sign_up_open(START, START)


def test_cancelling_is_refused_within_two_hours_of_the_start():
    assert rules.may_cancel(START, START - timedelta(hours=3), POLICY)
    assert rules.may_cancel(START, START - timedelta(hours=2), POLICY)  # exactly 2 h: still yours
    assert not rules.may_cancel(START, START - timedelta(hours=2) + timedelta(seconds=1), POLICY)
    assert not rules.may_cancel(START, START, POLICY)
    relaxed = Policy(cancel_window=timedelta(minutes=30))
    assert rules.may_cancel(START, START - timedelta(hours=1), relaxed)


def test_a_new_shift_must_end_after_it_starts_within_a_day_and_in_the_future():
    now = START - timedelta(days=1)
    assert rules.check_shift(START, END, 10, now) is None
    assert rules.check_shift(START, START, 10, now) == "time"
    assert rules.check_shift(START, START + timedelta(hours=24, minutes=1), 10, now) == "time"
    assert rules.check_shift(START, END, 10, START) == "past"
    assert rules.check_shift(START, END, 0, now) == "capacity"
    assert rules.check_shift(START, END, rules.MAX_CAPACITY + 1, now) == "capacity"


def test_age_is_reached_in_the_year_and_skills_match_whatever_the_case():
    assert rules.age_in(2008, 2026) == 18
    assert rules.missing_skills(["急救", "First Aid"], ["first aid"]) == ["急救"]
    assert rules.missing_skills([], []) == []


# --- check-in -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "window"),
    [
        (START - timedelta(minutes=30, seconds=1), Window.EARLY),
        (START - timedelta(minutes=30), Window.OPEN),
        (START, Window.OPEN),
        (END, Window.OPEN),
        (END + timedelta(seconds=1), Window.CLOSED),
    ],
)
def test_check_in_opens_30_minutes_before_and_closes_at_the_end(at, window):
    assert rules.check_in_window(START, END, at, POLICY) is window


def test_haversine_distances():
    assert rules.distance_m(*SITE, *SITE) == 0
    one_degree = rules.distance_m(31.0, 121.0, 32.0, 121.0)
    assert one_degree == pytest.approx(111_195, abs=1)
    north = rules.distance_m(*SITE, SITE[0] + 0.001, SITE[1])
    assert north == pytest.approx(111.2, abs=0.1)
    # A degree of longitude shrinks with the cosine of the latitude.
    east = rules.distance_m(*SITE, SITE[0], SITE[1] + 0.001)
    assert east == pytest.approx(111.2 * 0.8551, abs=0.2)


def test_the_radius_is_inclusive():
    assert rules.within_radius(200.0, 200)
    assert not rules.within_radius(200.01, 200)
    inside = rules.distance_m(*SITE, SITE[0] + 0.0017, SITE[1])  # about 189 m
    outside = rules.distance_m(*SITE, SITE[0] + 0.0019, SITE[1])  # about 211 m
    assert rules.within_radius(inside, 200) and not rules.within_radius(outside, 200)


def test_one_code_checks_in_then_out_but_not_twice_in_a_row():
    assert rules.scan_action(START, None, None, START, POLICY) is ScanAction.CHECK_IN
    checked_in = START - timedelta(minutes=5)
    repeat = rules.scan_action(START, checked_in, None, START + timedelta(minutes=4), POLICY)
    assert repeat is ScanAction.ALREADY_IN
    later = rules.scan_action(START, checked_in, None, START + timedelta(minutes=5), POLICY)
    assert later is ScanAction.CHECK_OUT
    assert rules.scan_action(START, checked_in, END, END, POLICY) is ScanAction.DONE


def test_no_check_out_before_the_start():
    early = START - timedelta(minutes=30)
    before = rules.scan_action(START, early, None, START - timedelta(seconds=1), POLICY)
    assert before is ScanAction.ALREADY_IN
    assert rules.scan_action(START, early, None, START, POLICY) is ScanAction.CHECK_OUT


def test_pick_prefers_the_shift_checked_in_then_the_open_one_then_the_next():
    morning = ("morning", START, END, False)
    evening = ("evening", START + timedelta(hours=8), END + timedelta(hours=8), False)
    assert rules.pick([evening, morning], START, POLICY) == "morning"
    assert rules.pick([morning, evening], END + timedelta(hours=1), POLICY) == "evening"
    assert rules.pick([morning, evening], END + timedelta(hours=20), POLICY) == "evening"
    assert rules.pick([("in", START, END, True), evening], END + timedelta(hours=8), POLICY) == "in"
    assert rules.pick([], START, POLICY) is None


# --- hours and points -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checked_in", "checked_out", "minutes"),
    [
        (START, END, 120),
        (START - timedelta(minutes=30), END, 120),  # early arrival adds nothing
        (START, END + timedelta(hours=1), 120),  # staying late neither
        (START + timedelta(minutes=15), START + timedelta(minutes=90), 75),
        (START, START + timedelta(seconds=59), 0),  # whole minutes
        (END + timedelta(minutes=1), END + timedelta(minutes=30), 0),  # after the end
    ],
)
def test_hours_run_from_check_in_to_check_out_capped_by_the_shift(checked_in, checked_out, minutes):
    assert rules.served_minutes(START, END, checked_in, checked_out) == minutes


def test_points_are_pro_rata_by_the_minute_and_rounded_down():
    assert rules.points_for(120, 10) == 20
    assert rules.points_for(90, 10) == 15
    assert rules.points_for(59, 10) == 9
    assert rules.points_for(5, 10) == 0
    assert rules.points_for(120, 0) == 0
    with pytest.raises(ValueError):
        rules.points_for(-1, 10)


def test_check_out_time_is_capped_by_the_shift():
    assert rules.check_out_time(START, END, END + timedelta(hours=3)) == END
    assert rules.check_out_time(START, END, START + timedelta(hours=1)) == START + timedelta(
        hours=1
    )
    assert rules.check_out_time(START, END, START - timedelta(minutes=5)) == START


# --- reminders ------------------------------------------------------------------------------------


def test_reminder_times_are_a_day_and_an_hour_before():
    assert rules.reminder_times(START, POLICY) == (
        START - timedelta(days=1),
        START - timedelta(hours=1),
    )


@pytest.mark.parametrize(
    ("before_start", "day_sent", "hour_sent", "due"),
    [
        (timedelta(hours=24, seconds=1), False, False, None),
        (timedelta(hours=24), False, False, Reminder.DAY),
        (timedelta(hours=5), False, False, Reminder.DAY),
        (timedelta(hours=5), True, False, None),
        (timedelta(hours=1, seconds=1), True, False, None),
        (timedelta(hours=1), True, False, Reminder.HOUR),
        (timedelta(minutes=10), True, True, None),
        (timedelta(minutes=10), False, False, Reminder.HOUR),  # signed up in the last hour
        (timedelta(0), False, False, None),  # started: too late to remind
    ],
)
def test_each_reminder_is_due_once_in_its_window(before_start, day_sent, hour_sent, due):
    assert rules.reminder_due(START, START - before_start, day_sent, hour_sent, POLICY) is due


# --- policy ---------------------------------------------------------------------------------------


def test_policy_from_config_keeps_defaults_and_refuses_nonsense():
    assert rules.policy_from_mapping({}) == Policy()
    custom = rules.policy_from_mapping({"points_per_hour": 12, "cancel_window_hours": 1.5})
    assert custom.points_per_hour == 12 and custom.cancel_window == timedelta(minutes=90)
    for bad in (
        {"points_per_hour": 1.5},
        {"points_per_hour": True},
        {"points_per_hour": -1},
        {"cancel_window_hour": 2},
        {"hour_reminder_minutes": 60 * 30},
        {"default_radius_m": 0},
    ):
        with pytest.raises(ValueError):
            rules.policy_from_mapping(bad)


def test_the_shipped_config_is_valid():
    import tomllib

    from handlers.volunteers.service import POLICY_FILE

    with POLICY_FILE.open("rb") as fh:
        assert rules.policy_from_mapping(tomllib.load(fh)) == Policy()


# --- recognition and registration -----------------------------------------------------------------


def test_the_month_is_the_local_calendar_month():
    start, end = rules.month_bounds(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))  # 00:00 Dec 1 BJ
    assert (start, end) == (datetime(2026, 12, 1, tzinfo=BJ), datetime(2027, 1, 1, tzinfo=BJ))
    start, _ = rules.month_bounds(datetime(2026, 11, 30, 15, 59, tzinfo=UTC))
    assert start == datetime(2026, 11, 1, tzinfo=BJ)


def test_parse_month():
    assert rules.month_bounds(rules.parse_month("2026-11"))[0] == datetime(2026, 11, 1, tzinfo=BJ)
    assert rules.parse_month("2026-1") is not None
    for bad in ("2026-13", "2026", "26-11", "２０２６-11", "2026-xx", ""):
        assert rules.parse_month(bad) is None


def test_leaderboard_ranks_points_then_hours_and_shares_ties():
    rows = [(5, 30, 180), (3, 40, 240), (4, 30, 180), (6, 30, 120), (7, 0, 0), (8, 0, 60)]
    board = rules.leaderboard(rows)
    assert [(s.rank, s.volunteer) for s in board] == [(1, 3), (2, 4), (2, 5), (4, 6), (5, 8)]
    assert [s.volunteer for s in rules.leaderboard(rows, limit=2)] == [3, 4]


def test_registration_share():
    assert rules.registration_share(30, 200) == Fraction(3, 20)
    assert rules.registration_share(0, 0) is None
    with pytest.raises(ValueError):
        rules.registration_share(-1, 10)


def test_scene_keys_round_trip_and_nothing_else_parses():
    at, pol = datetime(2031, 11, 8, 1, 0, tzinfo=UTC), rules.Policy()
    for kind, ident in (("shift", 3), ("activity", 12)):
        scene = rules.parse_scene(rules.scene_key(kind, ident, "secret", at, pol))
        assert scene is not None and (scene.kind, scene.ident) == (kind, ident)
        assert scene.window == rules.scene_window(at, pol)
    for bad in ("shift_", "shift_abc", "shift_0", "shift_３", "bind_3", "shift_1234567890", ""):
        assert rules.parse_scene(bad) is None


# --- changing a shift -----------------------------------------------------------------------------


def test_a_shift_changes_until_the_minute_it_starts_and_not_from_then():
    later = START + timedelta(days=1)
    before = START - timedelta(minutes=1)
    assert rules.check_shift_change(START, later, later + timedelta(hours=2), 10, 4, before) is None
    assert rules.check_shift_change(START, later, later + timedelta(hours=2), 10, 4, START) is (
        rules.ShiftChange.STARTED
    )
    assert rules.check_shift_change(START, START, END, 10, 0, END) is rules.ShiftChange.STARTED


def test_new_times_keep_a_new_shifts_rules():
    now = START - timedelta(days=1)
    assert rules.check_shift_change(START, END, START, 10, 0, now) is rules.ShiftChange.TIME
    assert (
        rules.check_shift_change(START, START, START + timedelta(hours=24, minutes=1), 10, 0, now)
        is rules.ShiftChange.TIME
    )
    moved_back = now - timedelta(hours=1)
    assert (
        rules.check_shift_change(START, moved_back, moved_back + timedelta(hours=2), 10, 0, now)
        is rules.ShiftChange.PAST
    )


@pytest.mark.parametrize(
    ("capacity", "confirmed", "wrong"),
    [
        (4, 4, None),  # as many places as confirmed volunteers: fine
        (3, 4, rules.ShiftChange.BELOW_CONFIRMED),  # one confirmed would lose their place
        (20, 4, None),  # more places: the waitlist moves up
        (0, 0, rules.ShiftChange.CAPACITY),
        (rules.MAX_CAPACITY + 1, 0, rules.ShiftChange.CAPACITY),
    ],
)
def test_places_never_drop_below_the_confirmed_volunteers(capacity, confirmed, wrong):
    now = START - timedelta(days=1)
    assert rules.check_shift_change(START, START, END, capacity, confirmed, now) is wrong
