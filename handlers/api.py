"""What every JSON endpoint shares: who is calling, one error shape, paging.

What a route's ``@doc`` declares is what runs: ``api_errors`` checks its role before
the handler and parses its query and body with the named pydantic models, strictly
(no ``"yes"`` for ``true``, nothing truncated); handlers pick the results up with
``require`` and ``parsed``. Errors are ``{"error": {"code": ..., "message": ...}}``
with the message in the caller's language: every ``Refused`` a service raises is
translated here, once. The transport (``bot.app``) puts an ``ApiDeps`` on the app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import traceback
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from handlers import sessions
from handlers.clock import Clock, utc_now
from handlers.i18n import LANGUAGES, language_of
from handlers.openapi import Operation, operation_of
from handlers.ratelimit import Limits, retry_after
from handlers.refusal import Refused
from handlers.roles import RoleSet, Who, who_of
from handlers.types import Code2Session, KeyValueStore, LoginQr, PhoneNumber, StoreUnavailable
from models.residents import Resident

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Whatever is unavailable (the store, WeChat) is worth another try in a moment.
RETRY_AFTER = {429: 60, 503: 5}


@dataclass
class ApiDeps:
    store: KeyValueStore
    translate: Callable[..., str]
    lock: Callable[..., Any]
    needs_approval: bool = False
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.time  # for the rate-limit windows
    now: Clock = utc_now  # the app's clock, the same the chat's ctx.now reads
    session_seconds: float = sessions.DEFAULT_TTL
    binding_failures: int = 5
    binding_code_days: int = 30
    # Set by the transport when the mini-program / official account secrets are configured.
    code2session: Code2Session | None = None
    phone_number: PhoneNumber | None = None
    miniprogram_appid: str = ""
    miniprogram_community: str = "demo"
    login_qr: LoginQr | None = None
    # The community's language (settings.default_language): whoever never chose one reads it.
    default_language: str = "zh_Hans"


API_DEPS = web.AppKey("linli_api_deps", ApiDeps)
CALLER = web.RequestKey("linli_caller", Resident)
CALLER_ID = web.RequestKey("linli_caller_id", int)
WHO = web.RequestKey("linli_who", Who)
BODY = web.RequestKey("linli_body", BaseModel)
QUERY = web.RequestKey("linli_query", BaseModel)
M = TypeVar("M", bound=BaseModel)


def deps(request: web.Request) -> ApiDeps:
    return request.app[API_DEPS]


def now(request: web.Request) -> datetime:
    """The instant a handler acts at: the app's clock, so a test can freeze it."""
    return deps(request).now()


def request_language(request: web.Request) -> str:
    caller = request.get(CALLER)
    if caller is not None:
        return language_of(caller.language)
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag in LANGUAGES:
            return tag
        if tag.lower() in {"zh_tw", "zh_hk", "zh_mo"}:
            return "zh_Hant"
        if tag.lower().startswith("en"):
            return "en"
    return "zh_Hans"


async def _caller_language(request: web.Request) -> str:
    """The signed-in caller's own language, even when the route only resolved the session."""
    if CALLER not in request and CALLER_ID in request:
        with contextlib.suppress(Exception):  # the database may be why we are refusing
            found = await Resident.get_or_none(id=request[CALLER_ID])
            if found is not None:
                request[CALLER] = found
    return request_language(request)


def error_response(
    request: web.Request,
    status: int,
    code: str,
    headers: dict[str, str] | None = None,
    language: str | None = None,
    **params: Any,
) -> web.Response:
    message = deps(request).translate(language or request_language(request), code, **params)
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


async def caller_id(request: web.Request) -> int:
    """The signed-in resident's id from the session alone, for hot paths that load the
    resident themselves (and refuse erased ones there)."""
    if CALLER_ID in request:
        return request[CALLER_ID]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    resident_id = None
    if scheme.lower() == "bearer":
        resident_id = await sessions.resolve(deps(request).store, token.strip())
    if resident_id is None:
        raise Refused("api.error.unauthorized", 401)
    request[CALLER_ID] = resident_id
    return resident_id


async def caller(request: web.Request) -> Resident:
    """The signed-in resident (or worker), from ``Authorization: Bearer <token>``."""
    if CALLER in request:
        return request[CALLER]
    resident_id = await caller_id(request)
    resident = await Resident.get_or_none(id=resident_id)
    if resident is None or resident.erased_at is not None:
        raise Refused("api.error.unauthorized", 401)
    request[CALLER] = resident
    return resident


async def require(request: web.Request, allowed: RoleSet | None = None) -> Who:
    """The caller as a ``Who``, loaded once per request; 403 unless they hold ``allowed``."""
    who = request.get(WHO)
    if who is None:
        who = await who_of(await caller(request))
        request[WHO] = who
    if allowed is not None and not who.has(allowed):
        raise Refused("api.error.forbidden", 403)
    return who


def parsed(request: web.Request, model: type[M]) -> M:
    """The body the route's ``@doc`` named, already validated by ``api_errors``."""
    found = request.get(BODY)
    if not isinstance(found, model):
        raise TypeError(f"{model.__name__} is not the body @doc declares for this route")
    return found


def queried(request: web.Request, model: type[M]) -> M:
    """The query the route's ``@doc`` named, already validated by ``api_errors``."""
    found = request.get(QUERY)
    if not isinstance(found, model):
        raise TypeError(f"{model.__name__} is not the query @doc declares for this route")
    return found


