"""Fault injection for the service as it runs in production: real processes, real sockets.

- ``RedisProcess``: a ``redis-server`` of the test's own, killed (SIGKILL), hung (SIGSTOP),
  continued and restarted (empty unless it keeps an AOF).
- ``TcpProxy``: a TCP proxy in front of PostgreSQL, on a thread and loop of its own, that
  stalls (``pause``: connections stay open, bytes are held) or goes down (``stop``).
- ``Service``: ``linli serve`` in a subprocess (through the proxy, on the test's Redis),
  stopped with the signal the test chooses. Several may share a database, a Redis and a
  data directory (the spool), as replicas do.
- ``Pusher``: WeChat's side of the callback (signed and encrypted, ``bot.simulator``), with
  retries that carry the same MsgId and body.
- ``Counts``: what PostgreSQL holds (tickets, owed replies, conversations, the ledger),
  read directly, not through the proxy; ``spool_entries`` reads the spool on disk.
- ``FakeWeChatThread``: ``tests.fakes.wechat`` on a thread of its own, where the owed
  replies land as customer-service messages.

Every wait is a polling loop with a deadline (``wait_until``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from bot.simulator import WeChatServer, message_xml, reply_text
from handlers.i18n import default_translator
from tests.fakes.wechat import FakeWeChat, serve

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("LINLI_TEST_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
PG_SERVER = PG_URL.rsplit("/", 1)[0]
TOKEN = "faults-token"
APPID = "wxfaultsappid0001"
SECRET = "faults-app-secret"
AES_KEY = "faultsAESkey0123456789abcdefghijklmnopqrstu"
assert len(AES_KEY) == 43

_translate = default_translator()
BUSY = _translate("zh_Hans", "error.busy")  # kept, we will answer
QUEUED = _translate("zh_Hans", "chat.queued")  # behind the resident's earlier message
COMPLAINT = "投诉 楼道的灯坏了三天了"
SUBMIT = "1"


def openids(tag: str, n: int) -> list[str]:
    """``n`` residents of this test alone (tests of a module share its database)."""
    run = secrets.token_hex(3)
    return [f"o_{tag}_{run}_{i:02d}" for i in range(n)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until(
    check: Callable[[], Awaitable[Any]] | Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"after {timeout:.1f} s still not: {what} (last: {last!r})")
        await asyncio.sleep(interval)


# --- Redis ---------------------------------------------------------------------------------


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


class RedisProcess:
    """A ``redis-server`` on a free port with its own directory.

    No persistence by default (``--save "" --appendonly no``): a ``restart`` comes back
    empty, as a production Redis without AOF does after a crash. ``aof=True`` keeps an
    append-only file fsync'd on every write, so a restart keeps what was written.
    """

    def __init__(self, directory: Path, aof: bool = False, port: int | None = None) -> None:
        self.directory = directory
        self.aof = aof
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopped = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.aof
            else ["--appendonly", "no"]
        )
        return [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            *persistence,
            "--logfile",
            str(self.directory / "redis.log"),
            "--daemonize",
            "no",
        ]

    def start(self, timeout: float = 10.0) -> RedisProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.stopped = False
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self.proc.returncode}): {self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer PING in {timeout} s")
            time.sleep(0.02)
        return self

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def ping(self, timeout: float = 0.5) -> bool:
        return self.command("PING", timeout=timeout) == "+PONG"

    def command(self, *words: str, timeout: float = 0.5) -> str | None:
        """One inline command's first reply line (``+PONG``, ``:12``), None if no answer."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
                sock.sendall((" ".join(words) + "\r\n").encode())
                return sock.recv(4096).decode(errors="replace").split("\r\n", 1)[0]
        except OSError:
            return None

    def dbsize(self) -> int:
        answer = self.command("DBSIZE")
        assert answer is not None and answer.startswith(":"), answer
        return int(answer[1:])

    def count(self, pattern: str) -> int:
        """How many keys match ``pattern`` (the service's keys start with ``linli:``); 0
        when Redis does not answer (hung or down), so a poll just goes on."""
        answer = self.command("KEYS", pattern)
        return int(answer[1:]) if answer and answer.startswith("*") else 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing saved."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.stopped = False

    def stop(self) -> None:
        """SIGSTOP: the port still accepts connections, nothing answers (a hung Redis)."""
        assert self.proc is not None and self.alive
        self.proc.send_signal(signal.SIGSTOP)
        self.stopped = True

    def cont(self) -> None:
        assert self.proc is not None and self.alive
        self.proc.send_signal(signal.SIGCONT)
        self.stopped = False

    def restart(self) -> RedisProcess:
        """Kill (if running) and start again on the same port: empty unless ``aof``."""
        self.kill()
        return self.start()

    def close(self) -> None:
        self.kill()


