"""Benchmark household voting: ``POST /api/v1/proposals/{id}/vote`` through the real path.

Usage::

    python bench/votes.py [--households 10000] [--per-household 2] [--concurrency 200]

What it does:

1. Drops and recreates the PostgreSQL database ``LINLI_BENCH_DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432/linli_bench_votes``; its name must contain
   ``bench``) and flushes the Redis database ``LINLI_BENCH_REDIS_URL`` (default
   ``redis://127.0.0.1:6379/15``). The service uses Tortoise's connection pool as the URL
   sets it (default at most 5 connections; ``?maxsize=20`` for more).
2. Seeds, from this process (``models.db.database``: migrations, then bulk inserts):
   community ``bench``, buildings of 100 households, ``--households`` households with a
   floor area, ``--per-household`` verified residents each (unique openids) and one
   community worker. The worker creates a rectification proposal for the whole
   community, reviews and publishes it; ``published_at`` is moved 6 days back so the
   publicity is over, and ``service.open_voting`` freezes the electorate (one elector per
   household). Every resident and the worker get an API session token in Redis, written
   by ``handlers.sessions.issue`` through the same ``RedisStore`` (default
   prefix) the service opens.
3. Starts the full service (``create_app``, ``wechat_community="bench"``) in its own
   process (``python bench/votes.py --serve --port P``, ``web.run_app`` on 127.0.0.1,
   ``access_log=None``) and waits until ``/healthz`` answers.
4. ``--concurrency`` workers on one ``aiohttp.ClientSession`` (``TCPConnector`` limit =
   concurrency) take the residents from one queue, shuffled with a fixed seed, and each
   resident votes once. Both (all) residents of a household send the same choice, drawn
   per household with a fixed seed (yes ~65%, no ~25%, abstain ~10%), so the final tally
   is known exactly: one vote per household, whichever of its residents came last.

Counting: votes/s = HTTP 200 answers ÷ wall time from the first request to the last
answer; p50/p99 are per-request latencies of those answers. Anything else (non-200
status, client error, timeout) is an error: counted by kind, with a sample body. A 429
or 503 with ``Retry-After`` is what a real client waits out and sends again (up to 5
times, as the mini-program does): those are counted as ``retried``, not as errors, and
the latency is that of the answer that counted. ``status_429`` counts every 429 answer,
retried or not: each resident votes once, so no session or resident limit may be reached.
``srv cpu``/``drv cpu`` are the CPU used by the server process and by this driver during
the run (100% = one core), read from ``/proc``.

Check: the proposal as the worker sees it (``GET /api/v1/proposals/{id}``) must show a
tally equal to the household counts sent, and ``proposal_vote`` must hold exactly one row
per household (asyncpg). ``tally_exact`` is both.

``peak_rss_mb`` is the server process's peak resident memory (``VmHWM``), read just before
it stops.

The issue's target (≥ 1,000 votes/s on one process) is reported, never asserted. The exit
code is nonzero if setup fails, the tally is not exact, a vote was an error or any answer
was a 429 (``tests/bench`` runs this at a small size and asserts the same). The last line
of output is one JSON object: ``{"bench": "votes", "votes_per_s", "p50_ms", "p99_ms",
"tally_exact", "errors", "status_429", "retried", "peak_rss_mb", "households",
"residents", "concurrency"}``.
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
    make_households,
    pct,
    percentile,
    reset_database,
    say,
    serve,
    start_server,
)

from bot.store import RedisStore
from handlers.proposals import service
from handlers.sessions import issue
from models.community import Community, Household
from models.db import database
from models.proposals import Proposal
from models.residents import Resident, Role, RoleAssignment

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/linli_bench_votes"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
COMMUNITY = "bench"
SEED = 20261102
CHOICE_WEIGHTS = (("yes", 0.65), ("no", 0.25), ("abstain", 0.10))
TARGET_VOTES_PER_S = 1000.0
CLIENT_TIMEOUT_SECONDS = 30.0
SCRIPT = str(Path(__file__).resolve())


# --------------------------------------------------------------------------- preparation


def household_choices(households: int) -> list[str]:
    """One choice per household, drawn with a fixed seed."""
    rng = random.Random(SEED)
    names = [c for c, _ in CHOICE_WEIGHTS]
    weights = [w for _, w in CHOICE_WEIGHTS]
    return rng.choices(names, weights=weights, k=households)


@dataclass
class World:
    proposal_id: int
    eligible: int
    worker_token: str
    # (token, choice) per resident, in vote order
    ballots: list[tuple[str, str]]
    expected: dict[str, int]
    seconds: float


async def seed(args: argparse.Namespace) -> World:
    """Community, households, residents, a worker, a proposal open for voting, tokens."""
    started = time.perf_counter()
    rng = random.Random(SEED + 1)
    async with database(args.database_url):
        community = await Community.create(slug=COMMUNITY, name="基准社区")
        building_ids = await make_households(community.id, args.households, rng)
        household_ids = await (
            Household.filter(building__community_id=community.id)
            .order_by("id")
            .values_list("id", flat=True)
        )
        await Resident.bulk_create(
            [
                Resident(
                    community_id=community.id,
                    openid=f"o_bench_{h:05d}_{k}",
                    household_id=household_id,
                    verified=True,
                )
                for h, household_id in enumerate(household_ids)
                for k in range(args.per_household)
            ],
            batch_size=BATCH,
        )
        rows = await (
            Resident.filter(community_id=community.id, verified=True)
            .order_by("id")
            .values_list("id", "household_id")
        )
        worker = await Resident.create(
            community_id=community.id, openid="o_bench_worker", name="基准社工"
        )
        await RoleAssignment.create(
            resident=worker, role=Role.COMMUNITY_WORKER, community_id=community.id
        )
        seeded = time.perf_counter()

        boss = await service.who(worker)
        now = datetime.now(UTC)
        created = await service.create(
            boss,
            title="小区路灯整改",
            description="全小区路灯老化，夜间照明不足，拟统一更换。",
            category="rectification",
            scope={"kind": "community"},
        )
        await service.act(created.id, boss, "review", now)
        await service.act(created.id, boss, "publish", now)
        await Proposal.filter(id=created.id).update(published_at=now - timedelta(days=6))
        opened = await service.open_voting(created.id, boss, now, days=7)
        eligible = opened.eligible_count or 0

    store = RedisStore(args.redis_url, op_timeout=5.0)
    try:
        tokens = await issue_tokens(store, [rid for rid, _ in rows])
        worker_token = await issue(store, worker.id)
    finally:
        await store.close()

    choices = household_choices(len(household_ids))
    choice_of = dict(zip(household_ids, choices, strict=True))
    ballots = [(tok, choice_of[hid]) for tok, (_, hid) in zip(tokens, rows, strict=True)]
    random.Random(SEED + 2).shuffle(ballots)
    expected = Counter(choices)
    say(
        f"seeded {len(building_ids)} buildings, {len(household_ids)} households, "
        f"{len(rows)} residents + 1 worker in {seeded - started:.1f} s; proposal "
        f"#{created.id} voting, eligible {eligible}; {len(tokens) + 1} tokens; "
        f"total {time.perf_counter() - started:.1f} s"
    )
    return World(
        created.id,
        eligible,
        worker_token,
        ballots,
        {c: expected.get(c, 0) for c, _ in CHOICE_WEIGHTS},
        time.perf_counter() - started,
    )


# --------------------------------------------------------------------------- load driver


@dataclass
class Run:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    changed: int = 0
    retried: int = 0
    refused: int = 0  # 429 answers, retried or not
    server_cpu: float | None = None
    driver_cpu: float | None = None

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000


RETRIES = 5
MAX_WAIT_SECONDS = 5.0


async def drive(
    base: str, proposal_id: int, ballots: list[tuple[str, str]], concurrency: int, pid: int
) -> Run:
    run = Run()
    url = f"{base}/api/v1/proposals/{proposal_id}/vote"
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for ballot in ballots:
        queue.put_nowait(ballot)

    async def worker(session: aiohttp.ClientSession) -> None:
        while True:
            try:
                token, choice = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            headers = {"Authorization": f"Bearer {token}"}
            for attempt in range(RETRIES + 1):
                start = time.perf_counter()
                wait = None
                try:
                    async with session.post(url, json={"choice": choice}, headers=headers) as resp:
                        raw = await resp.text()
                        status = resp.status
                        wait = resp.headers.get("Retry-After")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status, raw = 0, f"{type(exc).__name__}: {exc}"
                latency = time.perf_counter() - start
                run.refused += status == 429
                if status not in {429, 503} or not wait or attempt == RETRIES:
                    break
                # What the mini-program does: wait as told, then send the same vote again.
                run.retried += 1
                await asyncio.sleep(min(float(wait), MAX_WAIT_SECONDS))
            if status == 200:
                run.latencies.append(latency)
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    run.changed += bool(json.loads(raw)["changed"])
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


async def api_tally(base: str, proposal_id: int, token: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.get(
            f"{base}/api/v1/proposals/{proposal_id}",
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        data = await resp.json(content_type=None)
        if resp.status != 200:
            raise RuntimeError(f"GET proposal answered {resp.status}: {data}")
        return data


async def vote_rows(url: str, proposal_id: int) -> int:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM proposal_vote WHERE proposal_id = $1", proposal_id
        )
    finally:
        await conn.close()


# --------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    await reset_database(args.database_url)
    await flush_redis(args.redis_url)
    say(
        f"database {database_name(args.database_url)} recreated, redis {args.redis_url} "
        f"flushed; {args.households} households × {args.per_household} residents, "
        f"concurrency {args.concurrency}"
    )
    world = await seed(args)
    if world.eligible != args.households:
        raise RuntimeError(f"eligible is {world.eligible}, expected {args.households}")
    with tempfile.TemporaryDirectory(prefix="linli-bench-votes-") as tmp:
        server = await start_server(SCRIPT, args, Path(tmp))
        try:
            run = await drive(
                server.base,
                world.proposal_id,
                world.ballots,
                args.concurrency,
                server.process.pid,
            )
            seen = await api_tally(server.base, world.proposal_id, world.worker_token)
        finally:
            peak_rss = server.peak_rss_mb()
            await server.stop()
            tail = log_tail(server.log_path)
        if server.process.returncode not in (0, None, -15):
            say(f"server exited with {server.process.returncode}")
        if tail:
            say(f"server log tail:\n{tail}")
    rows = await vote_rows(args.database_url, world.proposal_id)

    errors = sum(run.errors.values())
    tally = seen.get("tally") or {}
    got = {c: tally.get(c) for c in world.expected}
    tally_ok = got == world.expected
    rows_ok = rows == args.households
    exact = tally_ok and rows_ok
    passed = exact and errors == 0 and run.refused == 0

    say(
        f"votes: {len(run.latencies)} ok, {errors} errors in {run.seconds:.2f} s → "
        f"{run.rate:.1f} votes/s (target ≥ {TARGET_VOTES_PER_S:.0f}: "
        f"{'met' if run.rate >= TARGET_VOTES_PER_S else 'NOT met'}); "
        f"p50 {run.ms(0.50):.1f} ms, p99 {run.ms(0.99):.1f} ms, max {run.ms(1.0):.1f} ms; "
        f"{run.changed} answered changed=true (a household's later voters; expected "
        f"{args.households * (args.per_household - 1)})"
    )
    say(
        f"cpu: server {pct(run.server_cpu)}, driver {pct(run.driver_cpu)} (100% = one core); "
        f"server peak RSS {peak_rss} MiB; {run.refused} answers 429, {run.retried} retried"
    )
    for kind, n in run.errors.most_common():
        say(f"error {kind} ×{n}; sample: {run.samples.get(kind, '')}")
    say(
        f"tally: expected {world.expected}, API {got} ({'ok' if tally_ok else 'MISMATCH'}); "
        f"turnout {seen.get('turnout')}; proposal_vote rows {rows} "
        f"(expected {args.households}: {'ok' if rows_ok else 'MISMATCH'})"
    )
    report = {
        "bench": "votes",
        "votes_per_s": round(run.rate, 1),
        "p50_ms": round(run.ms(0.50), 2) if run.latencies else None,
        "p99_ms": round(run.ms(0.99), 2) if run.latencies else None,
        "tally_exact": exact,
        "errors": errors,
        "status_429": run.refused,
        "retried": run.retried,
        "peak_rss_mb": peak_rss,
        "households": args.households,
        "residents": len(world.ballots),
        "concurrency": args.concurrency,
    }
    return report, passed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--per-household", type=int, default=2, help="residents per household")
    parser.add_argument("--concurrency", type=int, default=200, help="concurrent clients")
    parser.add_argument(
        "--database-url", default=os.environ.get("LINLI_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("LINLI_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.households, args.per_household, args.concurrency) < 1:
        parser.error("--households, --per-household and --concurrency must be at least 1")
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
