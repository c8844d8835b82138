"""The dashboard's response models (``GET /api/v1/dashboard``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DepartmentWeeks(BaseModel):
    department: str = Field(description="Department key, as in the complaints taxonomy")
    name: str = Field(description="The department's display name")
    counts: list[int] = Field(description="Tickets received per week, aligned with weeks")


class ComplaintsByWeek(BaseModel):
    weeks: list[str] = Field(description="ISO weeks (Asia/Shanghai), oldest first")
    departments: list[DepartmentWeeks]
    totals: list[int] = Field(description="All departments, per week")


class ResolveTime(BaseModel):
    department: str
    name: str
    resolved: int = Field(ge=0, description="Tickets resolved in the window")
    median_hours: float
    p90_hours: float


class SatisfactionWeek(BaseModel):
    week: str
    rated: int = Field(ge=0, description="Tickets received that week and rated by their reporter")
    average: float | None = Field(
        ge=1, le=5, description="Average stars (1 to 5) of those; null when none was rated"
    )


class BuildingWeeks(BaseModel):
    id: int
    name: str = Field(description="The building's name (楼栋)")
    counts: list[int] = Field(description="Tickets received per week, aligned with weeks")


class ComplaintsByBuilding(BaseModel):
    weeks: list[str] = Field(description="ISO weeks (Asia/Shanghai), oldest first")
    buildings: list[BuildingWeeks] = Field(
        description="Every building of the community, quiet ones too, in natural order of name"
    )
    unplaced: list[int] = Field(
        description=(
            "Per week, tickets of no known building and anonymous ones (an anonymous "
            "ticket's building is never shown to staff)"
        )
    )


class VoteTurnout(BaseModel):
    id: int
    title: str
    status: str
    yes: int | None = Field(ge=0, description="Null while the vote is open, but to tally readers")
    no: int | None = Field(ge=0, description="Null while the vote is open, but to tally readers")
    abstain: int | None = Field(
        ge=0, description="Null while the vote is open, but to tally readers"
    )
    voted: int = Field(ge=0, description="Electors who voted (yes, no or abstain)")
    eligible: int = Field(ge=0, description="Households (or residents, by rule) with a voice")
    turnout: float | None = Field(description="voted / eligible, 0 to 1; null without electors")
    outcome: str | None = Field(description="approved or not_approved once closed")
    voting_ends_at: str | None


class VolunteerWeek(BaseModel):
    week: str
    hours: float = Field(ge=0)
    attended: int = Field(ge=0, description="Attended places of shifts starting that week")


class DashboardCounts(BaseModel):
    open_tickets: int = Field(ge=0, description="Received, assigned, accepted, in progress")
    overdue_tickets: int = Field(ge=0, description="Open tickets past the deadline of their step")
    proposals_awaiting_review: int = Field(ge=0, description="Submitted or under review")
    notices_sending: int = Field(ge=0)


class DepartmentName(BaseModel):
    key: str
    name: str


class DashboardView(BaseModel):
    generated_at: str
    departments: list[DepartmentName] = Field(description="Every department tickets go to")
    weeks: list[str] = Field(description="The window's ISO weeks, oldest first")
    complaints: ComplaintsByWeek
    resolve_times: list[ResolveTime]
    satisfaction: list[SatisfactionWeek] = Field(
        description="Average rating of the tickets received each week"
    )
    complaints_by_building: ComplaintsByBuilding = Field(
        description="Tickets per building and week: the heatmap of 大数据研判"
    )
    votes: list[VoteTurnout]
    volunteer_hours: list[VolunteerWeek]
    counts: DashboardCounts
