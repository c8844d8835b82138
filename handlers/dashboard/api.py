"""``GET /api/v1/dashboard``: the week's figures for the console, to workers only."""

from __future__ import annotations

from aiohttp import web

from handlers.api import now, require
from handlers.dashboard import service
from handlers.dashboard.schemas import DashboardView
from handlers.openapi import doc
from handlers.roles import CONSOLE, TALLY_READERS

routes = web.RouteTableDef()


@routes.get("/api/v1/dashboard")
@doc(
    "The community's figures for the last eight weeks",
    tag="dashboard",
    auth=CONSOLE,
    response=DashboardView,
    description=(
        "Complaints per department and ISO week, per building and week (anonymous tickets "
        "only as unplaced), the average rating per week, time to resolve (median, p90), the latest "
        "votes' turnout, volunteer hours per week and what is waiting now. An open vote's "
        "yes, no and abstain are null unless the caller reads live tallies (tally_readers: "
        "community workers and admins), as in the proposals API."
    ),
)
async def dashboard(request: web.Request) -> web.Response:
    who = await require(request, CONSOLE)
    figures = await service.dashboard(
        who.community_id, now(request), live_tallies=who.has(TALLY_READERS)
    )
    return web.json_response(figures)
