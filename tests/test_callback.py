"""The official-account callback: signatures, crypto modes, every message type, bad input."""

from __future__ import annotations

import logging
import time

import pytest

from bot.simulator import WeChatServer, message_xml, reply_text, sign
from tests.conftest import AES_KEY, APPID, TOKEN


def signed_query(timestamp: int | None = None, token: str = TOKEN) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"signature": sign(token, ts, "n1"), "timestamp": ts, "nonce": "n1", "echostr": "e42"}


async def test_url_check_echoes_echostr(client):
    resp = await client.get("/wechat", params=signed_query())
    assert resp.status == 200
    assert await resp.text() == "e42"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(lambda: signed_query(token="wrong"), id="bad-signature"),
        pytest.param(lambda: signed_query(int(time.time()) - 301), id="older-than-5-min"),
        pytest.param(lambda: signed_query(int(time.time()) + 600), id="in-the-future"),
        pytest.param(lambda: {"timestamp": "x", "nonce": "n", "signature": "s"}, id="garbage"),
    ],
)
async def test_forged_or_stale_url_check_is_403_without_echo(client, query):
    resp = await client.get("/wechat", params=query())
    assert resp.status == 403
    assert "e42" not in await resp.text()


async def test_unknown_account_is_404(client):
    resp = await client.get("/wechat/nobody", params=signed_query())
    assert resp.status == 404


async def test_named_default_account_path_works(client):
    resp = await client.get("/wechat/default", params=signed_query())
    assert await resp.text() == "e42"


@pytest.mark.parametrize("mode", ["plain", "compat", "safe"])
async def test_every_crypto_mode_round_trips(make_resident, mode):
    someone = make_resident(f"o_mode_{mode}", mode)
    status, xml = await someone.push(message_xml(someone.openid, APPID, "text", {"Content": "0"}))
    assert status == 200
    if mode != "plain":
        assert "<Encrypt>" not in xml  # read_reply decrypted it
    assert "1" in reply_text(xml) and reply_text(xml).startswith("请回复数字选择")


async def test_safe_mode_reply_is_encrypted_on_the_wire(client):
    server = WeChatServer(TOKEN, APPID, AES_KEY, mode="safe")
    params, body = server.request(message_xml("o_wire", APPID, "text", {"Content": "0"}))
    resp = await client.post("/wechat", params=params, data=body.encode())
    raw = await resp.text()
    assert "<Encrypt>" in raw and "请回复" not in raw


async def test_bad_msg_signature_is_403(client):
    server = WeChatServer(TOKEN, APPID, AES_KEY, mode="safe")
    params, body = server.request(message_xml("o_x", APPID, "text", {"Content": "0"}))
    params["msg_signature"] = "0" * 40
    resp = await client.post("/wechat", params=params, data=body.encode())
    assert resp.status == 403


def all_pushes(openid: str) -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("text", "text", {"Content": "你好"}),
        ("image", "image", {"PicUrl": "http://img.invalid/1.jpg", "MediaId": "m1"}),
        ("voice", "voice", {"MediaId": "m2", "Format": "amr", "Recognition": "帮助。"}),
        ("voice-unrecognised", "voice", {"MediaId": "m3", "Format": "amr"}),
        ("video", "video", {"MediaId": "m4", "ThumbMediaId": "t4"}),
        ("shortvideo", "shortvideo", {"MediaId": "m5", "ThumbMediaId": "t5"}),
        (
            "location",
            "location",
            {"Location_X": "23.13", "Location_Y": "113.26", "Scale": "15", "Label": "某路"},
        ),
        ("link", "link", {"Title": "t", "Description": "d", "Url": "http://l.invalid"}),
        (
            "file",
            "file",
            {
                "Title": "a.pdf",
                "Description": "",
                "FileKey": "k",
                "FileMd5": "0",
                "FileTotalLen": "3",
            },
        ),
        ("subscribe", "event", {"Event": "subscribe"}),
        (
            "subscribe-qrscene",
            "event",
            {"Event": "subscribe", "EventKey": "qrscene_x_1", "Ticket": "tk"},
        ),
        ("SCAN", "event", {"Event": "SCAN", "EventKey": "x_1", "Ticket": "tk"}),
        (
            "LOCATION",
            "event",
            {"Event": "LOCATION", "Latitude": "23.1", "Longitude": "113.3", "Precision": "119"},
        ),
        ("CLICK", "event", {"Event": "CLICK", "EventKey": "my_data"}),
        ("CLICK-unknown", "event", {"Event": "CLICK", "EventKey": "nothing_here"}),
        ("VIEW", "event", {"Event": "VIEW", "EventKey": "http://v.invalid"}),
        ("view_miniprogram", "event", {"Event": "view_miniprogram", "EventKey": "pages/i"}),
        ("templatesendjobfinish", "event", {"Event": "TEMPLATESENDJOBFINISH", "Status": "success"}),
        ("subscribe_msg_popup_event", "event", {"Event": "subscribe_msg_popup_event"}),
        ("unknown-event", "event", {"Event": "brand_new_event"}),
        ("unknown-type", "hologram", {"Content": "?"}),
        ("unsubscribe", "event", {"Event": "unsubscribe"}),
    ]


