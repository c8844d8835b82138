"""Plain SQL for the hot paths (a vote, a sign-up), on SQLite and PostgreSQL alike.

Queries are written with PostgreSQL's ``$n`` placeholders, numbered in order of
appearance, so SQLite's ``?`` is a plain substitution. Rows come back as dicts with
values in each driver's own types; the helpers below even those out.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

_PLACEHOLDER = re.compile(r"\$\d+")


async def run(conn: Any, query: str, values: list[Any]) -> list[dict[str, Any]]:
    if conn.capabilities.dialect != "postgres":
        query = _PLACEHOLDER.sub("?", query)
    # execute_query_dict, not execute_query: the latter drops RETURNING rows on asyncpg.
    return await conn.execute_query_dict(query, values)


def as_json(value: Any) -> Any:
    """JSON columns: text from SQLite and asyncpg's jsonb, already decoded elsewhere."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def as_datetime(value: Any) -> Any:
    """Datetime columns: asyncpg gives datetimes, SQLite gives Tortoise's ISO text."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def db_time(value: datetime, postgres: bool) -> Any:
    """A datetime parameter: as is for asyncpg, Tortoise's ISO text (UTC) for SQLite."""
    return value if postgres else value.astimezone(UTC).isoformat(" ")
