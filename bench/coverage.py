"""Benchmark a vote's full coverage (全覆盖): online votes and door-to-door visits at once.

Usage::

    python bench/coverage.py [--households 1200] [--online 0.45] [--both 0.10]
                             [--not-home 0.20] [--workers 8] [--concurrency 50]
                             [--database-url URL --redis-url URL]

The default size, 1,200 households, is one compound (小区) of 24 buildings: what a
community's workers cover door to door in the week a rectification vote runs.

What it does:

1. Backend. By default the embedded one: SQLite in a temporary directory and the
   in-memory store, the full service (``create_app``) served on 127.0.0.1 from this
   process (``web.AppRunner``: the memory store has to be the one the tokens are issued
   into). With ``--database-url`` and ``--redis-url`` (or ``LINLI_BENCH_DATABASE_URL``
   and ``LINLI_BENCH_REDIS_URL``, as the other benches), the PostgreSQL database is
   dropped and recreated (its name must contain ``bench``), the Redis database flushed,
   and the service runs in its own process (``bench/_service.py``).
   ``--database-url sqlite://FILE`` keeps the embedded backend on a database file of
   one's own, used as it is (the test passes a migrated copy: no migrations to wait
   for). Either way the API limits are set to 1,000,000,000 a minute: counted, never
   refused (eight workers send hundreds of visits a minute each; a real worker does not).
2. Seeds, straight into the database: community ``bench``, three grids, one community
   worker and ``--workers`` grid workers spread over the grids (one grid each, as a
   worker's role allows; 3, 3 and 2 of the default 8).
3. Import (``import_s``): a register of ``--households`` households, written as an .xlsx
   (网格 楼栋 单元 房号 面积 户主 电话; 24 buildings of two units at the default size, a
   floor area each), is posted to ``POST /api/v1/households/import?apply=true`` by the
   community worker; ``import_s`` is that request's wall time. Every row must be created.
4. A rectification for the whole community, created, reviewed and published through the
   service, its publicity moved 6 days back, and opened for 7 days (``open_voting``:
   one elector per household), as ``bench/votes.py`` does.
5. Answers, drawn with a fixed seed: ``--online`` of the households (45%) answer online
   (one verified resident bound to each, with a session, ``POST .../vote``); the rest
   are visited by the grid workers of their grid (``POST .../visits``, an oral answer).
   ``--both`` of all households (10%) answer both ways, online first or at the door
   first, half each, often differently; ``--not-home`` of the visited ones (20%) are
   first found not at home and answered at the end of their worker's round. Each grid
   worker calls at one door at a time; ``--concurrency`` clients send the online votes;
   all of them at once. The two answers of a "both ways" household are serialised: the
   second is sent only once the first has its response, so the latest answer is known.
   Choices: yes ~65%, no ~25%, abstain ~10%. A 429 or 503 with ``Retry-After`` is waited
   out and sent again (at most 5 times), as a client does.

Checks: ``tally_exact``: ``proposal_vote`` holds exactly one row per household, each with
the last answer the bench had acknowledged (2xx) for it; and closing the vote
(``POST .../actions/close``) gives a result whose yes/no/abstain are those answers
counted. ``coverage_complete``: ``GET .../coverage`` shows every household reached
(``not_reached`` 0) before the close.

Counting: ``answers_per_s`` = acknowledged answers (online votes and answered visits)
÷ wall time from the first request to the last answer; ``p99_ms``/``p50_ms`` are over
every request of that phase (not-at-home visits too). ``errors`` counts every other
answer (a status other than 2xx, a client error, a timeout); ``retried`` the 429/503
answers waited out. ``peak_rss_mb`` is the server's peak resident memory: on PostgreSQL
its own process's ``VmHWM``, read just before it stops; embedded, this process's
(``getrusage``), the driver included.

No target is set: rates are reported, never asserted. The exit code is nonzero if setup
fails, an answer was an error, or a check fails (``tests/bench`` runs this at a small size
and asserts the same). The last line of output is one JSON object: ``{"bench":
"coverage", "households", "answers_per_s", "tally_exact", "coverage_complete",
"import_s", "errors", "retried", "p99_ms", "p50_ms", "online", "in_person", "both_ways",
"not_home", "backend", "peak_rss_mb"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import math
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _service import (
    BATCH,
    HOST,
    cpu_seconds,
    flush_redis,
    free_port,
    log_tail,
    pct,
    percentile,
    reset_database,
    say,
    serve,
    start_server,
)
from openpyxl import Workbook
from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

from bot.app import create_app
from bot.state import APP_STATE
from bot.store import RedisStore
from config.settings import Settings
from handlers.proposals import service
from handlers.sessions import issue
from handlers.types import KeyValueStore
from models import sql
from models.community import Community, Grid, Household
from models.db import close_database, open_database, using
from models.proposals import Proposal
from models.residents import Resident, Role, RoleAssignment

COMMUNITY = "bench"
SEED = 20261203
GRIDS = ("第一网格", "第二网格", "第三网格")
BUILDINGS = 24
HOUSEHOLDS_PER_BUILDING = 50  # below the default size, fewer buildings (3 at least)
UNITS = 2
ROOMS_PER_FLOOR = 5
CHOICE_WEIGHTS = (("yes", 0.65), ("no", 0.25), ("abstain", 0.10))
UNLIMITED = 1_000_000_000
RETRIES = 5
MAX_WAIT_SECONDS = 5.0
CLIENT_TIMEOUT_SECONDS = 30.0
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SCRIPT = str(Path(__file__).resolve())
POSTGRES = ("postgres://", "postgresql://")


# --------------------------------------------------------------------------- backend


@dataclass
class Backend:
    """The running service, and what the bench writes to directly: its database and the
    store its sessions live in."""

    name: str
    base: str
    db: TortoiseContext
    store: KeyValueStore
    pid: int  # the server's process (this one when embedded), for its CPU time
    peak_rss_mb: float | None = None  # the server's peak RSS, read as it stops


@contextlib.asynccontextmanager
async def embedded(workdir: Path, database_url: str = "") -> AsyncIterator[Backend]:
    """SQLite and the memory store, the service served from this process."""
    settings = Settings(
        database_url=database_url or f"sqlite://{workdir / 'linli.sqlite3'}",
        redis_url="",
        data_dir=workdir / "data",
        log_level="WARNING",
        wechat_community=COMMUNITY,
        api_rate_per_session=UNLIMITED,
        api_rate_per_address=UNLIMITED,
    )
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, HOST, port)
    await site.start()
    state = app[APP_STATE]
    try:
        assert state.db is not None and state.store is not None
        backend = Backend("embedded", f"http://{HOST}:{port}", state.db, state.store, os.getpid())
        yield backend
        backend.peak_rss_mb = own_peak_rss_mb()
    finally:
        await runner.cleanup()


def own_peak_rss_mb() -> float:
    """This process's peak RSS (MiB): the embedded server's, the driver's included."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@contextlib.asynccontextmanager
