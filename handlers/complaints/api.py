"""``/api/v1/complaints``: intake for residents, the ticket loop for handlers, stats for workers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from tortoise.expressions import Q

from handlers.api import ApiError, body, caller, page_of, paging, slice_of, storable
from handlers.complaints import rules, service
from handlers.complaints.rules import Status
from handlers.complaints.schemas import (
    ACTION_PATH,
    MEDIA_MAX,
    PHOTO_MAX,
    Action,
    Stats,
    StatsQuery,
    TicketActionBody,
    TicketCreate,
    TicketPage,
    TicketQuery,
    TicketRating,
    TicketView,
)
from handlers.complaints.service import ComplaintError
from handlers.openapi import doc
from handlers.roles import TICKET_STAFF
from models.complaints import Ticket
from models.residents import Role

routes = web.RouteTableDef()

STATUS_OF_ERROR = {
    "ticket.error.not_found": 404,
    "ticket.error.forbidden": 403,
    "ticket.error.changed_meanwhile": 409,
    "ticket.error.illegal_transition": 409,
    "ticket.error.not_resolved": 409,
    "ticket.error.reopen_used": 409,
}


def _refused(exc: ComplaintError) -> ApiError:
    return ApiError(STATUS_OF_ERROR.get(exc.code, 400), exc.code, **exc.params)


TAG = "complaints"
WORKERS = frozenset({Role.COMMUNITY_WORKER, Role.ADMIN})
# Before acceptance a ticket races the accept deadline, after it the resolve deadline.


def _now() -> datetime:
    return datetime.now(UTC)


def _string(data: dict[str, Any], name: str, limit: int | None = None) -> str | None:
    """A text field of the body, None when absent or null; anything but text is refused."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not storable(value) or (limit and len(value) > limit):
        raise ApiError(400, "api.error.bad_field", name=name)
    return value


def _due(ticket: Ticket) -> datetime | None:
    return rules.current_deadline(
        ticket.status, ticket.accepted_at, ticket.accept_due_at, ticket.resolve_due_at
    )


async def _staff_view(ticket: Ticket, now: datetime) -> dict[str, Any]:
    data = await service.view(ticket, for_staff=True)
    due = _due(ticket)
    data["due_at"] = None if due is None else due.isoformat()
    data["overdue"] = due is not None and now >= due
    return data


def _id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(404, "ticket.error.not_found", number=raw[:12])
    return int(raw)


@routes.post("/api/v1/complaints")
@doc(
    "Report a problem: it is routed to a department and numbered",
    tag=TAG,
    body=TicketCreate,
    response=TicketView,
    status=201,
)
async def create(request: web.Request) -> web.Response:
    resident = await caller(request)
    data = await body(request)
    media = data.get("media")
    media = [] if media is None else media
    if not isinstance(media, list) or not all(
        isinstance(m, str) and storable(m) and len(m) <= MEDIA_MAX for m in media
    ):
        raise ApiError(400, "api.error.bad_field", name="media")
    location = data.get("location")
    if location is not None:
        if not _valid_location(location):
            raise ApiError(400, "api.error.bad_field", name="location")
        location = {"lat": location["lat"], "lng": location["lng"]}
    try:
        ticket = await service.intake(
            resident,
            _string(data, "text") or "",
            _now(),
            media=media,
            location=location,
            anonymous=data.get("anonymous") is True,
        )
    except ComplaintError as exc:
        raise _refused(exc) from None
    return web.json_response(await service.view(ticket, for_staff=False), status=201)


