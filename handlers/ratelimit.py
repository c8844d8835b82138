"""Request limits per session and per client address, counted in the shared store.

Fixed one-minute windows: one ``INCR`` per bucket and request, so every process of
the service counts against the same numbers. Sign-in endpoints have a tighter bucket
of their own (password guessing, code replay). When the store does not answer, the
limit steps aside: refusing everyone because Redis is slow would be the worse failure.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

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


def buckets(request: web.Request, limits: Limits) -> list[tuple[str, int]]:
    """(store key stem, limit) of every bucket this request counts against."""
    address = client_address(request, limits.trust_forwarded_for)
    # Hashed: the store holds no usable token and no address in clear.
    found = [("ip:" + _digest(address), limits.per_address)]
    if request.path.startswith(SIGN_IN_PREFIX):
        found.append(("signin:" + _digest(address), limits.sign_in_per_address))
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        found.append(("session:" + _digest(token.strip()), limits.per_session))
    return found


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
    found = buckets(request, limits)
    try:
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
