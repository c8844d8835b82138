"""Benchmark ``POST /wechat``: the full Linli path against a bare aiohttp app.

Usage::

    python bench/callback.py [--levels 1,4,16,64] [--seconds 4] [--warmup 1]

What it does:

1. Drops and recreates the PostgreSQL database ``LINLI_BENCH_DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432/linli_bench``; its name must contain ``bench``)
   and flushes the Redis database ``LINLI_BENCH_REDIS_URL`` (default
   ``redis://127.0.0.1:6379/15``).
2. Starts the full service (``create_app``: PostgreSQL, Redis, migrations at start-up) in
   its own process (``python bench/callback.py --serve full --port P``, ``web.run_app`` on
   127.0.0.1, ``access_log=None``) and waits until ``/healthz`` answers.
3. From this (separate) process, sends one message per openid first (so every resident
   exists), then drives it closed-loop at each concurrency level: ``c`` workers on one
   ``aiohttp.ClientSession`` whose ``TCPConnector`` limit is ``c``, each sending signed
   **safe-mode** (AES) text messages (``帮助``, which reaches the menu handler through the
   database and Redis) with a unique MsgId, from ``--openids`` distinct openids. Each level
   runs ``--warmup`` seconds unmeasured, then ``--seconds`` measured. Requests are signed
   and encrypted on the fly (about 45 µs each) by ``bot.simulator.WeChatServer``.
4. Latency at half load: an extra **open-loop paced** run sends at a fixed rate of half
   the full path's peak msgs/s (one request every ``1/rate`` s whatever the answers do;
   connector limit ``--open-connections``). Latency is measured from each request's
   *scheduled* send time, so queueing in the client or the server counts (no coordinated
   omission). Its p50/p99 are the ``p50_ms``/``p99_ms`` of the JSON line.
5. Repeats step 3 against a bare aiohttp app (its own process) whose handler reads the
   body and answers ``success``, plus the same paced run for reference (the latency
   floor of HTTP, client and machine).

Counting: msgs/s = HTTP 200 answers completed inside the measured window ÷ its length;
anything else (non-200 status, client error, timeout) is an error and printed. For the
full path, ``empty`` counts 200 answers of plain ``success`` (the handler missed the reply
window, or failed), and every 16th encrypted reply is decrypted and checked for the menu
(``wrong`` counts the misses). ``srv cpu``/``drv cpu`` are the CPU used by the server
process and by this driver process during the window (100% = one core), read from
``/proc``: a driver near 100% means the client, not the server, set the rate.

6. With ``--workers N`` (default 2; 1 skips it), the same closed-loop levels against
   ``N`` workers of the full service sharing the port (``linli serve --workers``).

The driver's collector is paused while it measures (``quiet_collector``): its full
passes took longer than the answers it was timing.

The issue's target (full ≥ 40% of bare throughput on one process; p99 < 100 ms at half
that load) is only reported, never asserted. The exit code is nonzero when any answer
failed (an error, an empty ``success`` where a reply was due, a wrong reply). The last
line of output is one JSON object: ``{"bench": "callback", "msgs_per_s",
"bare_msgs_per_s", "ratio", "p50_ms", "p99_ms", "workers", "msgs_per_s_workers",
"failures", "peak_rss_mb", "bare_peak_rss_mb"}`` (msgs/s: best over the concurrency
levels; ratio = full ÷ bare on one process; peak RSS of the one-process servers, MiB).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
from _service import (
    cpu_seconds,
    database_name,
    flush_redis,
    log_tail,
    pct,
    percentile,
    quiet_collector,
    reset_database,
    say,
    serve,
    start_server,
)
from aiohttp import web

from bot.simulator import WeChatServer, message_xml, reply_text
from handlers.i18n import default_translator

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/linli_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
PATH = "/wechat"
TOKEN = "linli-bench-token"
APPID = "wxlinlibench00000"
AES_KEY = base64.b64encode(b"linli-bench-aes-key-0123456789ab").decode().rstrip("=")
TEXT = "帮助"
VERIFY_EVERY = 16
CLIENT_TIMEOUT_SECONDS = 10.0
SCRIPT = str(Path(__file__).resolve())


# --------------------------------------------------------------------------- servers


def bare_app() -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="success")

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post(PATH, receive)
    app.router.add_get("/healthz", health)
    return app


# --------------------------------------------------------------------------- load driver


@dataclass
class Result:
    label: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    empty: int = 0
    wrong: int = 0
    checked: int = 0
    server_cpu: float | None = None
    driver_cpu: float | None = None

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000


class Driver:
    """Signs, encrypts and sends messages the way WeChat's servers push them."""

    def __init__(self, url: str, full: bool, openids: int, server_pid: int) -> None:
        self.url = url
        self.full = full
        self.wechat = WeChatServer(TOKEN, APPID, AES_KEY, mode="safe")
        self.openids = [f"o_bench_{i:05d}_{'x' * 14}" for i in range(openids)]
        self.server_pid = server_pid
        self._ids = count(time.time_ns() // 1000)
        self._sent = count()
        self.menu_title = default_translator()("zh_Hans", "menu.title")

    def session(self, limit: int) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=limit),
            timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS),
        )

    async def send(self, session: aiohttp.ClientSession) -> tuple[str, str]:
        """One push; returns ("200", body) or the failure's status or exception name."""
        n = next(self._sent)
        openid = self.openids[n % len(self.openids)]
        xml = message_xml(openid, APPID, "text", {"Content": TEXT}, msg_id=next(self._ids))
        params, body = self.wechat.request(xml)
        try:
            async with session.post(self.url, params=params, data=body.encode()) as resp:
                raw = await resp.text()
                if resp.status != 200:
                    return str(resp.status), raw
                if self.full and raw != "success" and n % VERIFY_EVERY == 0:
                    return "200", self.wechat.read_reply(params, raw)
                return "200", "" if raw == "success" else "ok"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return type(exc).__name__, ""

    def record(self, result: Result, status: str, body: str, latency: float) -> None:
        if status != "200":
            result.errors[status] += 1
            return
        result.latencies.append(latency)
        if self.full and body in ("", "success"):
            result.empty += 1
        elif self.full and body.startswith("<xml>"):
            result.checked += 1
            if self.menu_title not in reply_text(body):
                result.wrong += 1

    async def _watch(self, result: Result, t0: float, t_end: float) -> None:
        """CPU of the server and of this process over the measured window."""
        await asyncio.sleep(max(0.0, t0 - time.perf_counter()))
        server0, driver0 = cpu_seconds(self.server_pid), time.process_time()
        await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
        server1, driver1 = cpu_seconds(self.server_pid), time.process_time()
        span = result.seconds
        if server0 is not None and server1 is not None:
            result.server_cpu = (server1 - server0) / span
        result.driver_cpu = (driver1 - driver0) / span

    async def prime(self, concurrency: int = 16) -> Result:
        """One message per openid, so the measured runs see known residents."""
        result = Result("prime", 1.0)
        queue = list(range(len(self.openids)))
        started = time.perf_counter()
        async with self.session(concurrency) as session:

            async def worker() -> None:
                while queue:
                    queue.pop()
                    t = time.perf_counter()
                    status, body = await self.send(session)
                    self.record(result, status, body, time.perf_counter() - t)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
        return result

    async def closed_loop(self, concurrency: int, warmup: float, seconds: float) -> Result:
        result = Result(f"c={concurrency}", seconds)
        async with self.session(concurrency) as session:
            t0 = time.perf_counter() + warmup
            t_end = t0 + seconds

            async def worker() -> None:
                while (start := time.perf_counter()) < t_end:
                    status, body = await self.send(session)
                    end = time.perf_counter()
                    if t0 <= end < t_end:
                        self.record(result, status, body, end - start)

            await asyncio.gather(
                self._watch(result, t0, t_end), *(worker() for _ in range(concurrency))
            )
        return result

    async def open_loop(
        self, rate: float, warmup: float, seconds: float, connections: int
    ) -> Result:
        result = Result(f"{rate:.0f}/s paced", seconds)
        interval = 1.0 / rate
        pending: set[asyncio.Task[None]] = set()
        async with self.session(connections) as session:
            begin = time.perf_counter()
            t0 = begin + warmup
            t_end = t0 + seconds

            async def one(scheduled: float) -> None:
                status, body = await self.send(session)
                if scheduled >= t0:
                    self.record(result, status, body, time.perf_counter() - scheduled)

            watch = asyncio.create_task(self._watch(result, t0, t_end))
            for i in count():
                scheduled = begin + i * interval
                if scheduled >= t_end:
                    break
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(one(scheduled))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await watch
            if pending:
                await asyncio.wait(pending, timeout=CLIENT_TIMEOUT_SECONDS + 1)
        return result


