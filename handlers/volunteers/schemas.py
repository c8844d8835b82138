"""What ``/api/v1/volunteers`` reads and answers, for the OpenAPI document.

The routes are ``strict``: the middleware parses every query and body with these models
before the handler runs, so what is written here is what is enforced. A date-time
carries its UTC offset (``2026-11-08T09:00:00+08:00``); a naive one is refused. A day
is ``YYYY-MM-DD``. A flag in a query is ``true``/``false`` or ``1``/``0``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
)

from handlers.openapi import Page, Paging, absent_when_none
from handlers.volunteers import rules
from handlers.volunteers.activities import ShiftPlan
from handlers.volunteers.rules import Category, LedgerKind, ScanAction, SignUpStatus
from handlers.volunteers.shared import (
    POINTS_MAX,
    REASON_MAX,
    SKILL_MAX,
    SKILLS_MAX,
    TEXT_MAX,
    TITLE_MAX,
)

# Times and days the records can be about.
MIN_YEAR, MAX_YEAR = 2000, 2999
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")

ID = Field(ge=1, le=999_999_999)
Reason = Field(min_length=1, max_length=REASON_MAX, description="Why; required")


def _within_years(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"a year from {MIN_YEAR} to {MAX_YEAR}")


def _iso_text(value: object) -> datetime:
    """ISO 8601 text as a datetime (the aware check follows); a bare number (a unix time)
    is no date-time. Parsed here because a strict model takes no text for a datetime
    once a validator has run before it."""
    if not isinstance(value, str) or not ISO_INSTANT.match(value):
        raise ValueError("an ISO 8601 date-time with its UTC offset")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("an ISO 8601 date-time with its UTC offset") from None


def _instant_in_reach(value: datetime) -> datetime:
    try:
        _within_years(value.astimezone(UTC).year)
    except OverflowError:  # 9999-12-31T23:59-23:59 is past what a datetime holds in UTC
        raise ValueError("a date-time the records can hold") from None
    return value


def _day_in_reach(value: date) -> date:
    _within_years(value.year)
    return value


# An ISO 8601 date-time with its offset, between the years 2000 and 2999 in UTC.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_instant_in_reach)]
Day = Annotated[date, AfterValidator(_day_in_reach)]
# A query flag is ``true`` or ``false``, as in every capability.
Flag = bool
Skill = Annotated[str, Field(min_length=1, max_length=SKILL_MAX, pattern=r"\S")]


class GrantKind(StrEnum):
    BONUS = "bonus"
    ADJUSTED = "adjusted"


# --- registration and teams -----------------------------------------------------------------------


class RegisterBody(BaseModel):
    """Send ``{}`` to register with nothing to add; on a profile, fields sent replace."""

    skills: list[Skill] = Field(
        default=[],
        max_length=SKILLS_MAX,
        description="Each skill once (case is ignored); sent, even empty, they replace the "
        "profile's; left out, the profile keeps its own",
    )
    birth_year: int | None = Field(
        default=None,
        ge=1900,
        description="Not after the current year: a later one is refused with "
        "volunteer.error.bad_birth_year (the year turns, the document does not)",
    )


class ProfileView(BaseModel):
    id: int
    skills: list[str]
    birth_year: int | None


class MeView(ProfileView):
    teams: list[int] = Field(description="Ids of the teams the volunteer belongs to")
    registered_at: str
    hours: float = Field(description="Hours served over all attended shifts")
    points: int = Field(description="The points balance")


class TeamView(BaseModel):
    id: int
    name: str
    category: str
    leader_id: int | None


class TeamPage(Page):
    items: list[TeamView]


class TeamBody(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"\S")
    category: Category = Category.EVENT
    leader_id: int | None = Field(default=None, ge=1, le=999_999_999)


class TeamMade(BaseModel):
    id: int
    name: str


class Joined(BaseModel):
    team_id: int
    member: bool


# --- activities and shifts ------------------------------------------------------------------------


class ActivityQuery(Paging):
    all: Flag = Field(
        default=False, description="Every activity, not only open ones with shifts to come"
    )


class ShiftBody(BaseModel):
    starts_at: Instant = Field(
        description="ISO 8601 with its UTC offset (2026-11-08T09:00:00+08:00), in the future"
    )
    ends_at: Instant = Field(description="After the start, at most 24 hours later")
    capacity: int = Field(ge=1, le=rules.MAX_CAPACITY)
    min_age: int | None = Field(default=None, ge=1, le=119)
    skills: list[Skill] = Field(
        default=[], max_length=SKILLS_MAX, description="Skills a volunteer needs for this shift"
    )

    def plan(self) -> ShiftPlan:
        return ShiftPlan(
            self.starts_at, self.ends_at, self.capacity, self.min_age, tuple(self.skills)
        )


class ActivityBody(BaseModel):
    title: str = Field(min_length=1, max_length=TITLE_MAX, pattern=r"\S")
    description: str = Field(default="", max_length=TEXT_MAX)
    category: Category = Category.EVENT
    place: str = Field(default="", max_length=TITLE_MAX)
    lat: float | None = Field(default=None, ge=-90, le=90, description="With lng, or neither")
    lng: float | None = Field(default=None, ge=-180, le=180)
    radius_m: int | None = Field(
        default=None, ge=1, le=rules.MAX_RADIUS_M, description="The policy's default if left out"
    )
    team_id: int | None = Field(
        default=None, ge=1, le=999_999_999, description="A team leader may only name their own"
    )
    required_skills: list[Skill] = Field(default=[], max_length=SKILLS_MAX)
    shifts: list[ShiftBody] = Field(default=[], max_length=50)


class SignUpView(BaseModel):
    id: int
    status: SignUpStatus
    position: int | None = Field(description="Place on the waitlist, from 1")
    checked_in_at: str | None
    checked_out_at: str | None
    minutes: int | None
    points: int | None


class ShiftView(BaseModel):
    id: int
    activity_id: int
    starts_at: str
    ends_at: str
    capacity: int
    confirmed: int
    waitlisted: int
    min_age: int | None
    skills: list[str]


class MyShiftView(ShiftView):
    mine: SignUpView | None = Field(
        default=None, description="The caller's own sign-up, when they have one"
    )


class ShiftChange(BaseModel):
    """What to change of a shift that has not started; what is left out (or null) stays."""

    starts_at: Instant | None = Field(default=None, description="The new start, in the future")
    ends_at: Instant | None = Field(
        default=None, description="The new end: after the start, at most 24 hours later"
    )
    capacity: int | None = Field(
        default=None,
        ge=1,
        le=rules.MAX_CAPACITY,
        description="Not below the volunteers already confirmed (409): release one by name "
        "instead; places added go to the head of the waitlist, in order",
    )


class ShiftChanged(ShiftView):
    promoted: list[int] = Field(description="Volunteers moved up from the waitlist")
    told: int = Field(description="Volunteers signed up who are told the new time")


class ActivityView(BaseModel):
    id: int
    title: str
    description: str
    category: str
    place: str
    latitude: float | None
    longitude: float | None
    radius_m: int
    team_id: int | None
    required_skills: list[str]
    status: str


class ActivityListed(ActivityView):
    shifts: list[ShiftView]


class ActivityPage(Page):
    items: list[ActivityListed]


class ActivityDetail(ActivityView):
    shifts: list[MyShiftView]


class Scene(BaseModel):
    id: int
    scene: str


class QrCodes(BaseModel):
    activity: Scene
    shifts: list[Scene]
    expires_at: str = Field(description="When these keys stop working: make the code afresh")
    image: str | None = Field(description="Not made yet: always null")


# --- sign-up --------------------------------------------------------------------------------------


class SignedUp(BaseModel):
    signup_id: int
    shift_id: int
    status: SignUpStatus
    position: int | None


class Cancelled(BaseModel):
    shift_id: int
    cancelled: SignUpStatus = Field(description="What the place was: confirmed or waitlisted")
    promoted: list[int] = Field(description="Volunteers moved up from the waitlist")


class ActivityRef(BaseModel):
    id: int
    title: str


class MySignUp(SignUpView):
    shift: ShiftView
    activity: ActivityRef


class MyShiftsQuery(Paging):
    history: Flag = Field(default=False, description="Every sign-up, newest first")


class MySignUpPage(Page):
    items: list[MySignUp]


# --- on site and attendance -----------------------------------------------------------------------


class CheckBody(BaseModel):
    """Where the caller is (``lat`` and ``lng``), with the site code's scene key if scanned.

    A scene key alone proves no presence: only WeChat's own scan event does, in the chat.
    """

    scene: str | None = Field(
        default=None, max_length=64, description="The current key of the site's QR code"
    )
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class Checked(BaseModel):
    action: ScanAction
    signup_id: int
    shift_id: int
    at: str
    minutes: int | None
    points: int | None
    distance_m: int | None


class VolunteerRef(BaseModel):
    id: int
    name: str | None


class AttendanceRow(BaseModel):
    signup_id: int
    volunteer: VolunteerRef
    status: SignUpStatus
    position: int | None
    signed_up_at: str | None
    checked_in_at: str | None
    checked_out_at: str | None
    minutes: int | None
    points: int | None


class Attendance(BaseModel):
    shift: ShiftView
    items: list[AttendanceRow]


class ReasonBody(BaseModel):
    reason: str = Reason


class AdjustBody(BaseModel):
    minutes: int = Field(ge=0, le=24 * 60, description="Minutes served, at most the shift's")
    reason: str = Reason


# --- points and rewards ---------------------------------------------------------------------------


class EntryView(BaseModel):
    id: int
    kind: LedgerKind
    points: int
    reason: str
    signup_id: int | None
    at: str


class PointsPage(Page):
    balance: int
    items: list[EntryView]


class GrantBody(BaseModel):
    resident_id: int = Field(ge=1, le=999_999_999, description="A registered volunteer")
    points: int = Field(ge=-POINTS_MAX, le=POINTS_MAX, description="Not 0; a bonus is positive")
    reason: str = Reason
    kind: GrantKind = GrantKind.BONUS


class RewardView(BaseModel):
    id: int
    name: str
    description: str
    cost: int
    stock: int


class RewardPage(Page):
    items: list[RewardView]


class RewardBody(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"\S")
    cost: int = Field(ge=1, le=POINTS_MAX)
    stock: int = Field(default=0, ge=0, le=POINTS_MAX)
    description: str = Field(default="", max_length=TEXT_MAX)


class RewardUpdate(BaseModel):
    stock: int | None = Field(default=None, ge=0, le=POINTS_MAX)
    active: bool | None = Field(default=None, description="false takes it off the catalogue")


class RewardUpdated(RewardView):
    active: bool


class Redeemed(BaseModel):
    redemption_id: int
    reward: RewardView
    balance: int = Field(description="The balance afterwards")


# --- recognition and records ----------------------------------------------------------------------


class LeaderboardQuery(BaseModel):
    month: str | None = Field(
        default=None,
        pattern=r"^2[0-9]{3}-(0?[1-9]|1[0-2])$",
        description=f"A month like 2026-11, from {MIN_YEAR} to {MAX_YEAR}; this month by default",
        json_schema_extra=absent_when_none,
    )

    def at(self, now: datetime) -> datetime:
        """An instant inside the month asked for; ``now`` when none was."""
        found = None if self.month is None else rules.parse_month(self.month)
        return now if found is None else found


class Standing(BaseModel):
    rank: int
    volunteer: VolunteerRef
    points: int
    hours: float


class Leaderboard(BaseModel):
    month: str
    items: list[Standing]


class Registration(BaseModel):
    volunteers: int
    residents: int
    verified_residents: int
    share: float | None = Field(description="volunteers / residents; null without residents")


class HoursQuery(BaseModel):
    from_: Day | None = Field(
        default=None,
        alias="from",
        description="First local day (YYYY-MM-DD); the month's first by default",
        json_schema_extra=absent_when_none,
    )
    to: Day | None = Field(
        default=None,
        description="Last local day (YYYY-MM-DD), at most 366 days on; the month's last by default",
        json_schema_extra=absent_when_none,
    )
