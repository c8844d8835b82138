"""Access tokens of an official account, shared by every process through the store.

WeChat hands out an access token for the app secret and keeps only a few valid at
once, and fetching one counts against a daily quota: a stampede of processes must
cause one fetch. So ``get`` reads the shared cache; on a miss, callers in this
process share one refresh task, and that task takes the store lock
``wechat-token:{appid}``, reads the cache again (another process may have just
refreshed), and only then asks WeChat. A process that finds the lock taken does
not queue for it: it polls the cache every ``poll`` seconds and takes the token
the holder stores (queueing on redis-py's lock costs 0.1 s per waiter in turn).
The token is kept until a few minutes before WeChat's ``expires_in``. When the
store is down, each process falls back to its own last token and its own single
refresh.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from bot.push.errors import TransientError, request_json
from bot.store import LockTimeout, StoreUnavailable
from handlers.types import KeyValueStore

log = logging.getLogger(__name__)

WECHAT_API_BASE = "https://api.weixin.qq.com"
DEFAULT_EXPIRES_IN = 7200.0
T = TypeVar("T")


@dataclass(frozen=True)
class _Entry:
    token: str
    expires_at: float  # wall-clock seconds, comparable across processes

    def encode(self) -> str:
        return json.dumps({"access_token": self.token, "expires_at": self.expires_at})

    @staticmethod
    def decode(raw: str | None) -> _Entry | None:
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return _Entry(str(data["access_token"]), float(data["expires_at"]))
        except (ValueError, KeyError, TypeError):
            return None


def cache_seconds(expires_in: float, early: float) -> float:
    """How long to keep a token WeChat says lives ``expires_in`` s: ``early`` s less,
    or half its life when it is too short for that."""
    return expires_in - early if expires_in > 2 * early else expires_in / 2


class AccessTokens:
    """The access token of one official account (``appid``), refreshed single-flight."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        store: KeyValueStore,
        appid: str,
        appsecret: str,
        *,
        base_url: str = WECHAT_API_BASE,
        timeout: float = 5.0,
        early: float = 300.0,
        lock_wait: float | None = None,
        poll: float = 0.025,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.appid = appid
        self._session = session
        self._store = store
        self._secret = appsecret
        self._url = base_url.rstrip("/") + "/cgi-bin/token"
        self._timeout = timeout
        self._early = early
        self._lock_ttl = timeout + 5.0
        self._lock_wait = timeout + 2.0 if lock_wait is None else lock_wait
        self._poll = poll
        self._clock = clock
        self._key = f"wechat-token:{appid}"
        self._refreshing: asyncio.Task[str] | None = None
        self._local: _Entry | None = None
        self._bad: str | None = None
        self.fetches = 0  # tokens this instance fetched from WeChat

    def __repr__(self) -> str:
        return f"AccessTokens(appid={self.appid!r})"

    async def get(self) -> str:
        """A valid token: the shared one, or a fresh one fetched once for all callers."""
        token = await self._cached()
        if token is not None:
            return token
        task = self._refreshing
        if task is None:
            task = asyncio.get_running_loop().create_task(self._refresh())
            self._refreshing = task
            task.add_done_callback(self._refreshed)
        # shield: a caller giving up must not cancel the refresh the others wait for.
        return await asyncio.shield(task)

    async def invalidate(self, token: str) -> None:
        """WeChat refused ``token``: drop it from the cache, unless it was already replaced.

        Callers then ``get()`` again. The token is also marked bad in this process,
        so even if the store cannot be reached it is not handed out again.
        """
        if token == self._bad:
            return
        self._bad = token
        if self._local is not None and self._local.token == token:
            self._local = None

        async def drop() -> bool:
            if await self._holds(token):
                await self._store.delete(self._key)
                log.info("access token of %s refused by WeChat; dropped", self.appid)
            return True

        async def replaced() -> bool | None:
            return None if await self._holds(token) else True

        try:
            if await self._holds(token):
                await self._locked(drop, replaced)
        except (LockTimeout, StoreUnavailable):
            # The bad mark is enough here; the next refresh compares under the lock.
            log.warning("could not drop the refused access token of %s", self.appid)

    async def _holds(self, token: str) -> bool:
        entry = _Entry.decode(await self._store.get(self._key))
        return entry is not None and entry.token == token

    def _refreshed(self, task: asyncio.Task[str]) -> None:
        if self._refreshing is task:
            self._refreshing = None
        if not task.cancelled():
            task.exception()  # retrieved here too, in case every caller gave up

    async def _cached(self) -> str | None:
        try:
            raw = await self._store.get(self._key)
        except StoreUnavailable:
            local = self._local
            if local is None or local.token == self._bad or local.expires_at <= self._clock():
                return None
            return local.token
        entry = _Entry.decode(raw)
        if entry is None or entry.token == self._bad:
            return None
        self._local = entry
        return entry.token

    async def _locked(
        self, work: Callable[[], Awaitable[T]], settled: Callable[[], Awaitable[T | None]]
    ) -> T:
        """``work()`` under the store lock; while another process holds it, the answer of
        ``settled()`` as soon as it has one. ``LockTimeout`` after ``lock_wait`` s."""
        deadline = time.monotonic() + self._lock_wait
        while True:
            try:
                async with self._store.lock(self._key, timeout=self._lock_ttl, blocking_timeout=0):
                    return await work()
            except LockTimeout:
                pass
            result = await settled()
            if result is not None:
                return result
            if time.monotonic() >= deadline:
                raise LockTimeout(self._key)
            await asyncio.sleep(self._poll)

    async def _refresh(self) -> str:
        async def recheck_then_fetch() -> str:
            # Another process may have refreshed between our miss and the lock.
            token = await self._cached()
            return token if token is not None else await self._fetch()

        try:
            return await self._locked(recheck_then_fetch, self._cached)
        except LockTimeout:
            raise TransientError(
                f"the access token of {self.appid} is being refreshed elsewhere, too slowly"
            ) from None
        except StoreUnavailable:
            # Only taking the lock raises this (the cache calls degrade by themselves).
            log.warning("store unavailable: refreshing the access token of %s alone", self.appid)
            return await self._fetch()

    api = "wechat"  # whose error codes the token endpoint answers with

    def _params(self) -> dict[str, str]:
        """The token request's query (a subclass asks another platform, as WeCom's)."""
        return {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret}

    async def _fetch(self) -> str:
        body = await request_json(
            self._session,
            "GET",
            self._url,
            params=self._params(),
            timeout=self._timeout,
            api=self.api,
        )
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise TransientError("WeChat answered without an access token", ambiguous=True)
        self.fetches += 1
        seconds = cache_seconds(float(body.get("expires_in") or DEFAULT_EXPIRES_IN), self._early)
        entry = _Entry(token, self._clock() + seconds)
        self._local = entry
        try:
            await self._store.set(self._key, entry.encode(), ttl=seconds)
        except StoreUnavailable:
            log.warning("store unavailable: the new access token of %s stays local", self.appid)
        log.info("access token of %s refreshed; kept %d s", self.appid, seconds)
        return token
