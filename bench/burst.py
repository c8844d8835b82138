"""Benchmark a vote burst while the "voting is open" notice is still going out.

Usage::

    python bench/burst.py [--households 10000] [--voters 3000] [--clients 200]
                          [--addresses 20] [--rate 2000] [--pace 0.9]
                          [--database-url URL] [--redis-url URL]

What it does:

1. Drops and recreates the PostgreSQL database ``LINLI_BENCH_DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432/linli_bench_burst``; its name must contain
   ``bench``) and flushes the Redis database ``LINLI_BENCH_REDIS_URL`` (default
   ``redis://127.0.0.1:6379/13``).
2. Seeds, from this process: community ``bench``, buildings of 100 households
   (``--households``), one verified follower bound to each household (its own openid) and
   a community worker (no openid: the notice is the households'). The worker creates a
   rectification proposal for the whole community, reviews and publishes it; the
   publicity is moved 6 days back, and the publication's own notifications are marked
   relayed, so the only notice of the run is the one about the vote. API sessions are
   issued for the worker and for the residents who vote through the API.
3. Starts the fake WeChat server (``tests.fakes.FakeWeChat``, limited to ``--rate``
   messages a second, 2,000 as documented; ``python bench/burst.py --serve fake``) and
   the full service (``--serve full``), each in its own process. The service's official
   account has its appid and secret (so it has a push client), points at the fake
   (``wechat_api_base``), sends notices of the vote's kind as template messages (with a
   ``client_msg_id``, which the fake counts repeats of) at ``--pace`` × ``--rate`` (its
   token bucket's bursts, and requests that bunch up on the way, must stay inside the
   fake's sliding second: a ``45009`` costs a retry 15 s later), runs its jobs in
   process every second, replays its spool every 2 s and trusts ``X-Forwarded-For``
   from 127.0.0.1. Chat is served in safe mode (AES), signed and encrypted as WeChat's
   servers push it (``bot.simulator.WeChatServer``). Request limits are the defaults.
4. The worker opens the vote (``POST /api/v1/proposals/{id}/actions/open``). The
   service's own job round relays its "voting is open" notification as a notice to the
   scope, expands it and sends it (``bot.app.send_notices``). Once the fake has received
   its first message, the burst starts: ``--voters`` residents of distinct households
   vote at once from ``--clients`` concurrent clients on one ``aiohttp`` session, taking
   the ballots from one shuffled queue. Half by chat: a signed push of
   ``投票 {id} 赞成`` (or 反对, 弃权). Half through the mini-program's API: ``POST
   /api/v1/proposals/{id}/vote`` with the resident's Bearer token and ``X-Forwarded-For:
   10.0.0.k``, client ``c`` using address ``k = c mod --addresses + 1``. Choices are drawn
   with a fixed seed (yes ~65%, no ~25%, abstain ~10%); nothing is sent twice.
5. Waits (bounded) until the server's spool is empty (votes put off by chat are spooled
   and replayed) and the notice has nothing left to send, then reads the results.

Counting: ``errors`` is every answer that is no 2xx, empty (a chat ``success`` without a
reply), later than 5 s (WeChat's window; the API is held to it too), a client error or
timeout, or a reply that does not confirm the vote sent. A chat reply saying the message
was put off (``chat.queued``, ``error.busy``: spooled, answered later) is ``deferred``,
not an error. ``p50_ms``/``p99_ms`` (overall and per channel) are over every request,
errors included. ``notice_overlapped``: the fake had received some but not all of the
notice's messages when the burst began. ``rate_share``: the notice's messages per second
at the fake (first to last) ÷ ``--rate``. ``duplicates``: the fake's repeated
``client_msg_id`` plus any follower's template messages beyond the first.
``tally_exact``: the tally the worker reads (``GET /api/v1/proposals/{id}``) equals the
ballots sent, and ``proposal_vote`` holds one row per voter with the choice they sent.
``peak_rss_mb``: the server's ``VmHWM`` just before it stops.

The issue's goal (errors 0, p99 ≤ 1 s, tally exact, duplicates 0) is reported; timings
are never asserted. The exit code is nonzero only if setup fails, the tally is not exact
or there are duplicates. The last line of output is one JSON object: ``{"bench":
"burst", "errors", "p50_ms", "p99_ms", "chat": {...}, "api": {...}, "tally_exact",
"duplicates", "rate_share", "notice_overlapped", "notice_complete", "notice_sent",
"quota_errors", "votes_per_s", "peak_rss_mb", "households", "voters", "clients",
"addresses"}``; ``chat`` and ``api`` each hold ``votes``, ``p50_ms``, ``p99_ms``,
``errors`` and ``deferred``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _service import (
    BATCH,
    Server,
    asyncpg_url,
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

from bot.simulator import WeChatServer, message_xml, reply_text
from bot.store import RedisStore
from handlers.i18n import default_translator
from handlers.proposals import service
from handlers.proposals.chat import CHOICE_NAMES
from handlers.sessions import issue
from models.community import Community, Household
from models.db import database
from models.outbox import Notification
from models.proposals import Proposal
from models.residents import Resident, Role, RoleAssignment
from tests.fakes import FakeWeChat

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/linli_bench_burst"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
COMMUNITY = "bench"
SEED = 20261201
CHOICE_WEIGHTS = (("yes", 0.65), ("no", 0.25), ("abstain", 0.10))
CHAT_WORDS = {"yes": "赞成", "no": "反对", "abstain": "弃权"}
PATH = "/wechat"
TOKEN = "linli-bench-token"
APPID = "wxlinlibench00000"
SECRET = "linli-bench-secret-0123456789abcd"
AES_KEY = "bGlubGktYmVuY2gtYWVzLWtleS0wMTIzNDU2Nzg5YWI"  # 43 characters
NOTICE_KIND = "proposal.voting_opened"
TEMPLATE_ID = "TPL_bench_voting_opened"
WINDOW_SECONDS = 5.0  # WeChat's reply window; an answer later than this is an error
CLIENT_TIMEOUT_SECONDS = 30.0
START_TIMEOUT_SECONDS = 60.0  # for the notice's first message
VOTES_TIMEOUT_SECONDS = 120.0  # for the spooled votes to be replayed
NOTICE_TIMEOUT_SECONDS = 240.0  # for the notice to finish, retries included
POLL_SECONDS = 0.02
FAKE_RATE_ENV = "LINLI_BENCH_BURST_FAKE_RATE"
SCRIPT = str(Path(__file__).resolve())


# --------------------------------------------------------------------------- the fake


def fake_app(rate: float) -> web.Application:
    """The fake WeChat API, plus ``/healthz`` (for ``start_server``) and ``/_stats``."""
    fake = FakeWeChat(apps={APPID: SECRET}, rate_limit=rate)

    async def stats(request: web.Request) -> web.Response:
        notice = [s for s in fake.sent if s.api == "template"]
        per = Counter(Counter(s.to for s in notice).values())
        return web.json_response(
            {
                **fake.stats(),
                "notice": len(notice),
                "per_openid": {str(n): k for n, k in sorted(per.items())},
                "first_at": min((s.at for s in notice), default=None),
                "last_at": max((s.at for s in notice), default=None),
                "custom": sum(1 for s in fake.sent if s.api == "custom"),
            }
        )

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = fake.app()
    app.router.add_get("/_stats", stats)
    app.router.add_get("/healthz", health)
    return app


async def fake_stats(session: aiohttp.ClientSession, fake: Server) -> dict[str, Any]:
    async with session.get(f"{fake.base}/_stats") as resp:
        return await resp.json()


# --------------------------------------------------------------------------- preparation


@dataclass(frozen=True)
class Ballot:
    resident_id: int
    openid: str
    channel: str  # "chat" or "api"
    choice: str
    token: str = ""


@dataclass
class World:
    community_id: int
    proposal_id: int
    worker_token: str
    ballots: list[Ballot]
    expected: dict[str, int]


def openid_of(n: int) -> str:
    """An openid of WeChat's length, one per household."""
    return f"o_bench_u{n:06d}_{'x' * 12}"


