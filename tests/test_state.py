"""The shared store and conversation state: expiry, atomic claims, locks, on both stores."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.conversation import Conversations
from bot.store import LockTimeout, MemoryStore, RedisStore, StoreUnavailable, open_store
from config.settings import Settings
from handlers.clock import utc_now
from handlers.types import ConversationState
from models.db import using
from models.inbox import ConversationRow
from tests.conftest import AES_KEY, APPID, REDIS_URL, TOKEN


async def forget_everything(store: Any) -> None:
    """The store restarting empty: this test's keys go (other tests share the database)."""
    async for key in store.client.scan_iter(match=store._prefix + "*"):
        await store.client.delete(key)


class OffsetClock:
    """The real monotonic clock plus however far a test has jumped ahead.

    Real time keeps flowing, so ``MemoryStore.lock``'s waits still end.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


Elapse = Callable[[float], Awaitable[None]]


# --- app fixtures (override conftest's store and settings) -------------------------------------


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
async def store(backend: str, clock: OffsetClock) -> AsyncIterator[MemoryStore | RedisStore]:
    if backend == "embedded":
        yield MemoryStore(clock=clock)
        return
    redis_store = RedisStore(REDIS_URL, op_timeout=2.0, prefix=f"t{uuid.uuid4().hex[:8]}:")
    yield redis_store
    await redis_store.close()


@pytest.fixture
def conversation_ttl() -> int:
    return 600


@pytest.fixture
def settings(database_url, tmp_path, conversation_ttl) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        wechat_token=TOKEN,
        wechat_appid=APPID,
        wechat_aes_key=AES_KEY,
        wechat_allow_plaintext=True,
        wechat_community="test",
        conversation_ttl_seconds=conversation_ttl,
    )


@pytest.fixture
def elapse(backend: str, clock: OffsetClock) -> Elapse:
    """Let ``seconds`` pass for the store: jump the clock, or really wait for Redis."""

    async def wait(seconds: float) -> None:
        if backend == "embedded":
            clock.offset += seconds
        else:
            await asyncio.sleep(seconds)

    return wait


def t(app_state, msgid: str, /, **params: str) -> str:  # type: ignore[no-untyped-def]
    return app_state.translate("zh_Hans", msgid, **params)


def fallback(app_state) -> str:  # type: ignore[no-untyped-def]
    menu = [t(app_state, "menu.title")]
    menu += [
        t(app_state, "menu.item", digit=d, label=t(app_state, label))
        for d, _, label in app_state.dispatcher.menu
    ]
    menu.append(t(app_state, "menu.footer"))
    return t(app_state, "help.not_understood") + "\n\n" + "\n".join(menu)


async def saved_state(openid: str) -> ConversationRow | None:
    return await ConversationRow.get_or_none(account="default", openid=openid)


@pytest.fixture
def later(app_state):  # type: ignore[no-untyped-def]
    """Move the app's clock ``seconds`` ahead (conversation state expires by it)."""
    offset = [0.0]
    app_state.clock = lambda: utc_now() + timedelta(seconds=offset[0])

    async def move(seconds: float) -> None:
        offset[0] += seconds

    return move


# --- conversation state through the callback (kept in the database) --------------------------


async def test_flow_state_survives_between_two_messages(app_state, resident):
    assert await resident.say("绑定") == t(app_state, "bind.prompt")
    with using(app_state.db):
        assert await saved_state(resident.openid) is not None
    # The second message is the flow's answer, not a fresh command.
    assert await resident.say("ABCD2345") == t(app_state, "bind.unknown")
    # A wrong code keeps the flow going.
    with using(app_state.db):
        assert await saved_state(resident.openid) is not None
    assert await resident.say("ABCD2346") == t(app_state, "bind.unknown")


async def test_flow_state_survives_a_store_that_comes_back_empty(app_state, resident, store):
    """The store restarting empty (finding 10) forgets no one's place in a flow."""
    assert await resident.say("绑定") == t(app_state, "bind.prompt")
    if isinstance(store, MemoryStore):
        store._data.clear()
    else:
        await forget_everything(store)
    assert await resident.say("ABCD2345") == t(app_state, "bind.unknown")


async def test_flow_state_survives_until_just_before_the_ttl(
    app_state, resident, later, conversation_ttl
):
    assert await resident.say("绑定") == t(app_state, "bind.prompt")
    await later(conversation_ttl - 1)
    assert await resident.say("ABCD2345") == t(app_state, "bind.unknown")


