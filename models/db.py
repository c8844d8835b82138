"""Opening the database: one Tortoise configuration for SQLite and PostgreSQL.

Each opened database is an explicit ``TortoiseContext``: the service enters it per
request and per background task, so nothing depends on whichever context happened to
be ambient when the server started (stale ones pointed tests at dropped databases).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import TortoiseContext, _current_context
from tortoise.migrations.api import migrate as run_migrations

from models import MODEL_MODULES


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
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


async def migrate(database_url: str) -> None:
    """Apply the checked-in migrations (idempotent) in a context of their own."""
    async with TortoiseContext():
        await run_migrations(config=tortoise_config(database_url))


async def open_database(database_url: str, auto_migrate: bool = True) -> TortoiseContext:
    """Connect (after migrating); the caller enters the context where queries run."""
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
