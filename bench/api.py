"""Benchmark the JSON API's own overhead: reads through sessions, limits and views, for real.

Usage::

    python bench/api.py [--clients 100] [--seconds 15] [--warmup 2] [--proposals 500]
                        [--residents 200] [--limit 30] [--limit-seconds 3]

What it does:

1. Drops and recreates the PostgreSQL database ``LINLI_BENCH_DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432/linli_bench_api``; its name must contain
   ``bench``) and flushes the Redis database ``LINLI_BENCH_REDIS_URL`` (default
   ``redis://127.0.0.1:6379/15``).
2. Seeds, from this process (``models.db.database``: migrations, then bulk inserts):
   community ``bench``, buildings of 100 households, ``--residents`` households with one
   verified resident each and one community worker. ``--proposals`` proposals, by the
   residents in turn, are bulk inserted: every 25th is still ``submitted`` (only its
   proposer sees it), the rest were published 6 days ago, every third scoped to its
   proposer's building; then every 10th published one is opened for voting through
   ``service.open_voting`` (electorate frozen), so views with a live turnout are in the
   mix. Every resident gets an API session token in Redis, written by
   ``handlers.sessions.issue`` through the same ``RedisStore`` (default prefix)
   the service opens, and two more (for the first two residents) are kept for step 4.
3. Load phase: starts the full service (``create_app``, ``wechat_community="bench"``) in
   its own process (``bench/_service.py``) with ``LINLI_API_RATE_PER_SESSION`` and
   ``LINLI_API_RATE_PER_ADDRESS`` set to 1,000,000,000 in its environment: the limiter
   still counts every request in Redis (one ``INCR`` per bucket), it just never refuses.
   ``--clients`` clients, each with its own token (client *i* is resident *i* mod
   ``--residents``), share one ``aiohttp.ClientSession`` (``TCPConnector`` limit =
   clients) and send back to back, each request drawn with a per-client fixed seed:
   ``GET /api/v1/me`` 20%, ``GET /api/v1/proposals?per_page=20`` 30% and
   ``GET /api/v1/proposals/{id}`` 50% (an id the caller may see, uniformly). Closed loop:
   ``--warmup`` seconds unmeasured, then ``--seconds`` measured.
4. Limit phase: a second server process, the same except ``LINLI_API_RATE_PER_SESSION`` =
   ``--limit``. One greedy client (a fresh token of a resident the load phase left out)
   sends ``GET /api/v1/me`` back to back for ``--limit-seconds``; a bystander (another
   such resident) sends one every 0.25 s. The
   limit counts in fixed one-minute windows, so the phase waits until it fits in one.

Counting: requests/s = 200 answers completed inside the measured window ÷ its length,
per endpoint and overall; p50/p99 are per-request latencies of those answers. Anything
else (another status, a client error, a timeout) is an error, counted by status (or
exception name) with a sample body; ``status_429`` must be 0. Every 16th answer of each
client is checked (``/me``: the caller's id; the list: 20 items and the total the caller
may see; one proposal: the id asked for); ``wrong`` counts the misses. ``srv cpu``/
``drv cpu`` are the CPU of the server process and of this driver over the window (100% =
one core), read from ``/proc``. In the limit phase the greedy client must get exactly
``--limit`` answers 200 and 429 for the rest, every 429 with an integer ``Retry-After``
of 1..60 seconds and the ``api.error.too_many`` error; the bystander must get no 429.

5. Workers phase (``--workers N``, default 2; 1 skips it): the load phase again against
   ``N`` workers of the service sharing the port (``linli serve --workers``).
6. Bare phase: a bare aiohttp app in its own process answering ``GET /api/v1/me`` with a
   JSON body of the same size, driven by the same clients for the same window: the floor
   of HTTP, JSON, client and machine. ``ratio`` = full ÷ bare.

The driver's collector is paused while it measures (``_service.quiet_collector``).

No throughput target is asserted (the issue's ratio ≥ 0.3 is reported). The exit code is
nonzero if setup fails, the load or workers phase got a 429, an error or a wrong answer,
the bare phase an error, or the limit phase did not behave as above. The last line of
output is one JSON object: ``{"bench": "api", "requests_per_s", "bare_requests_per_s",
"ratio", "workers", "requests_per_s_workers", "errors_workers", "peak_rss_mb",
"bare_peak_rss_mb", "p50_ms", "p99_ms", "endpoints", "errors", "status_429", "wrong",
"server_cpu", "driver_cpu", "clients", "seconds", "proposals", "residents", "limit"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from _service import (
    BATCH,
    Server,
    cpu_seconds,
    database_name,
    flush_redis,
    issue_tokens,
    log_tail,
    make_households,
    pct,
    percentile,
    quiet_collector,
    reset_database,
    say,
    serve,
    start_server,
)
from aiohttp import web

from bot.store import RedisStore
from handlers.proposals import service
from handlers.sessions import issue
from models.community import Community, Household
from models.db import database
from models.proposals import Proposal
from models.residents import Resident, Role, RoleAssignment

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/linli_bench_api"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
COMMUNITY = "bench"
SEED = 20261115
UNLIMITED = 1_000_000_000
WINDOW_SECONDS = 60  # handlers.ratelimit's fixed windows
PER_PAGE = 20
MIX = (("me", 0.20), ("list", 0.30), ("detail", 0.50))
VERIFY_EVERY = 16
SUBMITTED_EVERY = 25
BUILDING_SCOPE_EVERY = 3
VOTING_EVERY = 10
BYSTANDER_INTERVAL = 0.25
CLIENT_TIMEOUT_SECONDS = 30.0
SCRIPT = str(Path(__file__).resolve())


# --------------------------------------------------------------------------- preparation


@dataclass
class World:
    # (resident id, token) per resident, in id order
    sessions: list[tuple[int, str]]
    # what each resident's list shows in total: the public proposals and their own
    visible: dict[int, int]
    public_ids: list[int]
    greedy_token: str
    bystander_token: str
    voting: int
    submitted: int


async def seed(args: argparse.Namespace) -> World:
    """Community, households, residents, a worker, proposals in a few states, tokens."""
    started = time.perf_counter()
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    async with database(args.database_url):
        community = await Community.create(slug=COMMUNITY, name="基准社区")
        building_ids = await make_households(community.id, args.residents, rng)
        households = await (
            Household.filter(building__community_id=community.id)
            .order_by("id")
            .values_list("id", "building_id")
        )
        await Resident.bulk_create(
            [
                Resident(
                    community_id=community.id,
                    openid=f"o_bench_{n:05d}",
                    name=f"居民{n + 1}",
                    household_id=household_id,
                    verified=True,
                )
                for n, (household_id, _) in enumerate(households)
            ],
            batch_size=BATCH,
        )
        residents = await (
            Resident.filter(community_id=community.id, verified=True)
            .order_by("id")
            .values_list("id", "household_id")
        )
        building_of = dict(households)
        worker = await Resident.create(
            community_id=community.id, openid="o_bench_worker", name="基准社工"
        )
        await RoleAssignment.create(
            resident=worker, role=Role.COMMUNITY_WORKER, community_id=community.id
        )

        published_at = now - timedelta(days=6)
        rows = []
        for i in range(args.proposals):
            proposer, household_id = residents[i % len(residents)]
            submitted = i % SUBMITTED_EVERY == 0
            scope: dict[str, Any] = (
                {"kind": "buildings", "ids": [building_of[household_id]]}
                if i % BUILDING_SCOPE_EVERY == 0
                else {"kind": "community", "ids": []}
            )
            rows.append(
                Proposal(
                    community_id=community.id,
                    proposer_id=proposer,
                    title=f"第{i + 1}号提案：{'楼道照明改造' if i % 2 else '小区绿化整治'}",
                    description="居民反映夜间照明不足、绿地杂草丛生，建议统一整治并定期维护。"
                    * (1 + i % 4),
                    category="project" if i % 2 else "rectification",
                    status="submitted" if submitted else "published",
                    scope=scope,
                    estimated_cost=Decimal(rng.randint(1000, 500000)),
                    funding="government" if i % 2 else "residents",
                    published_at=None if submitted else published_at,
                )
            )
        await Proposal.bulk_create(rows, batch_size=BATCH)
        listed = await (
            Proposal.filter(community_id=community.id)
            .order_by("id")
            .values_list("id", "status", "proposer_id")
        )
        public_ids = [pid for pid, status, _ in listed if status == "published"]
        own_hidden = Counter(owner for _, status, owner in listed if status == "submitted")
        boss = await service.who(worker)
        voting = 0
        for pid in public_ids[::VOTING_EVERY]:
            await service.open_voting(pid, boss, now, days=7)
            voting += 1
        seeded = time.perf_counter()

    resident_ids = [rid for rid, _ in residents]
    store = RedisStore(args.redis_url, op_timeout=5.0)
    try:
        # The limit phase's two residents send nothing in the load phase: limits count per
        # resident too, and a resident of the load phase may have spent the minute's share.
        loaders, (greedy_id, bystander_id) = resident_ids[:-2], resident_ids[-2:]
        tokens = await issue_tokens(store, loaders)
        greedy = await issue(store, greedy_id)
        bystander = await issue(store, bystander_id)
    finally:
        await store.close()

    visible = {rid: len(public_ids) + own_hidden.get(rid, 0) for rid in resident_ids}
    say(
        f"seeded {len(building_ids)} buildings, {len(residents)} residents + 1 worker, "
        f"{len(listed)} proposals ({len(public_ids)} public of which {voting} voting, "
        f"{len(listed) - len(public_ids)} submitted) in {seeded - started:.1f} s; "
        f"{len(tokens) + 2} tokens; total {time.perf_counter() - started:.1f} s"
    )
    return World(
        list(zip(loaders, tokens, strict=True)),
        visible,
        public_ids,
        greedy,
        bystander,
        voting,
        len(listed) - len(public_ids),
    )


# --------------------------------------------------------------------------- load phase


@dataclass
class Endpoint:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000


@dataclass
class Load:
    seconds: float
    endpoints: dict[str, Endpoint] = field(
        default_factory=lambda: {name: Endpoint() for name, _ in MIX}
    )
    samples: dict[str, str] = field(default_factory=dict)
    checked: int = 0
    wrong: int = 0
    wrong_sample: str = ""
    server_cpu: float | None = None
    driver_cpu: float | None = None

    @property
    def latencies(self) -> list[float]:
        return [x for e in self.endpoints.values() for x in e.latencies]

    @property
    def errors(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for e in self.endpoints.values():
            total.update(e.errors)
        return total

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000


def check(kind: str, data: Any, resident_id: int, asked: int | None, world: World) -> bool:
    """Whether a 200 answer is the one this caller should have got."""
    with contextlib.suppress(KeyError, TypeError):
        if kind == "me":
            return data["id"] == resident_id
        if kind == "list":
            total = world.visible[resident_id]
            return data["total"] == total and len(data["items"]) == min(PER_PAGE, total)
        return data["id"] == asked
    return False


async def drive(base: str, world: World, args: argparse.Namespace, pid: int) -> Load:
    load = Load(args.seconds)
    names = [name for name, _ in MIX]
    weights = [w for _, w in MIX]

    async def client(session: aiohttp.ClientSession, n: int, t0: float, t_end: float) -> None:
        resident_id, token = world.sessions[n % len(world.sessions)]
        headers = {"Authorization": f"Bearer {token}"}
        rng = random.Random(SEED + 1 + n)
        sent = 0
        while time.perf_counter() < t_end:
            kind = rng.choices(names, weights)[0]
            asked = None
            if kind == "me":
                url = f"{base}/api/v1/me"
            elif kind == "list":
                url = f"{base}/api/v1/proposals?per_page={PER_PAGE}"
            else:
                asked = rng.choice(world.public_ids)
                url = f"{base}/api/v1/proposals/{asked}"
            start = time.perf_counter()
            try:
                async with session.get(url, headers=headers) as resp:
                    raw = await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, raw = 0, f"{type(exc).__name__}: {exc}".encode()
            end = time.perf_counter()
            if not t0 <= end < t_end:
                continue
            endpoint = load.endpoints[kind]
            if status != 200:
                label = str(status) if status else raw.decode().split(":", 1)[0]
                endpoint.errors[label] += 1
                load.samples.setdefault(label, raw[:300].decode(errors="replace"))
                continue
            endpoint.latencies.append(end - start)
            sent += 1
            if sent % VERIFY_EVERY == 0:
                load.checked += 1
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = None
                if not check(kind, data, resident_id, asked, world):
                    load.wrong += 1
                    load.wrong_sample = load.wrong_sample or f"{kind}: {raw[:300]!r}"

    async def watch(t0: float, t_end: float) -> None:
        await asyncio.sleep(max(0.0, t0 - time.perf_counter()))
        server0, driver0 = cpu_seconds(pid), time.process_time()
        await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
        server1, driver1 = cpu_seconds(pid), time.process_time()
        if server0 is not None and server1 is not None:
            load.server_cpu = (server1 - server0) / load.seconds
        load.driver_cpu = (driver1 - driver0) / load.seconds

    connector = aiohttp.TCPConnector(limit=args.clients)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t0 = time.perf_counter() + args.warmup
        t_end = t0 + args.seconds
        await asyncio.gather(
            watch(t0, t_end), *(client(session, n, t0, t_end) for n in range(args.clients))
        )
    return load


def bare_app() -> web.Application:
    """The floor: aiohttp answering a JSON body like ``/me``'s, nothing looked up."""

    async def me(request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "")
        return web.json_response({"id": len(token), "name": "bench", "verified": True})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/api/v1/me", me)
    app.router.add_get("/healthz", health)
    return app