# --- a TCP proxy in front of PostgreSQL ------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to the upstream, on a thread with its own event loop.

    ``pause()`` stops moving bytes in both directions: connections stay open and what is
    sent waits (a stalled database). ``stop()`` closes every connection and the listener
    (a database that is down: new connections are refused); ``start()`` listens again.
    """

    def __init__(self, upstream: tuple[str, int], port: int | None = None) -> None:
        self.upstream = upstream
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._flowing = self._call(self._make_event())
        self._server: asyncio.AbstractServer | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.accepted = 0

    @staticmethod
    async def _make_event() -> asyncio.Event:
        event = asyncio.Event()
        event.set()
        return event

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def url_for(self, database_url: str) -> str:
        """``database_url`` with its host and port replaced by this proxy's."""
        parts = urlsplit(database_url)
        user = f"{parts.username}@" if parts.username else ""
        if parts.username and parts.password:
            user = f"{parts.username}:{parts.password}@"
        query = f"?{parts.query}" if parts.query else ""
        return f"{parts.scheme}://{user}{self.host}:{self.port}{parts.path}{query}"

    # what tests call -----------------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._call(self._listen())
        return self

    def stop(self) -> None:
        self._call(self._shutdown())

    def pause(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def resume(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.set)

    @property
    def connections(self) -> int:
        return len(self._tasks)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.resume()
            self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    # on the proxy's loop -------------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, self.host, self.port, reuse_address=True
            )

    async def _shutdown(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for transport in list(self._transports):
            transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        self._transports.add(writer.transport)
        up_writer: asyncio.StreamWriter | None = None
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                return
            self._transports.add(up_writer.transport)
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        except asyncio.CancelledError:
            pass
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    self._transports.discard(w.transport)
                    w.transport.abort()
            self._tasks.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self._flowing.wait()  # paused: leave the bytes in the socket
                data = await reader.read(65536)
                if not data:
                    break
                await self._flowing.wait()  # paused meanwhile: hold what was read
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()


# --- PostgreSQL ------------------------------------------------------------------------------


async def postgres_available(timeout: float = 3.0) -> bool:
    try:
        conn = await asyncpg.connect(PG_SERVER + "/postgres", timeout=timeout)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_SERVER + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(name: str) -> str:
    """An empty database ``name`` (an old one of that name is dropped first); its URL."""
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}"


