"""One resident at a time: two processes, one store, one database, messages sent at once.

Each process's dispatcher holds the resident's lock in the shared store around
load → handle → save, so concurrent messages from one resident are handled one after
the other and none overwrites another's conversation state. A message that cannot
get the lock in time is spooled (nothing lost) and answered ``chat.queued``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.access_log import PathOnlyAccessLogger
from bot.app import create_app, replay_one
from bot.conversation import Conversations
from bot.dispatcher import build_router
from bot.simulator import message_xml, reply_text
from bot.store import MemoryStore, RedisStore
from config.settings import Settings
from handlers.router import Router
from handlers.types import Context, Event, Reply
from models.db import using
from models.outbox import PendingMessage
from models.proposals import Proposal
from models.residents import Resident as ResidentRow
from tests.conftest import AES_KEY, APPID, REDIS_URL, TOKEN, Resident
from tests.world import World

COLLECT_STATE = "test.collect"
QUEUED = "收到，正在处理，稍后回复您。"


class SlowStateReads:
    """The shared store, with a network's latency on conversation-state reads.

    The in-process store answers without ever yielding, which would hide the race
    between two processes' load → save; a real store's round trip does not.
    """

    def __init__(self, inner: MemoryStore | RedisStore, delay: float = 0.05) -> None:
        self.inner = inner
        self.delay = delay

    async def get(self, key: str) -> str | None:
        value = await self.inner.get(key)
        if key.startswith("state:"):
            await asyncio.sleep(self.delay)  # the answer travels back while others write
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def close(self) -> None:
        """The ``store`` fixture closes the real store once, after both apps."""


@pytest.fixture
async def store(backend: str) -> AsyncIterator[SlowStateReads]:
    if backend == "embedded":
        yield SlowStateReads(MemoryStore())
        return
    redis_store = RedisStore(REDIS_URL, op_timeout=2.0, prefix=f"t{uuid.uuid4().hex[:8]}:")
    yield SlowStateReads(redis_store)
    await redis_store.close()


@pytest.fixture
def lock_wait() -> float:
    return 2.5


@pytest.fixture
def settings(database_url, tmp_path, lock_wait) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        wechat_token=TOKEN,
        wechat_appid=APPID,
        wechat_aes_key=AES_KEY,
        wechat_allow_plaintext=True,
        wechat_community="test",
        resident_lock_wait_seconds=lock_wait,
    )


@pytest.fixture
def extra_router() -> Router:
    """A flow that appends every message to its state, slowly, as a photo step does."""
    router = Router(name="test-collect")

    @router.text("收集")
    async def start(event: Event, ctx: Context) -> Reply:
        ctx.enter(COLLECT_STATE, items=[])
        return Reply("开始收集")

    @router.state(COLLECT_STATE, kinds=("text", "image"))
    async def collect(event: Event, ctx: Context) -> Reply:
        items = [*ctx.state.data["items"], event.media_id or event.text]  # type: ignore[union-attr]
        await asyncio.sleep(0.02)  # a database call, an upload ...
        ctx.enter(COLLECT_STATE, items=items)
        return Reply(f"已收到 {len(items)} 项")

    return router


@pytest.fixture
async def second_client(settings, store, extra_router, aiohttp_client):  # type: ignore[no-untyped-def]
    """A second process: its own app, the same settings (database) and the same store."""
    router = build_router()
    router.include(extra_router)
    server = TestServer(create_app(settings, store=store, router=router))
    await server.start_server(access_log_class=PathOnlyAccessLogger)
    return await aiohttp_client(server)


@pytest.fixture
def speakers(client, second_client) -> tuple[Resident, Resident]:  # type: ignore[no-untyped-def]
    """The same resident, whose messages reach one process or the other."""
    return Resident(client, "o_busy"), Resident(second_client, "o_busy")


async def bind(world: World, speaker: Resident) -> None:
    await speaker.say("帮助")
    home = (await world.add_households(world.buildings[0], 1))[0]
    row = await ResidentRow.get(openid=speaker.openid)
    row.household, row.verified = home, True
    await row.save()


async def photo(speaker: Resident, media_id: str) -> str:
    fields = {"PicUrl": f"http://img.invalid/{media_id}.jpg", "MediaId": media_id}
    status, xml = await speaker.push(message_xml(speaker.openid, APPID, "image", fields))
    assert status == 200, xml
    return reply_text(xml)


async def state_of(app_state, openid: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with using(app_state.db):
        state = await Conversations(600).load("default", openid)
    assert state is not None
    return {"name": state.name, **state.data}


async def to_photo_step(speaker: Resident) -> None:
    assert "标题" in await speaker.say("提建议")
    assert "说明" in await speaker.say("3栋门口加装路灯")
    assert "哪一类" in await speaker.say("晚上太黑，老人出门不安全")
    assert "照片" in await speaker.say("2")


# --- photos sent at once -----------------------------------------------------------------------


async def test_two_photos_at_once_through_two_processes_are_both_kept(
    speakers, world: World, app_state
):
    one, two = speakers
    await bind(world, one)
    await to_photo_step(one)
    replies = await asyncio.gather(photo(one, "photo-a"), photo(two, "photo-b"))
    state = await state_of(app_state, one.openid)
    assert state["name"] == "proposals.photo"
    assert sorted(state["photos"]) == ["photo-a", "photo-b"]
    # One after the other: the first saw one photo, the second two.
    assert sorted("2" in r for r in replies) == [False, True]
    confirm = await one.say("好了")
    assert "2" in confirm and "3栋门口加装路灯" in confirm


async def test_many_messages_at_once_each_land_in_the_flow_state(speakers, app_state):
    one, two = speakers
    assert await one.say("收集") == "开始收集"
    count = 8
    sends = [(one if i % 2 else two).say(f"第{i}项") for i in range(count)]
    replies = await asyncio.gather(*sends)
    state = await state_of(app_state, one.openid)
    assert sorted(state["items"]) == sorted(f"第{i}项" for i in range(count))
    # Handled in sequence: each saw the ones before it, and no two saw the same state.
    assert sorted(replies) == sorted(f"已收到 {n} 项" for n in range(1, count + 1))


# --- menu answers sent at once ----------------------------------------------------------------


async def test_a_double_tapped_submit_is_handled_once_then_as_the_menu(
    speakers, world: World, app_state
):
    one, two = speakers
    await bind(world, one)
    await to_photo_step(one)
    assert "3栋门口加装路灯" in await one.say("1")  # no photo: the confirmation
    replies = await asyncio.gather(one.say("1"), two.say("1"))
    proposals = await Proposal.all()
    assert len(proposals) == 1
    submitted = app_state.translate("zh_Hans", "proposal.chat.submitted", id=proposals[0].id)
    assert replies.count(submitted) == 1
    # The other "1" came after the flow had ended: the numbered menu's item 1, once.
    other = next(r for r in replies if r != submitted)
    assert other == app_state.translate("zh_Hans", "bind.prompt")
    assert (await state_of(app_state, one.openid))["name"] != "proposals.confirm"


async def test_two_menu_digits_at_once_are_answered_in_sequence(speakers, app_state):
    """A "3" opens the language menu; the "3" right behind it answers it (English)."""
    one, two = speakers
    await one.say("帮助")
    replies = await asyncio.gather(one.say("3"), two.say("3"))
    t = app_state.translate
    assert sorted(replies) == sorted([t("zh_Hans", "language.prompt"), t("en", "language.ok")])
    with using(app_state.db):
        assert (await ResidentRow.get(openid=one.openid)).language == "en"
    with using(app_state.db):
        assert await Conversations(600).load("default", one.openid) is None


# --- the lock held past the wait --------------------------------------------------------------


@pytest.mark.parametrize("lock_wait", [0.3])
async def test_a_resident_still_busy_is_queued_and_nothing_is_lost(speakers, app_state):
    one, two = speakers
    assert await one.say("收集") == "开始收集"
    async with app_state.store.lock("resident:default:o_busy", timeout=10, blocking_timeout=1):
        started = time.monotonic()
        assert await two.say("晚到的一项") == QUEUED
        assert time.monotonic() - started < 2.0  # well inside WeChat's 5 s
        assert await app_state.spool.pending() == 1
        # The collect state has not moved: the queued message was not handled.
        assert (await state_of(app_state, one.openid))["items"] == []
    with using(app_state.db):  # as the replay task runs
        handled = await app_state.spool.replay(lambda k, e: replay_one(app_state, k, e))
        owed = await PendingMessage.filter(openid=one.openid).values_list("text", flat=True)
    assert handled == 1 and await app_state.spool.pending() == 0
    assert (await state_of(app_state, one.openid))["items"] == ["晚到的一项"]
    assert owed == ["已收到 1 项"]


@pytest.mark.parametrize("lock_wait", [0.3])
async def test_the_queued_answer_is_the_same_for_every_retry(speakers, app_state):
    one, two = speakers
    xml = message_xml(one.openid, APPID, "text", {"Content": "你好"}, msg_id=7_000_001)
    async with app_state.store.lock("resident:default:o_busy", timeout=10, blocking_timeout=1):
        first = reply_text((await one.push(xml))[1])
        retry = reply_text((await two.push(xml))[1])
    assert first == retry == QUEUED
    assert await app_state.spool.pending() == 1


async def test_a_passive_event_does_not_wait_for_the_lock(speakers, app_state):
    one, _two = speakers
    fields = {"Event": "TEMPLATESENDJOBFINISH", "Status": "success"}
    async with app_state.store.lock("resident:default:o_busy", timeout=10, blocking_timeout=1):
        started = time.monotonic()
        status, body = await one.push(message_xml(one.openid, APPID, "event", fields))
        assert (status, body) == (200, "success")
        assert time.monotonic() - started < 0.25
    assert await app_state.spool.pending() == 0
