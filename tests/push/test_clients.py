"""Push clients against the fake WeChat/WeCom server: sends, tokens, errors, robot limits."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import pytest

from bot.push import (
    AccessTokens,
    GroupRobot,
    OfficialAccountClient,
    PermanentError,
    TokenError,
    TransientError,
    error_for,
)
from bot.push.errors import PushError
from bot.store import MemoryStore, RedisStore, StoreUnavailable
from config.settings import Settings
from handlers.residents.rules import pseudonym
from tests.fakes import FakeWeChat, serve, start

APPID = "wxpushtest0000001"
SECRET = "push-app-secret-9d8c7b6a5f4e3d2c"
ROBOT_KEY = "5f2c9a7e-robot-key-4b1d-9c3e-0a1b2c3d4e5f"
OPENID = "oFollower_0000000000000001"

Store = MemoryStore | RedisStore


@pytest.fixture
def fake() -> FakeWeChat:
    return FakeWeChat({APPID: SECRET}, robot_keys={ROBOT_KEY})


@pytest.fixture
async def base_url(fake: FakeWeChat, aiohttp_server: Any) -> str:
    return await start(fake, aiohttp_server)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def official_client(
    session: aiohttp.ClientSession, store: Store, base_url: str, timeout: float = 2.0
) -> OfficialAccountClient:
    tokens = AccessTokens(session, store, APPID, SECRET, base_url=base_url, timeout=timeout)
    return OfficialAccountClient(session, tokens, base_url=base_url, timeout=timeout)


@pytest.fixture
def official(session: aiohttp.ClientSession, store: Store, base_url: str) -> OfficialAccountClient:
    return official_client(session, store, base_url)


class FakeTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class OffsetClock:
    """A real clock (wall or monotonic) plus however far the test jumped ahead."""

    def __init__(self, base: Callable[[], float]) -> None:
        self.base = base
        self.offset = 0.0

    def __call__(self) -> float:
        return self.base() + self.offset


class DownStore(MemoryStore):
    """A store that never answers, like Redis during an outage."""

    async def get(self, key: str) -> str | None:
        raise StoreUnavailable("down")

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        raise StoreUnavailable("down")

    def lock(  # type: ignore[override]
        self, name: str, timeout: float = 10.0, blocking_timeout: float = 5.0
    ) -> AbstractAsyncContextManager[None]:
        raise StoreUnavailable("down")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- official account: what lands at WeChat ---------------------------------------------------


async def test_template_message_lands_with_wechat_json(
    official: OfficialAccountClient, fake: FakeWeChat
) -> None:
    msgid = await official.send_template(
        OPENID,
        "tpl-water-cut",
        {"thing1": "3号楼停水", "time2": {"value": "明天9点到12点", "color": "#173177"}},
        url="https://linli.example/notices/7",
        miniprogram={"appid": "wxmini000000001", "pagepath": "pages/notice?id=7"},
        client_msg_id="delivery-7-1",
    )

    [sent] = fake.messages[OPENID]
    assert sent.api == "template"
    assert sent.msgid == msgid
    assert sent.body == {
        "touser": OPENID,
        "template_id": "tpl-water-cut",
        "data": {
            "thing1": {"value": "3号楼停水"},
            "time2": {"value": "明天9点到12点", "color": "#173177"},
        },
        "url": "https://linli.example/notices/7",
        "miniprogram": {"appid": "wxmini000000001", "pagepath": "pages/notice?id=7"},
        "client_msg_id": "delivery-7-1",
    }
    assert "3号楼停水".encode() in sent.raw  # UTF-8, not \u escapes WeChat would show


async def test_subscribe_notice_lands_with_its_page(
    official: OfficialAccountClient, fake: FakeWeChat
) -> None:
    await official.send_subscribe(
        OPENID, "sub-vote-open", {"thing1": "加装电梯表决"}, page="https://linli.example/v/3"
    )

    [sent] = fake.messages[OPENID]
    assert sent.api == "subscribe"
    assert sent.body == {
        "touser": OPENID,
        "template_id": "sub-vote-open",
        "data": {"thing1": {"value": "加装电梯表决"}},
        "page": "https://linli.example/v/3",
    }


async def test_customer_service_text_lands_unescaped(
    official: OfficialAccountClient, fake: FakeWeChat
) -> None:
    await official.send_text(OPENID, "您的报修已受理：工单 42")

    [sent] = fake.messages[OPENID]
    assert sent.api == "custom"
    assert sent.body == {
        "touser": OPENID,
        "msgtype": "text",
        "text": {"content": "您的报修已受理：工单 42"},
    }
    assert "您的报修已受理".encode() in sent.raw


async def test_a_repeated_client_msg_id_is_counted_as_a_duplicate(
    official: OfficialAccountClient, fake: FakeWeChat
) -> None:
    first = await official.send_template(OPENID, "tpl", {"thing1": "a"}, client_msg_id="d-1")
    again = await official.send_template(OPENID, "tpl", {"thing1": "a"}, client_msg_id="d-1")
    await official.send_template(OPENID, "tpl", {"thing1": "a"}, client_msg_id="d-2")

    assert first == again
    assert (fake.accepted, fake.duplicates) == (2, 1)


# --- access tokens ----------------------------------------------------------------------------


async def test_ten_processes_of_twenty_callers_fetch_one_token(
    store: Store, session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    fake.token_delay = 0.05  # a slow WeChat widens the window a stampede would use
    processes = [AccessTokens(session, store, APPID, SECRET, base_url=base_url) for _ in range(10)]

    got = await asyncio.gather(*(p.get() for p in processes for _ in range(20)))
    again = await asyncio.gather(*(p.get() for p in processes for _ in range(20)))

    assert len(got) == 200
    assert set(got) == set(again) == set(fake.issued(APPID))
    assert fake.token_fetches[APPID] == 1
    assert sum(p.fetches for p in processes) == 1


async def test_a_token_is_kept_until_five_minutes_before_it_expires(
    session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    wall, monotonic = OffsetClock(time.time), OffsetClock(time.monotonic)
    store = MemoryStore(clock=monotonic)
    tokens = AccessTokens(session, store, APPID, SECRET, base_url=base_url, clock=wall)
    first = await tokens.get()

    wall.offset = monotonic.offset = 7200 - 300 - 1
    assert await tokens.get() == first
    wall.offset = monotonic.offset = 7200 - 300 + 1
    assert await tokens.get() != first
    assert fake.token_fetches[APPID] == 2


async def test_a_down_store_still_gives_one_fetch_per_process(
    session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    tokens = AccessTokens(session, DownStore(), APPID, SECRET, base_url=base_url)

    got = await asyncio.gather(*(tokens.get() for _ in range(20)))
    later = await tokens.get()

    assert set(got) == {later}
    assert fake.token_fetches[APPID] == 1


async def test_a_revoked_token_is_refreshed_once_for_all_processes(
    store: Store, session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    clients = [official_client(session, store, base_url) for _ in range(10)]
    await asyncio.gather(*(c.send_text(f"o_{i}", "早") for i, c in enumerate(clients)))
    assert fake.token_fetches[APPID] == 1

    fake.revoke_tokens(APPID)
    await asyncio.gather(
        *(c.send_text(f"o_{i}", f"第{n}条") for i, c in enumerate(clients) for n in range(5))
    )

    assert fake.errors[40001] >= 1  # the stale token really was refused
    assert fake.token_fetches[APPID] == 2
    assert all(len(fake.messages[f"o_{i}"]) == 6 for i in range(10))
    assert fake.accepted == 60


async def test_a_late_report_of_an_old_token_keeps_the_new_one(
    store: Store, session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    one, other = (AccessTokens(session, store, APPID, SECRET, base_url=base_url) for _ in range(2))
    old = await one.get()
    await other.invalidate(old)
    new = await other.get()

    await one.invalidate(old)  # this process learns late that the old token was refused

    assert await one.get() == new
    assert fake.token_fetches[APPID] == 2


async def test_a_token_refused_twice_raises_token_error_after_one_refresh(
    official: OfficialAccountClient, fake: FakeWeChat
) -> None:
    fake.fail_next(2, errcode=40001)

    with pytest.raises(TokenError) as raised:
        await official.send_text(OPENID, "hello")

    assert isinstance(raised.value, TransientError)
    assert raised.value.errcode == 40001
    assert fake.token_fetches[APPID] == 2
    assert fake.requests["custom"] == 2
    assert fake.accepted == 0


async def test_an_expired_token_42001_is_refreshed(
    official: OfficialAccountClient, fake: FakeWeChat
) -> None:
    fake.fail_next(errcode=42001)

    await official.send_text(OPENID, "hello")

    assert fake.token_fetches[APPID] == 2
    assert len(fake.messages[OPENID]) == 1


async def test_a_wrong_secret_is_a_channel_wide_permanent_error(
    store: Store, session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    tokens = AccessTokens(session, store, APPID, "not-the-secret", base_url=base_url)

    with pytest.raises(PermanentError) as raised:
        await tokens.get()

    assert raised.value.reason == "credentials"
    assert not raised.value.recipient_only
    assert fake.token_fetches[APPID] == 0


# --- official account: errors -----------------------------------------------------------------


async def test_an_unsubscribed_follower_is_a_permanent_failure(
    official: OfficialAccountClient, fake: FakeWeChat
) -> None:
    fake.unsubscribed.add(OPENID)

    with pytest.raises(PermanentError) as raised:
        await official.send_template(OPENID, "tpl", {"thing1": "停水"})

    assert raised.value.reason == "unsubscribed"
    assert raised.value.errcode == 43004
    assert raised.value.recipient_only
    assert fake.accepted == 0


async def test_a_follower_who_refused_notices_is_blocked(
    official: OfficialAccountClient, fake: FakeWeChat
) -> None:
    fake.blocked.add(OPENID)

    with pytest.raises(PermanentError) as raised:
        await official.send_subscribe(OPENID, "sub", {"thing1": "停水"})

    assert raised.value.reason == "blocked"


async def test_outside_the_48_hour_window_is_window_closed(
    official: OfficialAccountClient, fake: FakeWeChat
) -> None:
    fake.window_closed.add(OPENID)

    with pytest.raises(PermanentError) as raised:
        await official.send_text(OPENID, "迟到的回复")

    assert raised.value.reason == "window_closed"


async def test_quota_45009_is_transient_and_the_next_send_goes(
    official: OfficialAccountClient, fake: FakeWeChat
) -> None:
    fake.fail_next(errcode=45009)

    with pytest.raises(TransientError) as raised:
        await official.send_text(OPENID, "one")
    await official.send_text(OPENID, "two")

    assert raised.value.errcode == 45009
    assert not raised.value.ambiguous
    assert [s.body["text"]["content"] for s in fake.messages[OPENID]] == ["two"]


async def test_beyond_the_fake_rate_limit_sends_get_45009(
    official: OfficialAccountClient, fake: FakeWeChat
) -> None:
    await official.tokens.get()
    fake.rate_limit = 5

    results = await asyncio.gather(
        *(official.send_text(f"o_{n}", "hi") for n in range(8)), return_exceptions=True
    )

    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 3
    assert all(isinstance(e, TransientError) and e.errcode == 45009 for e in failed)
    assert fake.accepted == 5


async def test_a_slow_answer_is_a_transient_ambiguous_timeout(
    store: Store, session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    official = official_client(session, store, base_url, timeout=0.2)
    await official.tokens.get()
    fake.fail_next(delay=1.0, deliver=True)

    began = time.monotonic()
    with pytest.raises(TransientError) as raised:
        await official.send_text(OPENID, "slow")

    assert time.monotonic() - began < 0.8
    assert raised.value.ambiguous
    assert len(fake.messages[OPENID]) == 1  # WeChat may well have sent it


async def test_a_5xx_is_transient(official: OfficialAccountClient, fake: FakeWeChat) -> None:
    fake.fail_next(status=502)

    with pytest.raises(TransientError) as raised:
        await official.send_template(OPENID, "tpl", {"thing1": "a"})

    assert "502" in str(raised.value)


async def test_an_unreachable_server_is_transient_and_not_ambiguous(
    session: aiohttp.ClientSession,
) -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    official = official_client(session, MemoryStore(), base, timeout=1.0)

    with pytest.raises(TransientError) as raised:
        await official.send_text(OPENID, "hi")

    assert not raised.value.ambiguous


@pytest.mark.parametrize(
    ("errcode", "kind", "reason"),
    [
        (40001, TokenError, None),
        (40014, TokenError, None),
        (42001, TokenError, None),
        (45009, TransientError, None),
        (-1, TransientError, None),
        (43004, PermanentError, "unsubscribed"),
        (43101, PermanentError, "blocked"),
        (40003, PermanentError, "invalid_recipient"),
        (45015, PermanentError, "window_closed"),
        (40037, PermanentError, "bad_request"),
        (40164, PermanentError, "credentials"),
        (48001, PermanentError, "forbidden"),
        (99999, PermanentError, "rejected"),
    ],
)
def test_wechat_errcodes_map_to_typed_errors(
    errcode: int, kind: type[PushError], reason: str | None
) -> None:
    error = error_for(errcode, "msg")
    assert type(error) is kind
    assert error.errcode == errcode
    assert getattr(error, "reason", None) == reason


def test_wecom_errcodes_map_to_typed_errors() -> None:
    assert type(error_for(45009, api="wecom")) is TransientError
    invalid_key = error_for(93000, api="wecom")
    assert isinstance(invalid_key, PermanentError)
    assert invalid_key.reason == "invalid_key"
    assert type(error_for(40001, api="wecom")) is PermanentError


# --- WeCom group robots -----------------------------------------------------------------------


async def test_robot_text_and_markdown_land_at_the_webhook(
    store: Store, session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    robot = GroupRobot(session, store, ROBOT_KEY, base_url=base_url)

    await robot.send("3号楼明天9点到12点停水", mentioned=["@all"])
    await robot.send("**停水通知**\n> 3号楼", markdown=True)

    assert [s.body for s in fake.robot_messages[ROBOT_KEY]] == [
        {
            "msgtype": "text",
            "text": {"content": "3号楼明天9点到12点停水", "mentioned_list": ["@all"]},
        },
        {"msgtype": "markdown", "markdown": {"content": "**停水通知**\n> 3号楼"}},
    ]


async def test_25_robot_messages_keep_to_20_per_window_across_processes(
    store: Store, session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    fake.robot_window = 0.3
    # margin: the first burst opens 20 connections, and reaches the fake up to ~0.1 s late
    robots = [
        GroupRobot(session, store, ROBOT_KEY, base_url=base_url, window=0.3, margin=0.2)
        for _ in range(2)
    ]

    began = time.monotonic()
    results = await asyncio.gather(
        *(robots[n % 2].send(f"第{n}条", max_wait=2.0) for n in range(25)), return_exceptions=True
    )

    times = sorted(s.at for s in fake.robot_messages[ROBOT_KEY])
    assert not [r for r in results if r], ([round(t - began, 3) for t in times], results)
    assert len(times) == 25
    assert fake.errors[45009] == 0
    assert times[19] - began < 0.3  # the first 20 went at once
    assert all(times[i + 20] - times[i] >= 0.3 for i in range(5))  # the rest waited


async def test_robot_raises_instead_of_waiting_past_max_wait(
    store: Store, session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    robot = GroupRobot(session, store, ROBOT_KEY, base_url=base_url, window=5.0, max_wait=0.1)

    began = time.monotonic()
    results = await asyncio.gather(*(robot.send(f"{n}") for n in range(25)), return_exceptions=True)

    failed = [r for r in results if isinstance(r, BaseException)]
    # Waiting would take the 5 s window; well under it (a loaded CI machine is slow) is no wait.
    assert time.monotonic() - began < 2.0
    assert len(failed) == 5
    assert all(isinstance(e, TransientError) and (e.retry_after or 0) > 0.1 for e in failed)
    assert len(fake.robot_messages[ROBOT_KEY]) == 20


async def test_robot_waits_out_the_real_minute_on_a_controllable_clock(
    session: aiohttp.ClientSession,
) -> None:
    clock = FakeTime()
    fake = FakeWeChat(robot_keys={ROBOT_KEY}, clock=clock)
    async with serve(fake) as url:
        store = MemoryStore(clock=clock)
        robot = GroupRobot(session, store, ROBOT_KEY, base_url=url, clock=clock, sleep=clock.sleep)
        for n in range(25):
            await robot.send(f"第{n}条")

    times = [s.at - 1_000.0 for s in fake.robot_messages[ROBOT_KEY]]
    assert times[:20] == [0.0] * 20
    assert all(60.0 <= t <= 62.0 for t in times[20:])
    assert fake.errors[45009] == 0


async def test_a_robot_over_the_limit_gets_45009_as_transient(
    store: Store, session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    robot = GroupRobot(session, store, ROBOT_KEY, base_url=base_url, per_minute=30)
    for n in range(20):
        await robot.send(f"{n}")

    with pytest.raises(TransientError) as raised:
        await robot.send("21st")

    assert raised.value.errcode == 45009
    assert raised.value.retry_after == 61.0


async def test_a_robot_without_its_store_does_not_send(
    session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    robot = GroupRobot(session, DownStore(), ROBOT_KEY, base_url=base_url)

    with pytest.raises(TransientError):
        await robot.send("hi")

    assert fake.requests["robot"] == 0


async def test_an_unknown_robot_key_is_permanent(
    store: Store, session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    robot = GroupRobot(session, store, "no-such-key", base_url=base_url)

    with pytest.raises(PermanentError) as raised:
        await robot.send("hi")

    assert raised.value.reason == "invalid_key"


async def test_an_oversized_robot_message_is_refused_before_sending(
    store: Store, session: aiohttp.ClientSession, fake: FakeWeChat, base_url: str
) -> None:
    robot = GroupRobot(session, store, ROBOT_KEY, base_url=base_url)

    with pytest.raises(PermanentError) as raised:
        await robot.send("水" * 1000)  # 3,000 bytes > 2,048

    assert raised.value.reason == "bad_request"
    assert fake.requests["robot"] == 0


# --- secrets ----------------------------------------------------------------------------------


async def test_no_token_secret_openid_or_key_reaches_logs_or_errors(
    store: Store,
    session: aiohttp.ClientSession,
    fake: FakeWeChat,
    base_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    official = official_client(session, store, base_url, timeout=0.2)
    robot = GroupRobot(session, store, ROBOT_KEY, base_url=base_url, per_minute=30)
    errors: list[PushError] = []

    async def attempt(call: Awaitable[object]) -> None:
        try:
            await call
        except PushError as exc:
            errors.append(exc)

    await attempt(official.send_template(OPENID, "tpl", {"thing1": "a"}))
    fake.revoke_tokens()
    await attempt(official.send_text(OPENID, "after revoke"))
    fake.fail_next(2, errcode=40001)
    await attempt(official.send_text(OPENID, "refused twice"))
    fake.unsubscribed.add(OPENID)
    await attempt(official.send_subscribe(OPENID, "sub", {"thing1": "a"}))
    fake.fail_next(delay=1.0)
    await attempt(official.send_text("o_other", "slow"))
    fake.fail_next(status=500)
    await attempt(official.send_text("o_other", "5xx"))
    for n in range(21):
        await attempt(robot.send(f"{n}"))
    await attempt(GroupRobot(session, store, "wrong-key-123456", base_url=base_url).send("x"))
    wrong = AccessTokens(session, MemoryStore(), APPID, "wrong-secret-abc", base_url=base_url)
    await attempt(wrong.get())

    assert len(errors) == 7
    written = caplog.text + "".join(
        "".join(traceback.format_exception(e)) + repr(e) for e in errors
    )
    secrets = [SECRET, "wrong-secret-abc", ROBOT_KEY, "wrong-key-123456", OPENID, "o_other"]
    for secret in [*secrets, *fake.issued()]:
        assert secret not in written
    assert pseudonym(OPENID) in caplog.text  # the logs do speak of the follower, by pseudonym


# --- settings ---------------------------------------------------------------------------------


def test_api_bases_default_to_the_real_hosts_and_follow_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(_env_file=None)
    assert settings.wechat_api_base == "https://api.weixin.qq.com"
    assert settings.wecom_api_base == "https://qyapi.weixin.qq.com"

    monkeypatch.setenv("LINLI_WECHAT_API_BASE", "http://127.0.0.1:9001")
    monkeypatch.setenv("LINLI_WECOM_API_BASE", "http://127.0.0.1:9002")
    settings = Settings(_env_file=None)
    assert settings.wechat_api_base == "http://127.0.0.1:9001"
    assert settings.wecom_api_base == "http://127.0.0.1:9002"