async def drop_database(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_env(
    database_url: str,
    redis_url: str,
    data_dir: Path,
    wechat_base: str,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a service (and of its ``seed-demo``): nothing from ours but paths."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        LINLI_DATABASE_URL=database_url,
        LINLI_REDIS_URL=redis_url,
        LINLI_DATA_DIR=str(data_dir),
        LINLI_WECHAT_TOKEN=TOKEN,
        LINLI_WECHAT_APPID=APPID,
        LINLI_WECHAT_APPSECRET=SECRET,
        LINLI_WECHAT_AES_KEY=AES_KEY,
        LINLI_WECHAT_COMMUNITY="demo",
        LINLI_WECHAT_API_BASE=wechat_base,
        LINLI_WECOM_API_BASE=wechat_base,
        LINLI_SPOOL_REPLAY_SECONDS="0.5",
        LINLI_JOBS_INTERVAL_SECONDS="1",
        LINLI_LOG_LEVEL="INFO",
    )
    env.update(extra or {})
    return env


def seed_demo(database_url: str, data_dir: Path) -> None:
    """Migrate and seed the demo community (``linli seed-demo``) straight into PostgreSQL."""
    env = service_env(database_url, "", data_dir, "http://127.0.0.1:9")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "seed-demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"seed-demo failed: {done.stderr[-3000:]}")


# --- the service -----------------------------------------------------------------------------


def drops_file_capabilities() -> bool:
    """Whether services run without root's power to write where modes forbid (see serve.py)."""
    return os.geteuid() == 0


@dataclass
class Service:
    """``linli serve`` in a subprocess; ``start()`` returns once ``/healthz`` answers.

    As root the service is started through ``tests.faults.serve``, which drops the
    capabilities that let root ignore file modes before it runs the same ``bot.cli.main``,
    so a spool directory made read-only is read-only for the service too.
    """

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    name: str = "service"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def callback_url(self) -> str:
        return self.url + "/wechat"

    @property
    def data_dir(self) -> Path:
        return Path(self.env["LINLI_DATA_DIR"])

    def _command(self) -> list[str]:
        entry = ["-m", "tests.faults.serve"] if drops_file_capabilities() else ["-m", "bot"]
        return [sys.executable, *entry, "serve", "--host", "127.0.0.1", "--port", str(self.port)]

    async def start(self, timeout: float = 60.0) -> Service:
        assert not self.alive, "already running"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = await asyncio.to_thread(self._spawn)
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.0)) as session:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited ({self.proc.returncode}) at start:\n{self.log()}"
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(self.url + "/healthz") as resp:
                        if resp.status == 200:
                            return self
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not healthy in {timeout} s:\n{self.log()}")
                await asyncio.sleep(0.1)

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            log.write(f"--- {self.name} starting on port {self.port}\n".encode())
            log.flush()
            return subprocess.Popen(
                self._command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        if self.alive:
            self.proc.send_signal(sig)

    async def wait(self, timeout: float) -> int | None:
        """The exit status, or None if still running after ``timeout`` seconds."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)
        return self.proc.returncode

    async def ready(self) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0)) as session,
            session.get(self.url + "/readyz") as resp,
        ):
            return dict(await resp.json())

    def log(self, last: int = 6000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-last:]

    async def close(self) -> None:
        if self.alive:
            self.kill(signal.SIGKILL)
            await self.wait(10)


# --- WeChat's side ---------------------------------------------------------------------------

_msg_ids = itertools.count(int(time.time() * 1000) * 100)


class Answer(NamedTuple):
    """What WeChat got back: the HTTP status (0: no answer in time, -1: no connection), the
    reply's text ("" for ``success``; the body for a non-200) and how long it took."""

    status: int
    text: str
    elapsed: float


class Pusher:
    """Signed, encrypted (safe mode) text pushes, as WeChat sends them.

    ``text`` without ``msg_id`` takes a new, growing MsgId; with one it is WeChat's retry
    of that message: the same body (MsgId and CreateTime), a fresh signature and nonce.
    """

    def __init__(self, timeout: float = 20.0, mode: str = "safe") -> None:
        self.server = WeChatServer(TOKEN, APPID, AES_KEY, mode=mode)
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._created: dict[int, tuple[str, str, int]] = {}
        self.log: list[tuple[int, str, str, Answer]] = []

    @staticmethod
    def new_id() -> int:
        return next(_msg_ids)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=0, force_close=True),
            )
        return self._session

    async def text(
        self, target: Service | str, openid: str, text: str, msg_id: int | None = None
    ) -> Answer:
        """Push ``text`` from ``openid``; ``msg_id`` of an earlier push makes this its retry."""
        if msg_id is None:
            msg_id = self.new_id()
        if msg_id in self._created:
            first_openid, first_text, created = self._created[msg_id]
            assert (first_openid, first_text) == (openid, text), "a retry carries the same body"
        else:
            created = int(time.time())
            self._created[msg_id] = (openid, text, created)
        url = target.callback_url if isinstance(target, Service) else target
        xml = message_xml(openid, APPID, "text", {"Content": text}, created=created, msg_id=msg_id)
        params, body = self.server.request(xml)
        started = time.monotonic()
        try:
            async with self._client().post(url, params=params, data=body.encode()) as resp:
                raw = await resp.text()
                status = resp.status
        except TimeoutError:
            answer = Answer(0, "", time.monotonic() - started)
        except aiohttp.ClientError as exc:
            answer = Answer(-1, type(exc).__name__, time.monotonic() - started)
        else:
            elapsed = time.monotonic() - started
            if status == 200:
                answer = Answer(200, reply_text(self.server.read_reply(params, raw)), elapsed)
            else:
                answer = Answer(status, raw, elapsed)
        self.log.append((msg_id, openid, text, answer))
        return answer

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass
class Sent:
    """One message a test sent, to retry it with the same MsgId."""

    openid: str
    text: str
    msg_id: int
    answer: Answer

    @property
    def key(self) -> str:
        """Its key in the handled-message ledger and on owed replies."""
        return f"default:m:{self.msg_id}"


async def send(
    pusher: Pusher, target: Service | str, openid: str, text: str, msg_id: int | None = None
) -> Sent:
    msg_id = pusher.new_id() if msg_id is None else msg_id
    return Sent(openid, text, msg_id, await pusher.text(target, openid, text, msg_id))


# --- what PostgreSQL and the spool hold ------------------------------------------------------


