"""WeCom's passive replies keep a worker's hostile text inside its one element (issue 13)."""

from __future__ import annotations

import time

import pytest
import xmltodict

from bot.replies import cdata_safe
from models.db import using
from tests.notices.test_wecom import CORP, WeCom, link
from tests.notices.test_wecom import settings as settings  # the corp configured
from tests.world import World

HOSTILE = [
    "停水]]></Content><Url>http://evil.invalid</Url><Content><![CDATA[x",
    "明天停水]]>",
]


def text_xml(userid: str, text: str, msg_id: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>"
        f"<FromUserName><![CDATA[{userid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{cdata_safe(text)}]]></Content><MsgId>{msg_id}</MsgId>"
        "<AgentID>1000002</AgentID></xml>"
    )


@pytest.mark.parametrize("number,text", list(enumerate(HOSTILE)))
async def test_a_hostile_broadcast_text_stays_inside_the_previews_content(
    client, app_state, world: World, number, text
):
    with using(app_state.db):
        await link(world, await world.worker(), "zhang.san")
    wecom = WeCom(client)
    status, raw = await wecom.push(
        "zhang.san", text_xml("zhang.san", f"通知 全社区 {text}", 8_800_000 + number)
    )
    assert status == 200, raw
    envelope = xmltodict.parse(raw)["xml"]
    plain = wecom.crypto.decrypt_message(
        raw, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
    )
    reply = xmltodict.parse(plain)["xml"]
    assert "Url" not in reply
    assert text in reply["Content"]
