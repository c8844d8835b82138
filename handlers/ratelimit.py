"""Request limits per session, per resident and per client address, counted in the shared store.

Fixed one-minute windows: one ``INCR`` per bucket and request, so every process of
the service counts against the same numbers. Who is counted where:

- a signed-in request (a Bearer token that resolves to a session) counts against its
  session and its resident, never against the address: a compound's residents behind one
  carrier-grade NAT or one Wi-Fi must not share one allowance;
- an anonymous request, and one whose token resolves to no session (forged, expired,
  revoked), counts against the client address, so a made-up token is no way around it;
- sign-in endpoints (``/api/v1/auth/...``) always count against the address and a
  tighter sign-in bucket of their own (password guessing, code replay).

A signed-in request costs two store round trips, as it did before: the session lookup
(its answer is left on the request, so the handler does not look it up again) and one
``incr_many`` for all its buckets. When the store does not answer, the limit steps
aside: refusing everyone because Redis is slow would be the worse failure.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from handlers import sessions
from handlers.types import KeyValueStore, StoreUnavailable

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
SIGN_IN_PREFIX = "/api/v1/auth/"


@dataclass(frozen=True)
class Limits:
    per_session: int = 120
    per_address: int = 600
    sign_in_per_address: int = 20
    trust_forwarded_for: bool = False
    # All of one resident's sessions together (mini-program and console, or a token
    # re-issued by signing in again); ``None``: twice ``per_session``.
    per_resident: int | None = None

    @property
    def resident_limit(self) -> int:
        return self.per_resident if self.per_resident is not None else 2 * self.per_session


def window(now: float, period: float = WINDOW_SECONDS) -> tuple[int, int]:
    """The window ``now`` falls in, and whole seconds until the next one starts (at least 1)."""
    index = int(now // period)
    return index, max(1, math.ceil((index + 1) * period - now))


def client_address(request: web.Request, trust_forwarded_for: bool) -> str:
    """The caller's address; behind our own reverse proxy, the one it appended last."""
    if trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.remote or "unknown"


def bearer_token(request: web.Request) -> str:
    """The token of ``Authorization: Bearer <token>``, or ``""``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def is_sign_in(request: web.Request) -> bool:
    return request.path.startswith(SIGN_IN_PREFIX)


def buckets(
    request: web.Request, limits: Limits, resident_id: int | None = None
) -> list[tuple[str, int]]:
    """(store key stem, limit) of every bucket this request counts against.

    ``resident_id`` is whom the request's token resolved to; ``None`` makes the request
    anonymous (outside sign-in, its token is then not counted at all, only its address).
    """
    token = bearer_token(request)
    # Hashed: the store holds no usable token and no address in clear.
    if is_sign_in(request):
        address = _digest(client_address(request, limits.trust_forwarded_for))
        found = [
            ("ip:" + address, limits.per_address),
            ("signin:" + address, limits.sign_in_per_address),
        ]
        if token:
            found.append(("session:" + _digest(token), limits.per_session))
        return found
    if token and resident_id is not None:
        return [
            ("session:" + _digest(token), limits.per_session),
            (f"resident:{resident_id}", limits.resident_limit),
        ]
    address = _digest(client_address(request, limits.trust_forwarded_for))
    return [("ip:" + address, limits.per_address)]


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


async def retry_after(
    store: KeyValueStore,
    request: web.Request,
    limits: Limits,
    clock: Callable[[], float] = time.time,
) -> int | None:
    """Seconds to wait when a bucket is full, else ``None`` (and the request is counted)."""
    index, wait = window(clock())
    token = bearer_token(request)
    try:
        resident_id = None
        if token and not is_sign_in(request):
            resident_id = await sessions.resolve(store, token)
            if resident_id is not None:
                _remember_caller(request, resident_id)
        found = buckets(request, limits, resident_id)
        # One round trip for all the request's buckets.
        counts = await store.incr_many(
            [f"rl:{stem}:{index}" for stem, _ in found], ttl=WINDOW_SECONDS + 5
        )
    except StoreUnavailable:
        log.warning("rate limits skipped: the store did not answer")
        return None
    if any(count > limit for count, (_, limit) in zip(counts, found, strict=True)):
        return wait
    return None


def _remember_caller(request: web.Request, resident_id: int) -> None:
    """Leave the session's answer where ``handlers.api.caller_id`` looks first, so the
    handler does not ask the store again (imported here: handlers.api imports this module)."""
    from handlers.api import CALLER_ID

    request[CALLER_ID] = resident_id