async def drive_bare(base: str, world: World, args: argparse.Namespace) -> Load:
    """The same clients and window as ``drive``, every request ``GET /api/v1/me``."""
    load = Load(args.seconds)
    endpoint = load.endpoints["me"]

    async def client(session: aiohttp.ClientSession, n: int, t0: float, t_end: float) -> None:
        headers = {"Authorization": f"Bearer {world.sessions[n % len(world.sessions)][1]}"}
        while time.perf_counter() < t_end:
            start = time.perf_counter()
            try:
                async with session.get(f"{base}/api/v1/me", headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = 0
                load.samples.setdefault(type(exc).__name__, str(exc)[:300])
            end = time.perf_counter()
            if t0 <= end < t_end:
                if status == 200:
                    endpoint.latencies.append(end - start)
                else:
                    endpoint.errors[str(status)] += 1

    connector = aiohttp.TCPConnector(limit=args.clients)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t0 = time.perf_counter() + args.warmup
        t_end = t0 + args.seconds
        await asyncio.gather(*(client(session, n, t0, t_end) for n in range(args.clients)))
    return load


# --------------------------------------------------------------------------- limit phase


@dataclass
class Limited:
    sent: int = 0
    ok: int = 0
    refused: int = 0
    other: Counter[str] = field(default_factory=Counter)
    retry_after: Counter[str] = field(default_factory=Counter)
    bad_retry_after: int = 0
    bad_body: int = 0
    bystander_sent: int = 0
    bystander_ok: int = 0
    bystander_refused: int = 0

    @property
    def retry_after_ok(self) -> bool:
        return self.refused > 0 and self.bad_retry_after == 0


def integer_seconds(value: str | None) -> int | None:
    """``Retry-After`` as whole seconds of 1..60 (one window at most), else None."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    seconds = int(value)
    return seconds if 1 <= seconds <= WINDOW_SECONDS else None


async def fit_in_window(seconds: float) -> None:
    """Wait until ``seconds`` (and a margin) end before the limiter's window does."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < seconds + 1.0:
        say(f"waiting {left:.1f} s for a fresh rate-limit window")
        await asyncio.sleep(left + 0.1)


async def limit_phase(base: str, world: World, seconds: float) -> Limited:
    result = Limited()
    url = f"{base}/api/v1/me"

    async def greedy(session: aiohttp.ClientSession, t_end: float) -> None:
        headers = {"Authorization": f"Bearer {world.greedy_token}"}
        while time.perf_counter() < t_end:
            result.sent += 1
            try:
                async with session.get(url, headers=headers) as resp:
                    raw = await resp.read()
                    status, wait = resp.status, resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                result.other[type(exc).__name__] += 1
                continue
            if status == 200:
                result.ok += 1
            elif status == 429:
                result.refused += 1
                result.retry_after[str(wait)] += 1
                result.bad_retry_after += integer_seconds(wait) is None
                try:
                    code = json.loads(raw)["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = None
                result.bad_body += code != "api.error.too_many"
            else:
                result.other[str(status)] += 1

    async def bystander(session: aiohttp.ClientSession, t_end: float) -> None:
        headers = {"Authorization": f"Bearer {world.bystander_token}"}
        while time.perf_counter() < t_end:
            result.bystander_sent += 1
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url, headers=headers) as resp:
                    await resp.read()
                    result.bystander_ok += resp.status == 200
                    result.bystander_refused += resp.status == 429
            await asyncio.sleep(BYSTANDER_INTERVAL)

    await fit_in_window(seconds)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        t_end = time.perf_counter() + seconds
        await asyncio.gather(greedy(session, t_end), bystander(session, t_end))
    return result


# --------------------------------------------------------------------------- main


async def run_server(
    args: argparse.Namespace,
    phase: str,
    per_session: int,
    body: Callable[[Server], Awaitable[Any]],
    kind: str | None = None,
    workers: int = 1,
) -> tuple[Any, float | None]:
    """One server process with these limits, ``body(server)`` against it, then stopped;
    the result and the server's peak RSS (MiB; None for several workers)."""
    env = {
        "LINLI_API_RATE_PER_SESSION": str(per_session),
        "LINLI_API_RATE_PER_ADDRESS": str(UNLIMITED),
        "LINLI_WORKERS": str(workers),
    }
    with tempfile.TemporaryDirectory(prefix=f"linli-bench-api-{phase}-") as tmp:
        server = await start_server(SCRIPT, args, Path(tmp), kind, env=env)
        rss = None
        try:
            with quiet_collector():
                result = await body(server)
            rss = server.peak_rss_mb() if workers == 1 else None
        finally:
            await server.stop()
            tail = log_tail(server.log_path)
    if server.process.returncode not in (0, None, -15):
        say(f"server exited with {server.process.returncode}")
    if tail:
        say(f"server log tail:\n{tail}")
    return result, rss


def round_ms(endpoint: Endpoint | Load, q: float) -> float | None:
    return round(endpoint.ms(q), 2) if endpoint.latencies else None


async def bench(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    await reset_database(args.database_url)
    await flush_redis(args.redis_url)
    say(
        f"database {database_name(args.database_url)} recreated, redis {args.redis_url} "
        f"flushed; {args.proposals} proposals, {args.residents} residents, "
        f"{args.clients} clients, {args.warmup:g} s warm-up + {args.seconds:g} s"
    )
    world = await seed(args)
    say(
        f"load phase: server with LINLI_API_RATE_PER_SESSION={UNLIMITED}, "
        f"LINLI_API_RATE_PER_ADDRESS={UNLIMITED} (counted, never refused)"
    )
    load, peak_rss = await run_server(
        args,
        "load",
        UNLIMITED,
        lambda server: drive(server.base, world, args, server.process.pid),
    )
    more = None
    if args.workers > 1:
        say(f"load phase again on {args.workers} workers sharing the port")
        more, _ = await run_server(
            args,
            "workers",
            UNLIMITED,
            lambda server: drive(server.base, world, args, -1),
            workers=args.workers,
        )
    say("bare phase: aiohttp alone answering GET /api/v1/me with JSON")
    bare, bare_rss = await run_server(
        args,
        "bare",
        UNLIMITED,
        lambda server: drive_bare(server.base, world, args),
        kind="bare",
    )
    say(
        f"limit phase: server with LINLI_API_RATE_PER_SESSION={args.limit}, "
        f"LINLI_API_RATE_PER_ADDRESS={UNLIMITED}"
    )
    limited, _ = await run_server(
        args,
        "limit",
        args.limit,
        lambda server: limit_phase(server.base, world, args.limit_seconds),
    )

    errors = load.errors
    refused = errors.get("429", 0)
    say(f"{'endpoint':<8} {'ok':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, endpoint in [*load.endpoints.items(), ("all", load)]:
        n = len(endpoint.latencies)
        line = (
            f"{name:<8} {n:>7} {n / load.seconds:>8.1f} {endpoint.ms(0.50):>8.2f} "
            f"{endpoint.ms(0.99):>8.2f} {sum(endpoint.errors.values()):>7}"
        )
        say(line)
    say(f"cpu: server {pct(load.server_cpu)}, driver {pct(load.driver_cpu)} (100% = one core)")
    for label, n in errors.most_common():
        say(f"error {label} ×{n}; sample: {load.samples.get(label, '')}")
    say(
        f"checked {load.checked} answers, {load.wrong} wrong"
        + (f"; sample: {load.wrong_sample}" if load.wrong else "")
    )
    waits = sorted(int(w) for w in limited.retry_after if w.isdigit())
    say(
        f"limit {args.limit}/min per session: greedy client sent {limited.sent} in "
        f"{args.limit_seconds:g} s → {limited.ok} × 200, {limited.refused} × 429 "
        f"(expected {args.limit} × 200), other {dict(limited.other)}; Retry-After "
        f"{'all integers' if limited.bad_retry_after == 0 else 'NOT all integers'} "
        f"({min(waits) if waits else '-'}..{max(waits) if waits else '-'} s, "
        f"{limited.bad_retry_after} bad), bodies {limited.bad_body} bad; bystander "
        f"{limited.bystander_ok}/{limited.bystander_sent} × 200, "
        f"{limited.bystander_refused} × 429"
    )

    limit_ok = (
        limited.ok == args.limit
        and limited.refused == limited.sent - args.limit
        and limited.retry_after_ok
        and limited.bad_body == 0
        and limited.bystander_refused == 0
        and limited.bystander_ok == limited.bystander_sent
    )
    bare_errors = sum(bare.errors.values())
    more_errors = sum(more.errors.values()) + more.wrong if more else 0
    say(
        f"bare aiohttp: {bare.rate:.1f} requests/s ({bare_errors} errors); full ÷ bare "
        f"{load.rate / bare.rate if bare.rate else float('nan'):.3f} (target ≥ 0.30)"
        + (f"; {args.workers} workers {more.rate:.1f} requests/s" if more else "")
    )
    passed = refused == 0 and load.wrong == 0 and limit_ok and more_errors == 0 and bare_errors == 0
    report = {
        "bench": "api",
        "requests_per_s": round(load.rate, 1),
        "bare_requests_per_s": round(bare.rate, 1),
        "ratio": round(load.rate / bare.rate, 3) if bare.rate else None,
        "workers": args.workers,
        "requests_per_s_workers": round(more.rate, 1) if more else None,
        "errors_workers": more_errors,
        "peak_rss_mb": peak_rss,
        "bare_peak_rss_mb": bare_rss,
        "p50_ms": round_ms(load, 0.50),
        "p99_ms": round_ms(load, 0.99),
        "endpoints": {
            name: {
                "requests_per_s": round(len(e.latencies) / load.seconds, 1),
                "p50_ms": round_ms(e, 0.50),
                "p99_ms": round_ms(e, 0.99),
                "errors": sum(e.errors.values()),
            }
            for name, e in load.endpoints.items()
        },
        "errors": dict(errors.most_common()),
        "status_429": refused,
        "wrong": load.wrong,
        "server_cpu": None if load.server_cpu is None else round(load.server_cpu, 2),
        "driver_cpu": None if load.driver_cpu is None else round(load.driver_cpu, 2),
        "clients": args.clients,
        "seconds": args.seconds,
        "proposals": args.proposals,
        "residents": args.residents,
        "limit": {
            "per_session": args.limit,
            "sent": limited.sent,
            "ok": limited.ok,
            "status_429": limited.refused,
            "retry_after_integer": limited.retry_after_ok,
            "retry_after_s": [min(waits), max(waits)] if waits else None,
            "bystander_429": limited.bystander_refused,
            "held": limit_ok,
        },
    }
    return report, passed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--proposals", type=int, default=500)
    parser.add_argument("--residents", type=int, default=200, help="one token each")
    parser.add_argument(
        "--limit", type=int, default=30, help="per-session limit (per minute) of the limit phase"
    )
    parser.add_argument(
        "--limit-seconds", type=float, default=3.0, help="length of the limit phase"
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("LINLI_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("LINLI_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="also measure this many workers (1: skip)"
    )
    parser.add_argument(
        "--serve", nargs="?", const="full", choices=("full", "bare"), help=argparse.SUPPRESS
    )
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.clients, args.proposals, args.limit) < 1 or args.residents < 3:
        parser.error("--clients, --proposals and --limit must be at least 1, --residents 3")
    if args.seconds <= 0 or args.limit_seconds <= 0 or args.warmup < 0:
        parser.error("--seconds and --limit-seconds must be positive, --warmup not negative")
    if args.limit_seconds > WINDOW_SECONDS - 5:
        parser.error(f"--limit-seconds must fit in one {WINDOW_SECONDS} s rate-limit window")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve == "bare":
        serve(args, bare_app())
        return 0
    if args.serve:
        serve(args, wechat_community=COMMUNITY)
        return 0
    report, passed = asyncio.run(bench(args))
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
