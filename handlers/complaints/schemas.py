"""What ``/api/v1/complaints`` reads and answers: the OpenAPI document, and what runs.

The routes are ``strict``: the API middleware validates the query and the body with
these models before a handler runs, so every limit written here is enforced (a wrong
type, a value outside an enum or a range, text past its length: 400
``api.error.bad_field``, or ``api.error.bad_filter`` for a query parameter). What only
the ticket loop can tell (an empty report, a step its state does not allow) stays in
the service, with the capability's own message.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from handlers.clock import LOCAL
from handlers.complaints import service
from handlers.complaints.rules import Status
from handlers.openapi import Page, Paging, absent_when_none

TEXT_MAX = service.TEXT_MAX
PHOTO_MAX = 128  # the column that keeps a resolution photo's id
MEDIA_MAX = 512

# The departments of config/complaints.toml, read once at start-up like the service does.
Department = StrEnum("Department", {key: key for key in service.departments()})  # type: ignore[misc]


class Action(StrEnum):
    """A handler's or worker's step on a ticket."""

    ACCEPT = "accept"
    PROGRESS = "progress"
    REASSIGN = "reassign"
    RESOLVE = "resolve"
    REJECT = "reject"
    ESCALATE = "escalate"


ACTION_PATH = {"action": {"type": "string", "enum": [a.value for a in Action]}}


# --- requests ----------------------------------------------------------------


class Location(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class TicketCreate(BaseModel):
    text: str = Field(
        default="",
        max_length=TEXT_MAX,
        description="What is wrong; needed (more than blanks) unless media is given",
    )
    media: list[Annotated[str, Field(max_length=MEDIA_MAX)]] = Field(
        default_factory=list, description="Uploaded media ids; the first 6 are kept"
    )
    location: Location | None = None
    anonymous: bool = Field(
        default=False, description="Hide the reporter from everyone handling it"
    )


class TicketQuery(Paging):
    mine: bool = Field(default=False, description="true: only the caller's own reports (staff too)")
    status: Status | None = Field(
        default=None, description="Only tickets in this state", json_schema_extra=absent_when_none
    )
    department: Department | None = Field(
        default=None, description="Only this department's", json_schema_extra=absent_when_none
    )


class StatsQuery(BaseModel):
    """Not paging: ``weeks`` outside 1 to 104 is ``api.error.bad_filter`` (name weeks),
    checked after the role, like every filter."""

    weeks: int = Field(default=8, ge=1, le=104, description="How many weeks back")


class TicketActionBody(BaseModel):
    """Every field is optional; which step needs which is the ticket loop's rule."""

    note: str | None = Field(
        default=None,
        max_length=TEXT_MAX,
        description="What was done; resolve, reject (the referral) and reassign need one",
    )
    photo: str | None = Field(
        default=None, max_length=PHOTO_MAX, description="resolve: a photo's media id"
    )
    department: Department | None = Field(
        default=None, description="reassign: the new one (not the ticket's current one)"
    )


class TicketRating(BaseModel):
    stars: int = Field(ge=1, le=5, description="1 or 2 reopen the ticket once; more closes it")
    comment: str = Field(default="", max_length=TEXT_MAX)


# --- responses ---------------------------------------------------------------


class TicketUpdateView(BaseModel):
    kind: str
    text: str
    at: datetime | None


class Candidate(BaseModel):
    department: str
    probability: float


class Routing(BaseModel):
    department: str | None = Field(default=None, description="The router's guess")
    confidence: float | None = None
    terms: list[str] = Field(default_factory=list, description="The words it went by")
    triage: bool = Field(default=False, description="Sent to the grid worker: no department sure")
    candidates: list[Candidate] = Field(
        default_factory=list, description="The two best departments, for the triaging worker"
    )


class Reporter(BaseModel):
    id: int
    name: str | None


class TimelineActor(BaseModel):
    kind: Literal["reporter", "staff", "system"] = Field(
        description="system: a deadline's job; an anonymous reporter has no id nor name"
    )
    id: int | None
    name: str | None


class TimelineStep(BaseModel):
    """One entry of the ticket's audit trail."""

    action: str = Field(description="created, accept, progress, reassign, resolve, escalate...")
    at: datetime
    actor: TimelineActor
    from_status: str | None
    status: str | None
    from_department: str | None = Field(description="reassign: the department it left")
    department: str | None = Field(description="created: routed to; reassign: sent to")
    note: str | None


class LinkedTicket(BaseModel):
    id: int
    number: str
    status: Status


class ActionOffer(BaseModel):
    action: Action
    needs_note: bool


class TicketView(BaseModel):
    """The reporter's view; staff also get the fields marked "staff"."""

    id: int
    number: str = Field(description="What residents quote, e.g. T7K3M9Q")
    status: Status
    department: str
    text: str
    media: list[str]
    location: Location | None
    emergency: str | None = Field(description="fire, police or ambulance: call that number now")
    anonymous: bool
    created_at: datetime | None
    accept_due_at: datetime | None
    resolve_due_at: datetime | None
    accepted_at: datetime | None
    resolved_at: datetime | None
    escalated: bool
    resolution: str | None
    referral: str | None
    stars: int | None
    duplicate_of: int | None = Field(
        description="The first report of the same matter; for staff, null when anonymous"
    )
    updates: list[TicketUpdateView]
    routing: Routing | None = Field(default=None, description="staff")
    reporters: int | None = Field(
        default=None, description="staff: residents who reported the same matter"
    )
    building: str | None = Field(default=None, description="staff; null when anonymous")
    reporter: Reporter | None = Field(default=None, description="staff; null when anonymous")
    due_at: datetime | None = Field(
        default=None, description="staff: the deadline of the step the ticket is on"
    )
    overdue: bool | None = Field(default=None, description="staff: that deadline has passed")
    timeline: list[TimelineStep] | None = Field(
        default=None, description="staff, one ticket: every step, who and when"
    )
    duplicates: list[LinkedTicket] | None = Field(
        default=None, description="staff, one ticket: the reports merged into it"
    )
    original: LinkedTicket | None = Field(
        default=None, description="staff, one ticket: the report it duplicates"
    )
    actions: list[ActionOffer] | None = Field(
        default=None, description="staff, one ticket: the steps the caller may take now"
    )


class TicketPage(Page):
    items: list[TicketView]


class StatsWeek(BaseModel):
    week: str = Field(description="ISO week in Beijing time, e.g. 2026-W48")
    count: int
    by_department: dict[str, int]
    by_status: dict[str, int]
    missed: int = Field(description="Escalated: a missed deadline or a worker's call")
    median_accept_hours: float | None
    median_resolve_hours: float | None
    satisfaction: float | None = Field(description="Average stars")


class Stats(BaseModel):
    weeks: list[StatsWeek]


class RegisterQuery(BaseModel):
    month: str | None = Field(
        default=None,
        pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$",
        description="The month received, like 2026-11 (Beijing time); this month by default",
        json_schema_extra=absent_when_none,
    )

    def year_month(self, now: datetime) -> tuple[int, int]:
        """The month asked for, as (year, month); ``now``'s local month when none was."""
        if self.month is None:
            local = now.astimezone(LOCAL)
            return local.year, local.month
        year, month = self.month.split("-")
        return int(year), int(month)
