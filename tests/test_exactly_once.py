"""Each message takes effect once and in its resident's order, whatever fails around it
(issue 13, faults 10-15, at the level of one process; ``tests/faults`` kills processes)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import pytest

from bot.app import replay_one
from bot.dispatcher import LEDGER_DAYS, prune_ledger
from bot.once import BUSY, DONE, Once
from bot.simulator import message_xml, reply_text
from bot.spool import Spool
from bot.store import MemoryStore
from handlers.clock import utc_now
from handlers.router import Router
from handlers.types import Context, Event, Reply, StoreUnavailable
from models.complaints import Ticket
from models.db import using
from models.inbox import HandledMessage
from models.outbox import PendingMessage
from models.residents import Resident as ResidentRow
from tests.conftest import APPID

COMPLAINT = "投诉 楼道的灯坏了三天了没人修"


async def forget_everything(store: Any) -> None:
    """The store restarting empty: this test's keys go (other tests share the database)."""
    async for key in store.client.scan_iter(match=store._prefix + "*"):
        await store.client.delete(key)


def text_xml(openid: str, text: str, msg_id: int) -> str:
    return message_xml(openid, APPID, "text", {"Content": text}, msg_id=msg_id)


async def tickets_of(app_state: Any, openid: str) -> int:
    with using(app_state.db):
        resident = await ResidentRow.get(openid=openid)
        return await Ticket.filter(reporter_id=resident.id).count()


async def replay(app_state: Any) -> int:
    with using(app_state.db):
        return await app_state.spool.replay(lambda k, e: replay_one(app_state, k, e))


def busy(app_state: Any) -> str:
    return app_state.translate("zh_Hans", "error.busy")


# --- the ledger: one effect per message ------------------------------------------------------


async def test_a_retry_the_store_forgot_is_answered_from_the_ledger(resident, app_state, store):
    """The store restarting empty forgets the answer, not the effect: WeChat's retry of the
    submit finds the ledger, gets the same reply and makes no second ticket."""
    await resident.push(text_xml(resident.openid, COMPLAINT, 910001))
    status, first = await resident.push(text_xml(resident.openid, "1", 910002))
    assert status == 200
    inner = store.inner
    if isinstance(inner, MemoryStore):
        inner._data.clear()
    else:
        await forget_everything(inner)
    again = await resident.push(text_xml(resident.openid, "1", 910002))
    assert reply_text(again[1]) == reply_text(first)
    assert await tickets_of(app_state, resident.openid) == 1


async def test_the_same_message_replayed_twice_takes_effect_once(resident, app_state):
    await resident.say("帮助")  # the resident exists
    event = Event(
        account="default",
        openid=resident.openid,
        kind="text",
        created_at=utc_now(),
        text=COMPLAINT.removeprefix("投诉 "),
        msg_id="910010",
    )
    key = "default:m:910010"
    with using(app_state.db):
        await app_state.dispatcher.dispatch(
            Event(**{**event.__dict__, "text": "投诉"}), "default:m:910009"
        )
        await replay_one(app_state, key, event)
        submit = Event(**{**event.__dict__, "text": "1", "msg_id": "910011"})
        await replay_one(app_state, "default:m:910011", submit)
        await replay_one(app_state, "default:m:910011", submit)  # a crash before settling
        owed = await PendingMessage.filter(openid=resident.openid).count()
    assert await tickets_of(app_state, resident.openid) == 1
    assert owed == 2  # the attach question and the receipt, each once


