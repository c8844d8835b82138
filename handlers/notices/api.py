"""``/api/v1/notices``: workers create, schedule and send notices and follow their progress;
residents mute kinds of notices.

Every endpoint but muting is for the community's workers: anyone else is refused (403)
before the body is read or the notice looked up.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from tortoise.functions import Count

from handlers.api import API_DEPS, ApiError, body, caller, page_of, paging, unstorable
from handlers.notices import rules, service
from handlers.notices import schemas as s
from handlers.openapi import Paging, doc
from handlers.roles import MANAGERS
from models.notices import Delivery, Notice
from models.residents import Resident

routes = web.RouteTableDef()
TAG = "notices"
MIN_YEAR, MAX_YEAR = 2000, 2999


def _now() -> datetime:
    return datetime.now(UTC)


def _id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise ApiError(404, "notice.error.not_found")
    return int(raw)


async def _sender(request: web.Request) -> Resident:
    """A worker of the caller's community; anyone else is refused before anything is read."""
    who = await caller(request)
    if not await service.is_sender(who):
        raise ApiError(403, "api.error.forbidden")
    return who


async def _body(request: web.Request) -> dict[str, Any]:
    data = await body(request)
    bad = unstorable(data)
    if bad:
        raise ApiError(400, "api.error.bad_field", name=bad)
    return data


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, "notice.error.bad_schedule")
    try:
        when = datetime.fromisoformat(value)
        if when.tzinfo is None:
            raise ApiError(400, "notice.error.bad_schedule")
        when = when.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ApiError(400, "notice.error.bad_schedule") from None
    if not MIN_YEAR <= when.year <= MAX_YEAR:
        raise ApiError(400, "notice.error.bad_schedule")
    return when


@routes.post("/api/v1/notices")
@doc(
    "Create a notice: a draft, scheduled, or sent at once",
    tag=TAG,
    auth=MANAGERS,
    body=s.NoticeBody,
    response=s.Progress,
    status=201,
    errors=(409,),
    description=(
        "With approval required (notices_need_approval) a worker's notice waits in "
        "pending_approval for an admin, whatever send says."
    ),
)
async def create(request: web.Request) -> web.Response:
    """``{"title", "body", "scope": {"kind", "ids"}, "kind"?, "emergency"?, "channels"?,
    "scheduled_at"?, "send"?}``; with ``"send": true`` it goes out at once."""
    who = await _sender(request)
    data = await _body(request)
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


@routes.get("/api/v1/notices")
@doc(
    "The community's notices with their delivery progress, newest first",
    tag=TAG,
    auth=MANAGERS,
    query=s.NoticeQuery,
    response=s.NoticePage,
)
async def list_notices(request: web.Request) -> web.Response:
    who = await _sender(request)
    page, per_page = paging(request)
    query = Notice.filter(community_id=who.community_id)  # type: ignore[attr-defined]
    status = request.query.get("status")
    if status is not None:
        if status not in {st.value for st in s.NoticeStatus}:
            raise ApiError(400, "api.error.bad_filter", name="status")
        query = query.filter(status=status)
    total = await query.count()
    notices = await query.order_by("-id").offset((page - 1) * per_page).limit(per_page)
    counts: dict[int, Counter[str]] = {n.id: Counter() for n in notices}
    for notice_id, state, n in (
        await Delivery.filter(notice_id__in=list(counts))
        .annotate(n=Count("id"))
        .group_by("notice_id", "status")
        .values_list("notice_id", "status", "n")
    ):
        counts[notice_id][state] += n
    items = [
        {
            "id": n.id,
            "title": n.title,
            "status": n.status,
            "scheduled_at": n.scheduled_at.isoformat() if n.scheduled_at else None,
            **rules.progress(counts[n.id]),
            "kind": n.kind,
            "emergency": n.emergency,
            "channels": n.channels,
            "created_at": n.created_at.isoformat(),
        }
        for n in notices
    ]
    return web.json_response(page_of(items, total, page, per_page))