# --------------------------------------------------------------------------- reporting

HEADER = (
    f"{'app':<5} {'load':>12} {'msgs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
    f"{'empty':>6} {'wrong':>9} {'srv cpu':>8} {'drv cpu':>8}"
)


def row(app: str, result: Result, label: str = "") -> str:
    wrong = f"{result.wrong}/{result.checked}" if app == "full" else "-"
    empty = str(result.empty) if app == "full" else "-"
    line = (
        f"{label or app:<5} {result.label:>12} {result.rate:>9.1f} {result.ms(0.50):>8.2f} "
        f"{result.ms(0.99):>8.2f} {sum(result.errors.values()):>7} {empty:>6} {wrong:>9} "
        f"{pct(result.server_cpu):>8} {pct(result.driver_cpu):>8}"
    )
    if result.errors:
        line += "  errors: " + ", ".join(f"{k}×{v}" for k, v in result.errors.most_common())
    return line


# --------------------------------------------------------------------------- main


@dataclass
class AppRun:
    levels: list[Result] = field(default_factory=list)
    paced: Result | None = None
    peak_rss_mb: float | None = None

    @property
    def best(self) -> Result:
        return max(self.levels, key=lambda r: r.rate)

    def failures(self) -> int:
        """Answers that were not a valid reply: errors, and for the full path empty or wrong."""
        runs = [*self.levels, *([self.paced] if self.paced else [])]
        return sum(sum(r.errors.values()) + r.empty + r.wrong for r in runs)


