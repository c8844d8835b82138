"""Workers broadcast from WeCom: signed, encrypted pushes as WeCom sends them, both backends."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from itertools import count

import pytest
import xmltodict
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from models.db import using
from models.notices import Delivery, Group, Notice, WeComUser
from models.residents import Resident, Role
from tests.notices.conftest import ROBOT_KEYS, deliver, residents_of
from tests.world import World

CORP = "wwlinlitestcorp01"
WECOM_TOKEN = "wecom-test-token"
WECOM_AES = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
_msgids = count(7_100_000)


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "wecom_corp_id": CORP,
            "wecom_token": WECOM_TOKEN,
            "wecom_aes_key": WECOM_AES,
            "wecom_community": "test",
        }
    )


class WeCom:
    """The WeCom server: signs and encrypts a worker's message, decrypts the reply."""

    def __init__(self, client, token: str = WECOM_TOKEN) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.crypto = WeChatCrypto(token, WECOM_AES, CORP)

    async def push(self, userid: str, xml: str) -> tuple[int, str]:
        timestamp, nonce = str(int(time.time())), f"n{next(_msgids)}"
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        params = {"msg_signature": envelope["MsgSignature"], "timestamp": timestamp, "nonce": nonce}
        body = (
            f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><AgentID>1000002</AgentID>"
            f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
        )
        resp = await self.client.post(f"/wecom/{CORP}", params=params, data=body.encode())
        return resp.status, await resp.text()

    def read(self, raw: str) -> str:
        """The reply's text, after checking WeCom could verify and decrypt it."""
        envelope = xmltodict.parse(raw)["xml"]
        plain = self.crypto.decrypt_message(
            raw, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
        )
        return str(xmltodict.parse(plain)["xml"]["Content"])

    async def say(self, userid: str, text: str, msg_id: int | None = None) -> str:
        xml = (
            f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>"
            f"<FromUserName><![CDATA[{userid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id or next(_msgids)}</MsgId>"
            "<AgentID>1000002</AgentID></xml>"
        )
        status, raw = await self.push(userid, xml)
        assert status == 200, raw
        return self.read(raw)


@pytest.fixture
def wecom(client):  # type: ignore[no-untyped-def]
    return WeCom(client)


async def link(world: World, resident: Resident, userid: str) -> None:
    await WeComUser.create(corp_id=CORP, userid=userid, resident=resident)


async def groups(world: World) -> None:
    scopes = [
        {"kind": "buildings", "ids": [world.buildings[0].id]},
        {"kind": "buildings", "ids": [world.buildings[1].id]},
        {"kind": "community", "ids": []},
    ]
    for key, scope in zip(ROBOT_KEYS, scopes, strict=True):
        await Group.create(community=world.community, name=key, webhook_key=key, scope=scope)