async def real(args: argparse.Namespace, workdir: Path) -> AsyncIterator[Backend]:
    """PostgreSQL and Redis, the service in its own process."""
    await reset_database(args.database_url)
    await flush_redis(args.redis_url)
    db = await open_database(args.database_url)  # migrates before the server starts
    store = RedisStore(args.redis_url, op_timeout=5.0)
    server = await start_server(SCRIPT, args, workdir)
    backend = Backend("postgres", server.base, db, store, server.process.pid)
    try:
        yield backend
    finally:
        backend.peak_rss_mb = server.peak_rss_mb()
        await server.stop()
        tail = log_tail(server.log_path)
        if tail:
            say(f"server log tail:\n{tail}")
        await store.close()
        await close_database(db)


# --------------------------------------------------------------------------- the compound


@dataclass(frozen=True)
class Home:
    id: int
    grid_id: int


@dataclass
class Staff:
    manager: str  # token
    workers: list[tuple[int, str]]  # (grid id, token) per grid worker
    grid_ids: list[int]


async def seed_staff(backend: Backend, workers: int) -> Staff:
    with using(backend.db):
        community = await Community.create(slug=COMMUNITY, name="基准社区")
        grids = [await Grid.create(community=community, name=name) for name in GRIDS]
        manager = await Resident.create(
            community=community, openid="o_bench_manager", name="基准社工"
        )
        await RoleAssignment.create(
            resident=manager, role=Role.COMMUNITY_WORKER, community=community
        )
        people = []
        for n in range(workers):
            grid = grids[n % len(grids)]
            person = await Resident.create(
                community=community, openid=f"o_bench_grid_{n}", name=f"网格员{n + 1}"
            )
            await RoleAssignment.create(
                resident=person, role=Role.GRID_WORKER, community=community, grid=grid
            )
            people.append((grid.id, person.id))
    tokens = [await issue(backend.store, rid) for _, rid in people]
    return Staff(
        await issue(backend.store, manager.id),
        [(gid, tok) for (gid, _), tok in zip(people, tokens, strict=True)],
        [g.id for g in grids],
    )


