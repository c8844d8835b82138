"""Pure rules of the ticket loop: transitions, deadlines in working time, duplicates, stats.

No I/O and no clock: every instant is passed in, so deadlines and escalation are
testable to the minute.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import statistics
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

import chinese_calendar

from handlers.clock import LOCAL
from handlers.i18n import N_
from handlers.refusal import Refused

log = logging.getLogger(__name__)

WORK_START = time(9, 0)
WORK_END = time(18, 0)
EMERGENCY_ACCEPT = timedelta(minutes=30)
EMERGENCY_RESOLVE = timedelta(hours=4)
AUTO_CLOSE_AFTER = timedelta(days=7)
DUPLICATE_WINDOW = timedelta(hours=72)
DUPLICATE_SIMILARITY = 0.4
LOW_RATING = 2
MAX_REOPEN = 1
# No 0/O, 1/I/L: numbers are read aloud over the phone and typed by elderly residents.
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class Status(StrEnum):
    RECEIVED = "received"
    ASSIGNED = "assigned"
    REASSIGNED = "reassigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"


class Action(StrEnum):
    ASSIGN = "assign"
    ACCEPT = "accept"
    PROGRESS = "progress"
    REASSIGN = "reassign"
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    REJECT = "reject"
    RATE = "rate"
    REOPEN = "reopen"
    AUTO_CLOSE = "auto_close"


class Actor(StrEnum):
    REPORTER = "reporter"
    HANDLER = "handler"
    WORKER = "worker"
    SYSTEM = "system"


ERROR_ILLEGAL = N_("ticket.error.illegal_transition")
ERROR_FORBIDDEN = N_("ticket.error.forbidden")
ERROR_NOTE_REQUIRED = N_("ticket.error.note_required")
ERROR_REOPEN_USED = N_("ticket.error.reopen_used")

_OPEN_FOR_WORK = (Status.ASSIGNED, Status.REASSIGNED, Status.ESCALATED)
_WORKING = (Status.ACCEPTED, Status.IN_PROGRESS, Status.ESCALATED)
_STAFF = frozenset({Actor.HANDLER, Actor.WORKER})

TRANSITIONS: dict[tuple[Status, Action], tuple[Status, frozenset[Actor]]] = {
    (Status.RECEIVED, Action.ASSIGN): (Status.ASSIGNED, frozenset({Actor.SYSTEM, Actor.WORKER})),
    **{(s, Action.ACCEPT): (Status.ACCEPTED, _STAFF) for s in _OPEN_FOR_WORK},
    **{(s, Action.PROGRESS): (Status.IN_PROGRESS, _STAFF) for s in _WORKING},
    **{
        (s, Action.REASSIGN): (Status.REASSIGNED, _STAFF)
        for s in (Status.RECEIVED, *_OPEN_FOR_WORK, Status.ACCEPTED, Status.IN_PROGRESS)
    },
    **{
        (s, Action.ESCALATE): (Status.ESCALATED, frozenset({Actor.SYSTEM, Actor.WORKER}))
        for s in (Status.ASSIGNED, Status.REASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS)
    },
    **{(s, Action.RESOLVE): (Status.RESOLVED, _STAFF) for s in _WORKING},
    **{
        (s, Action.REJECT): (Status.REJECTED, _STAFF)
        for s in (Status.RECEIVED, *_OPEN_FOR_WORK, Status.ACCEPTED)
    },
    (Status.RESOLVED, Action.RATE): (Status.CLOSED, frozenset({Actor.REPORTER})),
    (Status.RESOLVED, Action.REOPEN): (Status.IN_PROGRESS, frozenset({Actor.REPORTER})),
    (Status.RESOLVED, Action.AUTO_CLOSE): (Status.CLOSED, frozenset({Actor.SYSTEM})),
}
OPEN_STATUSES = frozenset(s for s in Status if s not in {Status.CLOSED, Status.REJECTED})
NEEDS_NOTE = frozenset({Action.RESOLVE, Action.REJECT, Action.REASSIGN})


def transition(
    status: str, action: str, actor: str, *, note: str | None = None, reopened: int = 0
) -> Status:
    """The next status, or ``Refused``: a step the state does not allow (409), an actor the
    step does not admit (403), a missing note (400: resolving, rejecting and reassigning
    need one) or a second reopening (409)."""
    found = TRANSITIONS.get((Status(status), Action(action)))
    if found is None:
        raise Refused(ERROR_ILLEGAL, 409)
    target, actors = found
    if Actor(actor) not in actors:
        raise Refused(ERROR_FORBIDDEN, 403)
    if Action(action) in NEEDS_NOTE and not (note or "").strip():
        raise Refused(ERROR_NOTE_REQUIRED, 400)
    if Action(action) is Action.REOPEN and reopened >= MAX_REOPEN:
        raise Refused(ERROR_REOPEN_USED, 409)
    return target


def steps(status: str, actor: str, offered: Iterable[str]) -> list[Action]:
    """Of the ``offered`` steps, those ``actor`` may take from ``status`` (what a page offers
    its worker); a note still has to come with those of ``NEEDS_NOTE``."""
    found = []
    for action in offered:
        rule = TRANSITIONS.get((Status(status), Action(action)))
        if rule is not None and Actor(actor) in rule[1]:
            found.append(Action(action))
    return found


def after_rating(stars: int, reopened: int) -> Action:
    """A low rating reopens the ticket once, any other rating closes it."""
    return Action.REOPEN if stars <= LOW_RATING and reopened < MAX_REOPEN else Action.RATE


# --- deadlines ------------------------------------------------------------


_UNKNOWN_YEARS: set[int] = set()


def is_workday(day: date) -> bool:
    """A working day in China: public holidays off, 调休 weekend days on.

    The holiday library knows each year once the State Council has published it
    (usually in November for the next year); a date it does not know yet falls back to
    Monday to Friday, with one warning per year, so a deadline is never refused.
    """
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _UNKNOWN_YEARS:
            _UNKNOWN_YEARS.add(day.year)
            log.warning(
                "complaints.holidays_unknown: no holiday calendar for %d (chinese-calendar "
                "%s); office-time deadlines count Monday to Friday",
                day.year,
                chinese_calendar.__version__,
            )
        return day.weekday() < 5


def add_working_time(start: datetime, amount: timedelta) -> datetime:
    """``start`` plus ``amount`` of office time (working days 9:00-18:00, Beijing time).

    Working days are China's (``is_workday``): a ticket received before 国庆 is not due
    during the holiday, and a 调休 Saturday counts.
    """
    if amount <= timedelta(0):
        return start
    local = start.astimezone(LOCAL)
    left = amount
    while True:
        day_start = local.replace(
            hour=WORK_START.hour, minute=WORK_START.minute, second=0, microsecond=0
        )
        day_end = local.replace(hour=WORK_END.hour, minute=WORK_END.minute, second=0, microsecond=0)
        if not is_workday(local.date()) or local >= day_end:
            local = (local + timedelta(days=1)).replace(
                hour=WORK_START.hour, minute=WORK_START.minute, second=0, microsecond=0
            )
            continue
        if local < day_start:
            local = day_start
        available = day_end - local
        if left <= available:
            return (local + left).astimezone(start.tzinfo)
        left -= available
        local = day_end


@dataclass(frozen=True)
class Deadlines:
    accept_by: datetime
    resolve_by: datetime


def deadlines(
    received: datetime, accept_hours: float, resolve_days: float, emergency: bool
) -> Deadlines:
    """Emergencies run on the wall clock, everything else on office time."""
    if emergency:
        return Deadlines(received + EMERGENCY_ACCEPT, received + EMERGENCY_RESOLVE)
    working_day = datetime.combine(received.date(), WORK_END) - datetime.combine(
        received.date(), WORK_START
    )
    return Deadlines(
        add_working_time(received, timedelta(hours=accept_hours)),
        add_working_time(received, working_day * resolve_days),
    )


def overdue(
    status: str, now: datetime, accept_by: datetime | None, resolve_by: datetime | None
) -> bool:
    """True when the ticket missed the deadline of the step it is on."""
    if status in {Status.ASSIGNED, Status.REASSIGNED}:
        return accept_by is not None and now >= accept_by
    if status in {Status.ACCEPTED, Status.IN_PROGRESS}:
        return resolve_by is not None and now >= resolve_by
    return False


def current_deadline(
    status: str,
    accepted_at: datetime | None,
    accept_by: datetime | None,
    resolve_by: datetime | None,
) -> datetime | None:
    """The deadline of the step the ticket is on, for workers to see: accepting it, then
    resolving it. An escalated ticket keeps the step it was on when it was escalated."""
    if status in {Status.RECEIVED, Status.ASSIGNED, Status.REASSIGNED} or (
        status == Status.ESCALATED and accepted_at is None
    ):
        return accept_by
    if status in {Status.ACCEPTED, Status.IN_PROGRESS, Status.ESCALATED}:
        return resolve_by
    return None


def late(
    status: str,
    accepted_at: datetime | None,
    accept_by: datetime | None,
    resolve_by: datetime | None,
    now: datetime,
) -> bool:
    """Past ``current_deadline``; unlike ``overdue`` (which escalates), escalated ones count."""
    deadline = current_deadline(status, accepted_at, accept_by, resolve_by)
    return deadline is not None and now >= deadline


def auto_close_due(status: str, resolved_at: datetime | None, now: datetime) -> bool:
    return (
        status == Status.RESOLVED
        and resolved_at is not None
        and now >= resolved_at + AUTO_CLOSE_AFTER
    )


# --- numbers and duplicates -----------------------------------------------------


def new_number(length: int = 6) -> str:
    return "T" + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(length))


def normalize_number(text: str) -> str | None:
    cleaned = unicodedata.normalize("NFKC", text).strip().upper().replace(" ", "")
    if len(cleaned) == 7 and cleaned[0] == "T" and all(c in NUMBER_ALPHABET for c in cleaned[1:]):
        return cleaned
    return None


def _bigrams(text: str) -> set[str]:
    chars = [c for c in unicodedata.normalize("NFKC", text).lower() if c.isalnum()]
    return {a + b for a, b in itertools.pairwise(chars)}


def similarity(a: str, b: str) -> float:
    """Overlap of character bigrams, over the shorter text's.

    Cheap and language-neutral. Overlap rather than Jaccard, because one resident writes
    "电梯坏了" and the next a paragraph about the same lift.
    """
    left, right = _bigrams(a), _bigrams(b)
    if not left or not right:
        return 0.0
    return len(left & right) / min(len(left), len(right))


def is_duplicate(
    text: str,
    department: str,
    building_id: int | None,
    at: datetime,
    other_text: str,
    other_department: str,
    other_building_id: int | None,
    other_at: datetime,
) -> bool:
    """Same department, same building, close in time and in wording."""
    return (
        building_id is not None
        and building_id == other_building_id
        and department == other_department
        and abs(at - other_at) <= DUPLICATE_WINDOW
        and similarity(text, other_text) >= DUPLICATE_SIMILARITY
    )


# --- statistics ------------------------------------------------------------


def median_hours(spans: Iterable[timedelta]) -> float | None:
    hours = [s.total_seconds() / 3600 for s in spans]
    return round(statistics.median(hours), 2) if hours else None


def week_of(at: datetime) -> str:
    year, week, _ = at.astimezone(LOCAL).isocalendar()
    return f"{year}-W{week:02d}"
