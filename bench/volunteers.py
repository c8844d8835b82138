"""Benchmark volunteer sign-up: ``POST /api/v1/volunteers/shifts/{id}/signup``, the real path.

Usage::

    python bench/volunteers.py [--volunteers 2000] [--capacity 500] [--concurrency 200]

What it does:

1. Drops and recreates the PostgreSQL database ``LINLI_BENCH_DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432/linli_bench_volunteers``; its name must contain
   ``bench``) and flushes the Redis database ``LINLI_BENCH_REDIS_URL`` (default
   ``redis://127.0.0.1:6379/15``). The service uses Tortoise's connection pool as
   ``models.db`` sizes it (20 connections unless the URL says otherwise).
2. Seeds, from this process (``models.db.database``: migrations, then bulk inserts):
   community ``bench``, ``--volunteers`` residents each registered as a volunteer (a
   profile and the volunteer role) and one community worker, who creates a patrol
   activity with one shift of ``--capacity`` places two days ahead through
   ``service.create_activity``. Every volunteer gets an API session token in Redis,
   written by ``handlers.sessions.issue`` through the same ``RedisStore``
   (default prefix) the service opens.
3. Starts the full service (``create_app``, ``wechat_community="bench"``) in its own
   process (``python bench/volunteers.py --serve --port P``, ``web.run_app`` on 127.0.0.1,
   ``access_log=None``) and waits until ``/healthz`` answers.
4. ``--concurrency`` workers on one ``aiohttp.ClientSession`` (``TCPConnector`` limit =
   concurrency) take the volunteers from one queue, shuffled with a fixed seed, and each
   signs up once for the shift: every request competes for the same shift row.

Counting: sign-ups/s = HTTP 201 answers ÷ wall time from the first request to the last
answer; p50/p99 are per-request latencies of those answers. Anything else (another
status, a client error, a timeout) is an error, counted by kind with a sample body.
``srv cpu``/``drv cpu`` are the CPU used by the server process and by this driver during
the run (100% = one core), read from ``/proc``.

Check (asyncpg, after the run): exactly ``--capacity`` confirmed sign-ups and the rest
waitlisted; the waitlist positions, read in the order the rows were inserted (their
ids, taken while the shift's lock was held), are exactly 1..n with no gap or repeat; the
shift's own counters agree; and every HTTP answer (status, position) matches its row.
``capacity_held`` is all of these; ``waitlist_in_order`` is the positions' part alone.
``status_429`` counts the answers 429 (each volunteer signs up once: none may be refused).
``peak_rss_mb`` is the server process's peak resident memory (``VmHWM``), read just before
it stops.

No throughput target is set by the issue: the rate is reported, never asserted. The exit
code is nonzero if setup fails, the capacity check fails or a sign-up was an error (a 429
among them; ``tests/bench`` runs this at a small size and asserts the same). The last
line of output is one JSON object: ``{"bench": "volunteers", "signups_per_s", "p50_ms",
"p99_ms", "capacity_held", "waitlist_in_order", "confirmed", "waitlisted", "errors",
"status_429", "peak_rss_mb", "volunteers", "capacity", "concurrency"}``.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from _service import (
    BATCH,
    asyncpg_url,
    cpu_seconds,
    database_name,
    flush_redis,
    issue_tokens,
    log_tail,
    pct,
    percentile,
    reset_database,
    say,
    serve,
    start_server,
)

from bot.store import RedisStore
from handlers.volunteers import service
from handlers.volunteers.service import ShiftPlan
from models.community import Community
from models.db import database
from models.residents import Resident, Role, RoleAssignment
from models.volunteers import Shift, VolunteerProfile

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/linli_bench_volunteers"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
COMMUNITY = "bench"
SEED = 20261107
CLIENT_TIMEOUT_SECONDS = 60.0
SCRIPT = str(Path(__file__).resolve())


# --------------------------------------------------------------------------- preparation


@dataclass
class World:
    shift_id: int
    tokens: list[str]
    seconds: float


async def seed(args: argparse.Namespace) -> World:
    """Community, registered volunteers, a worker, one activity with one shift, tokens."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    async with database(args.database_url):
        community = await Community.create(slug=COMMUNITY, name="基准社区")
        await Resident.bulk_create(
            [
                Resident(community_id=community.id, openid=f"o_bench_v{n:05d}", name=f"志愿者{n}")
                for n in range(args.volunteers)
            ],
            batch_size=BATCH,
        )
        ids = await (
            Resident.filter(community_id=community.id).order_by("id").values_list("id", flat=True)
        )
        await VolunteerProfile.bulk_create(
            [
                VolunteerProfile(resident_id=rid, community_id=community.id, registered_at=now)
                for rid in ids
            ],
            batch_size=BATCH,
        )
        await RoleAssignment.bulk_create(
            [
                RoleAssignment(resident_id=rid, role=Role.VOLUNTEER, community_id=community.id)
                for rid in ids
            ],
            batch_size=BATCH,
        )
        worker = await Resident.create(
            community_id=community.id, openid="o_bench_worker", name="基准社工"
        )
        await RoleAssignment.create(
            resident=worker, role=Role.COMMUNITY_WORKER, community_id=community.id
        )
        start = now.replace(second=0, microsecond=0) + timedelta(days=2)
        activity = await service.create_activity(
            await service.who(worker),
            now,
            title="社区大型义诊活动",
            category="event",
            place="社区广场",
            latitude=31.2304,
            longitude=121.4737,
            shifts=[ShiftPlan(start, start + timedelta(hours=4), args.capacity)],
        )
        shift = await Shift.get(activity_id=activity.id)

    store = RedisStore(args.redis_url, op_timeout=5.0)
    try:
        tokens = await issue_tokens(store, list(ids))
    finally:
        await store.close()
    random.Random(SEED).shuffle(tokens)
    say(
        f"seeded {len(ids)} volunteers + 1 worker, activity #{activity.id} with shift "
        f"#{shift.id} of {args.capacity} places; {len(tokens)} tokens; "
        f"{time.perf_counter() - started:.1f} s"
    )
    return World(shift.id, tokens, time.perf_counter() - started)


