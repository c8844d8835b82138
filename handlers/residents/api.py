"""Sign-in (password, mini-program code, login QR), ``/me`` and households, as JSON.

Bodies and queries are the ``schemas`` models, validated strictly by the API middleware
before a handler runs; the household register is for the console (``CONSOLE``).
"""

from __future__ import annotations

import re

from aiohttp import web
from tortoise.functions import Count

from handlers import sessions
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
)
from handlers.openapi import Done, doc
from handlers.ratelimit import client_address
from handlers.refusal import Refused
from handlers.residents import accounts, service
from handlers.residents.rules import CodeStatus, device_of, masked_address
from handlers.residents.schemas import (
    BindingCodeView,
    BindingRequest,
    CodeSignIn,
    HouseholdPage,
    HouseholdQuery,
    MeChange,
    MeView,
    PasswordSignIn,
    PhoneCode,
    PhoneView,
    QrLoginPoll,
    QrLoginStarted,
    QrLoginStatus,
    SessionView,
)
from handlers.roles import CONSOLE, who_of
from models.residents import BindingCode, Resident

routes = web.RouteTableDef()
TICKET_PATTERN = "^[A-Za-z0-9_-]{8,64}$"
TICKET_PATH = {"ticket": {"type": "string", "pattern": TICKET_PATTERN}}
BIND_REFUSALS = {
    CodeStatus.UNKNOWN: "bind.unknown",
    CodeStatus.USED: "bind.used",
    CodeStatus.EXPIRED: "bind.expired",
    CodeStatus.MALFORMED: "bind.malformed",
}


def _address(request: web.Request) -> str:
    """The caller's address as the rate limits see it (behind our own proxies, the client's)."""
    return client_address(request, deps(request).limits.proxies)


async def _session(request: web.Request, resident: Resident) -> dict[str, object]:
    ttl = deps(request).session_seconds
    token = await sessions.issue(deps(request).store, resident.id, ttl=ttl)
    who = await who_of(resident)
    return {
        "token": token,
        "expires_in": int(ttl),
        "resident": {
            "id": resident.id,
            "name": resident.name,
            "roles": [role.value for role in who.held],
            "may": who.sets,
            "verified": resident.verified,
        },
    }


@routes.post("/api/v1/auth/password")
@doc(
    "Sign in to the console with a password (community workers)",
    tag="auth",
    auth="public",
    body=PasswordSignIn,
    response=SessionView,
    errors=(401,),
    description=(
        "Ten attempts on one login from one address lock it there for 15 minutes (429); "
        "a hundred from addresses not yet locked lock it everywhere. A right password "
        "clears its address's count."
    ),
)
async def sign_in_password(request: web.Request) -> web.Response:
    signing_in = parsed(request, PasswordSignIn)
    resident = await accounts.sign_in_with_password(
        deps(request).store, signing_in.login.strip(), signing_in.password, _address(request)
    )
    return web.json_response(await _session(request, resident))


@routes.post("/api/v1/auth/miniprogram")
@doc(
    "Sign in from the mini-program with a wx.login code",
    tag="auth",
    auth="public",
    body=CodeSignIn,
    response=SessionView,
    errors=(401, 503),
    description=(
        "The code is exchanged through code2Session once (the session key is not kept). "
        "The resident is the same as the official account's when WeChat gives both the "
        "same unionid. With a phone_code (a getPhoneNumber button on the sign-in page) the "
        "number is kept too; if WeChat gives none, the sign-in still succeeds and `phone` "
        "says why (POST /api/v1/me/phone tries again with a new code)."
    ),
)
async def sign_in_miniprogram(request: web.Request) -> web.Response:
    signing_in = parsed(request, CodeSignIn)
    code = signing_in.code.strip()
    wiring = deps(request)
    if wiring.code2session is None:
        raise Refused("auth.error.miniprogram_off", 503)
    community = await service.community_id(wiring.miniprogram_community)
    resident = await accounts.sign_in_with_code(
        wiring.store,
        wiring.code2session,
        wiring.miniprogram_appid,
        community,
        code,
        now(request),
        language=wiring.default_language,
    )
    if resident.erased_at is not None:
        raise Refused("auth.error.code_invalid", 401)
    session = await _session(request, resident)
    if signing_in.phone_code is not None:
        session["phone"] = await _phone_outcome(request, resident, signing_in.phone_code)
    return web.json_response(session)


