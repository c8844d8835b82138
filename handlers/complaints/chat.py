"""Reporting a problem by chat, following it by number, and rating the fix.

The service's refusals (``Refused``) are answered by the dispatcher in the resident's
language, and the flow stays where it was: a text too long is refused when it is
given, so the resident can send a shorter one; a report that could not be filed keeps
its photos and location for another "1".
"""

from __future__ import annotations

from typing import Any

from handlers.complaints import service
from handlers.complaints.routing import Routing
from handlers.i18n import N_
from handlers.router import Router, Skip, normalize
from handlers.types import Context, Event, Reply
from models.complaints import Ticket

router = Router(name="complaints")

TEXT_STATE = "complaints.text"
ATTACH_STATE = "complaints.attach"
OFFER_STATE = "complaints.offer"
OFFER_CONFIDENCE = 0.6
SUBMIT_WORDS = frozenset({"1", "提交", "确认", "確認", "submit", "yes", "y"})
ANONYMOUS_WORDS = frozenset({"2", "匿名", "匿名提交", "anonymous"})
STATUS_NAMES = {
    "received": N_("ticket.status.received"),
    "assigned": N_("ticket.status.assigned"),
    "reassigned": N_("ticket.status.reassigned"),
    "accepted": N_("ticket.status.accepted"),
    "in_progress": N_("ticket.status.in_progress"),
    "escalated": N_("ticket.status.escalated"),
    "resolved": N_("ticket.status.resolved"),
    "closed": N_("ticket.status.closed"),
    "rejected": N_("ticket.status.rejected"),
}
DEPARTMENT_NAMES = {
    "property": N_("department.property"),
    "sanitation": N_("department.sanitation"),
    "city_management": N_("department.city_management"),
    "traffic_parking": N_("department.traffic_parking"),
    "public_security": N_("department.public_security"),
    "fire_safety": N_("department.fire_safety"),
    "municipal": N_("department.municipal"),
    "environment": N_("department.environment"),
    "food_safety": N_("department.food_safety"),
    "dispute": N_("department.dispute"),
    "social_assistance": N_("department.social_assistance"),
    "other": N_("department.other"),
}
EMERGENCY_NAMES = {
    "fire": N_("ticket.emergency.fire"),
    "police": N_("ticket.emergency.police"),
    "ambulance": N_("ticket.emergency.ambulance"),
}


def department_name(ctx: Context, key: str) -> str:
    return ctx.t(DEPARTMENT_NAMES.get(key, DEPARTMENT_NAMES["other"]))


def emergency_text(ctx: Context, routing: Routing) -> str:
    return ctx.t(
        "ticket.chat.emergency",
        kind=ctx.t(EMERGENCY_NAMES.get(routing.emergency or "", "ticket.emergency.fire")),
        numbers="/".join(routing.emergency_numbers) or "110",
    )


@router.text(
    "投诉", "投訴", "报事", "報事", "反映", "举报", "舉報", "complain", "complaint", "report"
)
@router.menu("complain")
async def start(event: Event, ctx: Context) -> Reply:
    if ctx.args:
        return await _captured(ctx, {"text": ctx.args, "media": []})
    ctx.enter(TEXT_STATE, media=[])
    return Reply(ctx.t("ticket.chat.ask_text"))


@router.state(TEXT_STATE, kinds=("text", "voice", "image"))
async def text_given(event: Event, ctx: Context) -> Reply:
    data: dict[str, Any] = dict(ctx.state_data)
    if event.kind == "image":
        data["media"] = [*data.get("media", []), event.media_id][: service.MAX_MEDIA]
        ctx.enter(TEXT_STATE, **data)
        return Reply(ctx.t("ticket.chat.photo_then_text"))
    if not event.text.strip():
        ctx.enter(TEXT_STATE, **data)
        return Reply(ctx.t("ticket.chat.ask_text"))
    return await _captured(ctx, {**data, "text": event.text.strip()})


async def _captured(ctx: Context, data: dict[str, Any]) -> Reply:
    service.checked_text(data["text"])  # too long: refused here, before the flow moves on
    routing = service.route(data["text"])
    if routing.emergency:
        # Lives first: the numbers at once, and the ticket flagged to the community on duty.
        return await _submit(ctx, data, anonymous=False, prefix=emergency_text(ctx, routing))
    ctx.enter(ATTACH_STATE, **data)
    return Reply(
        ctx.t("ticket.chat.ask_attach", department=department_name(ctx, routing.department))
    )


