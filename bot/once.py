"""Handle each WeChat push once and answer every retry of it the same way.

WeChat retries a push up to three times when it has no answer within 5 s.
The first copy claims the message key in the shared store and does the work;
copies that arrive meanwhile (on any process) wait for the stored answer. If
the work outlives the deadline, the caller answers ``success`` at once and the
finished reply is handed to ``late`` for the customer-service message API.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from handlers.types import KeyValueStore

log = logging.getLogger(__name__)

PENDING = "pending"
DONE = "done:"
POLL_SECONDS = 0.05

LateReply = Callable[[str], Awaitable[None]]


class Once:
    def __init__(self, store: KeyValueStore, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._background: set[asyncio.Task[None]] = set()

    async def run(
        self,
        key: str,
        work: Callable[[], Awaitable[str]],
        deadline: float,
        late: LateReply,
    ) -> str:
        """The answer for ``key``: computed here once, or awaited from whoever claimed it.

        ``deadline`` is a ``time.monotonic()`` instant; an empty answer means ``success``.
        Store failures propagate (``StoreUnavailable``) so the caller can degrade.
        """
        full = f"msg:{key}"
        if not await self._store.set_if_absent(full, PENDING, ttl=self._ttl):
            return await self._await_answer(full, deadline)
        task = asyncio.ensure_future(work())
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                answer = await asyncio.shield(task)
        except TimeoutError:
            self._finish_later(full, task, late)
            return ""
        await self._store.set(full, DONE + answer, ttl=self._ttl)
        return answer

    async def _await_answer(self, full: str, deadline: float) -> str:
        while time.monotonic() < deadline:
            value = await self._store.get(full)
            if value is not None and value.startswith(DONE):
                return value[len(DONE) :]
            await asyncio.sleep(POLL_SECONDS)
        return ""

    def _finish_later(self, full: str, task: asyncio.Future[str], late: LateReply) -> None:
        async def finish() -> None:
            try:
                answer = await task
            except Exception:
                log.exception("late handler failed for %s", full.split(":", 1)[0])
                answer = ""
            try:
                # Retries after the deadline already got ``success``: store nothing to replay.
                await self._store.set(full, DONE, ttl=self._ttl)
            except Exception:
                log.warning("could not mark %s done", "message")
            if answer:
                await late(answer)

        job = asyncio.ensure_future(finish())
        self._background.add(job)
        job.add_done_callback(self._background.discard)

    async def drain(self, seconds: float = 10.0) -> None:
        """Let late replies finish before shutdown so nothing owed is dropped."""
        if self._background:
            await asyncio.wait(self._background, timeout=seconds)