async def seed(args: argparse.Namespace) -> World:
    """Community, households with a follower each, a worker, a published proposal, tokens."""
    started = time.perf_counter()
    rng = random.Random(SEED)
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
                    openid=openid_of(n),
                    household_id=hid,
                    verified=True,
                )
                for n, hid in enumerate(household_ids)
            ],
            batch_size=BATCH,
        )
        residents = await (
            Resident.filter(community_id=community.id, verified=True)
            .order_by("id")
            .values_list("id", "openid")
        )
        worker = await Resident.create(community_id=community.id, openid=None, name="基准社工")
        await RoleAssignment.create(
            resident=worker, role=Role.COMMUNITY_WORKER, community_id=community.id
        )
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
        # The publication's notice is not this bench's: only the vote's goes out.
        await Notification.filter(sent_at=None).update(sent_at=now)
    seeded = time.perf_counter()

    picked = rng.sample(list(residents), args.voters)
    names = [c for c, _ in CHOICE_WEIGHTS]
    choices = rng.choices(names, weights=[w for _, w in CHOICE_WEIGHTS], k=args.voters)
    chat_n = args.voters // 2
    api_ids = [int(rid) for rid, _ in picked[chat_n:]]
    store = RedisStore(args.redis_url, op_timeout=5.0)
    try:
        tokens = dict(zip(api_ids, await issue_tokens(store, api_ids), strict=True))
        worker_token = await issue(store, worker.id)
    finally:
        await store.close()
    ballots = [
        Ballot(
            int(rid),
            str(openid),
            "chat" if i < chat_n else "api",
            choices[i],
            tokens.get(int(rid), ""),
        )
        for i, (rid, openid) in enumerate(picked)
    ]
    random.Random(SEED + 1).shuffle(ballots)
    expected = Counter(choices)
    say(
        f"seeded {len(building_ids)} buildings, {len(household_ids)} households with a "
        f"follower each + 1 worker, proposal #{created.id} published in "
        f"{seeded - started:.1f} s; {args.voters} voters ({chat_n} chat, "
        f"{args.voters - chat_n} api), {len(tokens) + 1} tokens; "
        f"total {time.perf_counter() - started:.1f} s"
    )
    return World(
        community.id,
        created.id,
        worker_token,
        ballots,
        {c: expected.get(c, 0) for c in names},
    )


