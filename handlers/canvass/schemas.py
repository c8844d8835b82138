"""The canvass API's bodies, queries and answers, as the OpenAPI document shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from handlers.canvass.rules import MEDIA_MAX, NOTE_MAX, RESPONDENT_MAX

Outcome = Literal["answered", "not_home", "refused", "vacant", "moved_out", "other"]


class VisitBody(BaseModel):
    """One call at one door. An answer needs ``choice``, ``respondent`` and ``method``
    (``form``: the signed 意见征询表, its photos as ``media`` ids from /api/v1/media)."""

    household_id: int = Field(ge=1)
    outcome: Outcome
    choice: Literal["yes", "no", "abstain"] | None = None
    respondent: str = Field(
        default="", max_length=RESPONDENT_MAX, description="Who answered, as they said"
    )
    method: Literal["form", "oral"] | None = None
    media: list[str] = Field(default_factory=list, max_length=MEDIA_MAX)
    note: str = Field(default="", max_length=NOTE_MAX)
    visited_at: AwareDatetime | None = Field(default=None, description="Default: now")


class VisitDone(BaseModel):
    visit_id: int
    household_id: int
    state: Literal["in_person", "visited"]
    replaced: Literal["yes", "no", "abstain"] | None = Field(
        description="The household's answer this one replaced, if any"
    )


class DoorsQuery(BaseModel):
    grid_id: int | None = Field(default=None, ge=1)


class EarlierVisit(BaseModel):
    outcome: Outcome
    at: datetime
    worker_id: int | None


class DoorView(BaseModel):
    household_id: int
    grid: str
    building: str
    unit: str
    room: str
    state: Literal["not_reached", "visited"]
    visits: list[EarlierVisit]


class DoorList(BaseModel):
    items: list[DoorView]


class ReachCounts(BaseModel):
    eligible: int
    online: int
    in_person: int
    visited: int
    not_reached: int
    reached: int
    reasons: dict[str, int]
    yes: int | None = Field(default=None, description="Tally readers, or once closed")
    no: int | None = None
    abstain: int | None = None


class GridCounts(ReachCounts):
    grid: str


class BuildingCounts(ReachCounts):
    building: str


class CoverageView(BaseModel):
    proposal_id: int
    status: str
    coverage_rule: Literal["none", "all"]
    total: ReachCounts
    grids: list[GridCounts]
    buildings: list[BuildingCounts]


class DisputeBody(BaseModel):
    reason: str = Field(default="", max_length=500)


class DisputeMade(BaseModel):
    dispute_id: int


class DisputeView(BaseModel):
    id: int
    household_id: int
    visit_id: int | None
    reason: str
    created_at: datetime
    resolved_at: datetime | None


class DisputeList(BaseModel):
    items: list[DisputeView]
