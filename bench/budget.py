"""Benchmark the yearly 民生微实事 round: households order (群众点菜) through chat and the
API at once, then ordering closes and the fund is shared out.

Usage::

    python bench/budget.py [--households 10000] [--orderers 6000] [--items 40]
                           [--chat 0.5] [--changes 0.10] [--concurrency 50]
                           [--database-url URL --redis-url URL]

What it does:

1. Backend, as ``bench/coverage.py``: by default the embedded one (SQLite in a temporary
   directory and the in-memory store, the full service served on 127.0.0.1 from this
   process); with ``--database-url`` and ``--redis-url`` (or ``LINLI_BENCH_DATABASE_URL``
   and ``LINLI_BENCH_REDIS_URL``) PostgreSQL (dropped and recreated; its name must contain
   ``bench``) and Redis (flushed), the service in its own process. ``--database-url
   sqlite://FILE`` is the embedded backend on a database file of one's own, used as it is
   (the test passes a migrated copy). The API limits are set to 1,000,000,000 a minute.
   The official account is served in safe mode (AES): every chat message is signed and
   encrypted as WeChat's servers send it (``bot.simulator.WeChatServer``).
2. Seeds, straight into the database: community ``bench``, four grids, buildings of 100
   households (``--households`` in all; fewer a building at small sizes, four buildings at
   least), one verified resident bound to each household (its own openid) and a
   community worker. The worker creates the round through the service (rule ``fit`` of
   ``config/budget_rules.toml``; ordering from today to the end of tomorrow, Beijing
   time), puts ``--items`` projects on the menu (costs ¥20,000–¥200,000 drawn with a fixed
   seed; every 5th item scoped to a tenth of the buildings, every 7th to one grid, the
   rest to the community; the fund a third of the menu's total, so it cannot pay for
   all), publishes it and opens ordering (the electorate frozen: one per household).
3. Plan, with a fixed seed: ``--orderers`` households order, ``--chat`` of them (half)
   through the official account, the rest through the API; ``--changes`` of them (10%)
   change their order once more, through either door (a second order different from the
   first, sent only once the first was answered, so the last order is known). Each
   order is a valid one: projects whose scope covers the household, 2 to 6 of them drawn
   by a popularity of their own, as many as fit the fund. The households that do not
   order are recorded as visited and not at home (``budget_visit``, one bulk insert at
   set-up: the 全覆盖 rule would otherwise keep the round from closing).
4. Drive: ``--concurrency`` clients take the orders from one queue. Through the API an
   order is ``PUT /api/v1/budget/rounds/{id}/order`` with ``{"items": [...]}`` and the
   resident's Bearer token; through chat it is two messages from the resident's openid,
   ``点菜 1 3 5`` (the picks, asking for confirmation) then ``确认`` (placing it). A 429 or
   503 with ``Retry-After`` is waited out and sent again (at most 5 times).
5. Close: ``handlers.budget.closing.close_ordering`` in this process, against the same
   database and store, at an instant after ordering's end (``close_s`` is its time).

Checks: ``exact``: every household's stored order (``budget_order``) holds exactly the
menu numbers of the last order the bench sent for it, and there are as many orders as
households that ordered. ``recount_equal``: the bench's own recount, from its own
last-sent orders and its own implementation of the rule (support per project; eligible
households per project's scope, none vacant; minimum support 10% of them, rounded up;
by support, most first, ties to the cheaper then the earlier number; one the rest of the
fund cannot pay is skipped), equals the stored result: the funded projects in order and
each project's support, eligible households and support needed.

Counting: ``orders_per_s`` = orders acknowledged (first orders and changes) ÷ wall time
from the first request to the last answer; ``p99_ms``/``p50_ms`` are over every request
of the drive (each PUT, each ``点菜`` and each ``确认``), ``chat_p99_ms`` and
``api_p99_ms`` per door. An error is any other answer: a status other than 200, a client
error or timeout, or a chat reply that is empty or says the message was put off (spooled).
``peak_rss_mb`` is the server's peak resident memory: on PostgreSQL its own process's
``VmHWM``, read just before it stops; embedded, this process's (``getrusage``), the
driver and the close included.

No target is set: rates are reported, never asserted. The exit code is nonzero if setup
fails, an order was an error or went unacknowledged, or a check fails (``tests/bench``
runs this at a small size and asserts the same). The last line of output is one JSON
object: ``{"bench": "budget", "households", "orders_per_s", "p99_ms", "exact",
"recount_equal", ..., "errors", "retried", "backend", "peak_rss_mb"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from decimal import Decimal
from fractions import Fraction
from itertools import count
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
    issue_tokens,
    log_tail,
    pct,
    percentile,
    reset_database,
    say,
    serve,
    start_server,
)
from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

from bot.app import create_app
from bot.simulator import WeChatServer, message_xml, reply_text
from bot.state import APP_STATE
from bot.store import RedisStore
from config.settings import Settings
from handlers.budget import closing, menu, rounds
from handlers.budget.rounds import Source
from handlers.clock import LOCAL
from handlers.i18n import default_translator
from handlers.roles import who_of
from handlers.types import KeyValueStore
from models import sql
from models.budget import BallotVisit, Round
from models.community import Building, Community, Grid, Household
from models.db import close_database, open_database, using
from models.residents import Resident, Role, RoleAssignment

COMMUNITY = "bench"
SEED = 20261115
GRIDS = ("第一网格", "第二网格", "第三网格", "第四网格")
HOUSEHOLDS_PER_BUILDING = 100
MIN_BUILDINGS = 4
RULE = "fit"
# What the recount implements; the round's frozen rule must say the same.
RULE_EXPECTED = {
    "selection": "fit",
    "min_support": "1/10",
    "funding": "skip",
    "tie_break": ["cheaper", "number"],
    "scoped": True,
    "vacant": "exclude",
}
MIN_SUPPORT = Fraction(1, 10)
COST_STEPS = (20, 200)  # thousands of yuan
FUND_SHARE = Fraction(1, 3)
PICKS = (2, 6)
UNLIMITED = 1_000_000_000
RETRIES = 5
MAX_WAIT_SECONDS = 5.0
CLIENT_TIMEOUT_SECONDS = 30.0
PATH = "/wechat"
TOKEN = "linli-bench-token"
APPID = "wxlinlibench00000"
AES_KEY = "bGlubGktYmVuY2gtYWVzLWtleS0wMTIzNDU2Nzg5YWI"  # 43 characters
ORDER_WORD = "点菜"
CONFIRM_WORD = "确认"
SCRIPT = str(Path(__file__).resolve())
POSTGRES = ("postgres://", "postgresql://")


# --------------------------------------------------------------------------- backend


@dataclass
class Backend:
    """The running service, and what the bench writes to directly: its database and the
    store its sessions and locks live in."""

    name: str
    base: str
    db: TortoiseContext
    store: KeyValueStore
    pid: int  # the server's process (this one when embedded), for its CPU time
    peak_rss_mb: float | None = None  # the server's peak RSS, read as it stops


def service_settings() -> dict[str, Any]:
    """What the bench's service is run with, on either backend."""
    return {
        "wechat_community": COMMUNITY,
        "wechat_token": TOKEN,
        "wechat_appid": APPID,
        "wechat_aes_key": AES_KEY,
        "callback_path": PATH,
        "api_rate_per_session": UNLIMITED,
        "api_rate_per_address": UNLIMITED,
    }