@pytest.mark.parametrize("conversation_ttl", [1])
async def test_flow_state_expires_and_the_resident_gets_the_fallback(
    app_state, resident, later, conversation_ttl
):
    assert await resident.say("绑定") == t(app_state, "bind.prompt")
    await later(conversation_ttl + 0.1)
    reply = await resident.say("ABCD2345")
    assert reply != t(app_state, "bind.unknown")
    assert reply == fallback(app_state)


async def test_expired_state_is_per_resident_and_a_new_flow_starts_clean(
    app_state, make_resident, later, conversation_ttl
):
    early, late = make_resident("o_early"), make_resident("o_late")
    await early.say("绑定")
    await later(conversation_ttl - 5)
    await late.say("绑定")
    await later(10)
    assert await early.say("ABCD2345") == fallback(app_state)
    assert await late.say("ABCD2345") == t(app_state, "bind.unknown")
    # Starting again after expiry works like the first time.
    assert await early.say("1") == t(app_state, "bind.prompt")
    assert await early.say("ABCD2345") == t(app_state, "bind.unknown")


async def test_state_is_cleared_when_the_flow_ends(app_state, resident):
    await resident.say("语言")
    with using(app_state.db):
        assert await saved_state(resident.openid) is not None
    assert await resident.say("2") == app_state.translate("zh_Hant", "language.ok")
    with using(app_state.db):
        assert await saved_state(resident.openid) is None
    # "2" again is now the menu digit for my data, not a language choice.
    assert await resident.say("2") != app_state.translate("zh_Hant", "language.ok")


async def test_every_saved_state_carries_the_ttl(app_state, resident):
    await resident.say("语言")
    await resident.say("klingon")  # re-enters the state: saved again with a fresh TTL
    ttl = app_state.settings.conversation_ttl_seconds
    with using(app_state.db):
        row = await saved_state(resident.openid)
    assert row is not None
    left = (row.expires_at - utc_now()).total_seconds()
    assert ttl - 5 < left <= ttl


# --- Conversations (state in the database) ----------------------------------------------------


async def test_conversations_round_trip_and_clear(app_state):
    conversations = Conversations(ttl=60)
    with using(app_state.db):
        assert await conversations.load("default", "o1") is None
        state = ConversationState("proposals.draft", {"title": "加装电梯", "step": 2})
        await conversations.save("default", "o1", state)
        assert await conversations.load("default", "o1") == state
        assert await conversations.load("riverside", "o1") is None
        assert await conversations.load("default", "o2") is None
        await conversations.save("default", "o1", ConversationState("x"))
        assert await conversations.load("default", "o1") == ConversationState("x")
        await conversations.clear("default", "o1")
        assert await conversations.load("default", "o1") is None


async def test_conversations_expire_after_their_ttl(app_state):
    offset = [0.0]
    conversations = Conversations(ttl=30, clock=lambda: utc_now() + timedelta(seconds=offset[0]))
    with using(app_state.db):
        await conversations.save("default", "o1", ConversationState("x"))
        offset[0] += 29.5
        assert await conversations.load("default", "o1") == ConversationState("x")
        offset[0] += 1
        assert await conversations.load("default", "o1") is None


# --- store units, on MemoryStore and (when given) RedisStore -----------------------------------


