"""Send the deliveries of notices: official-account messages and WeCom group robots.

At most once per recipient and channel. Rows are claimed before anything is sent: one
``UPDATE ... SET status='claimed', claim=<token> WHERE id IN (...) AND
status='pending'`` per batch, then the rows carrying this process's token are the
ones it may send (a row another process claimed first keeps that process's token).
That is correct on SQLite (writes serialise) and on PostgreSQL (a row updated
concurrently is re-checked against ``status='pending'``).

A claimed row is handed to a client only once it is recorded as ``sending`` (with the
real instant, ``claimed_at``), and it is recorded ``sent`` (``sent_at``) moments after
the platform answers: the ``Gate`` writes both in groups (whatever arrived while its
previous write ran), one statement each, so
a process killed mid-batch leaves ``unknown`` only the rows truly in flight or just
answered, never the rest of its batch. Afterwards a row says what became of it: sent;
back to pending with a later ``not_before`` for a transient error that surely did not
deliver; failed with the reason; or unknown when it may have been delivered (never sent
again: the API counts these for a manual resend). A dead process's rows, once older than
``STALE_CLAIM``: ``claimed`` ones were never handed over and go back to pending;
``sending`` ones become unknown ("interrupted"). A sender that is cancelled releases the
rows it claimed but had not started to send.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from tortoise.expressions import F, Q

from bot.push import GroupRobot, OfficialAccountClient, PermanentError, TransientError
from handlers.notices import rules
from models.notices import Delivery, Group, Notice
from models.residents import Resident

log = logging.getLogger(__name__)

BATCH = 200
CONCURRENCY = 32
MAX_ATTEMPTS = 5
RATE_PER_SECOND = 20.0
STALE_CLAIM = timedelta(minutes=10)
ROBOT_MAX_WAIT = 5.0
# The gate writes as soon as it can; rows that arrive while a write runs go in the next
# one, so groups grow with the rate and a row waits one write at the most.
GATE_SECONDS = 0.0


def _instant() -> datetime:
    return datetime.now(UTC)


class Gate:
    """Records rows as ``sending`` before they are handed to a client, and ``sent`` just
    after, a group at a time: one UPDATE per group instead of one per row."""

    def __init__(self, wait: float = GATE_SECONDS) -> None:
        self.wait = wait
        self._starting: dict[int, asyncio.Future[None]] = {}
        self._sent: list[int] = []
        self._flushing: asyncio.Task[None] | None = None

    async def start(self, row_id: int) -> None:
        """Returns once the row is durably ``sending``; raises if the write failed."""
        done = asyncio.get_running_loop().create_future()
        self._starting[row_id] = done
        self._schedule()
        await done

    def sent(self, row_id: int) -> None:
        self._sent.append(row_id)
        self._schedule()

    def _schedule(self) -> None:
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        # No await between the last check and the return: a row added meanwhile is seen.
        while self._starting or self._sent:
            await asyncio.sleep(self.wait)
            try:
                await self.flush()
            except Exception:  # the waiting senders got the error; the next row retries
                log.exception("recording notice deliveries failed")
                return

    async def flush(self) -> None:
        starting, self._starting = self._starting, {}
        sent, self._sent = self._sent, []
        try:
            if starting:
                await Delivery.filter(id__in=list(starting), status="claimed").update(
                    status="sending", claimed_at=_instant()
                )
            if sent:
                await Delivery.filter(id__in=sent, status="sending").update(
                    status="sent", sent_at=_instant()
                )
        except BaseException as exc:
            for future in starting.values():
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError())
            self._sent.extend(sent)  # they went out: written by the next flush or the settle
            raise
        for future in starting.values():
            if not future.done():
                future.set_result(None)


class Pace:
    """An in-process token bucket: at most ``rate`` starts a second, bursts of ``burst``."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 20)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
                self._at = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


def oa_text(notice: Notice) -> str:
    return rules.rendered("oa", notice.title, notice.body)  # the preview's text too


def robot_text(notice: Notice) -> str:
    return rules.rendered("robot", notice.title, notice.body)