async def _phone_outcome(request: web.Request, resident: Resident, code: str) -> dict[str, object]:
    refused = await accounts.try_save_phone(resident, deps(request).phone_number, code.strip())
    if refused is None:
        return {"saved": True, "error": None}
    message = deps(request).translate(request_language(request), refused.code, **refused.params)
    return {"saved": False, "error": {"code": refused.code, "message": message}}


@routes.post("/api/v1/me/phone")
@doc(
    "Keep the caller's phone number, from the code of the mini-program's getPhoneNumber button",
    tag="residents",
    body=PhoneCode,
    response=PhoneView,
    errors=(422, 503),
    description=(
        "The code works once and for five minutes: a refused one (422) needs a new tap. "
        "The number is the caller's personal data: shown to them masked, erased with them."
    ),
)
async def save_phone(request: web.Request) -> web.Response:
    resident = await caller(request)
    code = parsed(request, PhoneCode).code.strip()
    await accounts.save_phone(resident, deps(request).phone_number, code)
    return web.json_response({"phone": accounts.mask_phone(resident.phone or "")})


@routes.post("/api/v1/auth/qr")
@doc(
    "Start a console sign-in by scanning a QR code with the official account",
    tag="auth",
    auth="public",
    response=QrLoginStarted,
    errors=(503,),
)
async def start_qr(request: web.Request) -> web.Response:
    wiring = deps(request)
    started = await accounts.start_qr_login(
        wiring.store,
        masked_address(_address(request)),
        device_of(request.headers.get("User-Agent", "")),
    )
    scene = accounts.LOGIN_QR_SCENE + started.ticket
    url, seconds = None, accounts.LOGIN_QR_SECONDS
    if wiring.login_qr is not None:
        try:
            url, seconds = await wiring.login_qr(scene)
        except Exception as exc:  # the push client's typed errors: WeChat is unreachable
            raise Refused("auth.error.wechat_unavailable", 503) from exc
    return web.json_response(
        {
            "ticket": started.ticket,
            "secret": started.secret,
            "scene": scene,
            "qr_url": url,
            "expires_in": seconds,
        }
    )


@routes.post("/api/v1/auth/qr/{ticket}")
@doc(
    "Poll a QR sign-in: pending until a worker scans and confirms in chat, then the session (once)",
    tag="auth",
    auth="public",
    body=QrLoginPoll,
    response=QrLoginStatus,
    path=TICKET_PATH,
    description=(
        "Only the page that started the sign-in holds the secret; any other secret is the "
        "same 404 as an unknown ticket. A scan alone releases nothing: the worker is shown "
        "where the sign-in came from and replies 1 to confirm."
    ),
)
async def poll_qr(request: web.Request) -> web.Response:
    ticket = request.match_info["ticket"]
    if not re.fullmatch(TICKET_PATTERN, ticket):
        raise Refused("auth.error.qr_expired", 404)
    secret = parsed(request, QrLoginPoll).secret
    resident_id = await accounts.poll_qr_login(deps(request).store, ticket, secret)
    if resident_id is None:
        return web.json_response({"status": "pending", "session": None})
    resident = await Resident.get(id=resident_id)
    return web.json_response({"status": "signed_in", "session": await _session(request, resident)})


@routes.post("/api/v1/auth/logout")
@doc("Sign out: the session token stops working at once", tag="auth", response=Done)
async def logout(request: web.Request) -> web.Response:
    await caller(request)
    _, _, token = request.headers.get("Authorization", "").partition(" ")
    await sessions.revoke(deps(request).store, token.strip())
    return web.json_response({"ok": True})


@routes.get("/api/v1/me")
@doc(
    "The signed-in person: roles, language, own household",
    tag="residents",
    response=MeView,
)
async def me(request: web.Request) -> web.Response:
    return web.json_response(await _me_view(request, await caller(request)))