def _refusal_of(error: ValidationError, where: str) -> Refused:
    first = error.errors()[0]
    not_an_object = not first["loc"] and first["type"] in {"model_type", "dict_type"}
    if first["type"] in {"json_invalid", "json_type"} or not_an_object:
        return Refused("api.error.bad_json", 400)
    name = ".".join(str(part) for part in first["loc"]) or where
    if where == "query":
        # The codes the capabilities answered before the models ran: paging, then filters.
        if name in {"page", "per_page"}:
            return Refused("api.error.bad_paging", 400)
        return Refused("api.error.bad_filter", 400, name=name[:64])
    return Refused("api.error.bad_field", 400, name=name[:64])


_INTEGER = re.compile(r"-?\d{1,18}")
_NUMBER = re.compile(r"-?\d{1,18}(\.\d{1,18})?")


def _scalar_types(annotation: Any) -> set[Any]:
    """The plain types a field's annotation allows, ``X | None`` unwrapped."""
    if typing.get_origin(annotation) in {typing.Union, types.UnionType}:
        return {t for arg in typing.get_args(annotation) for t in _scalar_types(arg)}
    if typing.get_origin(annotation) is typing.Annotated:
        return _scalar_types(typing.get_args(annotation)[0])
    return {annotation}


def _query_value(annotation: Any, raw: str) -> Any:
    """A query string as the JSON value it stands for; anything else stays text and the
    strict validation refuses it (``mine=abc`` is no boolean, ``page=1.5`` no integer)."""
    allowed = _scalar_types(annotation)
    if bool in allowed and raw in {"true", "false"}:
        return raw == "true"
    if int in allowed and _INTEGER.fullmatch(raw):
        return int(raw)
    if float in allowed and _NUMBER.fullmatch(raw):
        return float(raw)
    return raw


def _parse_query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in request.query:
            data[key] = _query_value(info.annotation, request.query[key])
    try:
        found = model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise _refusal_of(exc, "query") from None
    bad = unstorable(data)
    if bad:
        raise Refused("api.error.bad_field", 400, name=bad)
    return found


async def _parse_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    """JSON only: a ``text/plain`` or form body is what a page of another site may send
    without asking (no CORS preflight), so it is refused before anything acts on it."""
    raw = await request.read()
    if raw and request.content_type != "application/json":
        raise Refused("api.error.unsupported_media_type", 415)
    try:
        found = model.model_validate_json(raw or b"{}", strict=True)
    except ValidationError as exc:
        raise _refusal_of(exc, "body") from None
    name = unstorable(found.model_dump())
    if name:
        raise Refused("api.error.bad_field", 400, name=name)
    return found


async def enforce(request: web.Request, operation: Operation) -> None:
    """Run what the route's ``@doc`` declares: the role first, then the query and body."""
    if operation.auth == "resident":
        await caller_id(request)
    elif isinstance(operation.auth, RoleSet):
        await require(request, operation.auth)
    if operation.query is not None:
        request[QUERY] = _parse_query(request, operation.query)
    if operation.body is not None:
        request[BODY] = await _parse_body(request, operation.body)


def unstorable(value: Any, name: str = "body") -> str | None:
    """The first field the database could not keep (a NUL, which PostgreSQL refuses in text
    and JSON, or a lone surrogate), looking through objects and lists; ``None`` if all fit."""
    if isinstance(value, str):
        if "\x00" in value:
            return name
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return name
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unstorable(key, name) or unstorable(item, str(key)[:32])
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            found = unstorable(item, name)
            if found:
                return found
    return None


def path_id(request: web.Request, name: str, not_found: str, **params: Any) -> int:
    """A path parameter that is an id (ASCII digits, within ``ID_SCHEMA``), else 404 with
    the capability's own not-found message."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise Refused(not_found, 404, **params)
    return int(raw)


async def slice_of(query: Any, order: str, page: int, per_page: int) -> tuple[int, list[Any]]:
    """The total and one page of rows; past the end no query runs."""
    total = await query.count()
    offset = (page - 1) * per_page
    if offset >= total:
        return total, []
    return total, await query.order_by(order).offset(offset).limit(per_page)


def page_of(items: list[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals into the one error shape; only under ``/api/``."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    wiring = deps(request)
    wait = await retry_after(wiring.store, request, wiring.limits, wiring.clock)
    if wait is not None:
        return error_response(
            request, 429, "api.error.too_many", headers={"Retry-After": str(wait)}, seconds=wait
        )
    try:
        operation = operation_of(request.match_info.handler)
        if operation is not None:
            await enforce(request, operation)
        return await handler(request)
    except StoreUnavailable:
        return error_response(request, 503, "api.error.unavailable", headers={"Retry-After": "5"})
    except Refused as exc:
        wait = exc.retry_after or RETRY_AFTER.get(exc.status)
        retry = {"Retry-After": str(wait)} if wait else None
        language = await _caller_language(request)
        return error_response(
            request, exc.status, exc.code, headers=retry, language=language, **exc.params
        )
    except web.HTTPNotFound:
        return error_response(request, 404, "api.error.not_found")
    except web.HTTPMethodNotAllowed:
        return error_response(request, 405, "api.error.method_not_allowed")
    except web.HTTPException:
        raise
    except Exception as exc:
        # The caller gets the one error shape. The log gets where and what type, never the
        # message: exception texts can quote what a resident typed.
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        log.error(
            "API request failed: %s at %s:%s", type(exc).__name__, frame.filename, frame.lineno
        )
        return error_response(request, 500, "api.error.internal")
