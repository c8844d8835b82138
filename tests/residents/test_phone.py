"""The resident's phone number from the mini-program's getPhoneNumber button.

At sign-in (``phone_code`` beside the ``wx.login`` code) or later (``POST /api/v1/me/phone``),
through WeChat's ``getuserphonenumber`` on the fake; refused codes and a WeChat that is down
never fail the sign-in, and the number goes into no log and no answer to anyone else.
"""

from __future__ import annotations

import logging

import pytest

from handlers.residents.accounts import mask_phone
from models.audit import AuditLog
from models.db import using
from models.residents import Resident
from tests.residents.mini_program import MP_APPID, fake_wechat, wired
from tests.world import bearer

PHONE = "13812348000"


@pytest.fixture
async def fake(aiohttp_server):  # type: ignore[no-untyped-def]
    return await fake_wechat(aiohttp_server)


@pytest.fixture
def settings(settings, fake):  # type: ignore[no-untyped-def]
    return wired(settings, fake)


async def sign_in(client, fake, openid: str, phone_code: str | None = None):  # type: ignore[no-untyped-def]
    body = {"code": fake.wx_login(MP_APPID, openid)}
    if phone_code is not None:
        body["phone_code"] = phone_code
    resp = await client.post("/api/v1/auth/miniprogram", json=body)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def stored_phone(world, resident_id: int) -> str | None:  # type: ignore[no-untyped-def]
    with using(world.app_state.db):
        return (await Resident.get(id=resident_id)).phone


OURS = ("bot", "handlers", "models", "aiohttp.access")


async def test_the_phone_comes_with_the_sign_in(client, world, fake, caplog):
    for name in OURS:
        caplog.set_level(logging.DEBUG, logger=name)
    session = await sign_in(client, fake, "mp_phone_1", fake.phone_code(MP_APPID, PHONE))
    assert session["phone"] == {"saved": True, "error": None}
    assert await stored_phone(world, session["resident"]["id"]) == PHONE
    me = await (await client.get("/api/v1/me", headers=bearer(session["token"]))).json()
    assert me["phone"] == "138****8000"
    # Personal data: in no log line, and the audit says only that a number was set.
    # (The database driver's own DEBUG lines echo SQL parameters: never on in production.)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(OURS)]
    assert ours and not [line for line in ours if PHONE in line]
    with using(world.app_state.db):
        entry = await AuditLog.get(action="resident.phone_set")
    assert PHONE not in str(entry.before) + str(entry.after)


async def test_the_phone_comes_later_from_the_me_phone_call(client, world, fake):
    session = await sign_in(client, fake, "mp_phone_2")
    assert "phone" not in session or session["phone"] is None
    assert await stored_phone(world, session["resident"]["id"]) is None
    resp = await client.post(
        "/api/v1/me/phone",
        json={"code": fake.phone_code(MP_APPID, PHONE)},
        headers=bearer(session["token"]),
    )
    assert resp.status == 200
    assert await resp.json() == {"phone": "138****8000"}
    assert await stored_phone(world, session["resident"]["id"]) == PHONE
    # The mini-program's access token was fetched once and is reused from the store.
    again = await client.post(
        "/api/v1/me/phone",
        json={"code": fake.phone_code(MP_APPID, "13900001111")},
        headers=bearer(session["token"]),
    )
    assert again.status == 200
    assert fake.token_fetches[MP_APPID] == 1
    assert await stored_phone(world, session["resident"]["id"]) == "13900001111"


async def test_a_bad_phone_code_does_not_fail_the_sign_in(client, world, fake):
    session = await sign_in(client, fake, "mp_phone_3", "PHONE_forged_code")
    assert session["token"]
    assert session["phone"]["saved"] is False
    assert session["phone"]["error"]["code"] == "residents.phone.error.code_invalid"
    assert session["phone"]["error"]["message"]
    assert await stored_phone(world, session["resident"]["id"]) is None
    # A spent code is refused the same way by the later call, as a 422.
    code = fake.phone_code(MP_APPID, PHONE)
    headers = bearer(session["token"])
    assert (await client.post("/api/v1/me/phone", json={"code": code}, headers=headers)).ok
    resp = await client.post("/api/v1/me/phone", json={"code": code}, headers=headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "residents.phone.error.code_invalid"


@pytest.mark.parametrize("fault", [{"status": 502}, {"errcode": -1}, {"delay": 5.0}])
async def test_wechat_down_gives_a_clear_message_and_the_sign_in_still_works(
    client, world, fake, fault
):
    fake.fail_next(api="phone", **fault)
    session = await sign_in(client, fake, "mp_phone_4", fake.phone_code(MP_APPID, PHONE))
    assert session["phone"]["saved"] is False
    assert session["phone"]["error"]["code"] == "residents.phone.error.wechat_unavailable"
    me = await client.get("/api/v1/me", headers=bearer(session["token"]))
    assert me.status == 200
    fake.fail_next(api="phone", **fault)
    resp = await client.post(
        "/api/v1/me/phone",
        json={"code": fake.phone_code(MP_APPID, PHONE)},
        headers=bearer(session["token"]),
    )
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "residents.phone.error.wechat_unavailable"


async def test_the_phone_api_quota_is_ours_to_fix_not_the_residents(client, world, fake):
    session = await sign_in(client, fake, "mp_phone_5")
    fake.fail_next(api="phone", errcode=1400001)
    resp = await client.post(
        "/api/v1/me/phone",
        json={"code": fake.phone_code(MP_APPID, PHONE)},
        headers=bearer(session["token"]),
    )
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "residents.phone.error.unavailable"


@pytest.mark.parametrize("payload", [{}, {"code": ""}, {"code": 42}, {"code": "x" * 200}])
async def test_a_malformed_phone_code_is_a_400(client, world, fake, payload):
    session = await sign_in(client, fake, "mp_phone_6")
    resp = await client.post("/api/v1/me/phone", json=payload, headers=bearer(session["token"]))
    assert resp.status == 400


async def test_the_phone_needs_a_session(client, world, fake):
    resp = await client.post("/api/v1/me/phone", json={"code": "PHONE_x"})
    assert resp.status == 401


async def test_my_data_shows_the_phone_masked_and_erasure_clears_it(
    client, world, fake, make_resident
):
    phone = make_resident("o_phone_follower")
    await phone.say("你好")
    with using(world.app_state.db):
        person = await Resident.get(openid="o_phone_follower")
        person.phone = PHONE
        await person.save()
    text = await phone.say("我的信息")
    assert "138****8000" in text and PHONE not in text
    await phone.say("删除我的信息")
    await phone.say("1")
    with using(world.app_state.db):
        assert (await Resident.get(id=person.id)).phone is None


@pytest.mark.parametrize(
    ("phone", "shown"),
    [
        ("13812348000", "138****8000"),
        ("+8613812348000", "138****8000"),
        ("+12025550123", "********0123"),
        ("110", "***"),
    ],
)
def test_a_phone_is_shown_masked(phone, shown):
    assert mask_phone(phone) == shown
