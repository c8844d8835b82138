"""``GET /api/v1/dashboard``: the week's figures for the console, to workers only."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from handlers.api import ApiError, caller
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
)
async def dashboard(request: web.Request) -> web.Response:
    resident = await caller(request)
    if not await service.is_worker(resident):
        raise ApiError(403, "api.error.forbidden")
    figures = await service.dashboard(resident.community_id, datetime.now(UTC))  # type: ignore[attr-defined]
    return web.json_response(figures)