def url_check(token: str, echo: str = "linli-echo-42") -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), "echo-nonce"
    echostr = PrpCrypto(WeChatCrypto(token, WECOM_AES, CORP).key).encrypt(echo, CORP).decode()
    signature = _get_signature(token, timestamp, nonce, echostr)
    return {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": echostr}


async def test_the_url_check_returns_the_decrypted_echostr(client):
    resp = await client.get(f"/wecom/{CORP}", params=url_check(WECOM_TOKEN))
    assert resp.status == 200 and await resp.text() == "linli-echo-42"
    resp = await client.get(f"/wecom/{CORP}", params=url_check("not-the-token"))
    assert resp.status == 403
    resp = await client.get("/wecom/otherc0rp", params=url_check(WECOM_TOKEN))
    assert resp.status == 404


async def test_a_forged_push_is_refused(client, app_state, world):
    with using(app_state.db):
        await link(world, await world.worker(), "zhang.san")
    forger = WeCom(client, token="forged-token")
    status, _ = await forger.push(
        "zhang.san",
        "<xml><FromUserName>zhang.san</FromUserName><MsgType>text</MsgType>"
        "<Content>通知 全社区 假通知</Content></xml>",
    )
    assert status == 403
    resp = await client.post(
        f"/wecom/{CORP}",
        params={"msg_signature": "x", "timestamp": str(int(time.time())), "nonce": "n"},
        data=b'<!DOCTYPE x [<!ENTITY a "b">]><xml>&a;</xml>',
    )
    assert resp.status == 400
    with using(app_state.db):
        assert await Notice.all().count() == 0


async def test_a_building_broadcast_previews_then_sends_once(client, app_state, world, wecom, fake):
    with using(app_state.db):
        inside = await residents_of(world, 0, 4)
        await residents_of(world, 1, 2)
        await groups(world)
        worker = await world.worker()
        await link(world, worker, "zhang.san")
    name = world.buildings[0].name
    preview = await wecom.say("zhang.san", f"通知 {name} 明天9点到12点停水")
    assert preview.startswith("将发送给 4 位居民和 1 个群")
    assert "明天9点到12点停水" in preview and "确认" in preview
    with using(app_state.db):
        assert await Notice.all().count() == 0
    sent = await wecom.say("zhang.san", "确认")
    assert "开始发送" in sent and "共 5 条" in sent
    assert await wecom.say("zhang.san", "确认") == "没有待确认的通知。"
    with using(app_state.db):
        [notice] = await Notice.all()
        assert notice.scope == {"kind": "buildings", "ids": [world.buildings[0].id]}
        assert notice.channels == ["customer_group", "oa", "robot"]
        assert notice.author_id == worker.id  # type: ignore[attr-defined]
        assert notice.body == "明天9点到12点停水"
        rows = await Delivery.filter(notice_id=notice.id).values_list(
            "channel", "resident_id", "group__webhook_key"
        )
    assert sorted(r for c, r, _ in rows if c == "oa") == sorted(p.id for p in inside)
    assert sorted(k for c, _, k in rows if c == "robot") == [ROBOT_KEYS[0]]
    assert dict(await deliver(app_state, datetime.now(UTC))) == {"sent": 5}
    assert sorted(fake.messages) == sorted(p.openid for p in inside)
    # The building's group only: the 全体群 gets community notices.
    assert [len(fake.robot_messages[k]) for k in ROBOT_KEYS] == [1, 0, 0]
    progress = await wecom.say("zhang.san", f"进度 {notice.id}")
    assert progress.startswith(f"通知 #{notice.id}") and "已送达 5" in progress
    assert "待发送 0" in progress
    assert "没有找到" in await wecom.say("zhang.san", f"进度 {notice.id + 99}")


async def test_a_grid_and_the_whole_community(client, app_state, world, wecom):
    with using(app_state.db):
        await residents_of(world, 0, 2)
        await residents_of(world, 1, 3)
        await link(world, await world.worker(Role.ADMIN), "li.si")
    assert (await wecom.say("li.si", "通知 第一网格 周六消防演练")).startswith(
        "将发送给 5 位居民和 0 个群"
    )
    with using(app_state.db):
        await groups(world)
    preview = await wecom.say("li.si", "通知 全社区 周六消防演练")
    assert preview.startswith("将发送给 6 位居民和 3 个群")  # the worker follows too
    await wecom.say("li.si", "确认")
    with using(app_state.db):
        [notice] = await Notice.all()
        assert notice.scope == {"kind": "community", "ids": []}  # the last preview wins
        assert await Delivery.filter(notice_id=notice.id).count() == 9


async def test_cancel_creates_nothing(client, app_state, world, wecom):
    with using(app_state.db):
        await residents_of(world, 0, 2)
        await link(world, await world.worker(), "zhang.san")
    assert (await wecom.say("zhang.san", "通知 全体 停电")).startswith("将发送给 3 位居民")
    assert await wecom.say("zhang.san", "取消") == "已取消，通知没有发送。"
    assert await wecom.say("zhang.san", "确认") == "没有待确认的通知。"
    with using(app_state.db):
        assert await Notice.all().count() == 0
        assert await Delivery.all().count() == 0


async def test_non_workers_are_refused(client, app_state, world, wecom):
    with using(app_state.db):
        [person] = await residents_of(world, 0, 1)
        await link(world, person, "wang.wu")
    assert await wecom.say("wang.wu", "通知 全社区 大家好") == "只有社区工作人员可以发送通知。"
    assert "还没有关联" in await wecom.say("stranger", "通知 全社区 大家好")
    with using(app_state.db):
        assert await Notice.all().count() == 0


async def test_an_unknown_scope_says_what_it_accepts(client, app_state, world, wecom):
    with using(app_state.db):
        await link(world, await world.worker(), "zhang.san")
    reply = await wecom.say("zhang.san", "通知 9号楼 明天停水")
    assert "找不到「9号楼」" in reply and world.buildings[0].name in reply
    assert "通知 3号楼" in await wecom.say("zhang.san", "你好")
    assert "通知 3号楼" in await wecom.say("zhang.san", "通知 全社区")
    assert await wecom.say("zhang.san", "确认") == "没有待确认的通知。"


async def test_a_retried_confirmation_gets_the_same_answer(client, app_state, world, wecom):
    with using(app_state.db):
        await residents_of(world, 0, 2)
        await link(world, await world.worker(), "wang.wu")
    await wecom.say("wang.wu", f"通知 {world.buildings[0].name} 周五清洗水箱")
    first = await wecom.say("wang.wu", "确认", msg_id=424242)
    retry = await wecom.say("wang.wu", "确认", msg_id=424242)  # WeCom's retry of the same push
    assert "开始发送" in first and retry == first
    with using(app_state.db):
        assert await Notice.all().count() == 1
