"""What ``/api/v1/volunteers`` reads and answers, for the OpenAPI document.

Times are ISO 8601 strings; a time sent without an offset is read as Beijing time.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from handlers.openapi import Page, Paging, absent_when_none
from handlers.volunteers import rules, service

ID = Field(ge=1, le=999_999_999)
Skill = Field(min_length=1, max_length=service.SKILL_MAX)
Reason = Field(min_length=1, max_length=service.REASON_MAX, description="Why; required")


def a_day(schema: dict[str, Any]) -> None:
    """An optional query parameter holding a day, YYYY-MM-DD."""
    absent_when_none(schema)
    schema["format"] = "date"


Category, SignUpStatus = rules.Category, rules.SignUpStatus
LedgerKind, ScanAction = rules.LedgerKind, rules.ScanAction


class GrantKind(StrEnum):
    BONUS = "bonus"
    ADJUSTED = "adjusted"


# --- registration and teams -----------------------------------------------------------------------


class RegisterBody(BaseModel):
    skills: list[str] = Field(default=[], max_length=service.SKILLS_MAX)
    birth_year: int | None = Field(default=None, ge=1900, le=2025)


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
    all: bool = Field(
        default=False, description="Every activity, not only open ones with shifts to come"
    )


class ShiftBody(BaseModel):
    starts_at: str = Field(
        description="ISO 8601, in the future; without an offset, Beijing time",
        json_schema_extra={"format": "date-time"},
    )
    ends_at: str = Field(
        description="After the start, at most 24 hours later",
        json_schema_extra={"format": "date-time"},
    )
    capacity: int = Field(ge=1, le=rules.MAX_CAPACITY)
    min_age: int | None = Field(default=None, ge=1, le=119)
    skills: list[str] = Field(default=[], max_length=service.SKILLS_MAX)


class ActivityBody(BaseModel):
    title: str = Field(min_length=1, max_length=service.TITLE_MAX, pattern=r"\S")
    description: str = Field(default="", max_length=service.TEXT_MAX)
    category: Category = Category.EVENT
    place: str = Field(default="", max_length=service.TITLE_MAX)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    radius_m: int | None = Field(default=None, ge=1, le=rules.MAX_RADIUS_M)
    team_id: int | None = Field(
        default=None, ge=1, le=999_999_999, description="A team leader may only name their own"
    )
    required_skills: list[str] = Field(default=[], max_length=service.SKILLS_MAX)
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
    scene: str = Field(description="The scene key of the shift's QR code")


class MyShiftView(ShiftView):
    mine: SignUpView | None = Field(
        default=None, description="The caller's own sign-up, when they have one"
    )


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
    scene: str


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
    history: bool = Field(default=False, description="Every sign-up, newest first")


class MySignUpPage(Page):
    items: list[MySignUp]


# --- on site and attendance -----------------------------------------------------------------------


class CheckBody(BaseModel):
    """A scanned scene key, or else a location."""

    scene: str | None = Field(default=None, max_length=64)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)


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
    points: int = Field(
        ge=-service.POINTS_MAX, le=service.POINTS_MAX, description="Not 0; a bonus is positive"
    )
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
    cost: int = Field(ge=1, le=service.POINTS_MAX)
    stock: int = Field(default=0, ge=0, le=service.POINTS_MAX)
    description: str = Field(default="", max_length=service.TEXT_MAX)


class RewardUpdate(BaseModel):
    stock: int | None = Field(default=None, ge=0, le=service.POINTS_MAX)
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
        pattern=r"^[0-9]{4}-[0-9]{1,2}$",
        description="A month like 2026-11; this month by default",
        json_schema_extra=absent_when_none,
    )


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
    from_: str | None = Field(
        default=None,
        alias="from",
        description="First local day (YYYY-MM-DD); the month's first by default",
        json_schema_extra=a_day,
    )
    to: str | None = Field(
        default=None,
        description="Last local day (YYYY-MM-DD), at most 366 days on; the month's last by default",
        json_schema_extra=a_day,
    )
