"""Security of the official-account callback (issue 13): what a captured callback URL, a
hostile resident's text and the logs can and cannot do."""

from __future__ import annotations

import logging
import time

import pytest
import xmltodict
from defusedxml.ElementTree import fromstring
from wechatpy import parse_message

from bot.replies import render_text
from bot.simulator import WeChatServer, message_xml, reply_text, sign
from handlers.residents import accounts
from handlers.router import Router
from handlers.types import Context, Event, Reply, StoreUnavailable
from models.db import using
from models.residents import Role
from tests.conftest import AES_KEY, APPID, TOKEN
from tests.world import World

HOSTILE = [
    "提议]]></Content><Url>http://evil.invalid</Url><Content><![CDATA[x",
    "以 ]]> 结尾]]>",
    "]]>",
    "]]]]>>]]><![CDATA[",
    "<xml>&amp;</xml>",
    "控制\x00字符\x08与\x1b",
]


async def admin_and_captured_push(world: World, make_resident) -> tuple[str, dict[str, str], str]:  # type: ignore[no-untyped-def]
    """An admin's genuine push as WeChat sent it: their openid, its query string and body."""
    with using(world.app_state.db):
        admin = await world.worker(Role.ADMIN)
    phone = make_resident(admin.openid)
    params, body = phone.server.request(message_xml(admin.openid, APPID, "text", {"Content": "0"}))
    resp = await phone.client.post("/wechat", params=params, data=body.encode())
    assert resp.status == 200
    return str(admin.openid), params, body


def forged_login_scan(openid: str) -> str:
    """A SCAN of a console's login QR code "from" ``openid``: what the attacker posts."""
    scene = accounts.LOGIN_QR_SCENE + "FreshTicketOfTheAttacker"
    return message_xml(openid, APPID, "event", {"Event": "SCAN", "EventKey": scene})


# --- a captured callback URL ------------------------------------------------------------------


async def test_a_captured_query_string_with_a_forged_body_signs_nobody_in(
    client, world, make_resident
):
    admin_openid, params, _body = await admin_and_captured_push(world, make_resident)
    resp = await client.post("/wechat", params=params, data=forged_login_scan(admin_openid))
    assert resp.status == 403


async def test_a_retry_with_the_same_nonce_and_body_gets_the_same_answer(resident):
    params, body = resident.server.request(
        message_xml(resident.openid, APPID, "text", {"Content": "0"})
    )
    first = await resident.client.post("/wechat", params=params, data=body.encode())
    again = await resident.client.post("/wechat", params=params, data=body.encode())
    assert (first.status, again.status) == (200, 200)
    assert reply_text(await again.text()) == reply_text(await first.text()) != ""