# --------------------------------------------------------------------------- the burst


@dataclass
class Channel:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    deferred: Counter[str] = field(default_factory=Counter)
    failed: set[int] = field(default_factory=set)  # the voters whose answer was an error
    ok: int = 0

    def fail(self, ballot: Ballot, kind: str, raw: str) -> None:
        self.errors[kind] += 1
        self.samples.setdefault(kind, raw[:300])
        self.failed.add(ballot.resident_id)

    def ms(self, q: float) -> float | None:
        if not self.latencies:
            return None
        return round(percentile(sorted(self.latencies), q) * 1000, 2)

    def figures(self) -> dict[str, Any]:
        return {
            "votes": len(self.latencies),
            "p50_ms": self.ms(0.50),
            "p99_ms": self.ms(0.99),
            "errors": sum(self.errors.values()),
            "deferred": sum(self.deferred.values()),
        }


@dataclass
class Run:
    seconds: float = 0.0
    chat: Channel = field(default_factory=Channel)
    api: Channel = field(default_factory=Channel)
    server_cpu: float | None = None
    driver_cpu: float | None = None

    @property
    def latencies(self) -> list[float]:
        return sorted([*self.chat.latencies, *self.api.latencies])

    @property
    def errors(self) -> int:
        return sum(self.chat.errors.values()) + sum(self.api.errors.values())

    @property
    def failed(self) -> set[int]:
        return self.chat.failed | self.api.failed


