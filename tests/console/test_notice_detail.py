"""The notices page in a real browser, on a desktop and on a phone: writing a notice shows
what residents will read on each channel and how many it reaches, before anything is
sent; after sending, the notice's page shows the progress per channel and each customer
group's mass-sending task, waiting for its owner, then delivered or not. Each step checks
the database; screenshots go to tests/artifacts/console/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from bot.app import send_customer_groups, send_notices
from handlers.notices import customer
from handlers.residents.accounts import set_password
from models.db import using
from models.notices import Delivery, GroupDelivery, Notice
from models.residents import Role
from tests.conftest import APPID
from tests.console.driver import LOGIN, PASSWORD, TIMEOUT, no_sideways_scroll
from tests.fakes import FakeWeChat
from tests.fakes import start as start_wechat
from tests.fakes.wecom import FakeWeCom
from tests.fakes.wecom import start as start_wecom
from tests.world import World

CORP, CONTACT_SECRET = "wwlinliconsole01", "console-contact-secret-0123456789"
OA_SECRET = "console-official-account-secret-01"
OWNER_A, OWNER_B = "owner.wang", "owner.zhao"
LATER = timedelta(minutes=3)


@pytest.fixture
async def wechat(aiohttp_server):  # type: ignore[no-untyped-def]
    made = FakeWeChat(apps={APPID: OA_SECRET})
    made.base_url = await start_wechat(made, aiohttp_server)  # type: ignore[attr-defined]
    return made


@pytest.fixture
async def wecom(aiohttp_server):  # type: ignore[no-untyped-def]
    made = FakeWeCom({CORP: CONTACT_SECRET})
    made.base_url = await start_wecom(made, aiohttp_server)  # type: ignore[attr-defined]
    return made


@pytest.fixture
def settings(settings, wechat, wecom):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "wechat_appsecret": OA_SECRET,
            "wechat_api_base": wechat.base_url,
            "wecom_api_base": wecom.base_url,
            "wecom_corp_id": CORP,
            "wecom_customer_secret": CONTACT_SECRET,
        }
    )


async def jobs(world: World, at: datetime) -> None:
    """The round's two sending jobs: official-account messages, then customer groups."""
    state: Any = world.app_state
    with using(state.db):
        await send_notices(state, at)
        await send_customer_groups(state, at)


