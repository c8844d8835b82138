"""``/api/v1/notices``: workers create, schedule and send notices and follow their progress;
residents mute kinds of notices.

Every endpoint but muting is for the community's workers (``MANAGERS``; approving for
its admins): anyone else is refused (403) before the body is read or the notice looked
up. Bodies and queries are the ``schemas`` models, validated strictly by the middleware.
"""

from __future__ import annotations

from aiohttp import web

from handlers.api import API_DEPS, caller, now, page_of, parsed, path_id, queried, require
from handlers.notices import customer, service
from handlers.notices import schemas as s
from handlers.openapi import Paging, doc
from handlers.roles import ADMINS, MANAGERS

routes = web.RouteTableDef()
TAG = "notices"


def _notice_id(request: web.Request) -> int:
    return path_id(request, "id", "notice.error.not_found")


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
    who = await require(request, MANAGERS)
    body = parsed(request, s.NoticeBody)
    at = now(request)
    notice = await service.create(
        who,
        at,
        title=body.title,
        body=body.body,
        scope=body.scope.stored(),
        kind=body.kind,
        emergency=body.emergency,
        channels=[str(c) for c in body.channels],
        scheduled_at=body.scheduled_at,
        needs_approval=request.app[API_DEPS].needs_approval,
    )
    if body.send and notice.status == "draft":
        notice = await service.send_now(who, notice.id, at)
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
    who = await require(request, MANAGERS)
    query = queried(request, s.NoticeQuery)
    status = None if query.status is None else str(query.status)
    items, total = await service.list_notices(who, status, query.page, query.per_page)
    return web.json_response(page_of(items, total, query.page, query.per_page))


@routes.post("/api/v1/notices/mutes")
@doc(
    "Mute or unmute a kind of notice for the caller (emergencies still come)",
    tag=TAG,
    body=s.MuteBody,
    response=s.Muted,
)
async def mute(request: web.Request) -> web.Response:
    """``{"kind": "...", "muted": true|false}``: the caller's muted kinds afterwards."""
    body = parsed(request, s.MuteBody)
    return web.json_response(
        {"muted": await service.mute(await caller(request), body.kind, body.muted)}
    )


@routes.get("/api/v1/notices/groups")
@doc(
    "The community's group chat robots; their keys masked",
    tag=TAG,
    auth=MANAGERS,
    query=Paging,
    response=s.GroupPage,
)
async def groups(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    paging = queried(request, Paging)
    page, per_page = paging.page, paging.per_page
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
    who = await require(request, MANAGERS)
    body = parsed(request, s.GroupBody)
    group = await service.register_group(who, body.name, body.webhook_key, body.scope.stored())
    return web.json_response({"id": group.id, "name": group.name, "scope": group.scope}, status=201)


@routes.get("/api/v1/notices/customer-groups")
@doc(
    "The community's WeCom customer groups (客户群) that notices reach by mass sending",
    tag=TAG,
    auth=MANAGERS,
    query=Paging,
    response=s.CustomerGroupPage,
)
async def customer_groups(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    paging = queried(request, Paging)
    items, total = await customer.list_groups(who, paging.page, paging.per_page)
    return web.json_response(page_of(items, total, paging.page, paging.per_page))


@routes.post("/api/v1/notices/customer-groups")
@doc(
    "Register a customer group, its owner and the scope it serves (re-posting its chat id "
    "updates it)",
    tag=TAG,
    auth=MANAGERS,
    body=s.CustomerGroupBody,
    response=s.CustomerGroupView,
    status=201,
)
async def register_customer_group(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    body = parsed(request, s.CustomerGroupBody)
    group = await customer.register(who, body.chat_id, body.name, body.owner, body.scope.stored())
    return web.json_response(customer.view(group), status=201)


@routes.post("/api/v1/notices/preview")
@doc(
    "A draft as each channel will say it, and to how many recipients, before it is created",
    tag=TAG,
    auth=MANAGERS,
    body=s.NoticeDraft,
    response=s.Preview,
)
async def preview_draft(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    body = parsed(request, s.NoticeDraft)
    notice = await service.draft(
        who,
        title=body.title,
        body=body.body,
        scope=body.scope.stored(),
        kind=body.kind,
        emergency=body.emergency,
        channels=[str(c) for c in body.channels],
    )
    return web.json_response(await service.preview(notice))


@routes.get("/api/v1/notices/{id}")
@doc("A notice and its delivery progress", tag=TAG, auth=MANAGERS, response=s.Progress)
async def show(request: web.Request) -> web.Response:
    notice = await service.visible_notice(await require(request, MANAGERS), _notice_id(request))
    return web.json_response(await service.progress(notice))


@routes.get("/api/v1/notices/{id}/preview")
@doc(
    "A notice as each channel says it, and to how many recipients it goes now",
    tag=TAG,
    auth=MANAGERS,
    response=s.Preview,
)
async def preview(request: web.Request) -> web.Response:
    notice = await service.visible_notice(await require(request, MANAGERS), _notice_id(request))
    return web.json_response(await service.preview(notice))


@routes.get("/api/v1/notices/{id}/delivery")
@doc(
    "A notice's progress on each channel, and how it fared in each customer group",
    tag=TAG,
    auth=MANAGERS,
    response=s.Delivery,
)
async def delivery(request: web.Request) -> web.Response:
    notice = await service.visible_notice(await require(request, MANAGERS), _notice_id(request))
    return web.json_response(await service.delivery(notice))


@routes.get("/api/v1/notices/{id}/failures")
@doc(
    "A notice's deliveries that failed or may not have arrived, oldest first",
    tag=TAG,
    auth=MANAGERS,
    query=Paging,
    response=s.FailurePage,
)
async def failures(request: web.Request) -> web.Response:
    notice = await service.visible_notice(await require(request, MANAGERS), _notice_id(request))
    paging = queried(request, Paging)
    items, total = await service.failures(notice.id, paging.page, paging.per_page)
    return web.json_response(page_of(items, total, paging.page, paging.per_page))


@routes.post("/api/v1/notices/{id}/approve")
@doc(
    "An admin lets a notice waiting for approval go (to its schedule, or back to draft)",
    tag=TAG,
    auth=ADMINS,
    response=s.Progress,
    errors=(409,),
)
async def approve(request: web.Request) -> web.Response:
    notice = await service.approve(await require(request, ADMINS), _notice_id(request))
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
    notice = await service.cancel(await require(request, MANAGERS), _notice_id(request))
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
    who = await require(request, MANAGERS)
    notice = await service.send_now(who, _notice_id(request), now(request))
    return web.json_response(await service.progress(notice))
