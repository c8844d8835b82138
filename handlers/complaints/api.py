"""``/api/v1/complaints``: intake for residents, the ticket loop for handlers, stats for workers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from tortoise.expressions import Q

from handlers.api import ApiError, body, caller, page_of, paging
from handlers.complaints import service
from handlers.complaints.rules import Status
from handlers.complaints.service import ComplaintError
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


def _now() -> datetime:
    return datetime.now(UTC)


def _id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(404, "ticket.error.not_found", number=raw[:12])
    return int(raw)


@routes.post("/api/v1/complaints")
async def create(request: web.Request) -> web.Response:
    resident = await caller(request)
    data = await body(request)
    media = data.get("media") or []
    location = data.get("location")
    if not isinstance(media, list) or not all(isinstance(m, str) for m in media):
        raise ApiError(400, "api.error.bad_field", name="media")
    if location is not None and not _valid_location(location):
        raise ApiError(400, "api.error.bad_field", name="location")
    try:
        ticket = await service.intake(
            resident,
            str(data.get("text") or ""),
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
        and -90 <= lat <= 90
        and -180 <= lng <= 180
    )


@routes.get("/api/v1/complaints")
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
    total = await query.count()
    found = await query.order_by("-id").offset((page - 1) * per_page).limit(per_page)
    items = [await service.view(t, for_staff=as_staff) for t in found]
    return web.json_response(page_of(items, total, page, per_page))


@routes.get("/api/v1/complaints/stats")
async def stats(request: web.Request) -> web.Response:
    resident = await caller(request)
    staff = await service.staff(resident)
    if not staff.roles & {Role.COMMUNITY_WORKER, Role.ADMIN}:
        raise ApiError(403, "ticket.error.forbidden")
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
async def get_ticket(request: web.Request) -> web.Response:
    resident = await caller(request)
    staff = await service.staff(resident)
    ticket = await Ticket.get_or_none(id=_id(request), community_id=resident.community_id)  # type: ignore[attr-defined]
    if ticket is not None and staff.sees(ticket):
        return web.json_response(await service.view(ticket, for_staff=True))
    if ticket is not None and ticket.reporter_id == resident.id:  # type: ignore[attr-defined]
        return web.json_response(await service.view(ticket, for_staff=False))
    raise ApiError(404, "ticket.error.not_found", number=request.match_info["id"][:12])


@routes.post("/api/v1/complaints/{id}/actions/{action}")
async def act(request: web.Request) -> web.Response:
    resident = await caller(request)
    staff = await service.staff(resident)
    data = await body(request) if request.can_read_body else {}
    try:
        ticket = await service.act(
            staff,
            _id(request),
            request.match_info["action"],
            _now(),
            note=_text(data.get("note")),
            photo=_text(data.get("photo")),
            department=_text(data.get("department")),
        )
    except ComplaintError as exc:
        raise _refused(exc) from None
    return web.json_response(await service.view(ticket, for_staff=True))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[: service.TEXT_MAX]


@routes.post("/api/v1/complaints/{id}/rating")
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
            resident, ticket.number, stars, str(data.get("comment") or ""), _now()
        )
    except ComplaintError as exc:
        raise _refused(exc) from None
    return web.json_response(await service.view(rated, for_staff=False))
