"""Request limits per session, per resident and per client address, counted in the shared store.

Fixed one-minute windows: one ``INCR`` per bucket and request, so every process of
the service counts against the same numbers. Who is counted where:

- a signed-in request (a Bearer token that resolves to a session) counts against its
  session and its resident, never against the address: a compound's residents behind one
  carrier-grade NAT or one Wi-Fi must not share one allowance;
- an anonymous request, and one whose token resolves to no session (forged, expired,
  revoked), counts against the client address, so a made-up token is no way around it;
- sign-in endpoints (``/api/v1/auth/...``) always count against the address and a
  tighter sign-in bucket of their own (password guessing, code replay);
- polls of a QR sign-in (``/api/v1/auth/qr/<ticket>``) are no sign-in attempt: they
  count against the address and a bucket of that address and ticket, larger than the
  sign-in bucket (the console polls every two seconds), and leave the sign-in bucket to
  the attempts. A ticket is 144 random bits: polling made-up ones guesses nothing.

The client address is the peer's, unless the peer is one of our own reverse proxies
(``trusted_proxies``): then it is the right-most ``X-Forwarded-For`` hop that is not one
of them. A header from anyone else is ignored, so rotating it buys no fresh allowance.

A signed-in request costs two store round trips, as it did before: the session lookup
(its answer is left on the request, so the handler does not look it up again) and one
``incr_many`` for all its buckets. When the store does not answer, the limit steps
aside: refusing everyone because Redis is slow would be the worse failure.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

from handlers import sessions
from handlers.types import KeyValueStore, StoreUnavailable

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
SIGN_IN_PREFIX = "/api/v1/auth/"
QR_POLL_PREFIX = "/api/v1/auth/qr/"
# What the deprecated ``trust_forwarded_for = true`` still trusts: loopback and private
# networks, where our own proxy lives. Never a public address.
PRIVATE_NETWORKS = (
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "::1/128",
    "fc00::/7",
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(specs: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (CIDR) as networks; a bad one is a ``ValueError`` at start-up."""
    return tuple(ipaddress.ip_network(spec.strip(), strict=False) for spec in specs if spec.strip())


@dataclass(frozen=True)
class Limits:
    per_session: int = 120
    per_address: int = 600
    sign_in_per_address: int = 20
    # Polls of one QR sign-in ticket from one address (the console polls every 4 s).
    qr_polls_per_ticket: int = 60
    # Our reverse proxies (addresses or CIDR networks): only their X-Forwarded-For counts.
    trusted_proxies: tuple[str, ...] = ()
    # Deprecated: ``True`` with no ``trusted_proxies`` trusts ``PRIVATE_NETWORKS`` only.
    trust_forwarded_for: bool = False
    # All of one resident's sessions together (mini-program and console, or a token
    # re-issued by signing in again); ``None``: twice ``per_session``.
    per_resident: int | None = None
    # ``trusted_proxies`` parsed: the networks whose X-Forwarded-For is believed.
    proxies: tuple[Network, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        specs = self.trusted_proxies
        if not specs and self.trust_forwarded_for:
            log.warning(
                "trust_forwarded_for is deprecated: trusting private networks only;"
                " set trusted_proxies to the proxies' addresses"
            )
            specs = PRIVATE_NETWORKS
        object.__setattr__(self, "proxies", networks(specs))

    @property
    def resident_limit(self) -> int:
        return self.per_resident if self.per_resident is not None else 2 * self.per_session


def window(now: float, period: float = WINDOW_SECONDS) -> tuple[int, int]:
    """The window ``now`` falls in, and whole seconds until the next one starts (at least 1)."""
    index = int(now // period)
    return index, max(1, math.ceil((index + 1) * period - now))


def client_address(request: web.Request, proxies: Iterable[Network] | bool = ()) -> str:
    """The caller's address: the peer's, or behind our own proxies (``Limits.proxies``) the
    right-most ``X-Forwarded-For`` hop that is none of them (what a client writes further
    left is never reached while our proxy appends the address it saw). A bool is the
    deprecated ``trust_forwarded_for``: ``True`` trusts ``PRIVATE_NETWORKS`` only."""
    if isinstance(proxies, bool):
        proxies = networks(PRIVATE_NETWORKS) if proxies else ()
    trusted = tuple(proxies)
    peer = request.remote or "unknown"
    if not trusted or not _within(peer, trusted):
        return peer
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", ()))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    address = peer
    for hop in reversed(hops):
        address = hop
        if not _within(hop, trusted):
            break
    return address


def _within(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def bearer_token(request: web.Request) -> str:
    """The token of ``Authorization: Bearer <token>``, or ``""``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def is_sign_in(request: web.Request) -> bool:
    return request.path.startswith(SIGN_IN_PREFIX)


def qr_poll_ticket(request: web.Request) -> str | None:
    """The ticket a QR sign-in poll asks about, else ``None`` (starting one is ``/auth/qr``)."""
    if not request.path.startswith(QR_POLL_PREFIX):
        return None
    ticket = request.path.removeprefix(QR_POLL_PREFIX)
    return ticket if ticket and "/" not in ticket else None


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
        address = _digest(client_address(request, limits.proxies))
        ticket = qr_poll_ticket(request)
        found = [("ip:" + address, limits.per_address)]
        if ticket is not None:
            found.append(("qrpoll:" + _digest(address + ticket), limits.qr_polls_per_ticket))
        else:
            found.append(("signin:" + address, limits.sign_in_per_address))
        if token:
            found.append(("session:" + _digest(token), limits.per_session))
        return found
    if token and resident_id is not None:
        return [
            ("session:" + _digest(token), limits.per_session),
            (f"resident:{resident_id}", limits.resident_limit),
        ]
    address = _digest(client_address(request, limits.proxies))
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