@pytest.mark.parametrize(
    "name,msg_type,fields", all_pushes("o"), ids=lambda v: v if isinstance(v, str) else ""
)
async def test_every_message_and_event_type_gets_a_valid_answer(
    make_resident, name, msg_type, fields
):
    someone = make_resident(f"o_type_{name}", "safe")
    status, xml = await someone.push(message_xml(someone.openid, APPID, msg_type, fields))
    assert status == 200
    assert xml == "success" or xml.startswith("<xml>")
    assert "该公众号暂时无法提供服务" not in xml


async def test_voice_uses_the_recognition_text(resident):
    _status, xml = await resident.push(
        message_xml(
            resident.openid,
            APPID,
            "voice",
            {"MediaId": "m", "Format": "amr", "Recognition": "帮助。"},
        )
    )
    assert reply_text(xml).startswith("请回复数字选择")


async def test_voice_without_recognition_asks_to_repeat(resident):
    _status, xml = await resident.push(
        message_xml(resident.openid, APPID, "voice", {"MediaId": "m", "Format": "amr"})
    )
    assert "没有听清" in reply_text(xml)


async def test_body_over_64_kib_is_413(client):
    query = signed_query()
    resp = await client.post("/wechat", params=query, data=b"<xml>" + b"a" * 70000 + b"</xml>")
    assert resp.status == 413


BAD_BODIES = {
    "malformed": b"<xml><ToUserName>a</ToUser",
    "not-xml": b"hello",
    "wrong-root": b"<root><a>1</a></root>",
    "missing-fields": b"<xml><MsgType>text</MsgType></xml>",
    "xxe": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<xml><ToUserName>a</ToUserName><FromUserName>&e;</FromUserName>"
    b"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>SECRET</Content></xml>",
    "billion-laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b"<xml><Content>&lol2;</Content></xml>",
    "doctype-only": b"<!DOCTYPE xml><xml><Content>SECRET</Content></xml>",
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
async def test_bad_xml_is_400_and_not_logged(client, caplog, name):
    caplog.set_level(logging.DEBUG)
    resp = await client.post("/wechat", params=signed_query(), data=BAD_BODIES[name])
    assert resp.status == 400
    assert "SECRET" not in caplog.text and "passwd" not in caplog.text


async def test_bad_xml_inside_encryption_is_400(client):
    server = WeChatServer(TOKEN, APPID, AES_KEY, mode="safe")
    params, body = server.request(BAD_BODIES["xxe"].decode())
    resp = await client.post("/wechat", params=params, data=body.encode())
    assert resp.status == 400


async def test_forged_push_is_403(client):
    xml = message_xml("o_forged", APPID, "text", {"Content": "0"})
    resp = await client.post("/wechat", params=signed_query(token="nope"), data=xml.encode())
    assert resp.status == 403


async def test_stale_push_is_403(client):
    xml = message_xml("o_stale", APPID, "text", {"Content": "0"})
    resp = await client.post(
        "/wechat", params=signed_query(int(time.time()) - 400), data=xml.encode()
    )
    assert resp.status == 403


async def test_openid_never_reaches_the_logs(resident, caplog):
    """At the service's log level (INFO; the ORM logs SQL parameters only at DEBUG)."""
    caplog.set_level(logging.INFO)
    await resident.say("你好")
    await resident.say("绑定 ABCDEFGH")
    assert resident.openid not in caplog.text


async def test_passive_events_touch_nothing(make_resident, app_state):
    """A broadcast's 100,000 templatesendjobfinish pushes must not create 100,000 residents."""
    from models.db import using
    from models.residents import Resident as ResidentRow

    stranger = make_resident("o_template_receiver")
    for name in ("TEMPLATESENDJOBFINISH", "VIEW", "subscribe_msg_popup_event"):
        status, body = await stranger.push(
            message_xml(stranger.openid, APPID, "event", {"Event": name, "Status": "success"})
        )
        assert (status, body) == (200, "success")
    with using(app_state.db):
        assert not await ResidentRow.filter(openid="o_template_receiver").exists()
