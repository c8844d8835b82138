"""What ``/api/v1/budget`` reads and answers, for the OpenAPI document.

Money is yuan to the fen. In a body it is a JSON string (``"12345.60"``) or a whole
number of yuan (``12345``), never a JSON number with a fraction: a float cannot hold
12345.60 exactly, so ``12345.6`` is refused (400, api.error.bad_field) rather than
rounded. In an answer it is always a string with two decimals (``"12345.60"``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, PlainSerializer, WithJsonSchema

from handlers.budget.menu import (
    COMMENT_MAX,
    PHOTOS_MAX,
    RESPONSIBLE_MAX,
    TEXT_MAX,
    TITLE_MAX,
)
from handlers.budget.money import PURPOSE_MAX, REASON_MAX, RECEIPTS_MAX
from handlers.budget.ordering import PICKS_MAX
from handlers.budget.rounds import SOURCE_NAME_MAX
from handlers.budget.rules import CENT
from handlers.canvass.rules import MEDIA_MAX, NOTE_MAX, RESPONDENT_MAX
from handlers.openapi import Page
from handlers.proposals.rules import Funding

Id = Annotated[int, Field(ge=1, le=999_999_999)]
# What residents type when ordering: a menu's item numbers, from 1.
Number = Annotated[int, Field(ge=1, le=999_999)]
MediaId = Annotated[str, Field(min_length=1, max_length=64)]
MONEY_PATTERN = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$"
MONEY_TEXT = (
    'Yuan to the fen: a string ("12345.60", at most two decimals, no separators) or a '
    "whole number of yuan (12345); a number with a fraction is refused"
)
# In a body: exact text or a whole number; never a float (strict parsing refuses 1.5 for
# an integer and a number for a string).
Money = Annotated[
    Annotated[int, Field(ge=1, le=9_999_999_999)]
    | Annotated[str, Field(pattern=MONEY_PATTERN, max_length=13)],
    Field(description=MONEY_TEXT, examples=["12345.60"]),
]


def _yuan(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT))


# In an answer: always "12345.60" (negative for a balance past the fund).
Yuan = Annotated[
    Decimal,
    PlainSerializer(_yuan, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?[0-9]+\.[0-9]{2}$",
            "description": 'Yuan to the fen, as an exact decimal string: "12345.60"',
        }
    ),
]
Phase = Literal[
    "collection", "review", "publicity", "ordering", "result", "implementation", "finished"
]
ItemStatus = Literal["listed", "withdrawn", "funded", "unfunded", "implementing", "accepted"]
Outcome = Literal["answered", "not_home", "refused", "vacant", "moved_out", "other"]


# --- requests ----------------------------------------------------------------
# What a model says is refused with api.error.bad_field; what it cannot say (a blank
# text, the round's phase, an amount of 0) the service refuses with the round's own message.


class PhasesIn(BaseModel):
    """The day each phase is planned to start, in this order (none before the one before);
    ordering lasts at least a day and ends when the result day starts (Beijing time)."""

    collection: date
    review: date
    publicity: date
    ordering: date
    result: date
    implementation: date


class SourceIn(BaseModel):
    kind: Funding = Field(description="区级, 街道, 上级补助, 居民自筹, 捐赠, 社区基金会")
    name: str = Field(default="", max_length=SOURCE_NAME_MAX)
    amount: Money


class RoundCreate(BaseModel):
    year: int = Field(ge=2000, le=2100, description="One round per community and year")
    title: str = Field(max_length=TITLE_MAX, description="Not blank")
    rule: str = Field(
        min_length=1,
        max_length=32,
        description='The name of a rule in config/budget_rules.toml ("fit", "any", "three")',
    )
    phases: PhasesIn
    sources: list[SourceIn] = Field(min_length=1, max_length=20)


class SourcesBody(BaseModel):
    sources: list[SourceIn] = Field(min_length=1, max_length=20)


class AdvanceBody(BaseModel):
    """Nothing is needed to move a round on; an admin closing ordering before every
    household is reached (全覆盖) gives the written reason (audited, on the result)."""

    override: str | None = Field(default=None, min_length=1, max_length=500)


class ScopeIn(BaseModel):
    kind: Literal["community", "grids", "buildings"]
    ids: list[Id] = Field(
        default_factory=list,
        max_length=200,
        description="Grid or building ids of the community (none for community)",
    )


class ItemCreate(BaseModel):
    """A reviewed proposal (``proposal_id``: its title, description, scope and photos unless
    given) or a department's project (``title`` required)."""

    proposal_id: Id | None = None
    title: str | None = Field(default=None, max_length=TITLE_MAX)
    description: str | None = Field(default=None, max_length=TEXT_MAX)
    cost: Money
    responsible: str = Field(max_length=RESPONSIBLE_MAX, description="Who carries it out")
    scope: ScopeIn | None = Field(default=None, description="Default: the proposal's, or all")
    photos: list[MediaId] = Field(
        default_factory=list, max_length=PHOTOS_MAX, description="Media ids from /api/v1/media"
    )


