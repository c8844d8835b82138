"""One person, one resident: the follower's unionid from the official account's user info.

Whichever comes first, the follow or the mini-program sign-in, the person ends as one
resident; the follow is answered at once whatever WeChat's user-info API does.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from bot.app import follower_unionids
from bot.followers import link_followers
from bot.simulator import message_xml
from models.accounts import MiniProgramUser
from models.community import Household
from models.db import using
from models.residents import Resident
from tests.conftest import APPID
from tests.residents.mini_program import MP_APPID, fake_wechat, wired
from tests.world import bearer


@pytest.fixture
async def fake(aiohttp_server):  # type: ignore[no-untyped-def]
    return await fake_wechat(aiohttp_server)


@pytest.fixture
def settings(settings, fake):  # type: ignore[no-untyped-def]
    # The tests run the job round themselves.
    return wired(settings, fake, jobs_interval_seconds=3600.0)


async def sign_in(client, code: str):  # type: ignore[no-untyped-def]
    resp = await client.post("/api/v1/auth/miniprogram", json={"code": code})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def job_round(state, **kw):  # type: ignore[no-untyped-def]
    with using(state.db):
        if kw:
            return await link_followers(
                state.push_clients, state.settings.all_accounts(), state.store, state.clock(), **kw
            )
        return await follower_unionids(state, state.clock())


async def event_later(phone, name: str, seconds: int) -> None:  # type: ignore[no-untyped-def]
    """An event some seconds on: WeChat deduplicates events by sender and second."""
    xml = message_xml(
        phone.openid, APPID, "event", {"Event": name}, created=int(time.time()) + seconds
    )
    status, _ = await phone.push(xml)
    assert status == 200


async def residents_of(world, unionid: str) -> list[Resident]:  # type: ignore[no-untyped-def]
    with using(world.app_state.db):
        return await Resident.filter(unionid=unionid, erased_at=None)


async def test_a_follow_after_the_mini_program_joins_the_same_resident(
    client, world, fake, make_resident
):
    session = await sign_in(client, fake.wx_login(MP_APPID, "mp_first", "union_a"))
    first = session["resident"]["id"]
    fake.follow(APPID, "o_follows_later", "union_a")
    phone = make_resident("o_follows_later")
    assert await phone.event("subscribe")  # welcomed at once
    done = await job_round(world.app_state)
    assert done["merged"] == 1
    [one] = await residents_of(world, "union_a")
    assert one.id == first and one.openid == "o_follows_later" and one.active
    # The mini-program's session still works, and the chat now speaks as the same resident.
    me = await client.get("/api/v1/me", headers=bearer(session["token"]))
    assert (await me.json())["id"] == first
    await phone.say("你好")
    with using(world.app_state.db):
        assert await Resident.filter(openid="o_follows_later").count() == 1
        assert (await Resident.get(openid="o_follows_later")).id == first


async def test_the_mini_program_after_a_follow_signs_in_as_the_follower(
    client, world, fake, make_resident
):
    fake.follow(APPID, "o_follows_first", "union_b")
    phone = make_resident("o_follows_first")
    await phone.event("subscribe")
    assert (await job_round(world.app_state))["linked"] == 1
    with using(world.app_state.db):
        follower = await Resident.get(openid="o_follows_first")
    assert follower.unionid == "union_b"
    session = await sign_in(client, fake.wx_login(MP_APPID, "mp_second", "union_b"))
    assert session["resident"]["id"] == follower.id
    assert [r.id for r in await residents_of(world, "union_b")] == [follower.id]


async def test_two_residents_found_to_be_one_are_merged_with_their_household(
    client, world, fake, make_resident
):
    session = await sign_in(client, fake.wx_login(MP_APPID, "mp_both", "union_c"))
    first = session["resident"]["id"]
    fake.follow(APPID, "o_both")  # the account is not bound to the open platform yet
    phone = make_resident("o_both")
    await phone.event("subscribe")
    with using(world.app_state.db):
        from handlers.residents import service

        home = (await world.add_households(world.buildings[0], 1))[0]
        code = await service.issue_code(
            await Household.get(id=home.id).prefetch_related("building"), datetime.now(UTC), 7
        )
    await phone.say(f"绑定 {code}")
    assert (await job_round(world.app_state))["no_unionid"] == 1
    # Later the account is bound to the open platform, and the next follow tells.
    fake.follow(APPID, "o_both", "union_c")
    await event_later(phone, "unsubscribe", 1)
    await event_later(phone, "subscribe", 2)  # a new follow is asked about again
    with using(world.app_state.db):
        follower = await Resident.get(openid="o_both")
        assert follower.household_id == home.id and follower.verified
    assert (await job_round(world.app_state))["merged"] == 1
    me = await (await client.get("/api/v1/me", headers=bearer(session["token"]))).json()
    assert me["id"] == first and me["verified"] is True and me["household"]
    with using(world.app_state.db):
        assert await service.find(world.community.id, "o_both") is not None
        assert (await Resident.get(id=follower.id)).erased_at is not None


async def test_a_mini_program_resident_whose_unionid_comes_later_joins_the_follower(
    client, world, fake, make_resident
):
    # Signed in before the mini-program was bound to the open platform: no unionid.
    early = await sign_in(client, fake.wx_login(MP_APPID, "mp_early"))
    fake.follow(APPID, "o_early", "union_d")
    await make_resident("o_early").event("subscribe")
    assert (await job_round(world.app_state))["linked"] == 1
    later = await sign_in(client, fake.wx_login(MP_APPID, "mp_early", "union_d"))
    assert later["resident"]["id"] == early["resident"]["id"]
    [one] = await residents_of(world, "union_d")
    assert one.id == early["resident"]["id"] and one.openid == "o_early"
    with using(world.app_state.db):
        assert await MiniProgramUser.filter(resident_id=one.id).count() == 1


@pytest.mark.parametrize("fault", [{"delay": 10.0}, {"status": 502}, {"errcode": -1}])
async def test_a_slow_or_down_user_info_never_delays_nor_loses_the_follow(
    client, world, fake, make_resident, fault
):
    await sign_in(client, fake.wx_login(MP_APPID, "mp_slow", "union_e"))
    fake.follow(APPID, "o_slow", "union_e")
    fake.fail_next(api="user_info", **fault)
    phone = make_resident("o_slow")
    started = time.monotonic()
    welcome = await phone.event("subscribe")
    assert welcome and time.monotonic() - started < 2.0
    started = time.monotonic()
    done = await job_round(world.app_state, timeout=0.5)
    assert done["later"] == 1 and time.monotonic() - started < 2.0
    with using(world.app_state.db):
        follower = await Resident.get(openid="o_slow")
    assert follower.active and follower.erased_at is None
    # WeChat answers again: the next round links them.
    assert (await job_round(world.app_state))["merged"] == 1
    assert len(await residents_of(world, "union_e")) == 1


async def test_a_follower_without_a_unionid_is_asked_once(client, world, fake, make_resident):
    fake.follow(APPID, "o_no_union")
    await make_resident("o_no_union").event("subscribe")
    assert (await job_round(world.app_state))["no_unionid"] == 1
    asked = fake.requests["user_info"]
    assert sum((await job_round(world.app_state)).values()) == 0
    assert fake.requests["user_info"] == asked


async def test_the_retired_residents_session_ends_and_signing_in_again_finds_the_kept_one(
    client, world, fake, make_resident
):
    fake.follow(APPID, "o_older", "union_f")
    fake.fail_next(api="user_info", status=502)
    await make_resident("o_older").event("subscribe")
    assert (await job_round(world.app_state))["later"] == 1  # WeChat down: not linked yet
    with using(world.app_state.db):
        older = await Resident.get(openid="o_older")
    newer = await sign_in(client, fake.wx_login(MP_APPID, "mp_newer", "union_f"))
    assert newer["resident"]["id"] != older.id
    assert (await job_round(world.app_state))["merged"] == 1
    gone = await client.get("/api/v1/me", headers=bearer(newer["token"]))
    assert gone.status == 401
    again = await sign_in(client, fake.wx_login(MP_APPID, "mp_newer", "union_f"))
    assert again["resident"]["id"] == older.id
    assert [r.id for r in await residents_of(world, "union_f")] == [older.id]