def _valid_location(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    lat, lng = value.get("lat"), value.get("lng")
    return (
        isinstance(lat, int | float)
        and isinstance(lng, int | float)
        and not isinstance(lat, bool)
        and not isinstance(lng, bool)
        and -90 <= lat <= 90
        and -180 <= lng <= 180
    )


@routes.get("/api/v1/complaints")
@doc(
    "List tickets: a resident's own reports, or the ones a handler or worker handles",
    tag=TAG,
    query=TicketQuery,
    response=TicketPage,
    description=(
        "Staff get the staff fields, the current step's deadline (due_at) and whether it "
        "has passed (overdue); mine=true gives anyone their own reports as a reporter."
    ),
)
async def list_tickets(request: web.Request) -> web.Response:
    resident = await caller(request)
    staff = await service.staff(resident)
    page, per_page = paging(request)
    query = Ticket.filter(community_id=resident.community_id)  # type: ignore[attr-defined]
    if request.query.get("mine") in {"1", "true"} or not staff.is_staff:
        query = query.filter(reporter_id=resident.id)
        as_staff = False
    else:
        as_staff = True
        if not staff.roles & {Role.COMMUNITY_WORKER, Role.ADMIN}:
            query = query.filter(
                Q(department__in=list(staff.departments)) | Q(grid_id__in=list(staff.grids))
            )
    status = request.query.get("status")
    if status:
        if status not in {s.value for s in Status}:
            raise ApiError(400, "api.error.bad_filter", name="status")
        query = query.filter(status=status)
    department = request.query.get("department")
    if department:
        if department not in service.departments():
            raise ApiError(400, "api.error.bad_filter", name="department")
        query = query.filter(department=department)
    total, found = await slice_of(query, "-id", page, per_page)
    now = _now()
    items = [
        await _staff_view(t, now) if as_staff else await service.view(t, for_staff=False)
        for t in found
    ]
    return web.json_response(page_of(items, total, page, per_page))


@routes.get("/api/v1/complaints/stats")
@doc(
    "Weekly figures for the console: counts, time to accept and resolve, satisfaction",
    tag=TAG,
    auth=TICKET_STAFF,
    query=StatsQuery,
    response=Stats,
)
async def stats(request: web.Request) -> web.Response:
    resident = await caller(request)
    staff = await service.staff(resident)
    if not staff.roles & WORKERS:
        raise ApiError(403, "api.error.forbidden")
    try:
        weeks = int(request.query.get("weeks", "8"))
    except ValueError:
        raise ApiError(400, "api.error.bad_filter", name="weeks") from None
    if not 1 <= weeks <= 104:
        raise ApiError(400, "api.error.bad_filter", name="weeks")
    return web.json_response(
        await service.stats(resident.community_id, _now(), weeks)  # type: ignore[attr-defined]
    )


@routes.get("/api/v1/complaints/{id}")
@doc(
    "One ticket: its reporter's view, or the staff view for those handling it",
    tag=TAG,
    response=TicketView,
)
async def get_ticket(request: web.Request) -> web.Response:
    resident = await caller(request)
    staff = await service.staff(resident)
    ticket = await Ticket.get_or_none(id=_id(request), community_id=resident.community_id)  # type: ignore[attr-defined]
    if ticket is not None and staff.sees(ticket):
        return web.json_response(await _staff_view(ticket, _now()))
    if ticket is not None and ticket.reporter_id == resident.id:  # type: ignore[attr-defined]
        return web.json_response(await service.view(ticket, for_staff=False))
    raise ApiError(404, "ticket.error.not_found", number=request.match_info["id"][:12])


@routes.post("/api/v1/complaints/{id}/actions/{action}")
@doc(
    "A handler's or worker's step on a ticket",
    tag=TAG,
    auth=TICKET_STAFF,
    body=TicketActionBody,
    response=TicketView,
    errors=(409,),
    path=ACTION_PATH,
    description=(
        "For department handlers (their department's tickets), grid workers (their grid's) "
        "and community workers; plain residents get 403. The body is optional; escalate "
        "is for workers only."
    ),
)
async def act(request: web.Request) -> web.Response:
    resident = await caller(request)
    staff = await service.staff(resident)
    if not staff.is_staff:
        raise ApiError(403, "api.error.forbidden")
    action = request.match_info["action"]
    if action not in {a.value for a in Action}:
        raise ApiError(404, "api.error.not_found")
    ticket_id = _id(request)
    data = await body(request) if request.can_read_body else {}
    try:
        ticket = await service.act(
            staff,
            ticket_id,
            action,
            _now(),
            note=_string(data, "note", service.TEXT_MAX),
            photo=_string(data, "photo", PHOTO_MAX),
            department=_string(data, "department", 64),
        )
    except ComplaintError as exc:
        raise _refused(exc) from None
    return web.json_response(await _staff_view(ticket, _now()))


@routes.post("/api/v1/complaints/{id}/rating")
@doc(
    "The reporter rates a resolved ticket",
    tag=TAG,
    body=TicketRating,
    response=TicketView,
    errors=(409,),
)
async def rate(request: web.Request) -> web.Response:
    resident = await caller(request)
    data = await body(request)
    stars = data.get("stars")
    if not isinstance(stars, int) or isinstance(stars, bool):
        raise ApiError(400, "ticket.error.bad_stars")
    ticket = await Ticket.get_or_none(id=_id(request), reporter_id=resident.id)
    if ticket is None:
        raise ApiError(404, "ticket.error.not_found", number=request.match_info["id"][:12])
    try:
        rated = await service.rate(
            resident, ticket.number, stars, _string(data, "comment") or "", _now()
        )
    except ComplaintError as exc:
        raise _refused(exc) from None
    return web.json_response(await service.view(rated, for_staff=False))