async def test_a_url_check_query_cannot_be_replayed_as_a_push(client, world, make_resident):
    with using(world.app_state.db):
        admin = await world.worker(Role.ADMIN)
    ts, nonce = str(int(time.time())), "urlcheck1"
    query = {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
    assert (await client.get("/wechat", params={**query, "echostr": "e1"})).status == 200
    resp = await client.post("/wechat", params=query, data=forged_login_scan(str(admin.openid)))
    assert resp.status == 403


async def test_the_nonce_memory_holds_across_processes(settings, store, aiohttp_client):
    """Two service processes on one shared store: the second knows the first's nonces."""
    from bot.app import create_app

    first = await aiohttp_client(create_app(settings, store=store))
    second = await aiohttp_client(create_app(settings, store=store))
    server = WeChatServer(TOKEN, APPID, AES_KEY, mode="plain")
    params, body = server.request(message_xml("o_proc", APPID, "text", {"Content": "0"}))
    assert (await first.post("/wechat", params=params, data=body.encode())).status == 200
    other = message_xml("o_proc", APPID, "text", {"Content": "帮助"})
    assert (await second.post("/wechat", params=params, data=other.encode())).status == 403


class TestAnAesAccountWithoutThePlaintextSetting:
    @pytest.fixture
    def settings(self, settings):  # type: ignore[no-untyped-def]
        return settings.model_copy(update={"wechat_allow_plaintext": False})

    async def test_a_plaintext_push_is_refused(self, make_resident):
        someone = make_resident("o_plain_refused", "plain")
        status, _ = await someone.push(message_xml(someone.openid, APPID, "text", {"Content": "0"}))
        assert status == 403

    async def test_an_encrypted_querys_forged_plaintext_body_signs_nobody_in(
        self, client, world, make_resident
    ):
        with using(world.app_state.db):
            admin = await world.worker(Role.ADMIN)
        phone = make_resident(str(admin.openid), "safe")
        params, body = phone.server.request(
            message_xml(phone.openid, APPID, "text", {"Content": "0"})
        )
        assert (await client.post("/wechat", params=params, data=body.encode())).status == 200
        stripped = {k: v for k, v in params.items() if k not in ("encrypt_type", "msg_signature")}
        resp = await client.post("/wechat", params=stripped, data=forged_login_scan(phone.openid))
        assert resp.status == 403

    @pytest.mark.parametrize("mode", ["compat", "safe"])
    async def test_encrypted_pushes_still_work(self, make_resident, mode):
        someone = make_resident(f"o_enc_{mode}", mode)
        reply = await someone.say("0")
        assert reply.startswith("请回复数字选择")


@pytest.fixture
def nonce_memory_down(app_state, monkeypatch):  # type: ignore[no-untyped-def]
    """The shared store fails for the nonce memory only (the rest of it keeps working)."""
    store = app_state.store
    original = store.set_if_absent

    async def failing(key: str, value: str, ttl: float | None = None) -> bool:
        if key.startswith("nonce:"):
            raise StoreUnavailable("down")
        return await original(key, value, ttl=ttl)

    monkeypatch.setattr(store, "set_if_absent", failing)


async def test_without_the_nonce_memory_an_unsigned_body_is_refused(
    make_resident, nonce_memory_down
):
    someone = make_resident("o_down_plain", "plain")
    status, _ = await someone.push(message_xml(someone.openid, APPID, "text", {"Content": "0"}))
    assert status == 503  # WeChat retries


async def test_without_the_nonce_memory_an_encrypted_push_still_gets_its_answer(
    make_resident, nonce_memory_down
):
    someone = make_resident("o_down_safe", "safe")
    assert (await someone.say("0")).startswith("请回复数字选择")


async def test_signed_query_strings_stay_out_of_the_logs(client, resident, caplog):
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    caplog.set_level(logging.INFO)
    params, body = resident.server.request(
        message_xml(resident.openid, APPID, "text", {"Content": "0"})
    )
    await client.post("/wechat", params=params, data=body.encode())
    await client.post("/wechat", params=params, data=b"<xml>other</xml>")  # refused
    assert "/wechat" in caplog.text  # the access log ran
    for secret in (params["signature"], params["nonce"], resident.openid):
        assert secret not in caplog.text


async def test_the_access_log_shows_no_login_ticket(client, caplog):
    caplog.set_level(logging.INFO)
    ticket = "SecretLoginTicket_0123456789"
    for method in ("GET", "POST"):  # one of them is the poll route
        await client.request(method, f"/api/v1/auth/qr/{ticket}", json={})
        await client.request(method, f"/api/v1/auth/qr/{ticket}/", params={"ticket": ticket})
    assert "/api/v1/auth/qr/{ticket}" in caplog.text
    assert ticket not in caplog.text


# --- hostile text in passive replies ----------------------------------------------------------


def a_message(openid: str = "o_hostile") -> object:
    return parse_message(message_xml(openid, APPID, "text", {"Content": "x"}))


@pytest.mark.parametrize("text", HOSTILE)
def test_render_text_keeps_hostile_text_inside_its_element(text):
    xml = render_text(a_message(), text)  # type: ignore[arg-type]
    root = fromstring(xml)
    assert sorted(child.tag for child in root) == [
        "Content",
        "CreateTime",
        "FromUserName",
        "MsgType",
        "ToUserName",
    ]
    expected = "".join(c for c in text if c in "\t\n\r" or c >= " ")
    assert root.findtext("Content") == expected


@pytest.fixture
def extra_router() -> Router:
    router = Router(name="test-echo")

    @router.text("回声")
    async def echo(event: Event, ctx: Context) -> Reply:
        return Reply(ctx.args)

    return router


@pytest.mark.parametrize("mode", ["plain", "compat", "safe"])
@pytest.mark.parametrize("text", HOSTILE[:2])
async def test_a_hostile_text_echoed_back_stays_one_content_element(make_resident, mode, text):
    someone = make_resident(f"o_echo_{mode}", mode)
    status, xml = await someone.push(
        message_xml(someone.openid, APPID, "text", {"Content": f"回声 {text}"})
    )
    assert status == 200
    if mode != "plain":
        assert "<Encrypt>" not in xml
    parsed = xmltodict.parse(xml)["xml"]
    assert "Url" not in parsed
    assert parsed["Content"].lower() == text.strip().lower()  # the router lower-cases args
