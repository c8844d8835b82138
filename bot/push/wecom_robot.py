"""WeCom group robots (企业微信群机器人): text and markdown into a group chat.

A robot is a webhook key; WeCom accepts at most 20 messages a minute from one
robot and answers ``45009`` beyond. ``GroupRobot`` keeps under that limit itself,
across processes, with a ``SlidingWindow`` in the shared store, so a broadcast to
many groups never burns its retries on quota errors.

The webhook key is a credential (anyone holding it can post into the group): it is
never logged, and store keys use a hash of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from bot.push.errors import BAD_REQUEST, PermanentError, TransientError, request_json
from bot.store import StoreUnavailable
from handlers.types import KeyValueStore

log = logging.getLogger(__name__)

WECOM_API_BASE = "https://qyapi.weixin.qq.com"
WEBHOOK_PATH = "/cgi-bin/webhook/send"
ROBOT_PER_MINUTE = 20
MAX_TEXT_BYTES = 2048
MAX_MARKDOWN_BYTES = 4096
_EPSILON = 0.005  # past a slot's expiry, so the store has dropped it when we look again


class SlidingWindow:
    """At most ``limit`` acquisitions in any ``window`` seconds, by all processes together.

    The window is ``limit`` slots in the store. Taking one is ``set_if_absent``
    with a TTL of ``window + margin``, so a slot frees exactly that long after it
    was taken, and no ``limit + 1`` acquisitions can fit in one window, at its edges
    included (a fixed per-minute counter would allow twice the limit across a
    minute boundary). Expiry is the store's own clock; the value of a slot, the
    taker's clock at expiry, only tells waiters how long to sleep. ``margin``
    absorbs the difference in network delay between two messages.
    """

    def __init__(
        self,
        store: KeyValueStore,
        name: str,
        limit: int,
        window: float,
        *,
        margin: float = 0.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a window needs a positive limit and length")
        self._store = store
        self._name = name
        self.limit = limit
        self.hold = window + margin
        self._clock = clock
        self._sleep = sleep
        self._poll = max(_EPSILON, min(self.hold / limit, 1.0))

    async def acquire(self, max_wait: float) -> None:
        """Take a slot, sleeping while all are taken; ``TransientError`` rather than
        sleeping past ``max_wait`` seconds (its ``retry_after`` says how long it would be)."""
        deadline = self._clock() + max_wait
        while True:
            wait = await self.try_acquire()
            if wait is None:
                return
            if self._clock() + wait > deadline:
                raise TransientError(
                    f"rate limit: {self.limit} per {self.hold:g} s; next slot in {wait:.2f} s",
                    retry_after=wait,
                )
            await self._sleep(wait)

    async def try_acquire(self) -> float | None:
        """Take a free slot and return ``None``, or return the seconds until one frees."""
        soonest = math.inf
        start = random.randrange(self.limit)  # concurrent takers rarely race for one slot
        for i in range(self.limit):
            slot = f"{self._name}:{(start + i) % self.limit}"
            raw = await self._store.get(slot)
            if raw is None:
                frees = self._clock() + self.hold
                if await self._store.set_if_absent(slot, repr(frees), ttl=self.hold):
                    return None
                continue  # another taker won it, for a whole hold
            try:
                soonest = min(soonest, float(raw))
            except ValueError:
                continue
        wait = soonest - self._clock() + _EPSILON
        return wait if 0 < wait < math.inf else self._poll


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class GroupRobot:
    """One group's robot; construct one per webhook key (cheap), share the session and store."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        store: KeyValueStore,
        key: str,
        *,
        base_url: str = WECOM_API_BASE,
        label: str | None = None,
        per_minute: int = ROBOT_PER_MINUTE,
        window: float = 60.0,
        margin: float = 1.0,
        max_wait: float | None = None,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self._key = key
        self._url = base_url.rstrip("/") + WEBHOOK_PATH
        self.label = label or f"robot-{_hash(key)[:8]}"
        self.limit = SlidingWindow(
            store,
            f"wecom-robot:{_hash(key)}",
            per_minute,
            window,
            margin=margin,
            clock=clock,
            sleep=sleep,
        )
        self._max_wait = self.limit.hold + 1.0 if max_wait is None else max_wait
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"GroupRobot({self.label!r})"

    async def send(
        self,
        content: str,
        *,
        markdown: bool = False,
        mentioned: Sequence[str] = (),
        max_wait: float | None = None,
    ) -> None:
        """Post ``content`` (text, or WeCom markdown) into the group.

        Waits for the robot's rate limit up to ``max_wait`` seconds (default: one
        window and a second), else raises ``TransientError``. ``mentioned`` lists userids (or
        ``"@all"``) to notify; markdown mentions go in the content as ``<@userid>``.
        """
        if markdown:
            payload: dict[str, Any] = {"msgtype": "markdown", "markdown": {"content": content}}
            most = MAX_MARKDOWN_BYTES
        else:
            payload = {"msgtype": "text", "text": {"content": content}}
            if mentioned:
                payload["text"]["mentioned_list"] = list(mentioned)
            most = MAX_TEXT_BYTES
        size = len(content.encode())
        if not content or size > most:
            raise PermanentError(BAD_REQUEST, f"{payload['msgtype']} of {size} bytes (1..{most})")
        try:
            await self.limit.acquire(self._max_wait if max_wait is None else max_wait)
        except StoreUnavailable:
            # Without the shared window no process can know the robot's budget: wait.
            raise TransientError("store unavailable: the robot's rate limit is unknown") from None
        try:
            await request_json(
                self._session,
                "POST",
                self._url,
                params={"key": self._key},
                payload=payload,
                timeout=self._timeout,
                api="wecom",
            )
        except TransientError as exc:
            if exc.errcode == 45009 and exc.retry_after is None:
                exc.retry_after = self.limit.hold
            log.info("%s to %s failed: %s", payload["msgtype"], self.label, exc)
            raise
        except PermanentError as exc:
            log.warning("%s to %s refused: %s", payload["msgtype"], self.label, exc)
            raise
        log.debug("%s sent to %s", payload["msgtype"], self.label)