class ItemChange(BaseModel):
    """Review and costing (评议与测算): what is given changes, until the menu is published."""

    cost: Money | None = None
    responsible: str | None = Field(default=None, max_length=RESPONSIBLE_MAX)
    title: str | None = Field(default=None, max_length=TITLE_MAX)
    description: str | None = Field(default=None, max_length=TEXT_MAX)


class ReasonBody(BaseModel):
    reason: str = Field(max_length=COMMENT_MAX, description="Not blank; kept on record")


class CommentBody(BaseModel):
    text: str = Field(max_length=COMMENT_MAX, description="Not blank")


class OrderBody(BaseModel):
    """The household's whole order (点菜): the menu numbers it wants, replacing any before."""

    items: list[Number] = Field(max_length=PICKS_MAX)


class BallotBody(BaseModel):
    """A paper menu ballot filled in at the door, or a visit with the reason there was none.

    ``answered`` needs ``items`` (the numbers ticked, possibly none), ``respondent`` and
    ``method`` (``form``: the signed ballot, its photos as ``media`` ids from /api/v1/media).
    """

    household_id: Id
    outcome: Outcome
    items: list[Number] | None = Field(default=None, max_length=PICKS_MAX)
    respondent: str = Field(default="", max_length=RESPONDENT_MAX)
    method: Literal["form", "oral"] | None = None
    media: list[MediaId] = Field(default_factory=list, max_length=MEDIA_MAX)
    note: str = Field(default="", max_length=NOTE_MAX)
    visited_at: AwareDatetime | None = Field(default=None, description="Default: now")


class SpendingBody(BaseModel):
    amount: Money
    spent_on: date = Field(description="Not in the future")
    purpose: str = Field(max_length=PURPOSE_MAX, description="Not blank")
    receipts: list[MediaId] = Field(
        default_factory=list, max_length=RECEIPTS_MAX, description="Media ids from /api/v1/media"
    )
    over_reason: str | None = Field(
        default=None,
        max_length=REASON_MAX,
        description="Past the project's budget line: admins only, with this reason",
    )


class StepBody(BaseModel):
    action: Literal["start", "accept"] = Field(description="实施 (funded), then 验收")


class RatingBody(BaseModel):
    stars: int = Field(ge=1, le=5)


# --- responses ---------------------------------------------------------------


class PhasesView(BaseModel):
    collection: date
    review: date
    publicity: date
    ordering: date
    result: date
    implementation: date


class SourceView(BaseModel):
    kind: str
    name: str
    amount: Yuan


class RuleView(BaseModel):
    """The round's rule (config/budget_rules.toml), as frozen when ordering opened."""

    selection: Literal["any", "fit", "minimum", "count"]
    share: str = Field(description='For "minimum": an exact share of the fund, e.g. "7/10"')
    min_projects: int
    max_projects: int = Field(description="0: no limit")
    min_support: str = Field(description='An exact share of all eligible households: "1/10"')
    funding: Literal["skip", "stop"]
    tie_break: list[Literal["cheaper", "number"]]
    scoped: bool
    coverage: Literal["none", "all"]
    vacant: Literal["exclude", "count"]


class RoundView(BaseModel):
    id: int
    year: int
    title: str
    status: Phase
    phases: PhasesView
    rule_name: str
    rule: RuleView | None = Field(description="Frozen when ordering opened; null before")
    fund: Yuan = Field(description="The sum of the sources")
    sources: list[SourceView]
    ordering_opened_at: datetime | None
    ordering_ends_at: datetime | None
    eligible_count: int | None = Field(description="Households frozen when ordering opened")
    closed_at: datetime | None
    has_result: bool


class RoundList(BaseModel):
    items: list[RoundView]


class ScopeView(BaseModel):
    kind: Literal["community", "grids", "buildings"]
    ids: list[int]


class ItemView(BaseModel):
    number: int = Field(description="What a household orders by")
    title: str
    description: str
    cost: Yuan
    responsible: str
    scope: ScopeView
    photos: list[str]
    origin: Literal["proposal", "department"]
    proposal_id: int | None
    status: ItemStatus
    budget: Yuan | None = Field(description="The funded budget line, once the result is in")
    support: int | None = Field(
        default=None, description="Households that ordered it: only once the result is in"
    )
    standing: Literal["funded", "below_support", "no_money"] | None = Field(
        default=None, description="Once the result is in"
    )
    rank: int | None = Field(default=None, description="Once the result is in")


class MenuView(BaseModel):
    round_id: int
    status: Phase
    published: bool = Field(description="Residents see the items once the menu is published")
    items: list[ItemView]


