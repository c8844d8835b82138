"""The pure rules: scopes, groups, muting, backoff, progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.notices import rules
from handlers.notices.rules import Person

PEOPLE = [
    Person(1, household_id=10, building_id=100, grid_id=7),
    Person(2, household_id=11, building_id=101, grid_id=7),
    Person(3, household_id=12, building_id=102, grid_id=8),
    Person(4),  # a follower not bound to a household
]


def test_each_scope_selects_its_residents():
    assert rules.recipients({"kind": "community", "ids": []}, PEOPLE) == [1, 2, 3, 4]
    assert rules.recipients({"kind": "grids", "ids": [7]}, PEOPLE) == [1, 2]
    assert rules.recipients({"kind": "buildings", "ids": [102]}, PEOPLE) == [3]
    assert rules.recipients({"kind": "households", "ids": [10, 12]}, PEOPLE) == [1, 3]
    assert rules.recipients({"kind": "nonsense", "ids": [1]}, PEOPLE) == []


def test_muting_and_emergencies():
    scope = {"kind": "grids", "ids": [7]}
    assert rules.recipients(scope, PEOPLE, muted=[1]) == [2]
    assert rules.recipients(scope, PEOPLE, muted=[1], emergency=True) == [1, 2]


def test_groups_of_a_scope():
    every = {"kind": "community", "ids": []}
    building = {"kind": "buildings", "ids": [100]}
    assert rules.group_in_scope(every, building)
    assert rules.group_in_scope(building, building)
    assert not rules.group_in_scope({"kind": "buildings", "ids": [101]}, building)
    assert not rules.group_in_scope(building, every)  # 全体群 is not for one building
    assert rules.group_in_scope({"kind": "grids", "ids": [7]}, building, {100: 7})
    assert not rules.group_in_scope({"kind": "grids", "ids": [8]}, building, {100: 7})
    assert not rules.group_in_scope({"kind": "households", "ids": [10]}, building)


def test_backoff_doubles_up_to_a_limit_and_honours_hints():
    assert rules.backoff(1) == timedelta(seconds=15)
    assert rules.backoff(2) == timedelta(seconds=30)
    assert rules.backoff(20) == timedelta(minutes=15)
    assert rules.backoff(1, retry_after=60) == timedelta(seconds=60)


def test_progress_counts():
    got = rules.progress({"sent": 5, "claimed": 1, "pending": 2, "failed": 1, "unknown": 1})
    assert got == {
        "sent": 5,
        "failed": 1,
        "unknown": 1,
        "pending": 3,
        "total": 10,
        "finished": False,
    }
    assert rules.progress({"sent": 1})["finished"]


def test_a_schedule_is_plausible_from_the_year_2000_to_2999_with_an_offset():
    assert rules.plausible_schedule(datetime(2000, 1, 1, tzinfo=UTC))
    assert rules.plausible_schedule(datetime(2999, 12, 31, 23, 59, tzinfo=UTC))
    assert not rules.plausible_schedule(datetime(1999, 12, 31, 23, 59, tzinfo=UTC))
    assert not rules.plausible_schedule(datetime(3000, 1, 1, tzinfo=UTC))
    assert not rules.plausible_schedule(datetime(2030, 1, 1))  # no offset


def test_each_channel_renders_the_one_text_the_preview_shows():
    assert rules.rendered("oa", "停水", "明天停水") == "【停水】\n明天停水"
    assert rules.rendered("robot", "停水", "明天停水") == "**停水**\n明天停水"
    assert rules.rendered("customer_group", "停水", "明天停水") == "【停水】\n明天停水"
    assert set(rules.RENDERERS) == set(rules.CHANNELS)


def test_wecom_chat_results_map_to_delivery_states():
    assert rules.group_result(1) == ("sent", None)
    assert rules.group_result(2) == ("not_in_group", "not_in_group")
    assert rules.group_result(3) == ("failed", "already_received")
    assert rules.group_result(0) == ("confirmed", None)  # the owner may still send it
    assert rules.group_result(9) == ("failed", "rejected")


def test_a_customer_group_counts_as_pending_until_wecom_says_what_became_of_it():
    assert [rules.as_progress_status(s) for s in rules.GROUP_OPEN] == ["pending"] * 4
    assert rules.as_progress_status("sent") == "sent"
    assert rules.as_progress_status("not_in_group") == "failed"


def test_an_unconfirmed_task_is_given_up_exactly_at_its_window():
    t0 = datetime(2026, 5, 1, 9, tzinfo=UTC)
    window = timedelta(days=3)
    assert not rules.group_expired(t0, t0 + window - timedelta(seconds=1), window)
    assert rules.group_expired(t0, t0 + window, window)
