"""Opening the database: one Tortoise configuration for SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
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
    """Apply the checked-in migrations (idempotent)."""
    await run_migrations(config=tortoise_config(database_url))
    # The migration API opens its own connections: close them, or an aiosqlite
    # thread outlives the event loop and the process never exits.
    await Tortoise.close_connections()


async def open_database(database_url: str, auto_migrate: bool = True) -> None:
    if auto_migrate:
        await migrate(database_url)
    await Tortoise.init(config=tortoise_config(database_url))


async def close_database() -> None:
    await Tortoise.close_connections()


# For Tortoise's CLI: ``tortoise -c models.db.TORTOISE_ORM makemigrations``.
TORTOISE_ORM = tortoise_config("sqlite://data/linli.sqlite3")
