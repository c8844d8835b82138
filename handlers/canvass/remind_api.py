"""``POST /api/v1/proposals/{id}/remind``: remind the households that have not answered."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from handlers.api import now, path_id, require
from handlers.canvass.remind import remind_gap
from handlers.openapi import doc
from handlers.roles import MANAGERS

routes = web.RouteTableDef()


class GridToVisit(BaseModel):
    grid_id: int | None = Field(description="Null for households of buildings in no grid")
    grid: str
    to_visit: int = Field(ge=0, description="Households not answered yet in this grid")


class RemindDone(BaseModel):
    households: int = Field(ge=0, description="Households whose residents were messaged now")
    residents: int = Field(ge=0, description="Bound residents messaged now")
    skipped_today: int = Field(ge=0, description="Not answered, but reminded today already")
    grids: list[GridToVisit]


@routes.post("/api/v1/proposals/{id}/remind")
@doc(
    "Remind the households that have not answered a vote yet, and their grid workers",
    tag="canvass",
    auth=MANAGERS,
    response=RemindDone,
    errors=(404, 409),
    description=(
        "The bound residents of each unanswered household get a message telling them how "
        "to vote, at most once a day (Beijing date) per household; each grid's workers "
        "hear how many households are left to visit. Households nobody is bound to are "
        "only counted for their grid."
    ),
)
async def remind(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    raw = request.match_info["id"]
    proposal_id = path_id(request, "id", "proposal.error.not_found", id=raw[:12])
    return web.json_response(await remind_gap(who, proposal_id, now(request)))