def layout(households: int) -> list[tuple[str, str, str, str]]:
    """(grid, building, unit, room) per household: buildings filled in turn, their grid
    by thirds, two units, five rooms a floor (101..105, 201..)."""
    buildings = min(BUILDINGS, max(len(GRIDS), math.ceil(households / HOUSEHOLDS_PER_BUILDING)))
    per_building = math.ceil(households / buildings)
    rows = []
    for i in range(households):
        b, j = divmod(i, per_building)
        k = j // UNITS
        floor, pos = divmod(k, ROOMS_PER_FLOOR)
        grid = GRIDS[b * len(GRIDS) // buildings]
        rows.append((grid, f"{b + 1}栋", str(j % UNITS + 1), f"{floor + 1}{pos + 1:02d}"))
    return rows


def register_xlsx(households: int, rng: random.Random) -> bytes:
    """The register as a worker's spreadsheet: a title row, the header, one row a home."""
    book = Workbook()
    sheet = book.active
    sheet.append(["基准社区住户台账"])
    sheet.append(["网格", "楼栋", "单元", "房号", "面积", "户主", "电话"])
    for i, (grid, building, unit, room) in enumerate(layout(households)):
        area = rng.randint(4500, 14000) / 100
        sheet.append([grid, building, unit, room, area, f"住户{i + 1:05d}", f"139{i:08d}"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def import_register(
    session: aiohttp.ClientSession, base: str, token: str, data: bytes, households: int
) -> float:
    started = time.perf_counter()
    async with session.post(
        f"{base}/api/v1/households/import",
        params={"apply": "true", "filename": "台账.xlsx"},
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": XLSX_TYPE},
    ) as resp:
        body = await resp.json(content_type=None)
        status = resp.status
    seconds = time.perf_counter() - started
    created = (body.get("counts") or {}).get("create") if isinstance(body, dict) else None
    if status != 200 or created != households:
        raise RuntimeError(f"import answered {status}, created {created}: {str(body)[:500]}")
    return seconds


async def homes_of(backend: Backend) -> list[Home]:
    with using(backend.db):
        rows = await (
            Household.filter(building__community__slug=COMMUNITY)
            .order_by("id")
            .values_list("id", "building__grid_id")
        )
    return [Home(int(hid), int(gid)) for hid, gid in rows]


async def bind_residents(backend: Backend, household_ids: list[int]) -> dict[int, str]:
    """One verified resident bound to each household, with a session: household → token."""
    with using(backend.db):
        community = await Community.get(slug=COMMUNITY)
        await Resident.bulk_create(
            [
                Resident(
                    community_id=community.id,
                    openid=f"o_bench_home_{hid}",
                    household_id=hid,
                    verified=True,
                )
                for hid in household_ids
            ],
            batch_size=BATCH,
        )
        rows = await Resident.filter(openid__startswith="o_bench_home_").values_list(
            "id", "household_id"
        )
    tokens = {}
    for rid, hid in rows:
        tokens[int(hid)] = await issue(backend.store, rid)
    return tokens


async def open_vote(backend: Backend) -> tuple[int, int]:
    """A rectification for the whole community, open for voting; its id and electorate."""
    with using(backend.db):
        manager = await Resident.get(openid="o_bench_manager")
        boss = await service.who(manager)
        now = datetime.now(UTC)
        created = await service.create(
            boss,
            title="小区楼道照明整改",
            description="全小区楼道灯老化，拟统一更换为感应灯，请各户表态。",
            category="rectification",
            scope={"kind": "community"},
        )
        await service.act(created.id, boss, "review", now)
        await service.act(created.id, boss, "publish", now)
        await Proposal.filter(id=created.id).update(published_at=now - timedelta(days=6))
        opened = await service.open_voting(created.id, boss, now, days=7)
    return created.id, opened.eligible_count or 0


# --------------------------------------------------------------------------- the plan


@dataclass
class Step:
    """One request for one household; ``then`` is sent only once this one has answered."""

    household: int
    lane: int  # -1: online; else the grid worker's index
    outcome: str  # "answered" (a vote, or an answer at the door) or "not_home"
    choice: str | None
    then: Step | None = None


@dataclass
class Plan:
    first: list[Step]  # what each lane starts with, in order
    online: int = 0
    in_person: int = 0
    both_ways: int = 0
    not_home: int = 0


def plan(homes: list[Home], staff: Staff, args: argparse.Namespace) -> Plan:
    rng = random.Random(SEED)
    names = [c for c, _ in CHOICE_WEIGHTS]
    weights = [w for _, w in CHOICE_WEIGHTS]

    def choice() -> str:
        return rng.choices(names, weights)[0]

    lanes: dict[int, list[int]] = {}
    for n, (grid_id, _) in enumerate(staff.workers):
        lanes.setdefault(grid_id, []).append(n)
    turn: Counter[int] = Counter()

    def worker_of(home: Home) -> int:
        mine = lanes[home.grid_id]
        turn[home.grid_id] += 1
        return mine[turn[home.grid_id] % len(mine)]

    order = homes[:]
    rng.shuffle(order)
    online_n = round(len(order) * args.online)
    both_n = min(round(len(order) * args.both), online_n)
    result = Plan([])
    later: list[Step] = []  # answers after a not-at-home, at the end of the round
    for i, home in enumerate(order):
        if i < online_n - both_n:
            result.first.append(Step(home.id, -1, "answered", choice()))
            result.online += 1
        elif i < online_n:
            online = Step(home.id, -1, "answered", choice())
            door = Step(home.id, worker_of(home), "answered", choice())
            if rng.random() < 0.5:
                online.then = door
                result.first.append(online)
            else:
                door.then = online
                result.first.append(door)
            result.both_ways += 1
        else:
            door = Step(home.id, worker_of(home), "answered", choice())
            result.in_person += 1
            if rng.random() < args.not_home:
                result.first.append(Step(home.id, door.lane, "not_home", None))
                later.append(door)
                result.not_home += 1
            else:
                result.first.append(door)
    rng.shuffle(result.first)
    result.first += later
    return result


# --------------------------------------------------------------------------- the drive


@dataclass
class Run:
    seconds: float = 0.0
    server_cpu: float | None = None  # share of one core over the drive
    latencies: list[float] = field(default_factory=list)
    answered: int = 0
    retried: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    # The last answer acknowledged per household, in the order the answers came back.
    last: dict[int, str] = field(default_factory=dict)

    def ms(self, q: float) -> float | None:
        if not self.latencies:
            return None
        return round(percentile(sorted(self.latencies), q) * 1000, 2)


async def drive(
    backend: Backend,
    proposal_id: int,
    the_plan: Plan,
    staff: Staff,
    residents: dict[int, str],
    concurrency: int,
) -> Run:
    run = Run()
    base = backend.base
    vote_url = f"{base}/api/v1/proposals/{proposal_id}/vote"
    visit_url = f"{base}/api/v1/proposals/{proposal_id}/visits"
    lanes = len(staff.workers)
    queues: dict[int, asyncio.Queue[Step | None]] = {
        n: asyncio.Queue() for n in [-1, *range(lanes)]
    }
    total = 0
    for step in the_plan.first:
        queues[step.lane].put_nowait(step)
        node: Step | None = step
        while node is not None:
            total += 1
            node = node.then
    left = [total]

    async def send(session: aiohttp.ClientSession, step: Step) -> None:
        if step.lane < 0:
            url, want = vote_url, 200
            body: dict[str, Any] = {"choice": step.choice}
            token = residents[step.household]
        else:
            url, want = visit_url, 201
            body = {"household_id": step.household, "outcome": step.outcome}
            if step.outcome == "answered":
                body.update(choice=step.choice, respondent="户主", method="oral")
            token = staff.workers[step.lane][1]
        headers = {"Authorization": f"Bearer {token}"}
        for attempt in range(RETRIES + 1):
            start = time.perf_counter()
            wait = None
            try:
                async with session.post(url, json=body, headers=headers) as resp:
                    raw = await resp.text()
                    status, wait = resp.status, resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, raw = 0, f"{type(exc).__name__}: {exc}"
            latency = time.perf_counter() - start
            if status not in {429, 503} or not wait or attempt == RETRIES:
                break
            run.retried += 1
            await asyncio.sleep(min(float(wait), MAX_WAIT_SECONDS))
        if status == want:
            run.latencies.append(latency)
            if step.outcome == "answered" and step.choice is not None:
                run.answered += 1
                run.last[step.household] = step.choice
        else:
            kind = f"{'vote' if step.lane < 0 else 'visit'} {status or raw.split(':', 1)[0]}"
            run.errors[kind] += 1
            run.samples.setdefault(kind, raw[:300])

    async def consume(session: aiohttp.ClientSession, lane: int) -> None:
        queue = queues[lane]
        while (step := await queue.get()) is not None:
            await send(session, step)
            if step.then is not None:
                queues[step.then.lane].put_nowait(step.then)
            left[0] -= 1
            if left[0] == 0:  # all sent: every consumer may go home
                for n, q in queues.items():
                    for _ in range(concurrency if n < 0 else 1):
                        q.put_nowait(None)

    clients = [(-1, c) for c in range(concurrency)] + [(n, 0) for n in range(lanes)]
    connector = aiohttp.TCPConnector(limit=concurrency + lanes)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        cpu0, started = cpu_seconds(backend.pid), time.perf_counter()
        if total:
            await asyncio.gather(*(consume(session, lane) for lane, _ in clients))
        run.seconds = time.perf_counter() - started
        cpu1 = cpu_seconds(backend.pid)
    if cpu0 is not None and cpu1 is not None and run.seconds:
        run.server_cpu = (cpu1 - cpu0) / run.seconds
    return run


# --------------------------------------------------------------------------- the checks


async def stored_votes(backend: Backend, proposal_id: int) -> list[tuple[int, str]]:
    """(household, choice) of every vote row of the proposal."""
    with using(backend.db):
        async with in_transaction() as conn:
            rows = await sql.run(
                conn,
                "SELECT e.household_id, v.choice FROM proposal_vote v"
                " JOIN proposal_elector e ON e.id = v.elector_id WHERE v.proposal_id = $1",
                [proposal_id],
            )
    return [(int(r["household_id"]), str(r["choice"])) for r in rows]


async def call(
    session: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None
) -> dict[str, Any]:
    async with session.request(
        method, url, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        data: dict[str, Any] = await resp.json(content_type=None)
        if resp.status != 200:
            raise RuntimeError(f"{method} {url} answered {resp.status}: {str(data)[:500]}")
        return data


# --------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    rng = random.Random(SEED + 1)
    with tempfile.TemporaryDirectory(prefix="linli-bench-coverage-") as tmp:
        workdir = Path(tmp)
        postgres = args.database_url.startswith(POSTGRES)
        backend_cm = real(args, workdir) if postgres else embedded(workdir, args.database_url)
        async with backend_cm as backend:
            say(
                f"backend {backend.name}; {args.households} households, {args.workers} grid "
                f"workers over {len(GRIDS)} grids, {args.concurrency} online clients"
            )
            staff = await seed_staff(backend, args.workers)
            data = register_xlsx(args.households, rng)
            timeout = aiohttp.ClientTimeout(total=300)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                import_s = await import_register(
                    session, backend.base, staff.manager, data, args.households
                )
                say(f"register: {len(data) // 1024} KiB .xlsx imported in {import_s:.2f} s")
                homes = await homes_of(backend)
                the_plan = plan(homes, staff, args)
                online = sorted({s.household for s in _steps(the_plan) if s.lane < 0 and s.choice})
                residents = await bind_residents(backend, online)
                proposal_id, eligible = await open_vote(backend)
                if eligible != args.households:
                    raise RuntimeError(f"eligible is {eligible}, expected {args.households}")
                say(
                    f"proposal #{proposal_id} voting, eligible {eligible}: {the_plan.online} "
                    f"online, {the_plan.in_person} at the door ({the_plan.not_home} first not "
                    f"at home), {the_plan.both_ways} both ways"
                )
                run = await drive(
                    backend, proposal_id, the_plan, staff, residents, args.concurrency
                )
                base = f"{backend.base}/api/v1/proposals/{proposal_id}"
                coverage = await call(session, "GET", f"{base}/coverage", staff.manager)
                rows = await stored_votes(backend, proposal_id)
                closed = await call(session, "POST", f"{base}/actions/close", staff.manager, {})

    errors = sum(run.errors.values())
    embedded_ = backend.name == "embedded"
    stored = dict(rows)
    total = coverage.get("total") or {}
    coverage_complete = total.get("not_reached") == 0 and total.get("eligible") == args.households
    expected = Counter(run.last.values())
    result = closed.get("result") or {}
    counted = {c: result.get(c) for c, _ in CHOICE_WEIGHTS}
    result_ok = counted == {c: expected.get(c, 0) for c, _ in CHOICE_WEIGHTS}
    rows_ok = len(rows) == len(stored) == args.households and stored == run.last
    tally_exact = rows_ok and result_ok
    rate = run.answered / run.seconds if run.seconds else 0.0

    say(
        f"answers: {run.answered} acknowledged ({len(run.latencies)} requests ok), "
        f"{errors} errors, {run.retried} retried in {run.seconds:.2f} s → {rate:.1f} "
        f"answers/s; p50 {run.ms(0.50)} ms, p99 {run.ms(0.99)} ms; server cpu "
        f"{pct(run.server_cpu)} (100% = one core{', driver included' if embedded_ else ''}); "
        f"server peak RSS {backend.peak_rss_mb} MiB"
    )
    for kind, n in run.errors.most_common():
        say(f"error {kind} ×{n}; sample: {run.samples.get(kind, '')}")
    shown = {k: total.get(k) for k in ("eligible", "online", "in_person", "visited", "not_reached")}
    say(f"coverage: {shown} ({'complete' if coverage_complete else 'NOT complete'})")
    wrong = sum(1 for h, c in run.last.items() if stored.get(h) != c)
    say(
        f"tally: {len(rows)} vote rows for {args.households} households, {wrong} differ from "
        f"the last answer sent ({'ok' if rows_ok else 'MISMATCH'}); closed "
        f"{closed.get('status')}: {counted} vs {dict(expected)} "
        f"({'ok' if result_ok else 'MISMATCH'})"
    )
    report = {
        "bench": "coverage",
        "households": args.households,
        "answers_per_s": round(rate, 1),
        "tally_exact": tally_exact,
        "coverage_complete": coverage_complete,
        "import_s": round(import_s, 3),
        "errors": errors,
        "retried": run.retried,
        "p99_ms": run.ms(0.99),
        "p50_ms": run.ms(0.50),
        "online": the_plan.online,
        "in_person": the_plan.in_person,
        "both_ways": the_plan.both_ways,
        "not_home": the_plan.not_home,
        "backend": backend.name,
        "peak_rss_mb": backend.peak_rss_mb,
    }
    return report, tally_exact and coverage_complete and errors == 0


def _steps(the_plan: Plan) -> list[Step]:
    found = []
    for step in the_plan.first:
        node: Step | None = step
        while node is not None:
            found.append(node)
            node = node.then
    return found


def share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a share between 0 and 1")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1200)
    parser.add_argument("--online", type=share, default=0.45, help="share answering online")
    parser.add_argument(
        "--both", type=share, default=0.10, help="share answering online and at the door"
    )
    parser.add_argument(
        "--not-home", type=share, default=0.20, help="share of visits first not at home"
    )
    parser.add_argument("--workers", type=int, default=8, help="grid workers (3 grids)")
    parser.add_argument("--concurrency", type=int, default=50, help="online clients")
    parser.add_argument("--database-url", default=os.environ.get("LINLI_BENCH_DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("LINLI_BENCH_REDIS_URL", ""))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return args
    if args.households < 1 or args.concurrency < 1 or args.workers < len(GRIDS):
        parser.error(f"--households and --concurrency must be at least 1, --workers {len(GRIDS)}")
    postgres = args.database_url.startswith(POSTGRES)
    if args.database_url and not postgres and not args.database_url.startswith("sqlite://"):
        parser.error("--database-url is a PostgreSQL URL or an embedded sqlite:// file")
    if postgres != bool(args.redis_url):
        parser.error("a PostgreSQL --database-url and --redis-url go together")
    if args.both > args.online:
        parser.error("--both cannot exceed --online: both ways is also online")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(
            args,
            wechat_community=COMMUNITY,
            api_rate_per_session=UNLIMITED,
            api_rate_per_address=UNLIMITED,
        )
        return 0
    report, passed = asyncio.run(bench(args))
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
