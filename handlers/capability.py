"""What a capability brings to the service, declared once in its package.

Each ``handlers/<name>/__init__.py`` has a ``capability()`` that returns one
``Capability``; the transport walks the list (``bot.capabilities``) to build the chat
router, mount the API, run the jobs, warm up at start and word notifications. Adding a
capability is one line there; nothing else names it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from handlers.router import Router


@dataclass(frozen=True)
class JobContext:
    """What a periodic job may use: the round's instant, the shared lock, the catalogs,
    and every capability's notification texts (for the relay)."""

    now: datetime
    lock: Callable[..., Any]
    translate: Callable[..., str]
    texts: Mapping[str, str] = field(default_factory=dict)
    audiences: Mapping[str, Callable[..., Awaitable[Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """Periodic work: idempotent, and safe on several processes at once."""

    name: str
    run: Callable[[JobContext], Awaitable[Any]]


@dataclass(frozen=True)
class Capability:
    """``chat`` and ``routes`` are its two doors; ``jobs`` run every round in list order;
    ``start`` runs once per process before the first request (in the database context);
    ``texts`` maps a notification kind it records to its message id; ``audiences`` maps
    a notification subject it owns ("ticket") to who hears of it."""

    name: str
    chat: Router | None = None
    routes: web.RouteTableDef | None = None
    jobs: tuple[Job, ...] = ()
    start: tuple[Callable[[], Awaitable[Any]], ...] = ()
    texts: Mapping[str, str] = field(default_factory=dict)
    audiences: Mapping[str, Callable[..., Awaitable[Any]]] = field(default_factory=dict)


def combined_routes(*tables: web.RouteTableDef) -> web.RouteTableDef:
    """One table of the routes of several modules of a capability."""
    combined = web.RouteTableDef()
    for table in tables:
        for item in table:
            if isinstance(item, web.RouteDef):
                combined.route(item.method, item.path, **item.kwargs)(item.handler)
    return combined