class Sender:
    """One process's sender: clients by community id, robots by webhook key, pacing."""

    def __init__(
        self,
        clients: Mapping[int, OfficialAccountClient],
        robots_factory: Callable[[str], GroupRobot],
        *,
        rate_per_second: float = RATE_PER_SECOND,
        templates: Mapping[str, str] | None = None,
        concurrency: int = CONCURRENCY,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.clients = clients
        self.robots_factory = robots_factory
        self.templates = dict(templates or {})
        self.max_attempts = max_attempts
        self.paces = {"oa": Pace(rate_per_second), "robot": Pace(rate_per_second)}
        self._slots = asyncio.Semaphore(concurrency)
        self.gate = Gate()
        self._notices: dict[int, Notice] = {}
        self._openids: dict[int, str | None] = {}
        self._groups: dict[int, Group | None] = {}

    async def _notice(self, notice_id: int) -> Notice:
        notice = self._notices.get(notice_id)
        if notice is None:
            notice = self._notices[notice_id] = await Notice.get(id=notice_id)
        return notice

    async def _prefetch(self, rows: list[Delivery]) -> None:
        for notice_id in {r.notice_id for r in rows} - set(self._notices):
            await self._notice(notice_id)
        wanted = {r.resident_id for r in rows if r.resident_id} - set(self._openids)
        if wanted:
            found = dict(
                await Resident.filter(id__in=list(wanted), erased_at=None, active=True).values_list(
                    "id", "openid"
                )
            )
            self._openids.update({rid: found.get(rid) for rid in wanted})
        groups = {r.group_id for r in rows if r.group_id} - set(self._groups)
        if groups:
            found_groups = {g.id: g for g in await Group.filter(id__in=list(groups))}
            self._groups.update({gid: found_groups.get(gid) for gid in groups})

    async def send(self, row: Delivery, started: set[int]) -> None:
        """Send one claimed row; raises the client's typed errors. The row's id goes
        into ``started`` just before it is handed to a client."""
        notice = await self._notice(row.notice_id)
        if row.channel == "robot":
            group = None if row.group_id is None else self._groups.get(row.group_id)
            if group is None or not group.active:
                raise PermanentError("no_group")
            await self.paces["robot"].wait()
            started.add(row.id)
            await self.gate.start(row.id)
            robot = self.robots_factory(group.webhook_key)
            await robot.send(robot_text(notice), markdown=True, max_wait=ROBOT_MAX_WAIT)
            return
        openid = None if row.resident_id is None else self._openids.get(row.resident_id)
        if not openid:
            raise PermanentError("no_recipient")
        client = self.clients.get(notice.community_id)
        if client is None:
            raise PermanentError("no_account")
        await self.paces["oa"].wait()
        started.add(row.id)
        await self.gate.start(row.id)
        template = self.templates.get(notice.kind)
        if template:
            await client.send_template(
                openid,
                template,
                {"title": notice.title, "content": notice.body},
                client_msg_id=f"notice-delivery-{row.id}",
            )
        else:
            await client.send_text(openid, oa_text(notice))


async def recover_stale(now: datetime) -> int:
    """A dead process's rows: never handed over → pending again; in flight → unknown
    ("interrupted"), since they may have been sent. The number made unknown."""
    before = now - STALE_CLAIM
    await Delivery.filter(status="claimed", claimed_at__lt=before).update(
        status="pending", claim=None, claimed_at=None, attempts=F("attempts") - 1
    )
    return await Delivery.filter(status="sending", claimed_at__lt=before).update(
        status="unknown", failure="interrupted"
    )


async def claim(now: datetime, batch: int, channels: list[str]) -> list[Delivery]:
    """Claim up to ``batch`` due pending rows for this process; the rows it got."""
    ids = (
        await Delivery.filter(
            Q(status="pending"),
            Q(channel__in=channels),
            Q(not_before=None) | Q(not_before__lte=now),
        )
        .order_by("id")
        .limit(batch)
        .values_list("id", flat=True)
    )
    if not ids:
        return []
    token = secrets.token_hex(8)
    await Delivery.filter(id__in=list(ids), status="pending").update(
        status="claimed", claim=token, claimed_at=_instant(), attempts=F("attempts") + 1
    )
    return await Delivery.filter(id__in=list(ids), claim=token, status="claimed").order_by("id")


async def _outcome(
    sender: Sender, row: Delivery, now: datetime, started: set[int], sent: list[int]
) -> str:
    try:
        await sender.send(row, started)
    except PermanentError as exc:
        await Delivery.filter(id=row.id).update(status="failed", failure=exc.reason[:32])
        return "failed"
    except TransientError as exc:
        if exc.ambiguous:
            # It may have reached them: sending again could say it twice.
            await Delivery.filter(id=row.id).update(status="unknown", failure="unknown")
            return "unknown"
        if row.attempts >= sender.max_attempts:
            await Delivery.filter(id=row.id).update(status="failed", failure="gave_up")
            return "failed"
        await Delivery.filter(id=row.id).update(
            status="pending",
            claim=None,
            claimed_at=None,
            not_before=now + rules.backoff(row.attempts, exc.retry_after),
        )
        return "retry"
    sent.append(row.id)
    sender.gate.sent(row.id)  # written with the gate's next group
    return "sent"


async def _mark_sent(ids: list[int]) -> None:
    if ids:
        await Delivery.filter(id__in=ids, status__in=["claimed", "sending"]).update(
            status="sent", sent_at=_instant()
        )


async def _release(ids: list[int]) -> None:
    if ids:
        await Delivery.filter(id__in=ids, status="claimed").update(
            status="pending", claim=None, claimed_at=None, attempts=F("attempts") - 1
        )


async def send_batch(sender: Sender, rows: list[Delivery], now: datetime) -> Counter[str]:
    """Send claimed rows concurrently; on cancellation, give back the ones not started."""
    done: Counter[str] = Counter()
    started: set[int] = set()
    sent: list[int] = []
    tasks: list[asyncio.Future[None]] = []

    async def one(row: Delivery) -> None:
        async with sender._slots:
            done[await _outcome(sender, row, now, started, sent)] += 1

    try:
        await sender._prefetch(rows)
        tasks = [asyncio.ensure_future(one(r)) for r in rows]
        await asyncio.gather(*tasks)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Rows never handed to a client: nobody got them, they may go again.
        unstarted = [r.id for r in rows if r.id not in started]
        await asyncio.shield(_settle(sent, unstarted))
        raise
    await sender.gate.flush()
    await _mark_sent(sent)  # any the gate's last write missed
    return done


async def _settle(sent: list[int], unstarted: list[int]) -> None:
    await _mark_sent(sent)
    await _release(unstarted)


async def _claim_or_release(now: datetime, batch: int, channels: list[str]) -> list[Delivery]:
    """``claim``, finished even when cancelled meanwhile, so its rows can be given back."""
    claiming = asyncio.ensure_future(claim(now, batch, channels))
    try:
        return await asyncio.shield(claiming)
    except asyncio.CancelledError:
        rows = await claiming
        await _release([r.id for r in rows])
        raise


async def deliver_notices(
    clients: Mapping[int, OfficialAccountClient],
    robots_factory: Callable[[str], GroupRobot],
    now: datetime,
    *,
    rate_per_second: float = RATE_PER_SECOND,
    batch: int = BATCH,
    templates: Mapping[str, str] | None = None,
    sender: Sender | None = None,
    channels: list[str] | None = None,
) -> Counter[str]:
    """Send every delivery due at ``now``, batch after batch, until none is left.

    ``clients`` are the official-account clients by community id. Retries wait for a
    later round (their ``not_before`` is after ``now``).
    """
    from handlers.notices.service import finish_sent

    sender = sender or Sender(
        clients, robots_factory, rate_per_second=rate_per_second, templates=templates
    )
    done: Counter[str] = Counter()
    stale = await recover_stale(now)
    if stale:
        log.warning("%d notice deliveries were interrupted by a dead sender", stale)
        done["interrupted"] += stale
    while rows := await _claim_or_release(now, batch, channels or list(rules.PUSH_CHANNELS)):
        done.update(await send_batch(sender, rows, now))
    await finish_sent()
    return done
