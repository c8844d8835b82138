"""Fixtures: the app on the embedded defaults, and on real PostgreSQL/Redis when given.

``LINLI_TEST_DATABASE_URL`` (a PostgreSQL server URL) and ``LINLI_TEST_REDIS_URL``
add a ``real`` backend to every app test; with ``CI=true`` they are required.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from bot.access_log import PathOnlyAccessLogger
from bot.app import APP_STATE, create_app
from bot.simulator import WeChatServer, message_xml, reply_text
from bot.store import MemoryStore, RedisStore
from config.settings import Settings
from handlers.router import Router
from models.community import Building, Community, Grid
from models.db import migrate, using
from tests.world import World
from tests.world import bearer as world_bearer

PG_URL = os.environ.get("LINLI_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("LINLI_TEST_REDIS_URL", "")
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TOKEN = "test-token"
APPID = "wxtestappid000001"

if os.environ.get("CI", "").lower() == "true" and not (PG_URL and REDIS_URL):
    raise RuntimeError("CI needs LINLI_TEST_DATABASE_URL and LINLI_TEST_REDIS_URL")

BACKENDS = ["embedded"] + (["real"] if PG_URL and REDIS_URL else [])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


PG_SERVER = PG_URL.rsplit("/", 1)[0]
_template: list[str] = []  # the migrated template database, made once per run


async def _admin(sql: str) -> None:
    admin = await asyncpg.connect(PG_SERVER + "/postgres")
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


async def _migrated_template() -> str:
    """Migrate once, then copy: CREATE DATABASE ... TEMPLATE is far cheaper than migrating."""
    if not _template:
        name = f"linli_tmpl_{uuid.uuid4().hex[:12]}"
        await _admin(f'CREATE DATABASE "{name}"')
        await migrate(f"{PG_SERVER}/{name}")
        _template.append(name)
    return _template[0]


_sqlite_template: list[Path] = []


async def _migrated_sqlite() -> Path:
    """The embedded twin of the template database: a migrated file each test copies."""
    if not _sqlite_template:
        path = Path(tempfile.mkdtemp(prefix="linli-tmpl-")) / "linli.sqlite3"
        await migrate(f"sqlite://{path}")
        _sqlite_template.append(path)
    return _sqlite_template[0]


def _copy_sqlite(source: Path, target: Path) -> None:
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


# This process's databases, emptied after their test and ready for the next: creating
# one from the template and dropping it costs PostgreSQL a second or two (a checkpoint
# each), emptying it some 30 ms.
_ready: list[str] = []
_made: list[str] = []


async def _new_database() -> str:
    template = await _migrated_template()
    name = f"linli_test_{uuid.uuid4().hex[:12]}"
    for attempt in range(20):
        try:
            await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            break
        except asyncpg.ObjectInUseError:  # the migration's connections are still closing
            await asyncio.sleep(0.05 * (attempt + 1))
    _made.append(name)
    return name


async def _emptied(name: str) -> bool:
    """Every row gone and every id sequence back at 1, as in a fresh copy of the template;
    False if the database could not be emptied (it is then not used again)."""
    conn = await asyncpg.connect(f"{PG_SERVER}/{name}")
    try:
        # A connection the test left open would hold locks: it goes first.
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'tortoise_migrations'"
        )
        sequences = await conn.fetch(
            "SELECT sequence_name FROM information_schema.sequences"
            " WHERE sequence_schema = 'public'"
        )
        statements = [f'DELETE FROM "{row[0]}";' for row in tables]
        statements += [f'ALTER SEQUENCE "{row[0]}" RESTART;' for row in sequences]
        async with conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '5s'")
            # Foreign keys are not checked while emptying: the order of the tables is free.
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("".join(statements))
        return True
    except (asyncpg.PostgresError, OSError):
        return False
    finally:
        await conn.close()


@pytest.fixture
async def database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "embedded":
        target = tmp_path / "linli.sqlite3"
        _copy_sqlite(await _migrated_sqlite(), target)
        yield f"sqlite://{target}"
        return
    name = _ready.pop() if _ready else await _new_database()
    yield f"{PG_SERVER}/{name}"
    if await _emptied(name):
        _ready.append(name)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for name in [*_made, *_template]:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def store(backend: str) -> AsyncIterator[MemoryStore | RedisStore]:
    if backend == "embedded":
        yield MemoryStore()
        return
    redis_store = RedisStore(REDIS_URL, op_timeout=2.0, prefix=f"t{uuid.uuid4().hex[:8]}:")
    yield redis_store
    await redis_store.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        wechat_token=TOKEN,
        wechat_appid=APPID,
        wechat_aes_key=AES_KEY,
        wechat_allow_plaintext=True,
        wechat_community="test",
    )


@pytest.fixture
def bearer():  # type: ignore[no-untyped-def]
    """``bearer(token)``: the headers of a signed-in API call (``tests.world.bearer``)."""
    return world_bearer


@pytest.fixture
def extra_router() -> Router | None:
    """Tests that need a handler of their own override this."""
    return None


@pytest.fixture
async def client(settings, store, extra_router, aiohttp_client):  # type: ignore[no-untyped-def]
    # aiohttp_client last: it is torn down first, so the app closes before its database goes.
    router = None
    if extra_router is not None:
        from bot.dispatcher import build_router

        router = build_router()
        router.include(extra_router)
    app = create_app(settings, store=store, router=router)
    server = TestServer(app)
    # The service's own access logger: the default one would print the openid in the URL.
    await server.start_server(access_log_class=PathOnlyAccessLogger)
    return await aiohttp_client(server)


@pytest.fixture
def app_state(client):  # type: ignore[no-untyped-def]
    return client.server.app[APP_STATE]


class Resident:
    """A resident typing into WeChat, pushed through a chosen crypto mode."""

    def __init__(self, client, openid: str, mode: str = "plain") -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.openid = openid
        self.server = WeChatServer(TOKEN, APPID, AES_KEY, mode=mode)

    async def push(self, xml: str) -> tuple[int, str]:
        params, body = self.server.request(xml)
        resp = await self.client.post("/wechat", params=params, data=body.encode())
        raw = await resp.text()
        return resp.status, self.server.read_reply(params, raw) if resp.status == 200 else raw

    async def say(self, text: str) -> str:
        status, xml = await self.push(message_xml(self.openid, APPID, "text", {"Content": text}))
        assert status == 200, xml
        return reply_text(xml)

    async def event(self, name: str, key: str = "") -> str:
        fields = {"Event": name, **({"EventKey": key} if key else {})}
        status, xml = await self.push(message_xml(self.openid, APPID, "event", fields))
        assert status == 200, xml
        return reply_text(xml)


@pytest.fixture
def resident(client):  # type: ignore[no-untyped-def]
    return Resident(client, "o_resident_1")


@pytest.fixture
def make_resident(client):  # type: ignore[no-untyped-def]
    return lambda openid, mode="plain": Resident(client, openid, mode)


@pytest.fixture
async def world(app_state) -> AsyncIterator[World]:  # type: ignore[no-untyped-def]
    """Community "test" with one grid and two buildings; the test runs in its database."""
    with using(app_state.db):
        community, _ = await Community.get_or_create(slug="test", defaults={"name": "测试社区"})
        grid = await Grid.create(community=community, name="第一网格")
        made = World(app_state, community, grid)
        made.buildings = [
            await Building.create(community=community, grid=grid, name=f"{n}栋") for n in (1, 2)
        ]
        yield made
