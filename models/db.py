"""Opening the database: one Tortoise configuration for SQLite and PostgreSQL.

Each opened database is an explicit ``TortoiseContext``: the service enters it per
request and per background task, so nothing depends on whichever context happened to
be ambient when the server started (stale ones pointed tests at dropped databases).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import TortoiseContext, _current_context
from tortoise.migrations.api import migrate as run_migrations

from models import MODEL_MODULES


class PooledConnection(asyncpg.Connection):
    """A pooled connection given back without asyncpg's reset query.

    On every release asyncpg sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL``: a round trip per query outside a transaction and per transaction, for
    state this service never creates (no advisory locks, cursors, listeners or session
    settings; ``server_settings`` are given at connect, not by ``SET``). An open
    transaction is still rolled back on release: asyncpg does that apart from the query.
    """

    def get_reset_query(self) -> str:
        return ""


# Tortoise builds its pool with this class (AsyncpgDBClient.create_connection).
AsyncpgDBClient.connection_class = PooledConnection

# Tortoise's asyncpg pool defaults to 5 connections: too few for a process serving a
# vote's last evening, where transactions wait on round trips, not on CPU.
POSTGRES_POOL_SIZE = 20


def with_pool_size(database_url: str) -> str:
    if not database_url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        return database_url
    if "maxsize=" in database_url:
        return database_url
    joiner = "&" if "?" in database_url else "?"
    return f"{database_url}{joiner}maxsize={POSTGRES_POOL_SIZE}"


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": with_pool_size(database_url)},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "migrations": "models.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_sqlite_dir(database_url: str) -> None:
    """aiosqlite waits forever on a file in a missing directory: create it first."""
    if database_url.startswith("sqlite://") and ":memory:" not in database_url:
        Path(database_url.removeprefix("sqlite://").split("?")[0]).parent.mkdir(
            parents=True, exist_ok=True
        )


async def migrate(database_url: str) -> None:
    """Apply the checked-in migrations (idempotent) in a context of their own."""
    _ensure_sqlite_dir(database_url)
    async with TortoiseContext():
        await run_migrations(config=tortoise_config(database_url))


async def open_database(database_url: str, auto_migrate: bool = True) -> TortoiseContext:
    """Connect (after migrating); the caller enters the context where queries run."""
    _ensure_sqlite_dir(database_url)
    if auto_migrate:
        await migrate(database_url)
    # Tortoise caches compiled queries by (connection name, table), not by dialect: a
    # process that opens SQLite and then PostgreSQL (the test suite) would send SQLite SQL.
    EXECUTOR_CACHE.clear()
    ctx = TortoiseContext()
    with using(ctx):
        await ctx.init(config=tortoise_config(database_url))
    return ctx


async def close_database(ctx: TortoiseContext) -> None:
    await ctx.close_connections()


@contextmanager
def using(ctx: TortoiseContext) -> Iterator[None]:
    """Make ``ctx`` current for this task only.

    ``with ctx:`` keeps its reset token on the shared instance, so concurrent requests
    would overwrite each other's token; a local token per task is safe.
    """
    token = _current_context.set(ctx)
    try:
        yield
    finally:
        _current_context.reset(token)


@asynccontextmanager
async def database(database_url: str, auto_migrate: bool = True) -> AsyncIterator[TortoiseContext]:
    """Open, enter and close: for commands that run one task from start to end."""
    ctx = await open_database(database_url, auto_migrate)
    try:
        with using(ctx):
            yield ctx
    finally:
        await close_database(ctx)


# For Tortoise's CLI: ``tortoise -c models.db.TORTOISE_ORM makemigrations``.
TORTOISE_ORM = tortoise_config("sqlite://data/linli.sqlite3")
