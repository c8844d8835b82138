"""``GET /api/v1/dashboard``: the week's figures for the console, to workers only."""

from __future__ import annotations

from aiohttp import web

from handlers.api import now, require
from handlers.dashboard import service
from handlers.dashboard.schemas import DashboardView
from handlers.openapi import doc
from handlers.roles import CONSOLE

routes = web.RouteTableDef()


@routes.get("/api/v1/dashboard")
@doc(
    "The community's figures for the last eight weeks",
    tag="dashboard",
    auth=CONSOLE,
    response=DashboardView,
    description=(
        "Complaints per department and ISO week, time to resolve (median, p90), the latest "
        "votes' turnout, volunteer hours per week and what is waiting now."
    ),
    strict=True,
)
async def dashboard(request: web.Request) -> web.Response:
    who = await require(request, CONSOLE)
    return web.json_response(await service.dashboard(who.community_id, now(request)))