class Burst:
    """Sends each ballot once, by its channel, and files its answer."""

    def __init__(self, base: str, proposal_id: int) -> None:
        self.chat_url = f"{base}{PATH}"
        self.vote_url = f"{base}/api/v1/proposals/{proposal_id}/vote"
        self.proposal_id = proposal_id
        self.wechat = WeChatServer(TOKEN, APPID, AES_KEY, mode="safe")
        self._ids = count(time.time_ns() // 1000)
        t = default_translator()
        self.put_off = {t("zh_Hans", m): m for m in ("chat.queued", "error.busy")}
        self.voted = {
            c: t("zh_Hans", "proposal.chat.voted", id=proposal_id, choice=t("zh_Hans", msgid))
            for c, msgid in CHOICE_NAMES.items()
        }

    async def by_chat(self, session: aiohttp.ClientSession, ballot: Ballot, into: Channel) -> None:
        text = f"投票 {self.proposal_id} {CHAT_WORDS[ballot.choice]}"
        xml = message_xml(ballot.openid, APPID, "text", {"Content": text}, msg_id=next(self._ids))
        params, body = self.wechat.request(xml)
        start = time.perf_counter()
        try:
            async with session.post(self.chat_url, params=params, data=body.encode()) as resp:
                raw, status = await resp.text(), resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, raw = 0, f"{type(exc).__name__}: {exc}"
        latency = time.perf_counter() - start
        into.latencies.append(latency)
        if not 200 <= status < 300:
            into.fail(ballot, f"chat {status or raw.split(':', 1)[0]}", raw)
            return
        if latency > WINDOW_SECONDS:
            into.fail(ballot, "chat late", f"{latency:.2f} s")
            return
        reply = reply_text(self.wechat.read_reply(params, raw))
        if not reply:
            into.fail(ballot, "chat empty", raw)
        elif reply in self.put_off:
            into.deferred[self.put_off[reply]] += 1
        elif self.voted[ballot.choice] in reply:
            into.ok += 1
        else:
            into.fail(ballot, "chat wrong", reply)

    async def by_api(
        self, session: aiohttp.ClientSession, ballot: Ballot, address: str, into: Channel
    ) -> None:
        headers = {"Authorization": f"Bearer {ballot.token}", "X-Forwarded-For": address}
        start = time.perf_counter()
        try:
            async with session.post(
                self.vote_url, json={"choice": ballot.choice}, headers=headers
            ) as resp:
                raw, status = await resp.text(), resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, raw = 0, f"{type(exc).__name__}: {exc}"
        latency = time.perf_counter() - start
        into.latencies.append(latency)
        if not 200 <= status < 300:
            into.fail(ballot, f"api {status or raw.split(':', 1)[0]}", raw)
            return
        if latency > WINDOW_SECONDS:
            into.fail(ballot, "api late", f"{latency:.2f} s")
            return
        if not raw:
            into.fail(ballot, "api empty", raw)
            return
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("choice") == ballot.choice:
            into.ok += 1
        else:
            into.fail(ballot, "api wrong", raw)

    async def run(self, ballots: list[Ballot], clients: int, addresses: int, pid: int) -> Run:
        run = Run()
        queue: asyncio.Queue[Ballot] = asyncio.Queue()
        for ballot in ballots:
            queue.put_nowait(ballot)

        async def client(session: aiohttp.ClientSession, n: int) -> None:
            address = f"10.0.0.{n % addresses + 1}"
            while True:
                try:
                    ballot = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if ballot.channel == "chat":
                    await self.by_chat(session, ballot, run.chat)
                else:
                    await self.by_api(session, ballot, address, run.api)

        connector = aiohttp.TCPConnector(limit=clients)
        timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            server0, driver0 = cpu_seconds(pid), time.process_time()
            started = time.perf_counter()
            await asyncio.gather(*(client(session, n) for n in range(clients)))
            run.seconds = time.perf_counter() - started
            server1, driver1 = cpu_seconds(pid), time.process_time()
        if server0 is not None and server1 is not None and run.seconds:
            run.server_cpu = (server1 - server0) / run.seconds
        if run.seconds:
            run.driver_cpu = (driver1 - driver0) / run.seconds
        return run


# --------------------------------------------------------------------------- the service


async def call(
    session: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None
) -> dict[str, Any]:
    """One API call as the worker; anything but 200 stops the bench (a setup failure)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with session.request(method, url, json=body, headers=headers) as resp:
        data = await resp.json(content_type=None)
        if resp.status != 200:
            raise RuntimeError(f"{method} {url} answered {resp.status}: {data}")
        return data


async def fetch(url: str, query: str, *params: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        return await conn.fetch(query, *params)
    finally:
        await conn.close()


async def until(what: str, seconds: float, check: Any, every: float = 0.5) -> Any:
    """Poll ``check()`` until it returns something true, at most ``seconds``; the last
    answer either way (the caller judges a timeout by it)."""
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found or time.monotonic() > deadline:
            if not found:
                say(f"gave up waiting for {what} after {seconds:.0f} s")
            return found
        await asyncio.sleep(every)


def spooled(workdir: Path) -> int:
    """Messages still waiting in the server's spool (its files stay once replayed, empty)."""
    spool = workdir / "data" / "spool"
    files = [p for p in spool.glob("*.jsonl") if not p.name.endswith(".dead.jsonl")]
    return sum(1 for p in files for line in p.read_text().splitlines() if line.strip())


# --------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    await reset_database(args.database_url)
    await flush_redis(args.redis_url)
    say(
        f"database {database_name(args.database_url)} recreated, redis {args.redis_url} "
        f"flushed; {args.households} households, {args.voters} voters, {args.clients} "
        f"clients over {args.addresses} addresses; fake WeChat at {args.rate:g} msgs/s, "
        f"service paced at {args.rate * args.pace:g}/s"
    )
    world = await seed(args)
    with tempfile.TemporaryDirectory(prefix="linli-bench-burst-") as tmp:
        workdir = Path(tmp)
        fake = await start_server(SCRIPT, args, workdir, "fake", {FAKE_RATE_ENV: str(args.rate)})
        server: Server | None = None
        try:
            server = await start_server(
                SCRIPT,
                args,
                workdir,
                "full",
                {
                    "LINLI_WECHAT_API_BASE": fake.base,
                    "LINLI_NOTICES_RATE_PER_SECOND": str(args.rate * args.pace),
                },
            )
            figures = await measure(args, world, server, fake, workdir)
        finally:
            rss = server.peak_rss_mb() if server else None
            if server is not None:
                await server.stop()
                if server.process.returncode not in (0, None, -15):
                    say(f"server exited with {server.process.returncode}")
                tail = log_tail(server.log_path)
                if tail:
                    say(f"server log tail:\n{tail}")
            await fake.stop()
    figures["peak_rss_mb"] = rss
    return figures, bool(figures["tally_exact"]) and figures["duplicates"] == 0


async def measure(
    args: argparse.Namespace, world: World, server: Server, fake: Server, workdir: Path
) -> dict[str, Any]:
    base, pid = server.base, world.proposal_id
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        opened = await call(
            session,
            "POST",
            f"{base}/api/v1/proposals/{pid}/actions/open",
            world.worker_token,
            {"days": 7},
        )
        if opened.get("status") != "voting" or opened.get("eligible") != args.households:
            raise RuntimeError(f"the vote did not open for every household: {opened}")
        opened_at = time.perf_counter()

        async def first_message() -> dict[str, Any] | None:
            stats = await fake_stats(session, fake)
            return stats if stats["notice"] > 0 else None

        at_start = await until(
            "the notice's first message", START_TIMEOUT_SECONDS, first_message, POLL_SECONDS
        )
        if at_start is None:
            raise RuntimeError(
                f"no notice reached the fake; log tail:\n{log_tail(server.log_path)}"
            )
        sent_at_start = at_start["notice"]
        overlapped = 0 < sent_at_start < args.households
        say(
            f"vote opened (eligible {opened['eligible']}); the notice's first messages after "
            f"{time.perf_counter() - opened_at:.1f} s: {sent_at_start}/{args.households} "
            f"sent as the burst starts"
        )

        with quiet_collector():
            run = await Burst(base, pid).run(
                world.ballots, args.clients, args.addresses, server.process.pid
            )
        sent_at_end = (await fake_stats(session, fake))["notice"]
        report_burst(run, sent_at_end, args.households)

        async def replayed() -> bool:
            # An entry leaves the spool once handled; every deferral was spooled before
            # its answer, so an empty spool is every deferred vote taken.
            return not spooled(workdir)

        waited = time.perf_counter()
        await until("the spool's replay", VOTES_TIMEOUT_SECONDS, replayed)
        votes_wait = time.perf_counter() - waited

        async def notice_done() -> int | None:
            rows = await fetch(
                args.database_url,
                "SELECT n.id, count(d.id) FILTER (WHERE d.status IN ('pending', 'claimed', "
                "'sending')) AS open FROM notice n LEFT JOIN delivery d ON d.notice_id = n.id "
                "WHERE n.community_id = $1 AND n.kind = $2 GROUP BY n.id",
                world.community_id,
                NOTICE_KIND,
            )
            return int(rows[0]["id"]) if len(rows) == 1 and rows[0]["open"] == 0 else None

        waited = time.perf_counter()
        notice_id = await until("the notice to finish", NOTICE_TIMEOUT_SECONDS, notice_done)
        say(
            f"waited {votes_wait:.1f} s for the spooled votes, "
            f"{time.perf_counter() - waited:.1f} s more for the notice"
        )
        seen = await call(session, "GET", f"{base}/api/v1/proposals/{pid}", world.worker_token)
        progress = (
            await call(session, "GET", f"{base}/api/v1/notices/{notice_id}", world.worker_token)
            if notice_id
            else {}
        )
        stats = await fake_stats(session, fake)
    rows = await fetch(
        args.database_url,
        "SELECT resident_id, choice FROM proposal_vote WHERE proposal_id = $1",
        pid,
    )
    return judge(args, world, run, seen, progress, stats, rows, overlapped)


def report_burst(run: Run, sent_at_end: int, total: int) -> None:
    n = len(run.latencies)
    say(
        f"burst: {n} votes in {run.seconds:.2f} s → {n / run.seconds if run.seconds else 0:.1f} "
        f"votes/s; notice {sent_at_end}/{total} sent as it ended; cpu server "
        f"{pct(run.server_cpu)}, driver {pct(run.driver_cpu)} (100% = one core)"
    )
    for name, channel in (("chat", run.chat), ("api", run.api)):
        f = channel.figures()
        say(
            f"{name:<4}: {f['votes']} sent, {channel.ok} confirmed, {f['errors']} errors, "
            f"{f['deferred']} deferred {dict(channel.deferred) or ''}; "
            f"p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, max {channel.ms(1.0)} ms"
        )
        for kind, k in channel.errors.most_common():
            say(f"  error {kind} ×{k}; sample: {channel.samples.get(kind, '')}")


def judge(
    args: argparse.Namespace,
    world: World,
    run: Run,
    seen: dict[str, Any],
    progress: dict[str, Any],
    stats: dict[str, Any],
    rows: list[asyncpg.Record],
    overlapped: bool,
) -> dict[str, Any]:
    tally = seen.get("tally") or {}
    got = {c: tally.get(c) for c in world.expected}
    sent = {b.resident_id: b.choice for b in world.ballots}
    stored = {int(r["resident_id"]): str(r["choice"]) for r in rows}
    wrong_rows = sum(1 for rid, choice in sent.items() if stored.get(rid) != choice)
    missing = set(sent) - set(stored)
    refused = missing & run.failed
    tally_exact = got == world.expected and len(rows) == len(sent) and wrong_rows == 0

    per = {int(n): k for n, k in stats["per_openid"].items()}
    extra = sum((n - 1) * k for n, k in per.items() if n > 1)
    duplicates = int(stats["duplicates"]) + extra
    span = (stats["last_at"] or 0) - (stats["first_at"] or 0)
    rate = (stats["notice"] - 1) / span if span > 0 else None
    complete = (
        progress.get("sent") == args.households
        and progress.get("total") == args.households
        and per == {1: args.households}
    )
    quota = int(stats["errors"].get("45009", 0))
    say(
        f"tally: expected {world.expected}, API {got}; proposal_vote rows {len(rows)} "
        f"(expected {len(sent)}), {wrong_rows} voters without their choice stored "
        f"({len(missing)} without a vote, {len(refused)} of them answered with an error) → "
        f"{'exact' if tally_exact else 'NOT EXACT'}"
    )
    say(
        f"notice: {progress.get('sent')}/{progress.get('total')} sent, failed "
        f"{progress.get('failed')}, unknown {progress.get('unknown')}; the fake got "
        f"{stats['notice']} ({per} per follower), {stats['duplicates']} repeated "
        f"client_msg_id, {quota} refused as over its rate, {stats['custom']} late replies; "
        f"{rate or 0:.0f} msgs/s over {span:.2f} s"
    )
    latencies = run.latencies
    figures = {
        "bench": "burst",
        "errors": run.errors,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2) if latencies else None,
        "chat": run.chat.figures(),
        "api": run.api.figures(),
        "tally_exact": tally_exact,
        "duplicates": duplicates,
        "rate_share": round(rate / args.rate, 3) if rate else None,
        "notice_overlapped": overlapped,
        "notice_complete": complete,
        "notice_sent": stats["notice"],
        "quota_errors": quota,
        "votes_per_s": round(len(latencies) / run.seconds, 1) if run.seconds else None,
        "peak_rss_mb": None,
        "households": args.households,
        "voters": args.voters,
        "clients": args.clients,
        "addresses": args.addresses,
    }
    p99 = figures["p99_ms"]
    met = run.errors == 0 and p99 is not None and p99 <= 1000 and tally_exact and duplicates == 0
    say(f"goal (errors 0, p99 ≤ 1 s, tally exact, duplicates 0): {'met' if met else 'NOT met'}")
    return figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--voters", type=int, default=3_000, help="households that vote")
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients")
    parser.add_argument("--addresses", type=int, default=20, help="client addresses (XFF)")
    parser.add_argument("--rate", type=float, default=2000.0, help="the fake's msgs/s limit")
    parser.add_argument(
        "--pace", type=float, default=0.9, help="the service's notice rate, share of --rate"
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("LINLI_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("LINLI_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    )
    parser.add_argument("--serve", choices=("full", "fake"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.households, args.voters, args.clients, args.addresses) < 1:
        parser.error("--households, --voters, --clients and --addresses must be at least 1")
    if args.voters > args.households:
        parser.error("--voters cannot exceed --households (one voter a household)")
    if not 1 <= args.addresses <= 254:
        parser.error("--addresses must be 1 to 254 (10.0.0.k)")
    if args.rate <= 0 or not 0 < args.pace <= 1:
        parser.error("--rate must be positive and --pace in (0, 1]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve == "fake":
        serve(args, fake_app(float(os.environ.get(FAKE_RATE_ENV, "2000"))))
        return 0
    if args.serve == "full":
        serve(
            args,
            wechat_community=COMMUNITY,
            wechat_token=TOKEN,
            wechat_appid=APPID,
            wechat_appsecret=SECRET,
            wechat_aes_key=AES_KEY,
            callback_path=PATH,
            notice_templates={NOTICE_KIND: TEMPLATE_ID},
            jobs_interval_seconds=1.0,
            spool_replay_seconds=2.0,
            trusted_proxies=["127.0.0.1"],
        )
        return 0
    started = time.perf_counter()
    report, ok = asyncio.run(bench(args))
    say(f"wall time {time.perf_counter() - started:.1f} s")
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
