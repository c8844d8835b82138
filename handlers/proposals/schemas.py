"""What ``/api/v1/proposals`` reads and answers, for the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from handlers.openapi import Page, Paging, absent_when_none
from handlers.proposals.lifecycle import TEXT_MAX, TITLE_MAX
from handlers.proposals.rules import Category, Funding, Outcome, Status

Id = Annotated[int, Field(ge=1, le=999_999_999)]
COST_MAX = 9_999_999_999.99  # the column holds 12 digits, 2 of them decimals
PHOTO_MAX = 512
Choice = Literal["yes", "no", "abstain"]


# --- requests ----------------------------------------------------------------
# What a model says is refused with api.error.bad_field; what it cannot say (a blank
# text, a building of another community, the proposal's state) the service refuses
# with the proposal's own message.


class ProposalQuery(Paging):
    status: Status | None = Field(
        default=None, description="Only proposals in this state", json_schema_extra=absent_when_none
    )
    category: Category | None = Field(
        default=None, description="Only this category", json_schema_extra=absent_when_none
    )
    mine: bool | None = Field(
        default=None,
        description="true: only the caller's own proposals",
        json_schema_extra=absent_when_none,
    )


class ScopeIn(BaseModel):
    kind: Literal["community", "grids", "buildings"] = Field(
        description="The whole community, or some of its grids or buildings"
    )
    ids: list[Id] = Field(
        default_factory=list,
        description=(
            "Grid or building ids of the caller's community (at least one for grids and "
            "buildings, none for community)"
        ),
    )


class ProposalCreate(BaseModel):
    title: str = Field(max_length=TITLE_MAX, description="Not blank")
    description: str = Field(max_length=TEXT_MAX, description="Not blank")
    category: Category = Field(default=Category.PROJECT)
    scope: ScopeIn | None = Field(
        default=None, description="Who votes; by default the proposer's own building"
    )
    photos: list[Annotated[str, Field(max_length=PHOTO_MAX)]] = Field(
        default_factory=list, description="Uploaded media ids; the first 9 are kept"
    )
    estimated_cost: float | None = Field(
        default=None,
        ge=0,
        le=COST_MAX,
        allow_inf_nan=False,
        description="Yuan, rounded to the fen",
    )
    funding: Funding | None = None
    submit: bool = Field(default=True, description="false keeps it a draft")

    @property
    def cost(self) -> Decimal | None:
        """The estimated cost as the exact decimal the column keeps, rounded half up."""
        if self.estimated_cost is None:
            return None
        # repr gives the shortest text that reads back as the same float: 0.1, not 0.1000…01.
        exact = Decimal(repr(abs(self.estimated_cost)))  # abs: -0.0 is 0
        return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class NoteBody(BaseModel):
    """The body of an action that needs nothing; it may be left out."""

    reason: str | None = Field(
        default=None, max_length=TEXT_MAX, description="A note for the audit trail"
    )


class RejectBody(BaseModel):
    reason: str | None = Field(
        default=None,
        max_length=TEXT_MAX,
        description="Why, told to the proposer: required, not blank (else reason_required)",
    )


class OpenBody(BaseModel):
    days: int = Field(default=7, ge=1, le=60, description="How many days the vote runs")


class CloseBody(BaseModel):
    """Closing needs nothing, but an admin may close a coverage vote before every household
    is reached with a written reason (it is audited and printed on the result)."""

    override_reason: str | None = Field(default=None, min_length=1, max_length=500)


class ProgressBody(BaseModel):
    text: str | None = Field(
        default=None,
        max_length=TEXT_MAX,
        description="The update: required, not blank (else bad_text)",
    )


class VoteBody(BaseModel):
    choice: Choice


class CommentBody(BaseModel):
    text: str = Field(max_length=TEXT_MAX, description="Not blank")


class HideBody(BaseModel):
    reason: str = Field(max_length=TEXT_MAX, description="Shown in place of the text; not blank")


class RatingBody(BaseModel):
    stars: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=TEXT_MAX)


# --- responses ---------------------------------------------------------------


class Scope(BaseModel):
    kind: Literal["community", "grids", "buildings"]
    ids: list[int]
    names: list[str] | None = Field(
        default=None, description="One proposal's: its grids' or buildings' names, in order"
    )


class RatingSummary(BaseModel):
    count: int = Field(ge=0)
    average: float | None = Field(description="Average stars; null before the first rating")


class Tally(BaseModel):
    """The live count, for community workers only, while the vote is open."""

    yes: int = Field(ge=0)
    no: int = Field(ge=0)
    abstain: int = Field(ge=0)


class VoteRuleView(BaseModel):
    unit: Literal["household", "resident"]
    basis: Literal["eligible", "cast"]
    threshold: str = Field(description='An exact share, e.g. "3/5"')
    strict: bool
    area: bool
    quorum: str | None = None
    coverage: Literal["none", "all"] = Field(
        default="none", description='"all": decided only once every household is reached'
    )
    vacant: Literal["exclude", "count"] = Field(
        default="exclude", description="Whether households found vacant stay in the denominator"
    )


class Reached(BaseModel):
    """How the eligible households were reached (全覆盖)."""

    online: int
    in_person: int
    visited: int = Field(description="Visited, no answer (the reason recorded)")
    not_reached: int
    vacant_excluded: int = Field(description="Found vacant: out of the denominator if so ruled")
    reasons: dict[str, int] = Field(default_factory=dict)


class BuildingResult(BaseModel):
    building: str
    eligible: int
    online: int
    in_person: int
    visited: int
    not_reached: int
    yes: int
    no: int
    abstain: int


class Override(BaseModel):
    by: str
    reason: str


class VoteResult(BaseModel):
    """Counted once, when the vote closed, with the rule that decided."""

    outcome: Outcome
    eligible: int
    yes: int
    no: int
    abstain: int
    eligible_area: str
    yes_area: str
    no_area: str
    rule: VoteRuleView
    early: bool = Field(description="Closed before the end because the outcome was certain")
    coverage: Reached | None = None
    buildings: list[BuildingResult] = Field(default_factory=list)
    disputes: int = Field(default=0, description="In-person answers disputed and not resolved")
    digest: str | None = Field(
        default=None, description="Seals every answer: `linli verify-vote ID` recomputes it"
    )
    override: Override | None = Field(
        default=None, description="An admin closed it before every household was reached"
    )


class ProposalView(BaseModel):
    id: int
    title: str
    description: str
    category: Category
    status: Status
    scope: Scope
    photos: list[str]
    estimated_cost: str | None = Field(description="Yuan, as an exact decimal string")
    funding: Funding | None
    mine: bool = Field(description="The caller proposed it")
    rejection_reason: str | None
    published_at: datetime | None
    voting_opened_at: datetime | None
    voting_ends_at: datetime | None
    eligible: int | None = Field(description="Households (or residents) frozen when voting opened")
    rating: RatingSummary
    turnout: int | None = Field(default=None, description="While voting: electors who voted")
    my_vote: Choice | None = Field(
        default=None, description="While voting: the caller's household's current vote"
    )
    tally: Tally | None = Field(default=None, description="While voting, workers only")
    result: VoteResult | None = Field(default=None, description="Once the vote closed")


class ProposalPage(Page):
    items: list[ProposalView]


class AuditEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(Page):
    items: list[AuditEntry]


class VoteDone(BaseModel):
    choice: Choice
    changed: bool = Field(description="The elector had voted otherwise before")


class CommentView(BaseModel):
    id: int
    text: str | None = Field(description="null when hidden, except for workers")
    hidden: bool
    hidden_reason: str | None
    mine: bool = Field(description="The caller wrote it")
    created_at: datetime


class CommentPage(Page):
    items: list[CommentView]


class CommentMade(BaseModel):
    id: int


class CommentHidden(BaseModel):
    id: int
    hidden: bool = Field(description="Always true")