class Harness:
    def __init__(self, kv: MemoryStore | RedisStore, clock: OffsetClock | None) -> None:
        self.kv = kv
        self.clock = clock

    async def elapse(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.offset += seconds
        else:
            await asyncio.sleep(seconds)


@pytest.fixture(
    params=[
        "memory",
        pytest.param(
            "redis",
            marks=pytest.mark.skipif(not REDIS_URL, reason="LINLI_TEST_REDIS_URL not set"),
        ),
    ]
)
async def kv(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        clock = OffsetClock()
        yield Harness(MemoryStore(clock=clock), clock)
        return
    redis_store = RedisStore(REDIS_URL, op_timeout=2.0, prefix=f"u{uuid.uuid4().hex[:8]}:")
    try:
        yield Harness(redis_store, None)
    finally:
        keys = await redis_store.client.keys(redis_store._prefix + "*")
        if keys:
            await redis_store.client.delete(*keys)
        await redis_store.close()


async def test_get_set_delete(kv):
    s = kv.kv
    assert await s.get("a") is None
    await s.set("a", "1")
    assert await s.get("a") == "1"
    await s.set("a", "二")
    assert await s.get("a") == "二"
    await s.delete("a")
    assert await s.get("a") is None
    await s.delete("a")  # deleting what is gone is fine
    assert await s.get("a") is None


async def test_keys_are_independent(kv):
    await kv.kv.set("a", "1")
    await kv.kv.set("b", "2")
    await kv.kv.delete("a")
    assert await kv.kv.get("b") == "2"


async def test_value_with_ttl_expires(kv):
    await kv.kv.set("k", "v", ttl=0.4)
    await kv.elapse(0.1)
    assert await kv.kv.get("k") == "v"
    await kv.elapse(0.45)
    assert await kv.kv.get("k") is None


async def test_value_without_ttl_stays(kv):
    await kv.kv.set("k", "v")
    await kv.elapse(0.5)
    assert await kv.kv.get("k") == "v"


async def test_set_replaces_the_ttl(kv):
    await kv.kv.set("k", "v", ttl=0.3)
    await kv.kv.set("k", "w")
    await kv.elapse(0.45)
    assert await kv.kv.get("k") == "w"


async def test_set_if_absent_claims_once(kv):
    assert await kv.kv.set_if_absent("claim", "first") is True
    assert await kv.kv.set_if_absent("claim", "second") is False
    assert await kv.kv.get("claim") == "first"


async def test_set_if_absent_does_not_overwrite_a_plain_set(kv):
    await kv.kv.set("claim", "there")
    assert await kv.kv.set_if_absent("claim", "mine") is False
    assert await kv.kv.get("claim") == "there"


async def test_set_if_absent_succeeds_again_after_delete_or_expiry(kv):
    assert await kv.kv.set_if_absent("claim", "1", ttl=0.3)
    await kv.kv.delete("claim")
    assert await kv.kv.set_if_absent("claim", "2", ttl=0.3)
    assert not await kv.kv.set_if_absent("claim", "3", ttl=0.3)
    await kv.elapse(0.45)
    assert await kv.kv.set_if_absent("claim", "4")
    assert await kv.kv.get("claim") == "4"


async def test_set_if_absent_has_exactly_one_winner_under_contention(kv):
    results = await asyncio.gather(*(kv.kv.set_if_absent("race", str(i)) for i in range(20)))
    assert results.count(True) == 1
    assert await kv.kv.get("race") == str(results.index(True))


async def test_incr_counts_and_keeps_the_first_ttl(kv):
    assert await kv.kv.incr("n", ttl=0.5) == 1
    await kv.elapse(0.3)
    assert await kv.kv.incr("n", ttl=0.5) == 2  # does not extend the window
    assert await kv.kv.get("n") == "2"
    await kv.elapse(0.35)
    assert await kv.kv.get("n") is None
    assert await kv.kv.incr("n", ttl=0.5) == 1


async def test_incr_without_ttl(kv):
    assert [await kv.kv.incr("n") for _ in range(3)] == [1, 2, 3]
    await kv.elapse(0.3)
    assert await kv.kv.get("n") == "3"


async def test_incr_many_counts_each_key_and_keeps_the_first_ttl(kv):
    assert await kv.kv.incr_many(["a", "b"], ttl=0.5) == [1, 1]
    await kv.elapse(0.3)
    assert await kv.kv.incr_many(["a", "b", "c"], ttl=0.5) == [2, 2, 1]
    await kv.elapse(0.35)
    assert await kv.kv.get("a") is None and await kv.kv.get("c") == "1"
    assert await kv.kv.incr_many(["x"]) == [1]


async def test_ping(kv):
    assert await kv.kv.ping() is True


async def test_lock_excludes_other_holders(kv):
    inside = 0
    most = 0
    order: list[str] = []

    async def worker(name: str) -> None:
        nonlocal inside, most
        async with kv.kv.lock("res", timeout=5, blocking_timeout=5):
            inside += 1
            most = max(most, inside)
            order.append(f"{name}+")
            await asyncio.sleep(0.05)
            order.append(f"{name}-")
            inside -= 1

    await asyncio.gather(*(worker(n) for n in "abc"))
    assert most == 1
    assert len(order) == 6
    for i in range(0, 6, 2):  # each enter is followed by its own exit
        assert order[i][0] == order[i + 1][0]
        assert (order[i][1], order[i + 1][1]) == ("+", "-")


async def test_lock_times_out_while_another_holds_it(kv):
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with kv.kv.lock("res", timeout=5, blocking_timeout=1):
            held.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await held.wait()
    started = time.monotonic()
    with pytest.raises(LockTimeout):
        async with kv.kv.lock("res", timeout=5, blocking_timeout=0.2):
            pytest.fail("acquired a lock someone else holds")
    # It waited (redis-py gives up once its next 0.1 s retry would pass the deadline).
    assert 0.05 <= time.monotonic() - started < 2.0
    release.set()
    await task
    # Released: free again at once.
    async with kv.kv.lock("res", timeout=5, blocking_timeout=0.2):
        pass


async def test_different_lock_names_do_not_contend(kv):
    async with (
        kv.kv.lock("one", blocking_timeout=0.2),
        kv.kv.lock("two", blocking_timeout=0.2),
    ):
        pass


async def test_lock_is_released_when_the_body_raises(kv):
    with pytest.raises(RuntimeError):
        async with kv.kv.lock("res", timeout=5, blocking_timeout=0.2):
            raise RuntimeError("boom")
    async with kv.kv.lock("res", timeout=5, blocking_timeout=0.2):
        pass


async def test_lock_of_a_dead_holder_expires_and_its_late_release_is_harmless(kv):
    stale = kv.kv.lock("res", timeout=0.3, blocking_timeout=0.2)
    await stale.__aenter__()  # a holder that dies without releasing
    await asyncio.sleep(0.35)  # real time: the expiry of a lock is real on both stores
    fresh = kv.kv.lock("res", timeout=5, blocking_timeout=0.5)
    await fresh.__aenter__()
    # The dead holder wakes up and "releases": the new holder must keep the lock.
    await stale.__aexit__(None, None, None)
    with pytest.raises(LockTimeout):
        async with kv.kv.lock("res", timeout=5, blocking_timeout=0.2):
            pass
    await fresh.__aexit__(None, None, None)
    async with kv.kv.lock("res", timeout=5, blocking_timeout=0.2):
        pass


# --- store specifics --------------------------------------------------------------------------


async def test_memory_store_expiry_boundary_and_close():
    clock = OffsetClock()
    memory = MemoryStore(clock=clock)
    clock.offset = 1000.0
    frozen = clock()
    memory._clock = lambda: frozen  # a clock standing still for the boundary
    await memory.set("k", "v", ttl=10)
    memory._clock = lambda: frozen + 9.999
    assert await memory.get("k") == "v"
    memory._clock = lambda: frozen + 10
    assert await memory.get("k") is None
    await memory.set("k", "v")
    await memory.close()
    assert await memory.get("k") is None


@pytest.mark.skipif(not REDIS_URL, reason="LINLI_TEST_REDIS_URL not set")
async def test_redis_store_sets_the_ttl_in_redis_and_prefixes_keys():
    prefix = f"u{uuid.uuid4().hex[:8]}:"
    a = RedisStore(REDIS_URL, op_timeout=2.0, prefix=prefix)
    b = RedisStore(REDIS_URL, op_timeout=2.0, prefix=f"u{uuid.uuid4().hex[:8]}:")
    try:
        await a.set("k", "v", ttl=600)
        ttl_ms = await a.client.pttl(prefix + "k")
        assert 599_000 < ttl_ms <= 600_000
        await a.set("forever", "v")
        assert await a.client.pttl(prefix + "forever") == -1
        assert await a.client.get(prefix + "k") == "v"
        assert await b.get("k") is None  # another prefix is another namespace
        await a.incr("n", ttl=30)
        assert 29_000 < await a.client.pttl(prefix + "n") <= 30_000
    finally:
        await a.client.delete(prefix + "k", prefix + "forever", prefix + "n")
        await a.close()
        await b.close()


async def test_unreachable_redis_fails_fast_as_store_unavailable():
    dead = RedisStore("redis://127.0.0.1:9/0", op_timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await dead.get("k")
        with pytest.raises(StoreUnavailable):
            await dead.set_if_absent("k", "v", ttl=1)
        assert await dead.ping() is False
        assert time.monotonic() - started < 3.0
    finally:
        await dead.close()


async def test_open_store_picks_redis_only_when_configured():
    assert isinstance(open_store("", 0.5), MemoryStore)
    redis_store = open_store("redis://127.0.0.1:6379/0", 0.5)
    try:
        assert isinstance(redis_store, RedisStore)
    finally:
        await redis_store.close()
