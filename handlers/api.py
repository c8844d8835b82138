"""What every JSON endpoint shares: who is calling, one error shape, paging.

Errors are ``{"error": {"code": ..., "message": ...}}`` with the message in the
caller's language. The transport (``bot.app``) puts an ``ApiDeps`` on the app.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from handlers.i18n import LANGUAGES, language_of
from handlers.ratelimit import Limits, retry_after
from handlers.residents import sessions
from handlers.residents.accounts import Code2Session, LoginQr
from handlers.types import KeyValueStore, StoreUnavailable
from models.residents import Resident

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_PER_PAGE = 100
# Whatever is unavailable (the store, WeChat) is worth another try in a moment.
RETRY_AFTER = {429: 60, 503: 5}
# Far past any real list; the bound keeps OFFSET inside the database's integer range.
MAX_PAGE = 100_000


@dataclass
class ApiDeps:
    store: KeyValueStore
    translate: Callable[..., str]
    lock: Callable[..., Any]
    needs_approval: bool = False
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.time  # for the rate-limit windows
    session_seconds: float = sessions.DEFAULT_TTL
    binding_failures: int = 5
    binding_code_days: int = 30
    # Set by the transport when the mini-program / official account secrets are configured.
    code2session: Code2Session | None = None
    miniprogram_appid: str = ""
    miniprogram_community: str = "demo"
    login_qr: LoginQr | None = None


API_DEPS = web.AppKey("linli_api_deps", ApiDeps)
CALLER = web.RequestKey("linli_caller", Resident)


class ApiError(Exception):
    """A refusal in the one error shape; ``retry_after`` (seconds) for 429 and 503."""

    def __init__(
        self, status: int, code: str, *, retry_after: int | None = None, **params: Any
    ) -> None:
        super().__init__(code)
        self.status, self.code, self.params = status, code, params
        self.retry_after = retry_after


def deps(request: web.Request) -> ApiDeps:
    return request.app[API_DEPS]


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


def error_response(
    request: web.Request,
    status: int,
    code: str,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> web.Response:
    message = deps(request).translate(request_language(request), code, **params)
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


async def caller_id(request: web.Request) -> int:
    """The signed-in resident's id from the session alone, for hot paths that load the
    resident themselves (and refuse erased ones there)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    resident_id = None
    if scheme.lower() == "bearer":
        resident_id = await sessions.resolve(deps(request).store, token.strip())
    if resident_id is None:
        raise ApiError(401, "api.error.unauthorized")
    return resident_id


async def caller(request: web.Request) -> Resident:
    """The signed-in resident (or worker), from ``Authorization: Bearer <token>``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    resident_id = None
    if scheme.lower() == "bearer":
        resident_id = await sessions.resolve(deps(request).store, token.strip())
    resident = None if resident_id is None else await Resident.get_or_none(id=resident_id)
    if resident is None or resident.erased_at is not None:
        raise ApiError(401, "api.error.unauthorized")
    request[CALLER] = resident
    return resident


async def body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "api.error.bad_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "api.error.bad_json")
    return data


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


def storable(value: Any) -> bool:
    return unstorable(value) is None


def paging(request: web.Request) -> tuple[int, int]:
    try:
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("per_page", "20"))
    except ValueError:
        raise ApiError(400, "api.error.bad_paging") from None
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(400, "api.error.bad_paging")
    return page, per_page


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
        return await handler(request)
    except StoreUnavailable:
        return error_response(request, 503, "api.error.unavailable", headers={"Retry-After": "5"})
    except ApiError as exc:
        wait = exc.retry_after or RETRY_AFTER.get(exc.status)
        retry = {"Retry-After": str(wait)} if wait else None
        return error_response(request, exc.status, exc.code, headers=retry, **exc.params)
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