class ForgetfulStore:
    """The shared store dying right after the work committed: answers cannot be stored."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.broken = False

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        if self.broken and value.startswith(DONE):
            raise StoreUnavailable("down")
        await self.inner.set(key, value, ttl=ttl)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def store(store):  # type: ignore[no-untyped-def]
    return ForgetfulStore(store)


async def test_a_store_lost_after_the_commit_spools_nothing(resident, app_state, store):
    """Finding 11: the answer could not be stored, but the ticket and its reply are in the
    ledger; the resident gets the receipt and nothing goes to the spool to be done again."""
    await resident.push(text_xml(resident.openid, COMPLAINT, 910021))
    store.broken = True
    status, xml = await resident.push(text_xml(resident.openid, "1", 910022))
    assert status == 200 and reply_text(xml) != busy(app_state)
    assert await app_state.spool.pending() == 0
    store.broken = False
    retry = await resident.push(text_xml(resident.openid, "1", 910022))
    assert reply_text(retry[1]) == reply_text(xml)
    assert await tickets_of(app_state, resident.openid) == 1


async def test_the_ledger_forgets_after_a_week(app_state):
    with using(app_state.db):
        await HandledMessage.create(key="old", reply="")
        await HandledMessage.create(key="new", reply="")
        await HandledMessage.filter(key="old").update(
            handled_at=utc_now() - timedelta(days=LEDGER_DAYS, minutes=1)
        )
        await prune_ledger(utc_now())
        assert await HandledMessage.all().values_list("key", flat=True) == ["new"]


# --- the lease: a retry after the owner's death runs the message -----------------------------


async def test_a_claim_whose_owner_died_lapses_and_the_retry_runs_it():
    store = MemoryStore()
    once = Once(store, ttl=600, lease=0.3)
    # The owner claimed and died (kill -9): nobody renews its lease.
    assert await store.set_if_absent("msg:k", "pending", ttl=0.3)
    ran: list[str] = []

    async def work() -> str:
        ran.append("retry")
        return "答复"

    started = time.monotonic()
    assert await once.run("k", work, time.monotonic() + 4.0) == "答复"
    assert ran == ["retry"]
    assert time.monotonic() - started < 1.0


async def test_a_live_owner_renews_its_lease_and_the_copy_waits_for_its_answer():
    store = MemoryStore()
    once = Once(store, ttl=600, lease=0.2)
    ran: list[str] = []

    async def work() -> str:
        ran.append("once")
        await asyncio.sleep(0.8)  # four leases long
        return "答复"

    first = asyncio.ensure_future(once.run("k", work, time.monotonic() + 4.0))
    await asyncio.sleep(0.05)
    assert await once.run("k", work, time.monotonic() + 4.0) == "答复"
    assert await first == "答复"
    assert ran == ["once"]


async def test_work_past_the_deadline_is_cancelled_and_deferred():
    once = Once(MemoryStore(), ttl=600, lease=1.0)
    cancelled = asyncio.Event()

    async def work() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    assert await once.run("k", work, time.monotonic() + 0.1) is BUSY
    await asyncio.wait_for(cancelled.wait(), 1.0)


# --- order per resident and a replay that never blocks new messages --------------------------


@pytest.fixture
def extra_router() -> Router:
    router = Router(name="test-order")

    @router.text("记")
    async def note(event: Event, ctx: Context) -> Reply:
        seen = [*(ctx.state.data["seen"] if ctx.state else []), event.text]
        ctx.enter("test.notes", seen=seen)
        return Reply(" ".join(seen))

    @router.state("test.notes", kinds=("text",))
    async def more(event: Event, ctx: Context) -> Reply:
        seen = [*ctx.state.data["seen"], event.text]  # type: ignore[union-attr]
        ctx.enter("test.notes", seen=seen)
        return Reply(" ".join(seen))

    return router


async def test_messages_behind_a_spooled_one_wait_and_replay_in_order(
    resident, app_state, monkeypatch
):
    """Finding 13: while a resident's message waits in the spool, their next ones go behind
    it (answered ``chat.queued``), and the replay applies them in the order they were sent,
    the earlier message's state first."""
    await resident.say("帮助")
    failing = True
    dispatch = app_state.dispatcher.dispatch

    async def stalled(event: Event, key: str = "") -> Reply:
        if failing:
            raise OSError("database stalled")
        return await dispatch(event, key)

    monkeypatch.setattr(app_state.dispatcher, "dispatch", stalled)
    first = await resident.push(text_xml(resident.openid, "记", 910031))
    assert reply_text(first[1]) == busy(app_state)
    failing = False
    queued = app_state.translate("zh_Hans", "chat.queued")
    for n, text in enumerate(["甲", "乙", "丙"]):
        _, xml = await resident.push(text_xml(resident.openid, text, 910032 + n))
        assert reply_text(xml) == queued
    assert await app_state.spool.pending() == 4
    assert await replay(app_state) == 4
    with using(app_state.db):
        owed = await PendingMessage.filter(openid=resident.openid).order_by("id")
    assert [m.text for m in owed] == ["记", "记 甲", "记 甲 乙", "记 甲 乙 丙"]
    # Nothing waits any more: the next message is handled at once.
    assert await resident.say("丁") == "记 甲 乙 丙 丁"