class Counts:
    """Read the service's database directly (not through the proxy)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url, timeout=10)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def tickets(self, openids: Iterable[str]) -> dict[str, int]:
        """Tickets reported by each resident (0 for a resident with none, or unknown)."""
        wanted = list(openids)
        rows = await self._fetch(
            "SELECT r.openid, count(t.id) AS n FROM resident r JOIN ticket t"
            " ON t.reporter_id = r.id WHERE r.openid = ANY($1::text[]) GROUP BY r.openid",
            wanted,
        )
        found = {row["openid"]: int(row["n"]) for row in rows}
        return {openid: found.get(openid, 0) for openid in wanted}

    async def ticket_texts(self, openids: Iterable[str]) -> dict[str, list[str]]:
        wanted = list(openids)
        rows = await self._fetch(
            "SELECT r.openid, t.text FROM resident r JOIN ticket t ON t.reporter_id = r.id"
            " WHERE r.openid = ANY($1::text[]) ORDER BY t.id",
            wanted,
        )
        found: dict[str, list[str]] = {openid: [] for openid in wanted}
        for row in rows:
            found[row["openid"]].append(row["text"])
        return found

    async def owed(self, keys: Iterable[str]) -> dict[str, int]:
        """``PendingMessage`` rows (replies owed after the window) per message key."""
        wanted = list(keys)
        rows = await self._fetch(
            "SELECT key, count(*) AS n FROM pending_message WHERE key = ANY($1::text[])"
            " GROUP BY key",
            wanted,
        )
        found = {row["key"]: int(row["n"]) for row in rows}
        return {key: found.get(key, 0) for key in wanted}

    async def handled(self, keys: Iterable[str]) -> set[str]:
        """The keys in the handled-message ledger (each took effect)."""
        rows = await self._fetch(
            "SELECT key FROM handled_message WHERE key = ANY($1::text[])", list(keys)
        )
        return {row["key"] for row in rows}

    async def conversations(self, openids: Iterable[str]) -> dict[str, str]:
        """The flow each resident is in (only those in one)."""
        rows = await self._fetch(
            "SELECT openid, name FROM conversation WHERE openid = ANY($1::text[])", list(openids)
        )
        return {row["openid"]: row["name"] for row in rows}


def spool_entries(data_dir: Path) -> list[dict[str, Any]]:
    """The entries waiting in every spool file of ``data_dir/spool`` (not dead letters)."""
    directory = data_dir / "spool"
    entries: list[dict[str, Any]] = []
    if not directory.is_dir():
        return entries
    for path in sorted(directory.glob("*.jsonl")):
        if path.name.endswith(".dead.jsonl"):
            continue
        with contextlib.suppress(OSError):
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(json.JSONDecodeError):
                    if line.strip():
                        entries.append(json.loads(line))
    return entries


async def drained(data_dir: Path, timeout: float = 40.0) -> None:
    """Wait until every spooled message was replayed (an entry leaves only once handled)."""
    await wait_until(
        lambda: not spool_entries(data_dir),
        timeout,
        f"the spool in {data_dir} replayed",
        interval=0.2,
    )
    assert dead_letters(data_dir) == 0, "spooled messages given up as dead letters"


def dead_letters(data_dir: Path) -> int:
    directory = data_dir / "spool"
    if not directory.is_dir():
        return 0
    return sum(
        len([line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()])
        for path in directory.glob("*.dead.jsonl")
    )


# --- the fake WeChat API, on a thread of its own --------------------------------------------


class FakeWeChatThread:
    """``tests.fakes.wechat.FakeWeChat`` served from its own loop, so services can reach it
    whatever the test's loop is doing, for as long as a module runs."""

    def __init__(self) -> None:
        self.fake = FakeWeChat({APPID: SECRET})
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._stop: asyncio.Event | None = None
        self.base_url = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(15)

    async def _serve(self) -> str:
        started: asyncio.Future[str] = self._loop.create_future()
        self._stop = asyncio.Event()

        async def run() -> None:
            async with serve(self.fake) as base_url:
                started.set_result(base_url)
                assert self._stop is not None
                await self._stop.wait()

        self._task = asyncio.ensure_future(run())
        return await started

    def messages_to(self, openid: str) -> list[str]:
        """The customer-service texts sent to ``openid`` (the owed replies)."""
        return [
            str(sent.body.get("text", {}).get("content", ""))
            for sent in list(self.fake.messages.get(openid, []))
        ]

    def close(self) -> None:
        async def stop() -> None:
            assert self._stop is not None
            self._stop.set()
            await self._task

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
