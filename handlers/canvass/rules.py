"""Pure rules of the door-to-door survey: what a visit may say, and how doors add up."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from handlers.proposals.rules import Reach, VisitOutcome

CHOICES = ("yes", "no", "abstain")
METHODS = ("form", "oral")  # 意见征询表 signed and photographed, or an oral answer
RESPONDENT_MAX = 64
NOTE_MAX = 500
MEDIA_MAX = 9
# A visit written up later the same evening is normal; one dated ahead is a mistake.
CLOCK_SLACK = timedelta(minutes=10)


@dataclass(frozen=True)
class Door:
    """One eligible household's standing in one vote."""

    household_id: int
    grid_id: int | None
    grid: str
    building: str
    unit: str
    room: str
    reach: Reach
    choice: str | None = None
    reason: str | None = None  # the latest visit's outcome when it was not answered
    area: Decimal = Decimal(0)

    @property
    def vacant(self) -> bool:
        """Found vacant at the door and answered by nobody since."""
        return self.reach == Reach.VISITED and self.reason == VisitOutcome.VACANT


@dataclass
class Counts:
    eligible: int = 0
    online: int = 0
    in_person: int = 0
    visited: int = 0
    not_reached: int = 0
    vacant: int = 0
    yes: int = 0
    no: int = 0
    abstain: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, door: Door) -> None:
        self.eligible += 1
        setattr(self, door.reach.value, getattr(self, door.reach.value) + 1)
        if door.choice in CHOICES:
            setattr(self, door.choice, getattr(self, door.choice) + 1)
        if door.reach == Reach.VISITED and door.reason:
            self.reasons[door.reason] = self.reasons.get(door.reason, 0) + 1
            self.vacant += door.vacant

    @property
    def reached(self) -> int:
        return self.eligible - self.not_reached

    def figures(self) -> dict[str, int]:
        """The counts a result, a poster row and the coverage view share."""
        return {
            "eligible": self.eligible,
            "online": self.online,
            "in_person": self.in_person,
            "visited": self.visited,
            "not_reached": self.not_reached,
            "yes": self.yes,
            "no": self.no,
            "abstain": self.abstain,
        }


def count(doors: Iterable[Door]) -> Counts:
    total = Counts()
    for door in doors:
        total.add(door)
    return total


def count_by(doors: Iterable[Door], key: Callable[[Door], str]) -> dict[str, Counts]:
    """Counts per grid or building, in the order the doors come (building, unit, room)."""
    out: dict[str, Counts] = {}
    for door in doors:
        out.setdefault(key(door), Counts()).add(door)
    return out


class VisitError(ValueError):
    """A visit that cannot be recorded as given; ``code`` is a locale message id."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class VisitForm:
    """What a worker writes down at the door, checked before anything is stored."""

    outcome: str
    choice: str | None = None
    respondent: str = ""
    method: str | None = None
    media: tuple[str, ...] = ()
    note: str = ""

    @property
    def answered(self) -> bool:
        return self.outcome == VisitOutcome.ANSWERED


def check_visit(form: VisitForm) -> VisitForm:
    """The form as it will be stored, or VisitError: an answer needs a choice, who gave it
    and how (a signed form needs its photo); a visit without an answer needs its reason
    and carries no choice."""
    if form.outcome not in set(VisitOutcome):
        raise VisitError("canvass.error.bad_outcome")
    respondent = " ".join(form.respondent.split())
    note = form.note.strip()
    if len(respondent) > RESPONDENT_MAX or len(note) > NOTE_MAX:
        raise VisitError("canvass.error.too_long")
    if len(form.media) > MEDIA_MAX:
        raise VisitError("canvass.error.too_many_photos")
    if not form.answered:
        if form.choice is not None:
            raise VisitError("canvass.error.choice_without_answer")
        if form.outcome == VisitOutcome.OTHER and not note:
            raise VisitError("canvass.error.reason_required")
        return VisitForm(form.outcome, None, respondent, None, tuple(form.media), note)
    if form.choice not in CHOICES:
        raise VisitError("canvass.error.bad_choice")
    if form.method not in METHODS:
        raise VisitError("canvass.error.bad_method")
    if not respondent:
        raise VisitError("canvass.error.respondent_required")
    if form.method == "form" and not form.media:
        raise VisitError("canvass.error.form_photo_required")
    return VisitForm(form.outcome, form.choice, respondent, form.method, tuple(form.media), note)


def check_visit_time(visited_at: datetime, now: datetime, opened_at: datetime | None) -> None:
    """A visit happened while the vote was open and not in the future."""
    if visited_at > now + CLOCK_SLACK or (opened_at is not None and visited_at < opened_at):
        raise VisitError("canvass.error.bad_time")


def may_record_late(reach: Reach, coverage_all: bool) -> bool:
    """After the vote's end a coverage rule still waits for the households not reached:
    workers may record those (catching up), but change nothing already answered."""
    return coverage_all and reach == Reach.NOT_REACHED