class CommentView(BaseModel):
    id: int
    text: str
    hidden: bool
    hidden_reason: str | None = Field(description="Managers only see hidden comments")
    mine: bool = Field(description="The caller wrote it")
    created_at: datetime


class CommentPage(Page):
    items: list[CommentView]


class CommentMade(BaseModel):
    id: int


class CommentHidden(BaseModel):
    id: int
    hidden: bool = Field(description="Always true")


class BallotItem(BaseModel):
    number: int
    title: str
    cost: Yuan
    allowed: bool = Field(description="Its scope takes in the caller's household")


class BallotView(BaseModel):
    """The caller's household's ballot while ordering is open."""

    round_id: int
    items: list[int] = Field(description="The household's current order (menu numbers)")
    allowed: list[int] = Field(description="The numbers the household may order")
    menu: list[BallotItem]
    fund: Yuan
    left: Yuan | None = Field(
        description='What the current order leaves of the fund; null under "any" and "count"'
    )
    minimum: Yuan | None = Field(description='Under "minimum": the least an order must cost')
    rule: RuleView
    ordering_ends_at: datetime | None


class OrderDone(BaseModel):
    items: list[int] = Field(description="The order as stored: menu numbers, each once, sorted")
    previous: list[int] | None = Field(description="The order it replaced; null for a first")
    left: Yuan | None = Field(description='What it leaves of the fund; null under "any"/"count"')


class Figures(BaseModel):
    eligible: int
    online: int
    in_person: int
    visited: int = Field(description="Visited, no ballot (the reason recorded)")
    not_reached: int
    reached: int
    vacant: int
    reasons: dict[str, int]


class GridFigures(Figures):
    grid: str


class BuildingFigures(Figures):
    building: str


class CoverageView(BaseModel):
    round_id: int
    status: Phase
    coverage_rule: Literal["none", "all"]
    total: Figures
    grids: list[GridFigures]
    buildings: list[BuildingFigures]
    live_support: bool = Field(
        description=(
            "Whether the caller reads live tallies (tally_readers); this view carries no "
            "support either way: projects' support is counted once, at close"
        )
    )


class DoorView(BaseModel):
    household_id: int
    grid: str
    building: str
    unit: str
    room: str
    state: Literal["not_reached", "visited"]


class DoorList(BaseModel):
    items: list[DoorView]


class BallotDone(BaseModel):
    visit_id: int
    household_id: int
    state: Literal["in_person", "visited"]
    items: list[int] | None = Field(description="The order recorded, for an answered ballot")
    previous: list[int] | None = Field(description="The household's order it replaced")


class ResultItem(BaseModel):
    number: int
    title: str
    cost: Yuan
    support: int = Field(description="Households whose latest order holds it")
    eligible: int = Field(description="Households of its scope that count")
    needed: int = Field(description="The support the rule asks of it")
    standing: Literal["funded", "below_support", "no_money"]
    rank: int


class ResultReach(BaseModel):
    online: int
    in_person: int
    visited: int
    not_reached: int
    vacant: int
    reasons: dict[str, int]


class ResultBuilding(BaseModel):
    building: str
    eligible: int
    online: int
    in_person: int
    visited: int
    not_reached: int


class Override(BaseModel):
    by: str
    reason: str


class ResultView(BaseModel):
    """Counted once, when ordering closed, with its inputs and the rule that decided."""

    round_id: int
    closed_at: datetime | None
    fund: Yuan
    sources: list[SourceView]
    rule: RuleView
    eligible: int
    vacant_excluded: int
    orders: int
    items: list[ResultItem] = Field(description="By rank")
    funded: list[int]
    spent: Yuan
    left: Yuan
    coverage: ResultReach
    buildings: list[ResultBuilding]
    digest: str = Field(description="Seals every household's chain of orders")
    override: Override | None = Field(
        default=None, description="An admin closed it before every household was reached"
    )


class ProjectMoney(BaseModel):
    number: int
    title: str
    responsible: str
    status: ItemStatus
    budget: Yuan
    spent: Yuan
    left: Yuan
    ratings: int
    stars: float | None = Field(description="Average satisfaction, to a tenth; null if none")


class FinancesView(BaseModel):
    """资金公开: the fund, its sources, each funded project's spending, and the balance."""

    round_id: int
    year: int
    title: str
    status: Phase
    fund: Yuan
    sources: list[SourceView]
    budgeted: Yuan
    spent: Yuan
    balance: Yuan
    projects: list[ProjectMoney]


class SpendingView(BaseModel):
    id: int
    amount: Yuan
    spent_on: date
    purpose: str
    receipts: list[str]
    over_reason: str | None


class SpendingList(BaseModel):
    items: list[SpendingView]


class Rated(BaseModel):
    number: int
    stars: int


def dumped(model: type[BaseModel], data: Any) -> dict[str, Any]:
    """``data`` (a service's dict) as the model answers it in JSON."""
    return model.model_validate(data).model_dump(mode="json")
