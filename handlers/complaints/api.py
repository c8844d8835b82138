"""``/api/v1/complaints``: intake for residents, the ticket loop for handlers, stats for workers.

Every route's ``@doc`` role, query and body run before the handler (see
``handlers.api``), and the service's ``Refused`` carries the status the caller gets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from handlers.api import (
    caller,
    deps,
    now,
    page_of,
    parsed,
    path_id,
    queried,
    request_language,
    require,
    slice_of,
)
from handlers.complaints import register, rules, service
from handlers.complaints import schemas as s
from handlers.media.service import attach_own
from handlers.openapi import doc
from handlers.records.workbook import XLSX
from handlers.refusal import Refused
from handlers.roles import MANAGERS, TICKET_STAFF, Who
from models.complaints import Ticket

routes = web.RouteTableDef()

TAG = "complaints"
NOT_FOUND = "ticket.error.not_found"


def _ticket_id(request: web.Request) -> int:
    """The ``{id}`` of the path; anything but an id is the ticket's own 404."""
    return path_id(request, "id", NOT_FOUND, number=request.match_info["id"][:12])


def _due(ticket: Ticket) -> datetime | None:
    # Before acceptance a ticket races the accept deadline, after it the resolve deadline.
    return rules.current_deadline(
        ticket.status, ticket.accepted_at, ticket.accept_due_at, ticket.resolve_due_at
    )


async def _staff_view(ticket: Ticket, now: datetime, one: Who | None = None) -> dict[str, Any]:
    """The staff view; of one ticket, for ``one``, also its timeline, links and their steps."""
    data = await service.view(ticket, for_staff=True)
    due = _due(ticket)
    data["due_at"] = None if due is None else due.isoformat()
    data["overdue"] = due is not None and now >= due
    if one is not None:
        data.update(await service.detail(ticket, one))
    return data


@routes.post("/api/v1/complaints")
@doc(
    "Report a problem: it is routed to a department and numbered",
    tag=TAG,
    body=s.TicketCreate,
    response=s.TicketView,
    status=201,
)
async def create(request: web.Request) -> web.Response:
    resident = await caller(request)
    report = parsed(request, s.TicketCreate)
    ticket = await service.intake(
        resident,
        report.text,
        now(request),
        media=report.media,
        location=None if report.location is None else report.location.model_dump(),
        anonymous=report.anonymous,
        channel="miniprogram",
    )
    await attach_own(list(ticket.media), await require(request), "ticket", ticket.id)
    return web.json_response(await service.view(ticket, for_staff=False), status=201)


@routes.get("/api/v1/complaints")
@doc(
    "List tickets: a resident's own reports, or the ones a handler or worker handles",
    tag=TAG,
    query=s.TicketQuery,
    response=s.TicketPage,
    description=(
        "Staff get the staff fields, the current step's deadline (due_at) and whether it "
        "has passed (overdue); mine=true gives anyone their own reports as a reporter."
    ),
)
async def list_tickets(request: web.Request) -> web.Response:
    who = await require(request)
    asked = queried(request, s.TicketQuery)
    as_staff = who.has(TICKET_STAFF) and not asked.mine
    if as_staff:
        query = service.staff_tickets(who)
    else:
        query = Ticket.filter(community_id=who.community_id, reporter_id=who.id)
    if asked.status is not None:
        query = query.filter(status=asked.status.value)
    if asked.department is not None:
        query = query.filter(department=asked.department.value)
    total, found = await slice_of(query, "-id", asked.page, asked.per_page)
    at = now(request)
    items = [
        await _staff_view(t, at) if as_staff else await service.view(t, for_staff=False)
        for t in found
    ]
    return web.json_response(page_of(items, total, asked.page, asked.per_page))


@routes.get("/api/v1/complaints/stats")
@doc(
    "Weekly figures for the console: counts, time to accept and resolve, satisfaction",
    tag=TAG,
    auth=MANAGERS,
    query=s.StatsQuery,
    response=s.Stats,
)
async def stats(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    weeks = queried(request, s.StatsQuery).weeks
    return web.json_response(await service.stats(who.community_id, now(request), weeks))


@routes.get("/api/v1/tickets/register.xlsx")
@doc(
    "诉求登记台账: the month's tickets, one row each, as .xlsx for the records",
    tag=TAG,
    auth=TICKET_STAFF,
    query=s.RegisterQuery,
    content_type=XLSX,
    description=(
        "The tickets received that month that the caller lists as staff (managers all, "
        "handlers their departments', grid workers their grids'); no phone or openid, and "
        "for an anonymous ticket no reporter, grid or building."
    ),
)
async def ticket_register(request: web.Request) -> web.Response:
    who = await require(request, TICKET_STAFF)
    year, month = queried(request, s.RegisterQuery).year_month(now(request))
    language = request_language(request)
    translate = deps(request).translate
    body = await register.register_xlsx(
        who, year, month, lambda msgid, **params: translate(language, msgid, **params)
    )
    name = f"ticket-register-{year:04d}-{month:02d}.xlsx"
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.get("/api/v1/complaints/{id}")
@doc(
    "One ticket: its reporter's view, or the staff view for those handling it",
    tag=TAG,
    response=s.TicketView,
    description=(
        "The staff view of one ticket adds its timeline (the audit trail), the reports "
        "linked to it and the steps the caller may take. The reporter is named to staff "
        "(never on an anonymous ticket); no phone or openid to anyone."
    ),
)
async def get_ticket(request: web.Request) -> web.Response:
    who = await require(request)
    ticket = await Ticket.get_or_none(id=_ticket_id(request), community_id=who.community_id)
    if ticket is not None and service.sees(who, ticket):
        return web.json_response(await _staff_view(ticket, now(request), one=who))
    if ticket is not None and ticket.reporter_id == who.id:
        return web.json_response(await service.view(ticket, for_staff=False))
    raise Refused(NOT_FOUND, 404, number=request.match_info["id"][:12])


@routes.post("/api/v1/complaints/{id}/actions/{action}")
@doc(
    "A handler's or worker's step on a ticket",
    tag=TAG,
    auth=TICKET_STAFF,
    body=s.TicketActionBody,
    response=s.TicketView,
    errors=(409,),
    path=s.ACTION_PATH,
    description=(
        "For department handlers (their department's tickets), grid workers (their grid's) "
        "and community workers; plain residents get 403. The body is optional; escalate "
        "is for workers only."
    ),
)
async def act(request: web.Request) -> web.Response:
    who = await require(request, TICKET_STAFF)
    action = request.match_info["action"]
    if action not in {a.value for a in s.Action}:
        raise Refused("api.error.not_found", 404)
    step = parsed(request, s.TicketActionBody)
    ticket = await service.act(
        who,
        _ticket_id(request),
        action,
        now(request),
        note=step.note,
        photo=step.photo,
        department=None if step.department is None else step.department.value,
    )
    return web.json_response(await _staff_view(ticket, now(request), one=who))


@routes.post("/api/v1/complaints/{id}/rating")
@doc(
    "The reporter rates a resolved ticket",
    tag=TAG,
    body=s.TicketRating,
    response=s.TicketView,
    errors=(409,),
)
async def rate(request: web.Request) -> web.Response:
    resident = await caller(request)
    rating = parsed(request, s.TicketRating)
    ticket = await Ticket.get_or_none(id=_ticket_id(request), reporter_id=resident.id)
    if ticket is None:
        raise Refused(NOT_FOUND, 404, number=request.match_info["id"][:12])
    rated = await service.rate(resident, ticket.number, rating.stars, rating.comment, now(request))
    return web.json_response(await service.view(rated, for_staff=False))
