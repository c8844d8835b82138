"""Request limits per session, per resident and (anonymous callers, sign-in) per address.

429 with Retry-After; 503 when the store is down. Signed-in residents behind one address
(a carrier-grade NAT, one Wi-Fi) do not share that address's allowance; a forged token does.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from pydantic import ValidationError

from config.settings import Settings
from handlers.api import API_DEPS
from handlers.ratelimit import Limits, buckets, client_address, window
from handlers.sessions import issue
from handlers.types import StoreUnavailable
from models.db import using


@pytest.mark.parametrize(
    ("now", "expected"),
    [(0.0, (0, 60)), (59.2, (0, 1)), (60.0, (1, 60)), (61.5, (1, 59)), (119.99, (1, 1))],
)
def test_window_and_seconds_to_wait(now, expected):
    assert window(now) == expected


class Peer:
    """A transport whose peer is ``address``: who opened the connection to us."""

    def __init__(self, address: str) -> None:
        self.address = address

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.address, 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return False


def from_peer(address: str, path: str = "/api/v1/me", *forwarded: str, method: str = "GET"):  # type: ignore[no-untyped-def]
    headers = CIMultiDict(("X-Forwarded-For", hop) for hop in forwarded)
    return make_mocked_request(method, path, headers=headers, transport=Peer(address))


def ours() -> Limits:
    """Our proxies: one network and one IPv6 address."""
    return Limits(trusted_proxies=("10.0.0.0/24", "fd00::1"))


def test_forwarded_for_from_our_proxy_names_the_right_most_hop_not_ours():
    # The client wrote "1.2.3.4" itself; our two proxies appended what they saw.
    request = from_peer("10.0.0.2", "/api/v1/me", "1.2.3.4, 198.51.100.7, 10.0.0.3")
    assert client_address(request, ours().proxies) == "198.51.100.7"
    # Two header lines are one list; an IPv6 proxy is one of ours too.
    request = from_peer("fd00::1", "/api/v1/me", "203.0.113.9", "198.51.100.8")
    assert client_address(request, ours().proxies) == "198.51.100.8"
    # Nothing forwarded: the proxy's own request.
    assert client_address(from_peer("10.0.0.2"), ours().proxies) == "10.0.0.2"


def test_forwarded_for_from_anyone_but_our_proxies_is_ignored():
    request = from_peer("198.51.100.7", "/api/v1/me", "203.0.113.9")
    assert client_address(request, ours().proxies) == "198.51.100.7"
    assert client_address(request) == "198.51.100.7"  # no proxies configured: the peer
    # Rotating the header buys no fresh bucket.
    stems = {
        buckets(from_peer("198.51.100.7", "/api/v1/me", f"203.0.113.{n}"), ours())[0][0]
        for n in range(5)
    }
    assert len(stems) == 1


def test_the_deprecated_flag_trusts_private_networks_only():
    limits = Limits(trust_forwarded_for=True)
    behind = from_peer("172.18.0.5", "/api/v1/me", "198.51.100.7")
    assert client_address(behind, limits.proxies) == "198.51.100.7"
    public = from_peer("198.51.100.9", "/api/v1/me", "203.0.113.1")
    assert client_address(public, limits.proxies) == "198.51.100.9"
    assert Limits().proxies == ()
    # The old call, ``client_address(request, trust_forwarded_for)``, means the same.
    assert client_address(behind, True) == "198.51.100.7"
    assert client_address(public, True) == "198.51.100.9"
    assert client_address(behind, False) == "172.18.0.5"


def test_trusted_proxies_read_a_comma_list_and_refuse_a_bad_network(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LINLI_TRUSTED_PROXIES", "172.30.80.2, 10.1.0.0/16")
    assert Settings(_env_file=None).trusted_proxies == ["172.30.80.2", "10.1.0.0/16"]
    monkeypatch.setenv("LINLI_TRUSTED_PROXIES", '["fd00::/8"]')
    assert Settings(_env_file=None).trusted_proxies == ["fd00::/8"]
    monkeypatch.setenv("LINLI_TRUSTED_PROXIES", "proxy.local")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_the_trusted_proxies_setting_reaches_the_limiter(settings):  # type: ignore[no-untyped-def]
    from bot.app import _limits

    limits = _limits(
        settings.model_copy(update={"trusted_proxies": ["10.0.0.2"], "api_qr_polls_per_ticket": 7})
    )
    assert [str(network) for network in limits.proxies] == ["10.0.0.2/32"]
    assert limits.qr_polls_per_ticket == 7


def test_a_qr_poll_counts_against_its_ticket_not_the_sign_in_bucket():
    limits = Limits(per_address=9, sign_in_per_address=2, qr_polls_per_ticket=40)
    poll = buckets(from_peer("198.51.100.7", "/api/v1/auth/qr/abcdefgh123"), limits)
    assert [(stem.split(":")[0], limit) for stem, limit in poll] == [("ip", 9), ("qrpoll", 40)]
    other = buckets(from_peer("198.51.100.7", "/api/v1/auth/qr/zyxwvuts987"), limits)
    assert poll[1][0] != other[1][0]
    # Starting a QR sign-in is a sign-in attempt.
    start = buckets(from_peer("198.51.100.7", "/api/v1/auth/qr", method="POST"), limits)
    assert [stem.split(":")[0] for stem, _ in start] == ["ip", "signin"]


def test_buckets_hash_tokens_and_add_a_sign_in_bucket():
    request = make_mocked_request(
        "POST", "/api/v1/auth/password", headers={"Authorization": "Bearer secret-token"}
    )
    found = buckets(request, Limits(per_session=5, per_address=9, sign_in_per_address=2))
    assert [limit for _, limit in found] == [9, 2, 5]
    assert all("secret-token" not in stem for stem, _ in found)


def test_a_signed_in_request_counts_per_session_and_resident_not_per_address():
    request = make_mocked_request(
        "POST", "/api/v1/proposals/1/vote", headers={"Authorization": "Bearer secret-token"}
    )
    limits = Limits(per_session=5, per_address=9)
    signed_in = buckets(request, limits, resident_id=42)
    assert [stem.split(":")[0] for stem, _ in signed_in] == ["session", "resident"]
    assert [limit for _, limit in signed_in] == [5, 10]  # a resident: twice a session
    assert all("secret-token" not in stem for stem, _ in signed_in)
    # A token that resolved to no session is anonymous: the address, nothing else.
    anonymous = buckets(request, limits)
    assert [(stem.split(":")[0], limit) for stem, limit in anonymous] == [("ip", 9)]
    assert Limits(per_session=5, per_resident=7).resident_limit == 7


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "api_rate_per_session": 3,
            "api_rate_per_address": 8,
            "api_sign_in_rate_per_address": 2,
        }
    )


@pytest.fixture(autouse=True)
def frozen_minute(request):  # type: ignore[no-untyped-def]
    """Mid-window, so no test straddles a minute boundary."""
    if "client" in request.fixturenames:
        client = request.getfixturevalue("client")
        client.server.app[API_DEPS].clock = lambda: 1_800_000_030.0


async def test_a_session_over_its_limit_gets_429_with_retry_after(client, world):
    with using(world.app_state.db):
        person = await world.resident()
    token = await issue(world.app_state.store, person.id)
    headers = {"Authorization": f"Bearer {token}"}
    statuses = [(await client.get("/api/v1/me", headers=headers)).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    resp = await client.get("/api/v1/me", headers=headers)
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "30"
    body = await resp.json()
    assert body["error"]["code"] == "api.error.too_many"
    assert resp.headers["Retry-After"] in body["error"]["message"]
    # Another session from the same address still has its own allowance.
    other = await issue(world.app_state.store, person.id)
    ok = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"})
    assert ok.status == 200


async def test_many_signed_in_residents_behind_one_address_are_not_refused(client, world):
    """Twelve residents from one address (the address allows 8 a minute): every vote-sized
    burst goes through, and anonymous callers from there still have their own 8."""
    with using(world.app_state.db):
        people = [await world.resident() for _ in range(12)]
    tokens = [await issue(world.app_state.store, person.id) for person in people]
    statuses = [
        (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status
        for token in tokens
        for _ in range(2)
    ]
    assert statuses == [200] * 24
    anonymous = [(await client.get("/api/v1/openapi.json")).status for _ in range(9)]
    assert anonymous == [200] * 8 + [429]


async def test_one_resident_s_sessions_share_a_resident_limit(client, world):
    """Fresh sessions are no way around the limit: 3 a session, 6 a resident."""
    with using(world.app_state.db):
        person = await world.resident()
    tokens = [await issue(world.app_state.store, person.id) for _ in range(3)]
    statuses = [
        (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status
        for token in tokens
        for _ in range(2)
    ]
    assert statuses == [200] * 6
    resp = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens[0]}"})
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "30"


async def test_forged_tokens_count_against_the_address(client, world):
    """A made-up token per request is anonymous: 401 while the address allows, then 429."""
    statuses = [
        (await client.get("/api/v1/me", headers={"Authorization": f"Bearer forged-{n}"})).status
        for n in range(9)
    ]
    assert statuses == [401] * 8 + [429]
    # The same address's anonymous allowance is the one the forger used up.
    assert (await client.get("/api/v1/openapi.json")).status == 429


class CountingStore:
    """The real store, counting round trips."""

    def __init__(self, real):  # type: ignore[no-untyped-def]
        self.real = real
        self.calls: list[str] = []

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        attribute = getattr(self.real, name)
        if name in {"get", "set", "set_if_absent", "delete", "incr", "incr_many"}:
            self.calls.append(name)
        return attribute


async def test_a_signed_in_request_asks_the_store_for_its_session_once(client, world):
    with using(world.app_state.db):
        person = await world.resident()
    token = await issue(world.app_state.store, person.id)
    api = client.server.app[API_DEPS]
    real = api.store
    api.store = counting = CountingStore(real)
    try:
        resp = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        api.store = real
    assert resp.status == 200
    # The session lookup (shared with the handler) and one incr_many for every bucket.
    assert counting.calls == ["get", "incr_many"]


async def test_sign_in_attempts_have_a_tighter_bucket(client, world):
    attempts = [
        (await client.post("/api/v1/auth/password", json={"login": "x", "password": "y"})).status
        for _ in range(3)
    ]
    assert attempts == [401, 401, 429]


async def test_the_address_limit_covers_anonymous_callers(client, world):
    statuses = [(await client.get("/api/v1/openapi.json")).status for _ in range(9)]
    assert statuses[:8] == [200] * 8 and statuses[8] == 429


class DownStore:
    """A store that never answers, as Redis does when it is down."""

    async def _down(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise StoreUnavailable("ConnectionError")

    get = set = set_if_absent = delete = incr = incr_many = _down


async def test_a_down_store_answers_503_not_500(client, world):
    api = client.server.app[API_DEPS]
    real = api.store
    api.store = DownStore()
    try:
        resp = await client.get("/api/v1/me", headers={"Authorization": "Bearer whatever"})
    finally:
        api.store = real
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "5"
    assert (await resp.json())["error"]["code"] == "api.error.unavailable"


def test_the_per_resident_setting_reaches_the_limiter(settings, store):  # type: ignore[no-untyped-def]
    """``api_rate_per_resident`` is what the running app counts against, not a default."""
    from bot.app import _limits

    assert _limits(settings).resident_limit == 6  # unset: twice the session's 3
    assert _limits(settings.model_copy(update={"api_rate_per_resident": 4})).resident_limit == 4


async def test_rotating_forwarded_for_from_outside_our_proxies_buys_nothing(client, world):
    """The test client connects from 127.0.0.1, which is not one of the proxies."""
    client.server.app[API_DEPS].limits = Limits(per_address=8, trusted_proxies=("10.0.0.2",))
    statuses = [
        (
            await client.get("/api/v1/openapi.json", headers={"X-Forwarded-For": f"203.0.113.{n}"})
        ).status
        for n in range(9)
    ]
    assert statuses == [200] * 8 + [429]


async def poll(client, started):  # type: ignore[no-untyped-def]
    """One poll as the console makes it (with the secret only the starting page holds)."""
    path = f"/api/v1/auth/qr/{started['ticket']}"
    if "secret" in started:
        return await client.post(path, json={"secret": started["secret"]})
    return await client.get(path)


async def test_a_console_polling_its_qr_ticket_is_not_refused_nor_spends_sign_ins(client, world):
    """A minute of the console's two-second polls; the address still has its password tries."""
    client.server.app[API_DEPS].limits = Limits(sign_in_per_address=2)
    started = await client.post("/api/v1/auth/qr")
    assert started.status == 200
    polls = [(await poll(client, await started.json())).status for _ in range(30)]
    assert polls == [200] * 30
    attempt = await client.post("/api/v1/auth/password", json={"login": "x", "password": "y"})
    assert attempt.status == 401
    attempt = await client.post("/api/v1/auth/password", json={"login": "x", "password": "y"})
    assert attempt.status == 429


async def test_polls_of_one_qr_ticket_have_a_budget_of_their_own(client, world):
    client.server.app[API_DEPS].limits = Limits(sign_in_per_address=2, qr_polls_per_ticket=5)
    started = await (await client.post("/api/v1/auth/qr")).json()
    polls = [(await poll(client, started)).status for _ in range(6)]
    assert polls == [200] * 5 + [429]