async def test_a_failing_entry_holds_back_its_residents_later_ones(tmp_path):
    spool = Spool(tmp_path, "host")
    made = utc_now()
    for n in (1, 2, 3):
        await spool.append(
            f"k{n}", Event("default", "o1", "text", made, text=str(n), msg_id=str(100 + n))
        )
    await spool.append("other", Event("default", "o2", "text", made, text="x", msg_id="99"))
    handled: list[str] = []

    async def handle(key: str, event: Event) -> None:
        if key == "k2":
            raise OSError("still down")
        handled.append(key)

    assert await spool.replay(handle) == 2
    assert sorted(handled) == ["k1", "other"]
    assert spool.holds("default", "o1") and not spool.holds("default", "o2")
    assert await spool.pending() == 2


async def test_a_key_spooled_twice_is_kept_once(tmp_path):
    spool = Spool(tmp_path, "host")
    event = Event("default", "o1", "text", utc_now(), text="1", msg_id="5")
    await spool.append("k", event)
    await spool.append("k", event)
    assert await spool.pending() == 1


async def test_appends_never_wait_on_a_replay(tmp_path):
    """Finding 12: a replay stuck on a hung store holds nothing an append needs."""
    spool = Spool(tmp_path, "host")
    for n in range(40):
        await spool.append(f"k{n}", Event("default", f"o{n}", "text", utc_now(), text="x"))
    release = asyncio.Event()

    async def hung(key: str, event: Event) -> None:
        await release.wait()

    replaying = asyncio.ensure_future(spool.replay(hung))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    for n in range(40):
        await spool.append(f"new{n}", Event("default", f"p{n}", "text", utc_now(), text="y"))
    assert time.monotonic() - started < 2.0
    release.set()
    assert await replaying == 40
    assert await spool.pending() == 40


# --- an unwritable spool --------------------------------------------------------------------


async def test_an_unwritable_spool_answers_503_and_the_retry_runs_again(
    resident, app_state, monkeypatch, caplog
):
    """Finding 15: nothing can keep the message, so WeChat must retry: 503, an alert in the
    log, no claim that it was kept, and the retry (spool writable again) is kept."""
    await resident.say("帮助")

    async def down(event: Event, key: str = "") -> Reply:
        raise OSError("database down")

    async def full(key: str, event: Event) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(app_state.dispatcher, "dispatch", down)
    append = app_state.spool.append
    monkeypatch.setattr(app_state.spool, "append", full)
    xml = text_xml(resident.openid, COMPLAINT, 910041)
    with caplog.at_level(logging.CRITICAL):
        status, body = await resident.push(xml)
    assert status == 503 and "kept" not in body
    assert any("ALERT" in r.getMessage() for r in caplog.records)
    assert not any("spooled" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(app_state.spool, "append", append)
    status, body = await resident.push(xml)  # WeChat's retry
    assert (status, reply_text(body)) == (200, busy(app_state))
    assert await app_state.spool.pending() == 1


async def test_readiness_names_an_unwritable_spool(client, app_state, monkeypatch):
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr("pathlib.Path.write_bytes", refuse)
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503 and body["spool"] is False
