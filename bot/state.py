"""The app's keys and the state its resources share, apart from the factory.

``bot.app`` fills ``AppState`` from its cleanup contexts; the console, the WeCom
callback and the worker read it through ``APP_STATE`` without importing the factory.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from config.settings import Settings
from handlers.clock import Clock, utc_now
from handlers.i18n import Translator

if TYPE_CHECKING:
    import aiohttp
    from tortoise.context import TortoiseContext

    from bot.dispatcher import Dispatcher
    from bot.once import Once
    from bot.push import OfficialAccountClient
    from bot.spool import Spool
    from bot.store import MemoryStore, RedisStore
    from handlers.media.store import MediaStore
    from handlers.router import Router


@dataclass
class AppState:
    settings: Settings
    translate: Translator
    store: MemoryStore | RedisStore | Any = None
    dispatcher: Dispatcher | None = None
    once: Once | None = None
    spool: Spool | None = None
    router: Router | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    db: TortoiseContext | None = None
    push_clients: dict[str, OfficialAccountClient] = field(default_factory=dict)
    push_session: aiohttp.ClientSession | None = None
    # Where uploads' bytes live (a folder, or S3 over the push session): opened with it.
    media: MediaStore | None = None
    # The one clock of both doors: the chat's ctx.now, the API's, the job round's.
    clock: Clock = utc_now


APP_STATE = web.AppKey("linli_state", AppState)

_T = TypeVar("_T")


def opened(resource: _T | None, what: str) -> _T:
    """A resource of ``AppState`` that a cleanup context opens, once it has."""
    if resource is None:
        raise RuntimeError(f"{what} is not open yet")
    return resource
