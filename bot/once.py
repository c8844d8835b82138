"""Handle each WeChat push once and answer every retry of it the same way.

WeChat retries a push up to three times when it has no answer within 5 s. The first
copy claims the message key in the shared store and does the work; copies that arrive
meanwhile (on any process) wait for the stored answer.

The claim is a short lease its owner renews while it works, so a retry after the
owner's death (``kill -9``, a lost container) finds the lease gone and runs the message
itself; the database ledger (``bot.dispatcher``) keeps that from taking effect twice.
Work still running at the deadline is cancelled (its transaction rolls back) and handed
back as deferred: the caller keeps the message in the spool and ``settle``s the key with
the answer it gave, or ``release``s it when it could not keep the message, so WeChat's
retry runs it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.i18n import N_
from handlers.types import KeyValueStore, StoreUnavailable

log = logging.getLogger(__name__)

PENDING = "pending"
DONE = "done:"
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Deferred:
    """Not answered now: the message goes to the spool; ``msgid`` is what the resident is told."""

    msgid: str


# The database or the store failed, or the deadline came first.
BUSY = Deferred(N_("error.busy"))
# The resident's earlier message is still being handled, or waits in the spool.
QUEUED = Deferred(N_("chat.queued"))

Outcome = str | Deferred


class Once:
    def __init__(self, store: KeyValueStore, ttl: float, lease: float = 3.0) -> None:
        self._store = store
        self._ttl = ttl
        self._lease = lease
        self._background: set[asyncio.Future[Outcome]] = set()

    async def run(
        self, key: str, work: Callable[[], Awaitable[Outcome]], deadline: float
    ) -> Outcome:
        """The answer for ``key``: computed here once, or awaited from whoever claimed it.

        ``deadline`` is a ``time.monotonic()`` instant; ``""`` means ``success``. A
        ``Deferred`` leaves the key claimed for the caller to ``settle`` or ``release``.
        Store failures while claiming propagate (``StoreUnavailable``).
        """
        full = f"msg:{key}"
        while True:
            if await self._store.set_if_absent(full, PENDING, ttl=self._lease):
                return await self._work(full, work, deadline)
            answer = await self._await_answer(full, deadline)
            if answer is not None:
                return answer
            # The lease ran out with no answer: its owner died. Take the message over.

    async def settle(self, key: str, answer: str) -> None:
        """Retries of a deferred message get ``answer``; store failures are only logged."""
        try:
            await self._store.set(f"msg:{key}", DONE + answer, ttl=self._ttl)
        except StoreUnavailable:
            log.warning("could not record a deferred answer: retries will run it again")

    async def release(self, key: str) -> None:
        """Let the next retry of ``key`` run it (nothing kept it)."""
        with contextlib.suppress(StoreUnavailable):
            await self._store.delete(f"msg:{key}")

    async def _work(
        self, full: str, work: Callable[[], Awaitable[Outcome]], deadline: float
    ) -> Outcome:
        task = asyncio.ensure_future(work())
        renewing = asyncio.ensure_future(self._renew(full))
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                answer = await asyncio.shield(task)
        except TimeoutError:
            # A stalled database must not keep the resident waiting, nor apply this message
            # after the ones they send next: roll it back and let the spool replay it in order.
            task.cancel()
            self._background.add(task)
            task.add_done_callback(self._forget)
            return BUSY
        finally:
            renewing.cancel()
        if isinstance(answer, str):
            try:
                await self._store.set(full, DONE + answer, ttl=self._ttl)
            except StoreUnavailable:
                # The effect and its reply are committed in the ledger; a retry finds them.
                log.warning("could not record an answer: a retry is answered from the ledger")
        return answer

    def _forget(self, task: asyncio.Future[Outcome]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("cancelled work failed (%s)", type(task.exception()).__name__)

    async def _renew(self, full: str) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await self._store.set(full, PENDING, ttl=self._lease)
            except StoreUnavailable:
                log.warning("could not renew a message's lease")

    async def _await_answer(self, full: str, deadline: float) -> str | None:
        """The owner's answer; ``""`` at the deadline; None when the lease has lapsed."""
        while time.monotonic() < deadline:
            value = await self._store.get(full)
            if value is None:
                return None
            if value.startswith(DONE):
                return value[len(DONE) :]
            await asyncio.sleep(POLL_SECONDS)
        return ""

    async def drain(self, seconds: float = 10.0) -> None:
        """Let cancelled work unwind (roll back) before shutdown."""
        if self._background:
            await asyncio.wait(self._background, timeout=seconds)