# --------------------------------------------------------------------------- load driver


@dataclass
class Run:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    answers: dict[int, tuple[str, int | None]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    server_cpu: float | None = None
    driver_cpu: float | None = None

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000


async def drive(base: str, shift_id: int, tokens: list[str], concurrency: int, pid: int) -> Run:
    run = Run()
    url = f"{base}/api/v1/volunteers/shifts/{shift_id}/signup"
    queue: asyncio.Queue[str] = asyncio.Queue()
    for token in tokens:
        queue.put_nowait(token)

    async def worker(session: aiohttp.ClientSession) -> None:
        while True:
            try:
                token = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            headers = {"Authorization": f"Bearer {token}"}
            start = time.perf_counter()
            try:
                async with session.post(url, headers=headers) as resp:
                    raw = await resp.text()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, raw = 0, f"{type(exc).__name__}: {exc}"
            latency = time.perf_counter() - start
            if status == 201:
                run.latencies.append(latency)
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    data = json.loads(raw)
                    run.answers[int(data["signup_id"])] = (data["status"], data["position"])
            else:
                kind = str(status) if status else raw.split(":", 1)[0]
                run.errors[kind] += 1
                run.samples.setdefault(kind, raw[:500])

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        server0, driver0 = cpu_seconds(pid), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        run.seconds = time.perf_counter() - started
        server1, driver1 = cpu_seconds(pid), time.process_time()
    if server0 is not None and server1 is not None:
        run.server_cpu = (server1 - server0) / run.seconds
    run.driver_cpu = (driver1 - driver0) / run.seconds
    return run


# --------------------------------------------------------------------------- check


@dataclass
class Check:
    confirmed: int
    waitlisted: int
    positions_ok: bool
    counters_ok: bool
    answers_ok: bool
    held: bool


async def check(url: str, shift_id: int, capacity: int, volunteers: int, run: Run) -> Check:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        rows = await conn.fetch(
            "SELECT id, status, position FROM volunteer_signup WHERE shift_id = $1 ORDER BY id",
            shift_id,
        )
        counters = await conn.fetchrow(
            "SELECT capacity, confirmed_count, waitlist_count FROM volunteer_shift WHERE id = $1",
            shift_id,
        )
    finally:
        await conn.close()
    confirmed = [r for r in rows if r["status"] == "confirmed"]
    waiting = [r for r in rows if r["status"] == "waitlisted"]
    expected_waiting = max(volunteers - capacity, 0)
    # In insertion (lock) order: the confirmed first, then the line 1..n without gaps.
    positions_ok = [r["status"] for r in rows] == (
        ["confirmed"] * len(confirmed) + ["waitlisted"] * len(waiting)
    ) and [r["position"] for r in waiting] == list(range(1, len(waiting) + 1))
    counters_ok = (
        counters["capacity"] == capacity
        and counters["confirmed_count"] == len(confirmed)
        and counters["waitlist_count"] == len(waiting)
    )
    answers_ok = run.answers == {r["id"]: (r["status"], r["position"]) for r in rows}
    held = (
        len(confirmed) == min(capacity, volunteers)
        and len(waiting) == expected_waiting
        and len(rows) == volunteers
        and positions_ok
        and counters_ok
        and answers_ok
    )
    return Check(len(confirmed), len(waiting), positions_ok, counters_ok, answers_ok, held)


# --------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    await reset_database(args.database_url)
    await flush_redis(args.redis_url)
    say(
        f"database {database_name(args.database_url)} recreated, redis {args.redis_url} "
        f"flushed; {args.volunteers} volunteers for {args.capacity} places, "
        f"concurrency {args.concurrency}"
    )
    world = await seed(args)
    with tempfile.TemporaryDirectory(prefix="linli-bench-volunteers-") as tmp:
        server = await start_server(SCRIPT, args, Path(tmp))
        try:
            run = await drive(
                server.base, world.shift_id, world.tokens, args.concurrency, server.process.pid
            )
        finally:
            peak_rss = server.peak_rss_mb()
            await server.stop()
            tail = log_tail(server.log_path)
        if server.process.returncode not in (0, None, -15):
            say(f"server exited with {server.process.returncode}")
        if tail:
            say(f"server log tail:\n{tail}")
    checked = await check(args.database_url, world.shift_id, args.capacity, args.volunteers, run)
    errors = sum(run.errors.values())

    say(
        f"sign-ups: {len(run.latencies)} ok, {errors} errors in {run.seconds:.2f} s → "
        f"{run.rate:.1f} sign-ups/s; p50 {run.ms(0.50):.1f} ms, p99 {run.ms(0.99):.1f} ms, "
        f"max {run.ms(1.0):.1f} ms"
    )
    say(
        f"cpu: server {pct(run.server_cpu)}, driver {pct(run.driver_cpu)} (100% = one core); "
        f"server peak RSS {peak_rss} MiB"
    )
    for kind, n in run.errors.most_common():
        say(f"error {kind} ×{n}; sample: {run.samples.get(kind, '')}")
    want_confirmed = min(args.capacity, args.volunteers)
    want_waiting = max(args.volunteers - args.capacity, 0)
    say(
        f"capacity: {checked.confirmed} confirmed (expected {want_confirmed}), "
        f"{checked.waitlisted} waitlisted (expected {want_waiting}); "
        f"positions 1..n in commit order: {'ok' if checked.positions_ok else 'MISMATCH'}; "
        f"shift counters: {'ok' if checked.counters_ok else 'MISMATCH'}; "
        f"answers match rows: {'ok' if checked.answers_ok else 'MISMATCH'} → "
        f"{'held' if checked.held else 'NOT HELD'}"
    )
    report = {
        "bench": "volunteers",
        "signups_per_s": round(run.rate, 1),
        "p50_ms": round(run.ms(0.50), 2) if run.latencies else None,
        "p99_ms": round(run.ms(0.99), 2) if run.latencies else None,
        "capacity_held": checked.held,
        "waitlist_in_order": checked.positions_ok,
        "confirmed": checked.confirmed,
        "waitlisted": checked.waitlisted,
        "errors": errors,
        "status_429": run.errors.get("429", 0),
        "peak_rss_mb": peak_rss,
        "volunteers": args.volunteers,
        "capacity": args.capacity,
        "concurrency": args.concurrency,
    }
    return report, checked.held and errors == 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=2000)
    parser.add_argument("--capacity", type=int, default=500, help="places on the shift")
    parser.add_argument("--concurrency", type=int, default=200, help="concurrent clients")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LINLI_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("LINLI_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.volunteers, args.capacity, args.concurrency) < 1:
        parser.error("--volunteers, --capacity and --concurrency must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(args, wechat_community=COMMUNITY)
        return 0
    report, passed = asyncio.run(bench(args))
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
