"""Office-time deadlines on China's calendar: 国庆 off, the 调休 Saturday on, and a year
the holiday library does not know yet counted Monday to Friday with a warning."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import pytest

from handlers.clock import LOCAL
from handlers.complaints import rules


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL)


def test_golden_week_is_off_and_its_make_up_saturday_is_on() -> None:
    # 2026 as the library has it: 1-7 October off (国庆), Saturday 10 October worked.
    assert not rules.is_workday(date(2026, 10, 1))
    assert not rules.is_workday(date(2026, 10, 7))
    assert rules.is_workday(date(2026, 10, 8))
    assert rules.is_workday(date(2026, 10, 10))
    assert not rules.is_workday(date(2026, 10, 11))


def test_a_ticket_received_on_30_september_is_due_after_the_holiday() -> None:
    received = at(2026, 9, 30, 17, 0)
    # One office hour left on the 30th, then nothing until Thursday 8 October.
    assert rules.add_working_time(received, timedelta(hours=2)) == at(2026, 10, 8, 10, 0)
    # 45 office hours: 30 Sep (1 h), 8, 9, Sat 10 (调休), 12 Oct, then 8 h of the 13th.
    five_days = timedelta(hours=9 * 5)
    assert rules.add_working_time(received, five_days) == at(2026, 10, 13, 17, 0)


def test_deadlines_of_a_ticket_before_the_holiday_skip_it() -> None:
    found = rules.deadlines(at(2026, 9, 30, 17, 0), accept_hours=4, resolve_days=3, emergency=False)
    assert found.accept_by == at(2026, 10, 8, 12, 0)
    # 3 working days of 9 h: 1 h on the 30th, 8 and 9 Oct, then 8 h of Saturday the 10th.
    assert found.resolve_by == at(2026, 10, 10, 17, 0)


def test_emergencies_ignore_the_calendar() -> None:
    received = at(2026, 10, 1, 3, 0)
    found = rules.deadlines(received, accept_hours=4, resolve_days=3, emergency=True)
    assert found.accept_by - received < timedelta(days=1)


def test_a_year_the_library_does_not_know_counts_weekdays_and_warns_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "_UNKNOWN_YEARS", set())
    with caplog.at_level(logging.WARNING, logger=rules.__name__):
        assert rules.is_workday(date(2099, 1, 1))  # a Thursday
        assert not rules.is_workday(date(2099, 1, 3))  # a Saturday
        friday = at(2099, 1, 2, 17, 0)
        assert rules.add_working_time(friday, timedelta(hours=2)) == at(2099, 1, 5, 10, 0)
    warnings = [r for r in caplog.records if "holidays_unknown" in r.getMessage()]
    assert len(warnings) == 1