@contextlib.asynccontextmanager
async def embedded(workdir: Path, database_url: str = "") -> AsyncIterator[Backend]:
    """SQLite and the memory store, the service served from this process."""
    settings = Settings(
        database_url=database_url or f"sqlite://{workdir / 'linli.sqlite3'}",
        redis_url="",
        data_dir=workdir / "data",
        log_level="WARNING",
        **service_settings(),
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


# --------------------------------------------------------------------------- the community


@dataclass(frozen=True)
class Home:
    id: int
    building_id: int
    grid_id: int
    resident_id: int
    openid: str


@dataclass
class Compound:
    manager_id: int
    homes: list[Home]
    building_ids: list[int]
    grid_ids: list[int]


def openid_of(n: int) -> str:
    """An openid of WeChat's length, one per household."""
    return f"o_bench_b{n:06d}_{'x' * 12}"


async def seed(backend: Backend, households: int) -> Compound:
    """Community, grids, buildings, households, one verified resident each, a worker."""
    with using(backend.db):
        community = await Community.create(slug=COMMUNITY, name="基准社区")
        grids = [await Grid.create(community=community, name=name) for name in GRIDS]
        buildings = max(MIN_BUILDINGS, math.ceil(households / HOUSEHOLDS_PER_BUILDING))
        per_building = math.ceil(households / buildings)
        await Building.bulk_create(
            [
                Building(
                    community_id=community.id,
                    grid_id=grids[b * len(grids) // buildings].id,
                    name=f"{b + 1}栋",
                )
                for b in range(buildings)
            ],
            batch_size=BATCH,
        )
        building_rows = await (
            Building.filter(community_id=community.id).order_by("id").values_list("id", "grid_id")
        )
        grid_of = {int(b): int(g) for b, g in building_rows}
        building_ids = [int(b) for b, _ in building_rows]
        await Household.bulk_create(
            [
                Household(
                    building_id=building_ids[i // per_building],
                    unit=str(i % per_building // 50 + 1),  # 50 homes a unit
                    room=f"{i % per_building % 50 // 5 + 1}{i % per_building % 5 + 1:02d}",
                )
                for i in range(households)
            ],
            batch_size=BATCH,
        )
        rows = await (
            Household.filter(building__community_id=community.id)
            .order_by("id")
            .values_list("id", "building_id")
        )
        await Resident.bulk_create(
            [
                Resident(
                    community_id=community.id,
                    openid=openid_of(n),
                    household_id=hid,
                    verified=True,
                )
                for n, (hid, _) in enumerate(rows)
            ],
            batch_size=BATCH,
        )
        people = await Resident.filter(community_id=community.id, verified=True).values_list(
            "id", "household_id", "openid"
        )
        resident_of = {int(h): (int(r), str(o)) for r, h, o in people}
        manager = await Resident.create(
            community=community, openid="o_bench_manager", name="基准社工"
        )
        await RoleAssignment.create(
            resident=manager, role=Role.COMMUNITY_WORKER, community=community
        )
    homes = [Home(int(h), int(b), grid_of[int(b)], *resident_of[int(h)]) for h, b in rows]
    return Compound(manager.id, homes, building_ids, [g.id for g in grids])


# --------------------------------------------------------------------------- the round


@dataclass(frozen=True)
class Project:
    number: int
    cost: Decimal
    scope: dict[str, Any]

    def covers(self, home: Home) -> bool:
        kind, ids = self.scope["kind"], set(self.scope.get("ids") or ())
        if kind == "buildings":
            return home.building_id in ids
        if kind == "grids":
            return home.grid_id in ids
        return True


@dataclass
class Menu:
    round_id: int
    fund: Decimal
    projects: dict[int, Project]
    eligible: int
    ends: datetime


def draw_menu(items: int, compound: Compound, rng: random.Random) -> list[Project]:
    """Costs and scopes: every 5th item a tenth of the buildings, every 7th one grid."""
    out = []
    for n in range(1, items + 1):
        cost = Decimal(rng.randint(*COST_STEPS) * 1000)
        if n % 5 == 0:
            k = max(1, len(compound.building_ids) // 10)
            scope = {"kind": "buildings", "ids": sorted(rng.sample(compound.building_ids, k))}
        elif n % 7 == 0:
            scope = {"kind": "grids", "ids": [rng.choice(compound.grid_ids)]}
        else:
            scope = {"kind": "community", "ids": []}
        out.append(Project(n, cost, scope))
    return out


def fund_for(projects: list[Project]) -> Decimal:
    """A third of the menu's total, to the thousand, but never less than its dearest item
    (every household can then order something)."""
    whole = sum((p.cost for p in projects), Decimal(0))
    share = int(Fraction(whole) * FUND_SHARE) // 1000 * 1000
    return max(Decimal(share), max(p.cost for p in projects))


async def open_round(backend: Backend, compound: Compound, projects: list[Project]) -> Menu:
    """Created, costed, published and open for ordering through the service, today."""
    now = datetime.now(UTC)
    today = now.astimezone(LOCAL).date()
    later = today + timedelta(days=2)
    fund = fund_for(projects)
    with using(backend.db):
        manager = await Resident.get(id=compound.manager_id)
        boss = await who_of(manager)
        made = await rounds.create_round(
            boss,
            year=today.year,
            title=f"{today.year}年民生微实事",
            rule_name=RULE,
            phases={
                "collection": today,
                "review": today,
                "publicity": today,
                "ordering": today,
                "result": later,
                "implementation": later,
            },
            sources=[Source("government", fund, "区级民生微实事资金")],
        )
        for project in projects:
            item = await menu.add_item(
                boss,
                made.id,
                cost=project.cost,
                responsible="社区居委会",
                title=f"项目{project.number}",
                description="",
                scope=project.scope,
            )
            if item.number != project.number:
                raise RuntimeError(f"item numbered {item.number}, expected {project.number}")
        for _ in range(3):  # review, publicity, ordering
            await rounds.advance(boss, made.id, now, backend.store.lock)
        found = await Round.get(id=made.id)
    if found.status != "ordering" or found.ordering_ends_at is None:
        raise RuntimeError(f"round #{found.id} is {found.status}, not ordering")
    return Menu(
        found.id,
        fund,
        {p.number: p for p in projects},
        found.eligible_count or 0,
        found.ordering_ends_at,
    )


# --------------------------------------------------------------------------- the plan


@dataclass
class Step:
    """One order for one household; ``then`` is sent only once this one was answered."""

    home: Home
    door: str  # "chat" or "api"
    picks: tuple[int, ...]
    then: Step | None = None


@dataclass
class Plan:
    first: list[Step]
    ordering: list[Home]
    idle: list[Home]  # households that do not order: visited, not at home
    chat: int = 0
    api: int = 0
    changes: int = 0

    def steps(self) -> list[Step]:
        out = []
        for step in self.first:
            node: Step | None = step
            while node is not None:
                out.append(node)
                node = node.then
        return out


def draw_picks(
    home: Home, the_menu: Menu, popularity: dict[int, float], rng: random.Random
) -> tuple[int, ...]:
    """A valid order: in the household's scope, 2 to 6 projects by popularity, as many as
    fit the fund (in the order drawn)."""
    allowed = [n for n, p in the_menu.projects.items() if p.covers(home)]
    wanted = min(rng.randint(*PICKS), len(allowed))
    drawn: list[int] = []
    pool = allowed[:]
    while len(drawn) < wanted:
        n = rng.choices(pool, [popularity[m] for m in pool])[0]
        pool.remove(n)
        drawn.append(n)
    picks, spent = [], Decimal(0)
    for n in drawn:
        cost = the_menu.projects[n].cost
        if spent + cost <= the_menu.fund:
            picks.append(n)
            spent += cost
    return tuple(sorted(picks))


def plan(compound: Compound, the_menu: Menu, args: argparse.Namespace) -> Plan:
    rng = random.Random(SEED)
    ranks = list(the_menu.projects)
    rng.shuffle(ranks)
    popularity = {n: 1.0 / (r + 1) ** 0.8 for r, n in enumerate(ranks)}
    homes = compound.homes[:]
    rng.shuffle(homes)
    ordering, idle = homes[: args.orderers], homes[args.orderers :]
    chat_n = round(len(ordering) * args.chat)
    change_n = round(len(ordering) * args.changes)
    result = Plan([], ordering, idle)
    for i, home in enumerate(ordering):
        door = "chat" if i < chat_n else "api"
        step = Step(home, door, draw_picks(home, the_menu, popularity, rng))
        result.chat += door == "chat"
        result.api += door == "api"
        if rng.random() < change_n / max(1, len(ordering) - i):
            change_n -= 1
            again = step.picks
            for _ in range(50):
                again = draw_picks(home, the_menu, popularity, rng)
                if again != step.picks:
                    break
            if again != step.picks:
                step.then = Step(home, rng.choice(("chat", "api")), again)
                result.changes += 1
        result.first.append(step)
    rng.shuffle(result.first)
    return result


async def visit_idle(backend: Backend, round_id: int, compound: Compound, idle: list[Home]) -> None:
    """The households that will not order, recorded as called on and not at home: one bulk
    insert, at set-up (the door-to-door side is another bench's)."""
    now = datetime.now(UTC)
    with using(backend.db):
        await BallotVisit.bulk_create(
            [
                BallotVisit(
                    round_id=round_id,
                    household_id=home.id,
                    worker_id=compound.manager_id,
                    outcome="not_home",
                    visited_at=now,
                )
                for home in idle
            ],
            batch_size=BATCH,
        )


# --------------------------------------------------------------------------- the drive


@dataclass
class Run:
    seconds: float = 0.0
    server_cpu: float | None = None
    driver_cpu: float | None = None
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"chat": [], "api": []})
    orders: int = 0
    retried: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    # The last order acknowledged per household, in the order the answers came back.
    last: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def ms(self, q: float, door: str | None = None) -> float | None:
        values = self.latencies[door] if door else [*self.latencies["chat"], *self.latencies["api"]]
        if not values:
            return None
        return round(percentile(sorted(values), q) * 1000, 2)


class Chat:
    """Signs, encrypts and sends residents' messages as WeChat's servers push them."""

    def __init__(self, url: str, ends: datetime) -> None:
        self.url = url
        self.wechat = WeChatServer(TOKEN, APPID, AES_KEY, mode="safe")
        self._ids = count(time.time_ns() // 1000)
        translate = default_translator()
        self.put_off = {translate("zh_Hans", m) for m in ("chat.queued", "error.busy")}
        # What the replies must hold: the picks taken and asking for 确认; the order placed
        # (the hint on changing it is said only then).
        self.asks = translate("zh_Hans", "budget.chat.ask_confirm")
        self.placed = translate(
            "zh_Hans",
            "budget.chat.change_hint",
            ends=ends.astimezone(LOCAL).strftime("%m-%d %H:%M"),
        )

    async def send(self, session: aiohttp.ClientSession, openid: str, text: str) -> tuple[int, str]:
        """(status, reply text); status 0 for a client error or timeout."""
        xml = message_xml(openid, APPID, "text", {"Content": text}, msg_id=next(self._ids))
        params, body = self.wechat.request(xml)
        try:
            async with session.post(self.url, params=params, data=body.encode()) as resp:
                raw = await resp.text()
                if resp.status != 200:
                    return resp.status, raw
                return 200, reply_text(self.wechat.read_reply(params, raw))
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, f"{type(exc).__name__}: {exc}"


async def drive(
    backend: Backend, the_menu: Menu, the_plan: Plan, tokens: dict[int, str], concurrency: int
) -> Run:
    run = Run()
    order_url = f"{backend.base}/api/v1/budget/rounds/{the_menu.round_id}/order"
    chat = Chat(f"{backend.base}{PATH}", the_menu.ends)
    queue: asyncio.Queue[Step] = asyncio.Queue()
    for step in the_plan.first:
        queue.put_nowait(step)

    def failed(kind: str, raw: str) -> None:
        run.errors[kind] += 1
        run.samples.setdefault(kind, raw[:300])

    async def put(session: aiohttp.ClientSession, step: Step) -> bool:
        headers = {"Authorization": f"Bearer {tokens[step.home.id]}"}
        body = {"items": list(step.picks)}
        for attempt in range(RETRIES + 1):
            start = time.perf_counter()
            wait = None
            try:
                async with session.put(order_url, json=body, headers=headers) as resp:
                    raw = await resp.text()
                    status, wait = resp.status, resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, raw = 0, f"{type(exc).__name__}: {exc}"
            latency = time.perf_counter() - start
            if status not in {429, 503} or not wait or attempt == RETRIES:
                break
            run.retried += 1
            await asyncio.sleep(min(float(wait), MAX_WAIT_SECONDS))
        if status != 200:
            failed(f"api {status or raw.split(':', 1)[0]}", raw)
            return False
        with contextlib.suppress(ValueError, AttributeError):
            if json.loads(raw).get("items") == list(step.picks):
                run.latencies["api"].append(latency)
                return True
        failed("api unexpected answer", raw)
        return False

    async def say_(
        session: aiohttp.ClientSession, step: Step, text: str, what: str, wanted: str
    ) -> bool:
        start = time.perf_counter()
        status, reply = await chat.send(session, step.home.openid, text)
        latency = time.perf_counter() - start
        if status != 200:
            failed(f"chat {what} {status or reply.split(':', 1)[0]}", reply)
            return False
        if not reply or reply in chat.put_off:
            failed(f"chat {what} {'put off' if reply else 'no reply'}", reply)
            return False
        if wanted not in reply:
            failed(f"chat {what} unexpected reply", reply)
            return False
        run.latencies["chat"].append(latency)
        return True

    async def send(session: aiohttp.ClientSession, step: Step) -> bool:
        if step.door == "api":
            return await put(session, step)
        picks = " ".join(str(n) for n in step.picks)
        if not await say_(session, step, f"{ORDER_WORD} {picks}", ORDER_WORD, chat.asks):
            return False
        return await say_(session, step, CONFIRM_WORD, CONFIRM_WORD, chat.placed)

    async def consume(session: aiohttp.ClientSession) -> None:
        while True:
            step = await queue.get()
            try:
                try:
                    ok = await send(session, step)
                except Exception as exc:  # a bug of the bench's own: counted, not hung on
                    failed(f"bench {type(exc).__name__}", repr(exc))
                    ok = False
                if ok:
                    run.orders += 1
                    run.last[step.home.id] = step.picks
                if step.then is not None:
                    queue.put_nowait(step.then)
            finally:
                queue.task_done()

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        cpu0, driver0 = cpu_seconds(backend.pid), time.process_time()
        started = time.perf_counter()
        workers = [asyncio.create_task(consume(session)) for _ in range(concurrency)]
        try:
            await queue.join()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        run.seconds = time.perf_counter() - started
        cpu1, driver1 = cpu_seconds(backend.pid), time.process_time()
    if cpu0 is not None and cpu1 is not None and run.seconds:
        run.server_cpu = (cpu1 - cpu0) / run.seconds
    if run.seconds:
        run.driver_cpu = (driver1 - driver0) / run.seconds
    return run


# --------------------------------------------------------------------------- the checks


async def stored_orders(backend: Backend, round_id: int) -> list[tuple[int, tuple[int, ...]]]:
    """(household, menu numbers) of every order row of the round."""
    with using(backend.db):
        async with in_transaction() as conn:
            rows = await sql.run(
                conn,
                "SELECT e.household_id, o.items FROM budget_order o"
                " JOIN budget_elector e ON e.id = o.elector_id WHERE o.round_id = $1",
                [round_id],
            )
    return [(int(r["household_id"]), tuple(sorted(sql.as_json(r["items"])))) for r in rows]


@dataclass(frozen=True)
class Counted:
    number: int
    support: int
    eligible: int
    needed: int


def recount(
    the_menu: Menu, homes: list[Home], last: dict[int, tuple[int, ...]]
) -> tuple[list[int], dict[int, Counted]]:
    """The bench's own count of the round: support from the orders it last sent, the
    eligible households of each scope (none vacant), the minimum support (10% of them,
    reached: rounded up, at least one), then the fund by support, most first, ties to the
    cheaper and then the earlier number, skipping what the rest cannot pay."""
    support: Counter[int] = Counter()
    for picks in last.values():
        support.update(set(picks))
    rows = {}
    for n, project in the_menu.projects.items():
        eligible = sum(1 for home in homes if project.covers(home))
        needed = max(1, math.ceil(MIN_SUPPORT * eligible))
        rows[n] = Counted(n, support[n], eligible, needed)
    ranked = sorted(
        the_menu.projects.values(), key=lambda p: (-support[p.number], p.cost, p.number)
    )
    left = the_menu.fund
    funded = []
    for project in ranked:
        row = rows[project.number]
        if row.support >= row.needed and project.cost <= left:
            funded.append(project.number)
            left -= project.cost
    return funded, rows


def compare(result: dict[str, Any], funded: list[int], rows: dict[int, Counted]) -> list[str]:
    """Where the stored result and the recount differ (empty: equal)."""
    diffs = []
    rule = result.get("rule") or {}
    for key, want in RULE_EXPECTED.items():
        if rule.get(key) != want:
            diffs.append(f"rule {key}: stored {rule.get(key)!r}, the recount implements {want!r}")
    stored_funded = [int(n) for n in result.get("funded", [])]
    if stored_funded != funded:
        diffs.append(f"funded: stored {stored_funded}, recount {funded}")
    items = {int(r["number"]): r for r in result.get("items", [])}
    if set(items) != set(rows):
        diffs.append(f"items: stored {sorted(items)}, menu {sorted(rows)}")
    for n, mine in rows.items():
        theirs = items.get(n)
        if theirs is None:
            continue
        got = (theirs.get("support"), theirs.get("eligible"), theirs.get("needed"))
        want = (mine.support, mine.eligible, mine.needed)
        if got != want:
            diffs.append(f"item {n} (support, eligible, needed): stored {got}, recount {want}")
    return diffs


async def close(backend: Backend, compound: Compound, the_menu: Menu) -> tuple[Round, float]:
    """Ordering closed in this process at an instant after its end, timed."""
    with using(backend.db):
        manager = await Resident.get(id=compound.manager_id)
        boss = await who_of(manager)
        started = time.perf_counter()
        found = await closing.close_ordering(
            the_menu.round_id, boss, the_menu.ends + timedelta(minutes=1), backend.store.lock
        )
        seconds = time.perf_counter() - started
        found = await Round.get(id=found.id)
    return found, seconds


# --------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    rng = random.Random(SEED + 1)
    with tempfile.TemporaryDirectory(prefix="linli-bench-budget-") as tmp:
        workdir = Path(tmp)
        postgres = args.database_url.startswith(POSTGRES)
        backend_cm = real(args, workdir) if postgres else embedded(workdir, args.database_url)
        async with backend_cm as backend:
            say(
                f"backend {backend.name}; {args.households} households, {args.orderers} "
                f"ordering ({args.chat:.0%} by chat, {args.changes:.0%} changing), "
                f"{args.items} projects, {args.concurrency} clients"
            )
            started = time.perf_counter()
            compound = await seed(backend, args.households)
            seeded = time.perf_counter() - started
            the_menu = await open_round(backend, compound, draw_menu(args.items, compound, rng))
            if the_menu.eligible != args.households:
                raise RuntimeError(f"eligible is {the_menu.eligible}, expected {args.households}")
            the_plan = plan(compound, the_menu, args)
            await visit_idle(backend, the_menu.round_id, compound, the_plan.idle)
            api_homes = sorted(
                {s.home for s in the_plan.steps() if s.door == "api"}, key=lambda h: h.id
            )
            issued = await issue_tokens(backend.store, [h.resident_id for h in api_homes])
            tokens = {h.id: t for h, t in zip(api_homes, issued, strict=True)}
            say(
                f"seeded in {seeded:.1f} s; round #{the_menu.round_id} ordering, eligible "
                f"{the_menu.eligible}, fund ¥{the_menu.fund:,} for a menu of "
                f"¥{sum(p.cost for p in the_menu.projects.values()):,}; {the_plan.chat} by "
                f"chat, {the_plan.api} by the API, {the_plan.changes} changes, "
                f"{len(the_plan.idle)} visited not at home; set-up "
                f"{time.perf_counter() - started:.1f} s"
            )
            run = await drive(backend, the_menu, the_plan, tokens, args.concurrency)
            rows = await stored_orders(backend, the_menu.round_id)
            closed, close_s = await close(backend, compound, the_menu)

    errors = sum(run.errors.values())
    embedded_ = backend.name == "embedded"
    sent = {s.home.id: s.picks for s in the_plan.steps()}  # the last step of each wins
    stored = dict(rows)
    wrong = sum(1 for h, picks in sent.items() if stored.get(h) != picks)
    exact = (
        len(rows) == len(stored) == len(the_plan.ordering)
        and wrong == 0
        and not (set(stored) - set(sent))
    )
    result = closed.result or {}
    funded, counted = recount(the_menu, compound.homes, sent)
    diffs = compare(result, funded, counted)
    recount_equal = closed.status == "result" and not diffs
    rate = run.orders / run.seconds if run.seconds else 0.0
    expected_orders = len(the_plan.steps())

    say(
        f"orders: {run.orders} of {expected_orders} acknowledged, {errors} errors, "
        f"{run.retried} retried in {run.seconds:.2f} s → {rate:.1f} orders/s; p50 "
        f"{run.ms(0.50)} ms, p99 {run.ms(0.99)} ms (chat {run.ms(0.99, 'chat')}, API "
        f"{run.ms(0.99, 'api')}); cpu: server {pct(run.server_cpu)}, driver "
        f"{pct(run.driver_cpu)} (100% = one core{', the same process' if embedded_ else ''}); "
        f"server peak RSS {backend.peak_rss_mb} MiB"
    )
    for kind, n in run.errors.most_common():
        say(f"error {kind} ×{n}; sample: {run.samples.get(kind, '')}")
    say(
        f"orders stored: {len(rows)} for {len(the_plan.ordering)} households ordering, "
        f"{wrong} differ from the last order sent ({'ok' if exact else 'MISMATCH'})"
    )
    say(
        f"closed {closed.status} in {close_s:.2f} s: funded {result.get('funded')} spending "
        f"¥{result.get('spent')} of ¥{result.get('fund')}; recount {funded} "
        f"({'equal' if recount_equal else 'DIFFERENT'})"
    )
    for diff in diffs[:20]:
        say(f"recount: {diff}")
    report = {
        "bench": "budget",
        "households": args.households,
        "orders_per_s": round(rate, 1),
        "p99_ms": run.ms(0.99),
        "exact": exact,
        "recount_equal": recount_equal,
        "p50_ms": run.ms(0.50),
        "chat_p99_ms": run.ms(0.99, "chat"),
        "api_p99_ms": run.ms(0.99, "api"),
        "orders": run.orders,
        "orderers": len(the_plan.ordering),
        "by_chat": the_plan.chat,
        "by_api": the_plan.api,
        "changes": the_plan.changes,
        "items": args.items,
        "funded": len(funded),
        "close_s": round(close_s, 3),
        "errors": errors,
        "retried": run.retried,
        "backend": backend.name,
        "peak_rss_mb": backend.peak_rss_mb,
    }
    passed = exact and recount_equal and errors == 0 and run.orders == expected_orders
    return report, passed


def share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a share between 0 and 1")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--orderers", type=int, default=6_000, help="households that order")
    parser.add_argument("--items", type=int, default=40, help="projects on the menu")
    parser.add_argument("--chat", type=share, default=0.5, help="share ordering by chat")
    parser.add_argument("--changes", type=share, default=0.10, help="share changing once")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients")
    parser.add_argument("--database-url", default=os.environ.get("LINLI_BENCH_DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("LINLI_BENCH_REDIS_URL", ""))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return args
    if min(args.households, args.items, args.concurrency) < 1:
        parser.error("--households, --items and --concurrency must be at least 1")
    if not 1 <= args.orderers <= args.households:
        parser.error("--orderers must be between 1 and --households")
    postgres = args.database_url.startswith(POSTGRES)
    if args.database_url and not postgres and not args.database_url.startswith("sqlite://"):
        parser.error("--database-url is a PostgreSQL URL or an embedded sqlite:// file")
    if postgres != bool(args.redis_url):
        parser.error("a PostgreSQL --database-url and --redis-url go together")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(args, **service_settings())
        return 0
    report, passed = asyncio.run(bench(args))
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
