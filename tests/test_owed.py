"""Replies owed after the 5-second window go out as customer-service messages, at most once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import replay_one
from bot.owed import deliver_owed
from bot.simulator import message_xml, reply_text
from handlers.router import Router
from handlers.types import Context, Event, Reply
from models.db import using
from models.outbox import PendingMessage
from tests.conftest import APPID
from tests.fakes import FakeWeChat, start

SECRET = "owed-test-app-secret-0123456789ab"


@pytest.fixture
async def fake(aiohttp_server):  # type: ignore[no-untyped-def]
    made = FakeWeChat(apps={APPID: SECRET})
    made.base_url = await start(made, aiohttp_server)  # type: ignore[attr-defined]
    return made


@pytest.fixture
def settings(settings, fake):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "wechat_appsecret": SECRET,
            "wechat_api_base": fake.base_url,
            "reply_deadline_seconds": 0.2,
        }
    )


@pytest.fixture
def extra_router() -> Router:
    router = Router(name="test-slow")

    @router.text("慢")
    async def slow(event: Event, ctx: Context) -> Reply:
        await asyncio.sleep(0.5)
        return Reply("久等了，这是答复")

    return router


async def owe(resident, app_state, msg_id: int) -> PendingMessage | None:  # type: ignore[no-untyped-def]
    """A handler slower than the window: the resident is told we will come back, the
    message is spooled, and its replay owes the answer."""
    xml = message_xml(resident.openid, APPID, "text", {"Content": "慢"}, msg_id=msg_id)
    status, text = await resident.push(xml)
    assert (status, reply_text(text)) == (200, app_state.translate("zh_Hans", "error.busy"))
    await app_state.once.drain()
    with using(app_state.db):
        assert await app_state.spool.replay(lambda k, e: replay_one(app_state, k, e)) == 1
    with using(app_state.db):
        return await PendingMessage.filter(openid=resident.openid).order_by("-id").first()


async def deliver(app_state) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with using(app_state.db):
        return dict(await deliver_owed(app_state.push_clients, datetime.now(UTC)))


async def test_a_late_reply_is_sent_once(resident, app_state, fake):
    owed = await owe(resident, app_state, 880001)
    assert await deliver(app_state) == {"sent": 1, "interrupted": 0}
    assert [m.body["text"]["content"] for m in fake.messages[resident.openid]] == [
        "久等了，这是答复"
    ]
    assert await deliver(app_state) == {"interrupted": 0}  # nothing twice
    assert len(fake.messages[resident.openid]) == 1
    with using(app_state.db):
        assert (await PendingMessage.get(id=owed.id)).sent_at is not None


async def test_an_unfollowed_resident_is_recorded_not_retried(resident, app_state, fake):
    fake.unsubscribed.add(resident.openid)
    owed = await owe(resident, app_state, 880002)
    assert (await deliver(app_state))["failed"] == 1
    with using(app_state.db):
        assert (await PendingMessage.get(id=owed.id)).failure == "unsubscribed"
    assert "sent" not in await deliver(app_state)


async def test_quota_is_retried_but_a_maybe_delivered_message_is_not(resident, app_state, fake):
    owed = await owe(resident, app_state, 880003)
    fake.fail_next(1, api="custom", errcode=45009)
    assert (await deliver(app_state))["retry"] == 1
    assert (await deliver(app_state))["sent"] == 1
    fake.fail_next(1, api="custom", status=502)
    second = await owe(resident, app_state, 880004)
    assert (await deliver(app_state))["unknown"] == 1
    assert "sent" not in await deliver(app_state)
    with using(app_state.db):
        assert (await PendingMessage.get(id=second.id)).failure == "unknown"
        assert (await PendingMessage.get(id=owed.id)).sent_at is not None


async def test_a_claim_left_by_a_dead_process_is_never_resent(resident, app_state, fake):
    owed = await owe(resident, app_state, 880005)
    with using(app_state.db):
        await PendingMessage.filter(id=owed.id).update(
            claimed_at=datetime.now(UTC) - timedelta(minutes=11)
        )
    assert (await deliver(app_state))["interrupted"] == 1
    assert fake.messages[resident.openid] == []