@router.state(ATTACH_STATE, kinds=("text", "voice", "image", "location"))
async def attach(event: Event, ctx: Context) -> Reply:
    data: dict[str, Any] = dict(ctx.state_data)
    answer = normalize(event.text)
    if event.kind == "image" and event.media_id:
        data["media"] = [*data.get("media", []), event.media_id][: service.MAX_MEDIA]
    elif event.kind == "location" and event.location is not None:
        loc = event.location
        data["location"] = {"lat": loc.latitude, "lng": loc.longitude, "label": loc.label}
    elif answer in SUBMIT_WORDS:
        return await _submit(ctx, data, anonymous=False)
    elif answer in ANONYMOUS_WORDS:
        return await _submit(ctx, data, anonymous=True)
    elif event.text.strip():
        data["text"] = (data["text"] + "\n" + event.text.strip())[: service.TEXT_MAX]
    ctx.enter(ATTACH_STATE, **data)
    return Reply(
        ctx.t(
            "ticket.chat.attached",
            photos=len(data.get("media") or []),
            location=ctx.t("common.yes" if data.get("location") else "common.no"),
        )
    )


async def _submit(ctx: Context, data: dict[str, Any], anonymous: bool, prefix: str = "") -> Reply:
    ticket = await service.intake(
        ctx.resident,
        data["text"],
        ctx.now(),
        media=data.get("media") or [],
        location=data.get("location"),
        anonymous=anonymous,
        channel="chat",
    )
    ctx.leave()
    msgid = "ticket.chat.submitted_anonymous" if anonymous else "ticket.chat.submitted"
    text = ctx.t(
        msgid,
        number=ticket.number,
        department=department_name(ctx, ticket.department),
        due=_local(ticket.accept_due_at),
    )
    if ticket.duplicate_of_id is not None:
        text += "\n" + ctx.t("ticket.chat.duplicate")
    return Reply(prefix + "\n\n" + text if prefix else text)


def _local(value: Any) -> str:
    from handlers.complaints.rules import LOCAL

    return value.astimezone(LOCAL).strftime("%m-%d %H:%M") if value else ""


@router.text("查询", "查詢", "进度", "進度", "status", "track")
@router.menu("my_tickets")
async def lookup(event: Event, ctx: Context) -> Reply:
    if ctx.args:
        ticket = await service.find_for_reporter(ctx.resident, ctx.args)
        return Reply(await describe(ctx, ticket))
    found = await service.mine(ctx.resident)
    if not found:
        return Reply(ctx.t("ticket.chat.none_mine"))
    lines = [ctx.t("ticket.chat.mine_title")]
    lines += [
        ctx.t("ticket.chat.mine_line", number=t.number, status=ctx.t(STATUS_NAMES[t.status]))
        for t in found
    ]
    return Reply("\n".join(lines))


async def describe(ctx: Context, ticket: Ticket) -> str:
    seen = await service.view(ticket, for_staff=False)
    lines = [
        ctx.t(
            "ticket.chat.detail",
            number=ticket.number,
            status=ctx.t(STATUS_NAMES[ticket.status]),
            department=department_name(ctx, ticket.department),
        )
    ]
    lines += [f"· {u['text']}" for u in seen["updates"] if u["text"]]
    if ticket.status == "resolved":
        lines.append(ctx.t("ticket.chat.rate_hint", number=ticket.number))
    if ticket.status == "rejected" and ticket.referral:
        lines.append(ctx.t("ticket.chat.referral", referral=ticket.referral))
    return "\n".join(lines)


@router.text("评价", "評價", "rate", pattern=r"(?i)t\w{6}(\s|$)")
async def rate(event: Event, ctx: Context) -> Reply:
    """``评价 T3K9QX7 5 很满意``: a ticket number; ``评价 12 5`` is a proposal's."""
    words = ctx.args.split(maxsplit=2)
    stars = words[1] if len(words) > 1 else ""
    if not words or not stars.isdecimal():
        return Reply(ctx.t("ticket.chat.rate_usage"))
    ticket = await service.rate(
        ctx.resident, words[0], int(stars), words[2] if len(words) > 2 else "", ctx.now()
    )
    msgid = "ticket.chat.reopened" if ticket.status == "in_progress" else "ticket.chat.rated"
    return Reply(ctx.t(msgid, number=ticket.number))


@router.fallback("text", "voice")
async def maybe_a_complaint(event: Event, ctx: Context) -> Reply:
    """Free text that reads like a complaint is offered as one, not lost in "not understood";
    anything else goes on to help's fallback."""
    text = event.text.strip()
    if len(text) >= 4:
        routing = service.route(text)
        if routing.emergency:
            return await _submit(
                ctx, {"text": text, "media": []}, False, emergency_text(ctx, routing)
            )
        # A keyword of the table too: the model has an opinion on any text, even 你好.
        offer = routing.matched and routing.confidence >= OFFER_CONFIDENCE
        if routing.department != service.TRIAGE and offer:
            service.checked_text(text)  # not offered as a report it could not become
            ctx.enter(OFFER_STATE, text=text)
            return Reply(
                ctx.t("ticket.chat.offer", department=department_name(ctx, routing.department))
            )
    raise Skip


@router.state(OFFER_STATE)
async def offer_answered(event: Event, ctx: Context) -> Reply:
    data = dict(ctx.state_data)
    if normalize(event.text) in SUBMIT_WORDS:
        return await _captured(ctx, {"text": data["text"], "media": []})
    ctx.leave()
    return Reply(ctx.t("ticket.chat.not_registered"))