async def run_app_bench(
    kind: str,
    args: argparse.Namespace,
    workdir: Path,
    paced_rate: Callable[[AppRun], float] | None,
    workers: int = 1,
) -> AppRun:
    label = kind if workers == 1 else f"{kind}{workers}"
    server = await start_server(SCRIPT, args, workdir, kind, env={"LINLI_WORKERS": str(workers)})
    run = AppRun()
    try:
        # With several workers the supervisor's children do the work: their CPU is not
        # the supervisor's, so the server column reads "-" then.
        pid = server.process.pid if workers == 1 else -1
        driver = Driver(f"{server.base}{PATH}", kind == "full", args.openids, pid)
        if kind == "full":
            primed = await driver.prime()
            say(
                f"{label:<5} primed {len(driver.openids)} openids in {primed.seconds:.1f} s "
                f"(errors {sum(primed.errors.values())}, wrong {primed.wrong}/{primed.checked})"
            )
        for level in args.levels:
            with quiet_collector():
                result = await driver.closed_loop(level, args.warmup, args.seconds)
            run.levels.append(result)
            say(row(kind, result, label))
        rate = paced_rate(run) if paced_rate else 0.0
        if rate > 0:
            with quiet_collector():
                run.paced = await driver.open_loop(
                    rate, args.warmup, args.seconds, args.open_connections
                )
            say(row(kind, run.paced, label))
        run.peak_rss_mb = server.peak_rss_mb() if workers == 1 else None
    finally:
        await server.stop()
    if server.process.returncode not in (0, None):
        say(
            f"{label} server exited with {server.process.returncode}; log tail:\n"
            f"{log_tail(server.log_path)}"
        )
    return run


def rounded(value: float, digits: int = 1) -> float | None:
    return None if math.isnan(value) else round(value, digits)


async def bench(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    await reset_database(args.database_url)
    await flush_redis(args.redis_url)
    say(
        f"database {database_name(args.database_url)} recreated, "
        f"redis {args.redis_url} flushed; safe mode, text {TEXT!r}, {args.openids} openids, "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s per run"
    )
    say(HEADER)
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        workdir = Path(tmp)
        full = await run_app_bench("full", args, workdir, lambda run: run.best.rate / 2)
        half = full.best.rate / 2
        more = None
        if args.workers > 1:
            more = await run_app_bench("full", args, workdir, None, workers=args.workers)
        bare = await run_app_bench("bare", args, workdir, lambda run: half)
    msgs, bare_msgs = full.best.rate, bare.best.rate
    paced = full.paced
    say(
        f"full best {msgs:.1f} msgs/s at {full.best.label}; bare best {bare_msgs:.1f} msgs/s at "
        f"{bare.best.label}; ratio {msgs / bare_msgs if bare_msgs else math.nan:.3f} "
        f"(target ≥ 0.40); at half load ({half:.0f}/s paced) p99 "
        f"{paced.ms(0.99) if paced else math.nan:.1f} ms (target < 100 ms)"
        + (f"; {args.workers} workers {more.best.rate:.1f} msgs/s" if more else "")
    )
    failures = full.failures() + (more.failures() if more else 0) + bare.failures()
    report = {
        "bench": "callback",
        "msgs_per_s": round(msgs, 1),
        "bare_msgs_per_s": round(bare_msgs, 1),
        "ratio": round(msgs / bare_msgs, 3) if bare_msgs else None,
        "p50_ms": rounded(paced.ms(0.50), 2) if paced else None,
        "p99_ms": rounded(paced.ms(0.99), 2) if paced else None,
        "workers": args.workers,
        "msgs_per_s_workers": round(more.best.rate, 1) if more else None,
        "failures": failures,
        "peak_rss_mb": full.peak_rss_mb,
        "bare_peak_rss_mb": bare.peak_rss_mb,
    }
    return report, failures == 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--levels",
        default="1,4,16,64",
        help="comma-separated concurrency levels (default 1,4,16,64)",
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per run")
    parser.add_argument("--openids", type=int, default=200, help="distinct senders")
    parser.add_argument(
        "--workers", type=int, default=2, help="also measure this many workers (1: skip)"
    )
    parser.add_argument(
        "--open-connections", type=int, default=256, help="connector limit of the paced run"
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("LINLI_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("LINLI_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    )
    parser.add_argument("--serve", choices=("full", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.levels = [int(x) for x in str(args.levels).split(",") if x.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve == "full":
        serve(
            args,
            wechat_token=TOKEN,
            wechat_appid=APPID,
            wechat_aes_key=AES_KEY,
            callback_path=PATH,
        )
        return 0
    if args.serve:
        serve(args, bare_app())
        return 0
    report, valid = asyncio.run(bench(args))
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
