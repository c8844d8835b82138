"""Delivery guarantees: one handling per push, the 4-second fallback, and the spool."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.access_log import PathOnlyAccessLogger
from bot.app import APP_STATE, create_app, replay_one
from bot.dispatcher import build_router
from bot.simulator import message_xml, reply_text
from bot.store import RedisStore
from handlers.router import Router
from handlers.types import Context, Event, Reply
from models.db import using
from models.outbox import PendingMessage
from models.residents import Resident as ResidentRow
from tests.conftest import APPID, Resident

SLOW_SECONDS = 0.3
calls: list[str] = []


def counting_router(pause: float) -> Router:
    router = Router(name="test-slow")

    @router.text("慢")
    async def slow(event: Event, ctx: Context) -> Reply:
        calls.append(event.msg_id)
        await asyncio.sleep(pause)
        return Reply(f"handled {len(calls)}")

    return router


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    calls.clear()


@pytest.fixture
def extra_router() -> Router:
    return counting_router(SLOW_SECONDS)


async def test_three_concurrent_identical_pushes_are_handled_once(resident):
    xml = message_xml(resident.openid, APPID, "text", {"Content": "慢"}, msg_id=777001)
    results = await asyncio.gather(*(resident.push(xml) for _ in range(3)))
    assert [status for status, _ in results] == [200, 200, 200]
    texts = {reply_text(body) for _, body in results}
    assert texts == {"handled 1"}
    assert calls == ["777001"]


async def test_a_retry_after_the_answer_gets_the_same_reply(resident):
    xml = message_xml(resident.openid, APPID, "text", {"Content": "慢"}, msg_id=777002)
    first = await resident.push(xml)
    again = await resident.push(xml)
    assert reply_text(first[1]) == reply_text(again[1]) == "handled 1"
    assert len(calls) == 1


async def test_identical_pushes_on_two_processes_sharing_a_store(
    resident, settings, store, aiohttp_client
):
    """Two app instances over one store stand in for two service processes."""
    router = build_router()
    router.include(counting_router(SLOW_SECONDS))
    other = await aiohttp_client(await _server(settings.model_copy(), store, router))
    twin = Resident(other, resident.openid)
    xml = message_xml(resident.openid, APPID, "text", {"Content": "慢"}, msg_id=777003)
    results = await asyncio.gather(resident.push(xml), twin.push(xml), resident.push(xml))
    assert {reply_text(body) for _, body in results} == {"handled 1"}
    assert len(calls) == 1


class TestDeadline:
    @pytest.fixture
    def settings(self, settings):  # type: ignore[no-untyped-def]
        return settings.model_copy(update={"reply_deadline_seconds": 0.4})

    @pytest.fixture
    def extra_router(self) -> Router:
        return counting_router(1.0)

    async def test_a_handler_past_the_window_is_rolled_back_spooled_and_replayed(
        self, resident, app_state
    ):
        """Past the deadline the work is cancelled (nothing half-done stays), the resident
        is told we will come back, a retry gets the same answer without running it again,
        and the replay does the work once and owes its answer."""
        xml = message_xml(resident.openid, APPID, "text", {"Content": "慢"}, msg_id=777010)
        busy = app_state.translate("zh_Hans", "error.busy")
        started = time.monotonic()
        status, body = await resident.push(xml)
        elapsed = time.monotonic() - started
        assert (status, reply_text(body)) == (200, busy)
        assert elapsed < 0.9, elapsed
        again = await resident.push(xml)
        assert (again[0], reply_text(again[1])) == (200, busy)
        await app_state.once.drain()
        assert calls == ["777010"]
        assert await app_state.spool.pending() == 1
        with using(app_state.db):
            replay = lambda k, e: replay_one(app_state, k, e)  # noqa: E731
            assert await app_state.spool.replay(replay) == 1
            owed = await PendingMessage.filter(openid=resident.openid).all()
        assert [(m.text, m.reason) for m in owed] == [("handled 2", "recovered")]
        assert calls == ["777010", "777010"]


async def test_store_outage_answers_busy_spools_and_replays(settings, aiohttp_client, store):
    """Redis down: the resident is told, nothing is lost, and a restart replays it once."""
    dead = RedisStore("redis://127.0.0.1:9/0", op_timeout=0.2, prefix="dead:")
    down = await aiohttp_client(await _server(settings, dead))
    resident = Resident(down, "o_spooled_1", "safe")
    status, xml = await resident.push(
        message_xml(resident.openid, APPID, "event", {"Event": "subscribe"})
    )
    assert status == 200
    busy = reply_text(xml)
    assert "繁忙" in busy and "保存" in busy
    assert await down.server.app[APP_STATE].spool.pending() == 1
    await down.close()

    # The service comes back on a working store with the same data directory.
    up = await aiohttp_client(await _server(settings, store))
    state = up.server.app[APP_STATE]
    with using(state.db):
        assert not await ResidentRow.filter(openid="o_spooled_1").exists()
        handled = await state.spool.replay(lambda k, e: replay_one(state, k, e))
        assert handled == 1
        assert await state.spool.pending() == 0
        assert await ResidentRow.filter(openid="o_spooled_1", active=True).exists()
        owed = await PendingMessage.filter(openid="o_spooled_1").values_list("reason", flat=True)
        assert owed == ["recovered"]
        # A second replay finds nothing to do: handled once.
        assert await state.spool.replay(lambda k, e: replay_one(state, k, e)) == 0


async def _server(settings, store, router=None) -> TestServer:  # type: ignore[no-untyped-def]
    server = TestServer(create_app(settings, store=store, router=router))
    await server.start_server(access_log_class=PathOnlyAccessLogger)
    return server


async def test_unreachable_store_still_answers_inside_the_window(settings, aiohttp_client):
    dead = RedisStore("redis://127.0.0.1:9/0", op_timeout=0.2, prefix="dead:")
    down: TestClient = await aiohttp_client(await _server(settings, dead))
    resident = Resident(down, "o_spooled_2", "safe")
    started = time.monotonic()
    answer = await resident.say("帮助")
    assert time.monotonic() - started < 4.0
    assert "繁忙" in answer