async def test_a_notice_is_previewed_then_followed_per_channel_and_group(
    client, world: World, screen, screen_shot, wechat, wecom
):
    page = screen.page
    homes = await world.add_households(world.buildings[0], 3)
    inside = [await world.resident(h) for h in homes]
    [far] = await world.add_households(world.buildings[1], 1)
    await world.resident(far)
    worker = await world.worker(Role.ADMIN)
    await set_password(worker, LOGIN, PASSWORD)
    who = await world.who(worker)
    b1 = {"kind": "buildings", "ids": [world.buildings[0].id]}
    b2 = {"kind": "buildings", "ids": [world.buildings[1].id]}
    east = await customer.register(who, "wrEast", "1栋东门群", OWNER_A, b1)
    west = await customer.register(who, "wrWest", "1栋西门群", OWNER_A, b1)
    await customer.register(who, "wrTwo", "2栋群", OWNER_B, b2)
    wecom.chats.update({"wrEast": OWNER_A, "wrWest": OWNER_A, "wrTwo": OWNER_B})  # type: ignore[attr-defined]

    await screen.sign_in()
    await screen.ready("dashboard")
    await screen.go("#/notices", "notices")
    await page.fill("#notice-title", "停水通知")
    await page.fill("#notice-body", "明天9点到12点停水，请提前储水。")
    await page.select_option("#notice-scope", "buildings")
    await page.fill("#notice-ids", str(world.buildings[0].id))
    await page.check("#notice-customer-group")
    await page.click("#notice-preview-button")

    # The preview: each channel's text as the sender renders it and its recipients.
    panel = page.locator("#notice-preview")
    oa = panel.locator('[data-channel="oa"]')
    groups = panel.locator('[data-channel="customer_group"]')
    await expect(oa.locator(".recipients")).to_have_attribute("data-recipients", "3")
    await expect(groups.locator(".recipients")).to_have_attribute("data-recipients", "2")
    assert await panel.locator('[data-channel="robot"]').count() == 0
    text = "【停水通知】\n明天9点到12点停水，请提前储水。"
    assert await oa.locator(".message-text").text_content() == text
    assert await groups.locator(".message-text").text_content() == text
    assert "3 位居民" in (await oa.locator(".recipients").text_content() or "")
    assert not await Notice.exists()  # previewing stores nothing
    if screen.screen == "phone":
        await no_sideways_scroll(screen)
    await screen_shot(page, "compose")

    await page.check("#notice-send-now")
    await page.click("#notice-create")
    row = page.locator("#notices tr[data-notice]").first
    await expect(row).to_have_attribute("data-status", "sending", timeout=TIMEOUT)
    notice = await Notice.get(title="停水通知")
    assert notice.channels == ["customer_group", "oa"]
    assert await Delivery.filter(notice_id=notice.id, channel="oa").count() == len(inside)
    assert sorted(
        await GroupDelivery.filter(notice_id=notice.id).values_list("chat_id", flat=True)
    ) == ["wrEast", "wrWest"]

    # Sent: the residents have it; the owner of 1栋's groups has one task to confirm.
    t0 = datetime.now(UTC)
    await jobs(world, t0)
    assert sorted(wechat.messages) == sorted(r.openid for r in inside)
    [task] = wecom.tasks_of(OWNER_A)
    assert task.content == text and not wecom.tasks_of(OWNER_B)
    link = row.locator("a[data-open]")
    assert await link.get_attribute("href") == f"#/notice?id={notice.id}"
    await screen.go(f"#/notice?id={notice.id}", "notice")
    channels = page.locator("#notice-channels")
    oa_row = channels.locator('tr[data-channel="oa"]')
    await expect(oa_row.locator("[data-sent]")).to_have_attribute("data-sent", "3")
    group_row = channels.locator('tr[data-channel="customer_group"]')
    await expect(group_row.locator("[data-pending]")).to_have_attribute("data-pending", "2")
    east_row = page.locator(f'#notice-groups tr[data-group="{east.id}"]')
    await expect(east_row).to_have_attribute("data-status", "submitted")
    assert "待群主确认" in (await east_row.text_content() or "")
    assert await page.locator("#notice-texts .message-text").first.text_content() == text
    await screen_shot(page, "waiting")

    # The owner confirms; one group no longer has them. The page follows by itself.
    wecom.left.add("wrWest")
    wecom.confirm(task.msgid, OWNER_A)
    await jobs(world, t0 + LATER)
    await expect(east_row).to_have_attribute("data-status", "sent", timeout=TIMEOUT)
    west_row = page.locator(f'#notice-groups tr[data-group="{west.id}"]')
    await expect(west_row).to_have_attribute("data-status", "not_in_group")
    await expect(group_row.locator("[data-sent]")).to_have_attribute("data-sent", "1")
    await expect(group_row.locator("[data-failed]")).to_have_attribute("data-failed", "1")
    await expect(page.locator("#notice-status")).to_have_attribute("data-status", "done")
    rows = {r.chat_id: r for r in await GroupDelivery.filter(notice_id=notice.id)}
    assert (rows["wrEast"].status, rows["wrWest"].status) == ("sent", "not_in_group")
    assert rows["wrEast"].msgid == task.msgid and rows["wrEast"].sent_at is not None
    assert (await Notice.get(id=notice.id)).status == "done"
    assert len(wecom.tasks) == 1
    if screen.screen == "phone":
        await no_sideways_scroll(screen)
    await screen_shot(page, "delivered")
    screen.assert_clean()
