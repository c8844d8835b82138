"""Signing in: console passwords, mini-program codes through code2Session, the login QR."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.simulator import message_xml, reply_text
from handlers.residents import accounts
from handlers.residents.accounts import SignInRefused
from models.accounts import ConsoleLogin, MiniProgramUser
from models.audit import AuditLog
from models.db import using
from models.residents import Resident
from tests.conftest import APPID
from tests.fakes import FakeWeChat, start
from tests.world import bearer

MP_APPID = "wxminiprogram00001"
MP_SECRET = "miniprogram-secret-0123456789abcd"
OA_SECRET = "official-account-secret-01234567"
PASSWORD = "correct horse battery"
CREDENTIALS = {"login": "wang.li", "password": PASSWORD}


@pytest.fixture
async def fake(aiohttp_server):  # type: ignore[no-untyped-def]
    made = FakeWeChat(apps={MP_APPID: MP_SECRET, APPID: OA_SECRET})
    made.base_url = await start(made, aiohttp_server)  # type: ignore[attr-defined]
    return made


@pytest.fixture
def settings(settings, fake):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "api_sign_in_rate_per_address": 1000,  # the per-login lockout is under test
            "miniprogram_appid": MP_APPID,
            "miniprogram_secret": MP_SECRET,
            "miniprogram_community": "test",
            "wechat_appsecret": OA_SECRET,
            "wechat_api_base": fake.base_url,
        }
    )


async def error_of(resp) -> str:  # type: ignore[no-untyped-def]
    body = await resp.json()
    assert set(body) == {"error"} and body["error"]["message"]
    return body["error"]["code"]


async def worker_with_password(world, login: str = "wang.li"):  # type: ignore[no-untyped-def]
    with using(world.app_state.db):
        person = await world.worker()
        await accounts.set_password(person, login, PASSWORD)
    return person


# --- passwords --------------------------------------------------------------------------------


async def test_a_worker_signs_in_with_a_password_and_signs_out(client, world):
    person = await worker_with_password(world)
    resp = await client.post(
        "/api/v1/auth/password", json={"login": "wang.li", "password": PASSWORD}
    )
    assert resp.status == 200
    session = await resp.json()
    assert session["resident"]["id"] == person.id
    assert "community_worker" in session["resident"]["roles"]
    me = await client.get("/api/v1/me", headers=bearer(session["token"]))
    assert (await me.json())["id"] == person.id
    out = await client.post("/api/v1/auth/logout", headers=bearer(session["token"]))
    assert out.status == 200
    again = await client.get("/api/v1/me", headers=bearer(session["token"]))
    assert again.status == 401


@pytest.mark.parametrize(
    ("login", "password"),
    [("wang.li", "wrong password!"), ("nobody", PASSWORD), ("wang.li", PASSWORD + " ")],
)
async def test_wrong_login_or_password_get_one_answer(client, world, login, password):
    await worker_with_password(world)
    resp = await client.post("/api/v1/auth/password", json={"login": login, "password": password})
    assert resp.status == 401
    assert await error_of(resp) == "auth.error.bad_password"


async def test_the_hash_is_argon2_and_never_the_password(world):
    person = await worker_with_password(world)
    with using(world.app_state.db):
        row = await ConsoleLogin.get(resident_id=person.id)
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash


async def test_only_workers_get_a_password_and_it_must_be_long(world):
    with using(world.app_state.db):
        plain = await world.resident(world.households[0] if world.households else None)
        with pytest.raises(SignInRefused) as refused:
            await accounts.set_password(plain, "plain", PASSWORD)
        assert (refused.value.code, refused.value.status) == ("auth.error.not_worker", 403)
        person = await world.worker()
        with pytest.raises(SignInRefused) as weak:
            await accounts.set_password(person, "short", "short")
        assert (weak.value.code, weak.value.status) == ("auth.error.weak_password", 400)


async def test_a_worker_whose_role_was_withdrawn_can_no_longer_sign_in(client, world):
    person = await worker_with_password(world)
    with using(world.app_state.db):
        from models.residents import RoleAssignment

        await RoleAssignment.filter(resident_id=person.id).delete()
    resp = await client.post(
        "/api/v1/auth/password", json={"login": "wang.li", "password": PASSWORD}
    )
    assert resp.status == 401


async def test_ten_wrong_passwords_lock_the_login_from_that_address(client, world, settings):
    await worker_with_password(world)
    wrong = {"login": "wang.li", "password": "not the password"}
    for _ in range(accounts.LOCKOUT_FAILURES):
        assert (await client.post("/api/v1/auth/password", json=wrong)).status == 401
    # Locked: even the right password waits, and the answer says how long.
    resp = await client.post("/api/v1/auth/password", json=CREDENTIALS)
    assert resp.status == 429
    assert resp.headers["Retry-After"] == str(accounts.LOCKOUT_SECONDS)
    assert await error_of(resp) == "auth.error.locked"
    # Another login is not affected, and a login that does not exist locks the same way.
    with using(world.app_state.db):
        other = await world.worker()
        await accounts.set_password(other, "li.na", PASSWORD)
    ok = await client.post("/api/v1/auth/password", json={"login": "li.na", "password": PASSWORD})
    assert ok.status == 200
    ghost = {"login": "nobody.here", "password": "x"}
    answers = [
        (await client.post("/api/v1/auth/password", json=ghost)).status
        for _ in range(accounts.LOCKOUT_FAILURES + 1)
    ]
    assert answers == [401] * accounts.LOCKOUT_FAILURES + [429]


async def test_a_right_password_clears_earlier_failures(client, world):
    await worker_with_password(world)
    wrong = {"login": "wang.li", "password": "not the password"}
    for _ in range(accounts.LOCKOUT_FAILURES - 1):
        await client.post("/api/v1/auth/password", json=wrong)
    assert (await client.post("/api/v1/auth/password", json=CREDENTIALS)).status == 200
    assert (await client.post("/api/v1/auth/password", json=wrong)).status == 401
    assert (await client.post("/api/v1/auth/password", json=CREDENTIALS)).status == 200


async def test_wrong_passwords_sent_at_once_get_no_more_checks_than_the_limit(client, world):
    await worker_with_password(world)
    wrong = {"login": "wang.li", "password": "not the password"}
    answers = await asyncio.gather(
        *(client.post("/api/v1/auth/password", json=wrong) for _ in range(20))
    )
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [401] * accounts.LOCKOUT_FAILURES + [429] * (20 - accounts.LOCKOUT_FAILURES)


async def test_a_stranger_locks_a_login_only_from_their_own_address(world):
    await worker_with_password(world)
    store = world.app_state.store
    with using(world.app_state.db):
        for _ in range(accounts.LOCKOUT_FAILURES):
            with pytest.raises(SignInRefused) as wrong:
                await accounts.sign_in_with_password(store, "wang.li", "guess", "203.0.113.9")
            assert wrong.value.code == "auth.error.bad_password"
        with pytest.raises(SignInRefused) as locked:
            await accounts.sign_in_with_password(store, "wang.li", PASSWORD, "203.0.113.9")
        assert (locked.value.code, locked.value.status) == ("auth.error.locked", 429)
        # The worker, from the office, is not locked out by the stranger.
        person = await accounts.sign_in_with_password(store, "wang.li", PASSWORD, "198.51.100.7")
    assert person.id


async def test_a_login_locks_everywhere_only_past_a_much_higher_count(world, monkeypatch):
    monkeypatch.setattr(accounts, "LOGIN_LOCKOUT_FAILURES", 3 * accounts.LOCKOUT_FAILURES)
    await worker_with_password(world)
    store = world.app_state.store
    with using(world.app_state.db):
        for n in range(3):
            # Each address keeps trying past its own lock: those attempts add nothing more.
            for _ in range(accounts.LOCKOUT_FAILURES + 5):
                with pytest.raises(SignInRefused):
                    await accounts.sign_in_with_password(store, "wang.li", "guess", f"10.0.0.{n}")
        with pytest.raises(SignInRefused) as locked:
            await accounts.sign_in_with_password(store, "wang.li", PASSWORD, "198.51.100.7")
        assert locked.value.code == "auth.error.locked"


# --- mini-program -----------------------------------------------------------------------------


async def sign_in(client, code: str):  # type: ignore[no-untyped-def]
    return await client.post("/api/v1/auth/miniprogram", json={"code": code})


async def test_a_mini_program_code_signs_a_new_resident_in(client, world, fake):
    resp = await sign_in(client, fake.wx_login(MP_APPID, "mp_openid_1"))
    assert resp.status == 200
    session = await resp.json()
    assert session["resident"]["verified"] is False
    with using(world.app_state.db):
        link = await MiniProgramUser.get(appid=MP_APPID, openid="mp_openid_1")
        assert link.resident_id == session["resident"]["id"]
    # Next time, a fresh code, the same resident.
    again = await sign_in(client, fake.wx_login(MP_APPID, "mp_openid_1"))
    assert (await again.json())["resident"]["id"] == session["resident"]["id"]


async def test_the_unionid_links_to_the_official_account_resident(client, world, fake):
    with using(world.app_state.db):
        home = (await world.add_households(world.buildings[0], 1))[0]
        known = await world.resident(home)
        known.unionid = "union_42"
        await known.save()
    resp = await sign_in(client, fake.wx_login(MP_APPID, "mp_openid_2", unionid="union_42"))
    session = await resp.json()
    assert session["resident"]["id"] == known.id
    assert session["resident"]["verified"] is True
    with using(world.app_state.db):
        assert await AuditLog.filter(action="resident.linked_miniprogram").count() == 1


async def test_a_reused_code_is_refused_without_asking_wechat_again(client, world, fake):
    code = fake.wx_login(MP_APPID, "mp_openid_3")
    assert (await sign_in(client, code)).status == 200
    asked = fake.requests["code2session"]
    resp = await sign_in(client, code)
    assert resp.status == 401
    assert await error_of(resp) == "auth.error.code_used"
    assert fake.requests["code2session"] == asked


async def test_a_code_wechat_already_spent_is_refused(client, world, fake, app_state):
    code = fake.wx_login(MP_APPID, "mp_openid_4")
    assert (await sign_in(client, code)).status == 200
    # Another service process, which never saw this code: WeChat answers 40163.
    await app_state.store.delete(accounts._code_key(code))
    resp = await sign_in(client, code)
    assert resp.status == 401
    assert await error_of(resp) == "auth.error.code_used"


@pytest.mark.parametrize("code", ["not-a-code", "CODE_forged0000000000"])
async def test_a_bad_code_is_refused(client, world, fake, code):
    resp = await sign_in(client, code)
    assert resp.status == 401
    assert await error_of(resp) == "auth.error.code_invalid"
    with using(world.app_state.db):
        assert await MiniProgramUser.all().count() == 0


@pytest.mark.parametrize("payload", [{}, {"code": ""}, {"code": 42}, {"code": "x" * 200}])
async def test_a_malformed_sign_in_is_a_400(client, world, payload):
    resp = await client.post("/api/v1/auth/miniprogram", json=payload)
    assert resp.status == 400
    assert await error_of(resp) == "api.error.bad_field"


async def test_wechat_down_is_a_503_and_the_same_code_works_after(client, world, fake):
    code = fake.wx_login(MP_APPID, "mp_openid_5")
    fake.fail_next(api="code2session", status=502)
    resp = await sign_in(client, code)
    assert resp.status == 503
    assert await error_of(resp) == "auth.error.wechat_unavailable"
    assert (await sign_in(client, code)).status == 200


async def test_two_first_sign_ins_at_once_make_one_resident(client, world, fake):
    codes = [fake.wx_login(MP_APPID, "mp_openid_6") for _ in range(4)]
    answers = await asyncio.gather(*(sign_in(client, c) for c in codes))
    ids = {(await a.json())["resident"]["id"] for a in answers}
    assert len(ids) == 1
    with using(world.app_state.db):
        assert await MiniProgramUser.filter(openid="mp_openid_6").count() == 1


async def test_a_mini_program_resident_binds_a_household_by_code(client, world, fake):
    with using(world.app_state.db):
        person = await world.worker()
        worker_token = await accounts_token(world, person)
    homes = await client.get("/api/v1/households", headers=bearer(worker_token))
    assert homes.status == 200
    with using(world.app_state.db):
        home = (await world.add_households(world.buildings[1], 1))[0]
    issued = await client.post(
        f"/api/v1/households/{home.id}/binding-code", headers=bearer(worker_token)
    )
    assert issued.status == 201
    code = (await issued.json())["code"]
    session = await (await sign_in(client, fake.wx_login(MP_APPID, "mp_openid_7"))).json()
    bound = await client.post(
        "/api/v1/me/binding", json={"code": code}, headers=bearer(session["token"])
    )
    assert bound.status == 200
    me = await bound.json()
    assert me["verified"] is True and me["household"]
    reused = await client.post(
        "/api/v1/me/binding", json={"code": code}, headers=bearer(session["token"])
    )
    assert reused.status == 409
    listed = await client.get(
        f"/api/v1/households?building={world.buildings[1].id}", headers=bearer(worker_token)
    )
    row = next(i for i in (await listed.json())["items"] if i["id"] == home.id)
    assert row["verified_residents"] == 1 and row["code"] is None


async def accounts_token(world, person) -> str:  # type: ignore[no-untyped-def]
    from handlers.sessions import issue

    return await issue(world.app_state.store, person.id)


async def test_residents_cannot_list_households_or_issue_codes(client, world, fake):
    session = await (await sign_in(client, fake.wx_login(MP_APPID, "mp_openid_8"))).json()
    headers = bearer(session["token"])
    assert (await client.get("/api/v1/households", headers=headers)).status == 403
    resp = await client.post("/api/v1/households/1/binding-code", headers=headers)
    assert resp.status == 403


@pytest.mark.parametrize(
    ("query", "name"),
    [("building=0", "building"), ("building=abc", "building"), ("building=1.5", "building")],
)
async def test_a_building_filter_that_is_no_id_is_refused(client, world, query, name):
    with using(world.app_state.db):
        worker_token = await accounts_token(world, await world.worker())
    resp = await client.get(f"/api/v1/households?{query}", headers=bearer(worker_token))
    assert resp.status == 400
    body = await resp.json()
    assert body["error"]["code"] == "api.error.bad_filter" and name in body["error"]["message"]


async def test_a_grid_worker_sees_the_household_register(client, world):
    from models.residents import Role

    with using(world.app_state.db):
        worker_token = await accounts_token(world, await world.worker(Role.GRID_WORKER))
    resp = await client.get("/api/v1/households", headers=bearer(worker_token))
    assert resp.status == 200, await resp.text()


@pytest.mark.parametrize(
    "payload",
    [
        {"login": "wang.li"},
        {"login": "wang.li", "password": "   "},
        {"login": 42, "password": PASSWORD},
        {"login": None, "password": PASSWORD},
    ],
)
async def test_a_malformed_password_sign_in_is_a_400(client, world, payload):
    await worker_with_password(world)
    resp = await client.post("/api/v1/auth/password", json=payload)
    assert resp.status == 400
    assert await error_of(resp) == "api.error.bad_field"


async def test_spaces_around_the_login_are_ignored(client, world):
    person = await worker_with_password(world)
    resp = await client.post(
        "/api/v1/auth/password", json={"login": "  wang.li ", "password": PASSWORD}
    )
    assert resp.status == 200
    assert (await resp.json())["resident"]["id"] == person.id


@pytest.mark.parametrize("payload", [{"code": 12345678}, {"code": " "}, {}, {"code": "A" * 33}])
async def test_a_binding_code_that_is_no_text_is_a_400(client, world, fake, payload):
    session = await (await sign_in(client, fake.wx_login(MP_APPID, "mp_openid_9"))).json()
    resp = await client.post("/api/v1/me/binding", json=payload, headers=bearer(session["token"]))
    assert resp.status == 400
    assert await error_of(resp) == "api.error.bad_field"


# --- login QR ---------------------------------------------------------------------------------


CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


async def start_qr(client, user_agent: str = CHROME_ON_WINDOWS):  # type: ignore[no-untyped-def]
    return await (await client.post("/api/v1/auth/qr", headers={"User-Agent": user_agent})).json()


async def poll_qr(client, started, secret: str | None = None):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/auth/qr/{started['ticket']}",
        json={"secret": started["secret"] if secret is None else secret},
    )


async def qr_worker(world, make_resident, openid: str):  # type: ignore[no-untyped-def]
    phone = make_resident(openid)
    await phone.say("你好")  # following: the resident row exists
    with using(world.app_state.db):
        from models.residents import Role, RoleAssignment

        person = await Resident.get(openid=openid)
        await RoleAssignment.create(
            resident=person, role=Role.COMMUNITY_WORKER, community=world.community
        )
    return phone, person


def scan_xml(phone, scene: str, later: int = 1) -> str:  # type: ignore[no-untyped-def]
    # Seconds apart: WeChat deduplicates events by sender and second.
    return message_xml(
        phone.openid,
        APPID,
        "event",
        {"Event": "SCAN", "EventKey": scene},
        created=int(time.time()) + later,
    )


async def test_a_worker_signs_in_by_scanning_the_login_qr_and_confirming(
    client, world, fake, make_resident
):
    started = await start_qr(client)
    assert started["qr_url"].startswith("https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=")
    assert fake.qr_scenes == [started["scene"]]
    assert (await (await poll_qr(client, started)).json())["status"] == "pending"

    phone = make_resident("o_worker_scan")
    await phone.say("你好")
    with using(world.app_state.db):
        person = await Resident.get(openid="o_worker_scan")
    plain_reply = await phone.event("SCAN", started["scene"])
    assert plain_reply == world.app_state.translate("zh_Hans", "auth.qr.not_worker")
    assert (await (await poll_qr(client, started)).json())["status"] == "pending"

    with using(world.app_state.db):
        from models.residents import Role, RoleAssignment

        await RoleAssignment.create(
            resident=person, role=Role.COMMUNITY_WORKER, community=world.community
        )
    _, raw = await phone.push(scan_xml(phone, started["scene"]))
    assert reply_text(raw) == world.app_state.translate(
        "zh_Hans", "auth.qr.confirm", address="127.0.*.*", device="Chrome · Windows"
    )
    assert await phone.say("1") == world.app_state.translate("zh_Hans", "auth.qr.signed_in")
    done = await (await poll_qr(client, started)).json()
    assert done["status"] == "signed_in"
    assert done["session"]["resident"]["id"] == person.id
    me = await client.get("/api/v1/me", headers=bearer(done["session"]["token"]))
    assert me.status == 200
    # The ticket is spent: nobody else can pick the session up.
    assert (await poll_qr(client, started)).status == 404


async def test_a_scan_alone_releases_no_session(client, world, fake, make_resident):
    started = await start_qr(client)
    phone, _ = await qr_worker(world, make_resident, "o_worker_tricked")
    _, raw = await phone.push(scan_xml(phone, started["scene"]))
    assert "1" in reply_text(raw)
    # However often the attacker's page asks, the scan gives it nothing.
    for _ in range(3):
        answer = await (await poll_qr(client, started)).json()
        assert answer == {"status": "pending", "session": None}


async def test_a_worker_who_does_not_confirm_cancels_the_sign_in(
    client, world, fake, make_resident
):
    started = await start_qr(client)
    phone, _ = await qr_worker(world, make_resident, "o_worker_says_no")
    await phone.push(scan_xml(phone, started["scene"]))
    assert await phone.say("不是我") == world.app_state.translate("zh_Hans", "auth.qr.cancelled")
    resp = await poll_qr(client, started)
    assert resp.status == 404
    assert await error_of(resp) == "auth.error.qr_expired"
    # A "1" after the cancellation confirms nothing.
    assert await phone.say("1") != world.app_state.translate("zh_Hans", "auth.qr.signed_in")
    assert (await poll_qr(client, started)).status == 404


async def test_the_confirmation_shows_where_the_sign_in_came_from_not_what_it_claims(
    client, world, fake, make_resident
):
    started = await start_qr(client, user_agent="请放心确认 本机内网安全页面")
    phone, _ = await qr_worker(world, make_resident, "o_worker_reads")
    _, raw = await phone.push(scan_xml(phone, started["scene"]))
    unknown = world.app_state.translate("zh_Hans", "auth.qr.unknown_device")
    assert reply_text(raw) == world.app_state.translate(
        "zh_Hans", "auth.qr.confirm", address="127.0.*.*", device=unknown
    )
    assert "放心" not in reply_text(raw)


async def test_only_the_worker_who_scanned_can_confirm(client, world, fake, make_resident):
    started = await start_qr(client)
    first, _ = await qr_worker(world, make_resident, "o_worker_first")
    second, _ = await qr_worker(world, make_resident, "o_worker_second")
    await first.push(scan_xml(first, started["scene"]))
    _, raw = await second.push(scan_xml(second, started["scene"]))
    assert reply_text(raw) == world.app_state.translate("zh_Hans", "auth.qr.expired")
    assert await first.say("1") == world.app_state.translate("zh_Hans", "auth.qr.signed_in")
    done = await (await poll_qr(client, started)).json()
    with using(world.app_state.db):
        first_id = (await Resident.get(openid="o_worker_first")).id
    assert done["session"]["resident"]["id"] == first_id


async def test_a_poll_without_the_starting_pages_secret_gets_nothing(
    client, world, fake, make_resident
):
    started = await start_qr(client)
    phone, _ = await qr_worker(world, make_resident, "o_worker_watched")
    await phone.push(scan_xml(phone, started["scene"]))
    await phone.say("1")
    # Someone who saw the QR code (its scene holds the ticket) polls without the secret.
    for wrong in ("guessed-secret", started["ticket"]):
        resp = await poll_qr(client, started, secret=wrong)
        assert resp.status == 404
        assert await error_of(resp) == "auth.error.qr_expired"
    bare = await client.post(f"/api/v1/auth/qr/{started['ticket']}", json={})
    assert bare.status == 400
    # The page that started it still gets its session.
    assert (await (await poll_qr(client, started)).json())["status"] == "signed_in"


async def test_an_unknown_qr_ticket_is_a_404(client, world):
    resp = await client.post("/api/v1/auth/qr/NoSuchTicket123", json={"secret": "x"})
    assert resp.status == 404
    assert await error_of(resp) == "auth.error.qr_expired"


@pytest.mark.parametrize("ticket", ["short", "has.a.dot.in.it", "x" * 65, "%E4%BD%A0%E5%A5%BD" * 2])
async def test_a_ticket_the_document_does_not_allow_is_a_404(client, world, ticket):
    resp = await client.post(f"/api/v1/auth/qr/{ticket}", json={"secret": "x"})
    assert resp.status == 404
    assert await error_of(resp) == "auth.error.qr_expired"


# --- bodies other sites could send ----------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_a_body_that_is_not_declared_json_is_refused_before_it_counts(
    client, world, content_type
):
    """A page of another site can post ``text/plain`` without asking: such wrong passwords
    must not lock a worker out (nor anything else act on them)."""
    await worker_with_password(world)
    wrong = '{"login": "wang.li", "password": "not the password"}'
    for _ in range(accounts.LOCKOUT_FAILURES + 1):
        resp = await client.post(
            "/api/v1/auth/password", data=wrong, headers={"Content-Type": content_type}
        )
        assert resp.status == 415
        assert await error_of(resp) == "api.error.unsupported_media_type"
    assert (await client.post("/api/v1/auth/password", json=CREDENTIALS)).status == 200


async def test_a_json_body_with_a_charset_is_accepted(client, world):
    await worker_with_password(world)
    body = json.dumps(CREDENTIALS)
    resp = await client.post(
        "/api/v1/auth/password",
        data=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert resp.status == 200