@routes.patch("/api/v1/me")
@doc(
    "Change the signed-in person's language (the chat's 语言 does the same)",
    tag="residents",
    body=MeChange,
    response=MeView,
)
async def change_me(request: web.Request) -> web.Response:
    resident = await caller(request)
    await service.set_language(resident, parsed(request, MeChange).language)
    return web.json_response(await _me_view(request, resident))


async def _me_view(request: web.Request, resident: Resident) -> dict[str, object]:
    household = await service.household_label(resident.household_id)
    who = await who_of(resident)
    return {
        "id": resident.id,
        "name": resident.name,
        "language": await service.reading_language(resident, deps(request).default_language),
        "verified": resident.verified,
        "household": household or None,
        "roles": [role.value for role in who.held],
        "may": who.sets,
        "phone": accounts.mask_phone(resident.phone) if resident.phone else None,
    }


@routes.post("/api/v1/me/binding")
@doc(
    "Bind the caller to a household with the code a community worker gave",
    tag="residents",
    body=BindingRequest,
    response=MeView,
    errors=(409, 422),
)
async def bind(request: web.Request) -> web.Response:
    resident = await caller(request)
    code = parsed(request, BindingRequest).code.strip()
    limit = deps(request).binding_failures
    outcome = await service.bind_guarded(deps(request).store, resident, code, now(request), limit)
    if outcome is None:
        raise Refused("bind.locked", 429, retry_after=int(service.BIND_FAILURE_WINDOW))
    if outcome.status is not CodeStatus.OK:
        status = 409 if outcome.status is CodeStatus.USED else 422
        raise Refused(BIND_REFUSALS[outcome.status], status)
    return web.json_response(await _me_view(request, resident))


@routes.get("/api/v1/households")
@doc(
    "Households with their residents and open binding codes (to print): every one of the "
    "community for managers, those of their own grids for a grid worker",
    tag="residents",
    auth=CONSOLE,
    query=HouseholdQuery,
    response=HouseholdPage,
)
async def list_households(request: web.Request) -> web.Response:
    worker = await require(request, CONSOLE)
    asked = queried(request, HouseholdQuery)
    page, per_page = asked.page, asked.per_page
    query = service.households_of(worker)
    if asked.building is not None:
        query = query.filter(building_id=asked.building)
    total = await query.count()
    found = (
        await query.order_by("building_id", "unit", "room", "id")
        .offset((page - 1) * per_page)
        .limit(per_page)
        .prefetch_related("building")
    )
    ids = [h.id for h in found]
    counts = {
        (row["household_id"], row["verified"]): row["n"]
        for row in await Resident.filter(household_id__in=ids, erased_at=None)
        .annotate(n=Count("id"))
        .group_by("household_id", "verified")
        .values("household_id", "verified", "n")
    }
    codes: dict[int, BindingCode] = {}
    for binding in await BindingCode.filter(
        household_id__in=ids, used_at=None, expires_at__gt=now(request)
    ).order_by("id"):
        codes[binding.household_id] = binding
    items = []
    for household in found:
        verified = counts.get((household.id, True), 0)
        code = codes.get(household.id)
        items.append(
            {
                "id": household.id,
                "building": household.building.name,
                "unit": household.unit,
                "room": household.room,
                "residents": verified + counts.get((household.id, False), 0),
                "verified_residents": verified,
                "code": code.code if code else None,
                "code_expires_at": code.expires_at.isoformat() if code else None,
            }
        )
    return web.json_response(page_of(items, total, page, per_page))


@routes.post("/api/v1/households/{id}/binding-code")
@doc(
    "Issue a fresh binding code for a household the caller looks after; its unused codes "
    "stop working",
    tag="residents",
    auth=CONSOLE,
    response=BindingCodeView,
    status=201,
)
async def issue_binding_code(request: web.Request) -> web.Response:
    worker = await require(request, CONSOLE)
    household_id = path_id(request, "id", "api.error.not_found")
    days = deps(request).binding_code_days
    issued = await service.issue_code_for(worker, household_id, now(request), days)
    return web.json_response(
        {"code": issued.code, "expires_at": issued.expires_at.isoformat()}, status=201
    )
