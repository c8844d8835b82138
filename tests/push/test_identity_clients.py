"""The identity calls of the push clients against the fake WeChat: a follower's unionid
(``cgi-bin/user/info``) and a mini-program user's phone number (``getuserphonenumber``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.push import AccessTokens, OfficialAccountClient, PermanentError, TransientError
from bot.push.miniprogram import MiniProgramClient
from handlers.types import PhoneRefused
from tests.fakes import FakeWeChat, start

OA_APPID, OA_SECRET = "wxidentity0000001", "identity-oa-secret-0123456789ab"
MP_APPID, MP_SECRET = "wxidentitymp00001", "identity-mp-secret-0123456789ab"


@pytest.fixture
def fake() -> FakeWeChat:
    return FakeWeChat({OA_APPID: OA_SECRET, MP_APPID: MP_SECRET})


@pytest.fixture
async def base_url(fake: FakeWeChat, aiohttp_server: Any) -> str:
    return await start(fake, aiohttp_server)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def official(session: aiohttp.ClientSession, store: Any, base_url: str) -> OfficialAccountClient:
    tokens = AccessTokens(session, store, OA_APPID, OA_SECRET, base_url=base_url, timeout=2.0)
    return OfficialAccountClient(session, tokens, base_url=base_url, timeout=2.0)


def mini_program(session: aiohttp.ClientSession, store: Any, base_url: str) -> MiniProgramClient:
    return MiniProgramClient(
        session, MP_APPID, MP_SECRET, base_url=base_url, timeout=1.0, store=store
    )


async def test_the_unionid_of_a_follower_and_of_one_without(fake, base_url, session, store):
    client = official(session, store, base_url)
    fake.follow(OA_APPID, "o_bound", "union_1")
    fake.follow(OA_APPID, "o_unbound")
    assert await client.unionid_of("o_bound") == "union_1"
    assert await client.unionid_of("o_unbound") is None
    with pytest.raises(PermanentError) as refused:
        await client.unionid_of("o_stranger")
    assert refused.value.errcode == 40003


async def test_a_refused_token_is_refreshed_once_for_user_info(fake, base_url, session, store):
    client = official(session, store, base_url)
    fake.follow(OA_APPID, "o_bound", "union_1")
    assert await client.unionid_of("o_bound") == "union_1"
    fake.revoke_tokens(OA_APPID)
    assert await client.unionid_of("o_bound") == "union_1"
    assert fake.token_fetches[OA_APPID] == 2


async def test_a_tight_timeout_bounds_the_user_info_call(fake, base_url, session, store):
    client = official(session, store, base_url)
    fake.follow(OA_APPID, "o_bound", "union_1")
    fake.fail_next(api="user_info", delay=5.0)
    with pytest.raises(TransientError):
        await client.unionid_of("o_bound", timeout=0.2)


async def test_the_phone_number_uses_the_mini_programs_own_cached_token(
    fake, base_url, session, store
):
    client = mini_program(session, store, base_url)
    assert await client.phone_number(fake.phone_code(MP_APPID, "13812348000")) == "13812348000"
    assert await client.phone_number(fake.phone_code(MP_APPID, "+12025550123")) == "+12025550123"
    assert fake.token_fetches == {MP_APPID: 1}
    fake.revoke_tokens(MP_APPID)
    assert await client.phone_number(fake.phone_code(MP_APPID, "13900001111")) == "13900001111"
    assert fake.token_fetches[MP_APPID] == 2


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"errcode": 40029}, "invalid"),
        ({"errcode": -1}, "busy"),
        ({"status": 503}, "busy"),
        ({"delay": 3.0}, "busy"),
        ({"errcode": 1400001}, "unavailable"),
        ({"errcode": 40013}, "unavailable"),
    ],
)
async def test_phone_refusals_say_whose_to_fix(fake, base_url, session, store, fault, reason):
    client = mini_program(session, store, base_url)
    fake.fail_next(api="phone", **fault)
    with pytest.raises(PhoneRefused) as refused:
        await client.phone_number(fake.phone_code(MP_APPID, "13812348000"))
    assert refused.value.reason == reason


async def test_a_phone_code_of_another_mini_program_is_invalid(fake, base_url, session, store):
    client = mini_program(session, store, base_url)
    with pytest.raises(PhoneRefused) as refused:
        await client.phone_number(fake.phone_code(OA_APPID, "13812348000"))
    assert refused.value.reason == "invalid"


async def test_without_a_store_there_is_no_phone_api(base_url, session):
    client = MiniProgramClient(session, MP_APPID, MP_SECRET, base_url=base_url)
    with pytest.raises(PhoneRefused) as refused:
        await client.phone_number("PHONE_x")
    assert refused.value.reason == "unavailable"
