"""What the benches share: a fresh database and Redis, the service in its own process, figures.

One copy, so every bench starts, times and tears down the service the same way and their
numbers stay comparable. Imported as ``from _service import ...``: under
``python bench/x.py`` the script's own directory is first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import logging
import math
import os
import socket
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from bot.cli import serve_one
from bot.loop import new_event_loop
from bot.store import RedisStore
from bot.workers import serve_workers
from config.settings import Settings
from handlers.sessions import issue
from models.community import Building, Household

TOKEN_CHUNK = 250
HOUSEHOLDS_PER_BUILDING = 100
BATCH = 1000

HOST = "127.0.0.1"
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


# --------------------------------------------------------------------------- output


def say(text: str) -> None:
    """Flushed at once: progress shows while a long run is still going."""
    print(text, flush=True)


def pct(value: float | None) -> str:
    """A CPU share (1.0 = one core); ``-`` where ``/proc`` could not be read."""
    return "-" if value is None else f"{value * 100:.0f}%"


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (NaN when empty).

    Nearest rank: the figure is a latency some request really had, never an interpolation.
    """
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux ``/proc``), or None elsewhere.

    The server's share tells whether it, or the driver, set the rate.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident memory (``VmHWM``) in MiB, or None where ``/proc`` is absent.

    Read just before the server stops: the high-water mark of the whole run, not a sample.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


@contextlib.contextmanager
def quiet_collector() -> Any:
    """No collector pauses in the driver while it measures: they would count as latency.

    A full collection of the driver's heap took up to 350 ms here, longer than the server's
    answers it was timing. What the window leaves behind is collected after it.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()


# --------------------------------------------------------------------------- stores


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def asyncpg_url(url: str) -> str:
    """The URL without its query: Tortoise's options (``?maxsize=``) are not asyncpg's."""
    parts = urlsplit(url)
    return urlunsplit((*parts[:3], "", ""))


async def reset_database(url: str) -> None:
    """Drop and recreate the database, so every run starts from the same empty schema.

    Only a database whose name contains ``bench``: a wrong URL must not cost real data.
    """
    parts = urlsplit(url)
    name = database_name(url)
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    conn = await asyncpg.connect(admin)
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {quoted}")
    finally:
        await conn.close()


async def flush_redis(url: str) -> None:
    """Empty the Redis database: no session, rate-limit count or dedup key of a past run."""
    client = aioredis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def serve(args: argparse.Namespace, app: web.Application | None = None, **settings: Any) -> None:
    """Child process: run the full service (or ``app``) on 127.0.0.1 until SIGTERM.

    Its own process, so the driver's CPU never counts as the server's. ``settings`` are
    passed to ``Settings`` over the bench's database, Redis and data directory; whatever
    they leave out comes from ``LINLI_*`` variables as in production (``LINLI_WORKERS``
    for several processes, ``LINLI_EVENT_LOOP`` for the loop), and both the full service
    and ``app`` run on the loop production would.
    """
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    full = Settings(
        database_url=args.database_url,
        redis_url=args.redis_url,
        data_dir=Path(args.data_dir),
        log_level="WARNING",
        **settings,
    )
    if app is not None:
        web.run_app(
            app, host=HOST, port=args.port, access_log=None, print=None, loop=new_event_loop(full)
        )
        return
    quiet = functools.partial(serve_one, access_log=False)
    if full.workers > 1:
        serve_workers(full, HOST, args.port, quiet)
    else:
        quiet(full, HOST, args.port)


@dataclass
class Server:
    port: int
    process: asyncio.subprocess.Process
    log_path: Path
    log_file: IO[bytes]

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def peak_rss_mb(self) -> float | None:
        """The server's peak RSS so far (MiB); call it before ``stop``."""
        return peak_rss_mb(self.process.pid)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.log_file.close()


async def start_server(
    script: str,
    args: argparse.Namespace,
    workdir: Path,
    kind: str | None = None,
    env: dict[str, str] | None = None,
) -> Server:
    """Run ``script --serve [kind]`` as a child and return once ``/healthz`` answers.

    The script serves itself (its ``--serve`` calls ``serve``), so the child imports what
    the bench does. ``env`` is added to this process's environment, for ``LINLI_*``
    settings the bench wants the server to see.
    """
    port = free_port()
    label = f"{kind} server" if kind else "server"
    log_path = workdir / f"{kind or 'server'}.log"
    log_file = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        script,
        "--serve",
        *([kind] if kind else []),
        "--port",
        str(port),
        "--database-url",
        args.database_url,
        "--redis-url",
        args.redis_url,
        "--data-dir",
        str(workdir / "data"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log_file,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **env} if env else None,
    )
    server = Server(port, process, log_path, log_file)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{server.base}/healthz") as resp:
                    if resp.status == 200:
                        return server
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    await server.stop()
    raise RuntimeError(
        f"{label} did not come up on port {port} (exit {process.returncode}); log tail:\n"
        f"{log_tail(log_path)}"
    )


async def issue_tokens(store: RedisStore, resident_ids: list[int]) -> list[str]:
    """API sessions, as the service would issue them, a chunk at a time."""
    tokens: list[str] = []
    for start in range(0, len(resident_ids), TOKEN_CHUNK):
        chunk = resident_ids[start : start + TOKEN_CHUNK]
        tokens += await asyncio.gather(*(issue(store, rid) for rid in chunk))
    return tokens


async def make_households(community_id: int, count: int, rng: Any) -> list[int]:
    """Buildings of 100 households each, with floor areas drawn from ``rng``; the buildings'
    ids."""
    buildings = math.ceil(count / HOUSEHOLDS_PER_BUILDING)
    await Building.bulk_create(
        [Building(community_id=community_id, name=f"{n + 1}栋") for n in range(buildings)],
        batch_size=BATCH,
    )
    building_ids = await (
        Building.filter(community_id=community_id).order_by("id").values_list("id", flat=True)
    )
    await Household.bulk_create(
        [
            Household(
                building_id=building_ids[i // HOUSEHOLDS_PER_BUILDING],
                unit="1",
                room=f"{i % HOUSEHOLDS_PER_BUILDING + 1:03d}",
                floor_area=Decimal(rng.randint(4500, 14000)) / 100,
            )
            for i in range(count)
        ],
        batch_size=BATCH,
    )
    return list(building_ids)