@routes.post("/api/v1/notices/mutes")
@doc(
    "Mute or unmute a kind of notice for the caller (emergencies still come)",
    tag=TAG,
    body=s.MuteBody,
    response=s.Muted,
)
async def mute(request: web.Request) -> web.Response:
    """``{"kind": "...", "muted": true|false}``: the caller's muted kinds afterwards."""
    who = await caller(request)
    data = await _body(request)
    muted = data.get("muted", True)
    if not isinstance(muted, bool):
        raise ApiError(400, "notice.error.bad_kind")
    return web.json_response({"muted": await service.mute(who, data.get("kind"), muted)})


@routes.get("/api/v1/notices/groups")
@doc(
    "The community's group chat robots; their keys masked",
    tag=TAG,
    auth=MANAGERS,
    query=Paging,
    response=s.GroupPage,
)
async def groups(request: web.Request) -> web.Response:
    who = await _sender(request)
    page, per_page = paging(request)
    found = await service.list_groups(who)
    shown = found[(page - 1) * per_page : page * per_page]
    return web.json_response(page_of(shown, len(found), page, per_page))


@routes.post("/api/v1/notices/groups")
@doc(
    "Register a group chat's robot and the scope it speaks for (re-posting a name updates it)",
    tag=TAG,
    auth=MANAGERS,
    body=s.GroupBody,
    response=s.GroupMade,
    status=201,
)
async def register_group(request: web.Request) -> web.Response:
    """``{"name", "webhook_key", "scope"}``: the robot of a group chat (re-posting updates it)."""
    who = await _sender(request)
    data = await _body(request)
    group = await service.register_group(
        who, data.get("name"), data.get("webhook_key"), data.get("scope")
    )
    return web.json_response({"id": group.id, "name": group.name, "scope": group.scope}, status=201)


@routes.get("/api/v1/notices/{id}")
@doc("A notice and its delivery progress", tag=TAG, auth=MANAGERS, response=s.Progress)
async def show(request: web.Request) -> web.Response:
    who = await _sender(request)
    notice = await service.visible_notice(who, _id(request))
    return web.json_response(await service.progress(notice))


@routes.get("/api/v1/notices/{id}/failures")
@doc(
    "A notice's deliveries that failed or may not have arrived, oldest first",
    tag=TAG,
    auth=MANAGERS,
    query=Paging,
    response=s.FailurePage,
)
async def failures(request: web.Request) -> web.Response:
    who = await _sender(request)
    notice = await service.visible_notice(who, _id(request))
    page, per_page = paging(request)
    items, total = await service.failures(notice.id, page, per_page)
    return web.json_response(page_of(items, total, page, per_page))


@routes.post("/api/v1/notices/{id}/approve")
@doc(
    "An admin lets a notice waiting for approval go (to its schedule, or back to draft)",
    tag=TAG,
    auth=MANAGERS,
    response=s.Progress,
    errors=(409,),
)
async def approve(request: web.Request) -> web.Response:
    who = await _sender(request)
    notice = await service.approve(who, _id(request))
    return web.json_response({"status": notice.status, **await service.progress(notice)})


@routes.post("/api/v1/notices/{id}/cancel")
@doc(
    "Stop a notice: what no sender has claimed yet is never sent",
    tag=TAG,
    auth=MANAGERS,
    response=s.Progress,
    errors=(409,),
)
async def cancel(request: web.Request) -> web.Response:
    who = await _sender(request)
    notice = await service.cancel(who, _id(request))
    return web.json_response({"status": notice.status, **await service.progress(notice)})


@routes.post("/api/v1/notices/{id}/send")
@doc(
    "Send a draft now (or a scheduled notice early)",
    tag=TAG,
    auth=MANAGERS,
    response=s.Progress,
    errors=(409,),
)
async def send(request: web.Request) -> web.Response:
    who = await _sender(request)
    notice = await service.send_now(who, _id(request), _now())
    return web.json_response(await service.progress(notice))
