"""``/api/v1/notices``: workers create, schedule and send notices and follow their progress;
residents mute kinds of notices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from handlers.api import API_DEPS, ApiError, body, caller, page_of, paging
from handlers.notices import service

routes = web.RouteTableDef()


def _now() -> datetime:
    return datetime.now(UTC)


def _id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise ApiError(404, "notice.error.not_found")
    return int(raw)


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ApiError(400, "notice.error.bad_schedule") from None
    if when.tzinfo is None:
        raise ApiError(400, "notice.error.bad_schedule")
    return when.astimezone(UTC)


@routes.post("/api/v1/notices")
async def create(request: web.Request) -> web.Response:
    """``{"title", "body", "scope": {"kind", "ids"}, "kind"?, "emergency"?, "channels"?,
    "scheduled_at"?, "send"?}``; with ``"send": true`` it goes out at once."""
    who = await caller(request)
    data = await body(request)
    now = _now()
    notice = await service.create(
        who,
        now,
        title=data.get("title"),
        body=data.get("body"),
        scope=data.get("scope"),
        kind=data.get("kind", "general"),
        emergency=data.get("emergency") is True,
        channels=data.get("channels", ["oa"]),
        scheduled_at=_when(data.get("scheduled_at")),
        needs_approval=request.app[API_DEPS].needs_approval,
    )
    if data.get("send") is True and notice.status == "draft":
        notice = await service.send_now(who, notice.id, now)
    return web.json_response(await service.progress(notice), status=201)


@routes.post("/api/v1/notices/mutes")
async def mute(request: web.Request) -> web.Response:
    """``{"kind": "...", "muted": true|false}``: the caller's muted kinds afterwards."""
    who = await caller(request)
    data = await body(request)
    muted = data.get("muted", True)
    if not isinstance(muted, bool):
        raise ApiError(400, "notice.error.bad_kind")
    return web.json_response({"muted": await service.mute(who, data.get("kind"), muted)})


@routes.get("/api/v1/notices/groups")
async def groups(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response({"items": await service.list_groups(who)})


@routes.post("/api/v1/notices/groups")
async def register_group(request: web.Request) -> web.Response:
    """``{"name", "webhook_key", "scope"}``: the robot of a group chat (re-posting updates it)."""
    who = await caller(request)
    data = await body(request)
    group = await service.register_group(
        who, data.get("name"), data.get("webhook_key"), data.get("scope")
    )
    return web.json_response({"id": group.id, "name": group.name, "scope": group.scope}, status=201)


@routes.get("/api/v1/notices/{id}")
async def show(request: web.Request) -> web.Response:
    who = await caller(request)
    notice = await service.visible_notice(who, _id(request))
    return web.json_response(await service.progress(notice))


@routes.get("/api/v1/notices/{id}/failures")
async def failures(request: web.Request) -> web.Response:
    who = await caller(request)
    notice = await service.visible_notice(who, _id(request))
    page, per_page = paging(request)
    items, total = await service.failures(notice.id, page, per_page)
    return web.json_response(page_of(items, total, page, per_page))


@routes.post("/api/v1/notices/{id}/approve")
async def approve(request: web.Request) -> web.Response:
    who = await caller(request)
    notice = await service.approve(who, _id(request))
    return web.json_response({"status": notice.status, **await service.progress(notice)})


@routes.post("/api/v1/notices/{id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    who = await caller(request)
    notice = await service.cancel(who, _id(request))
    return web.json_response({"status": notice.status, **await service.progress(notice)})


@routes.post("/api/v1/notices/{id}/send")
async def send(request: web.Request) -> web.Response:
    who = await caller(request)
    notice = await service.send_now(who, _id(request), _now())
    return web.json_response(await service.progress(notice))
