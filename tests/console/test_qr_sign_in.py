"""Console sign-in by scanning the login QR code with the official account, in Chromium."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.simulator import message_xml, reply_text
from handlers.sessions import resolve
from models.residents import Resident, Role, RoleAssignment
from tests.conftest import APPID
from tests.console.driver import Console
from tests.fakes import FakeWeChat, start
from tests.world import World

SECRET = "official-account-secret-qr-login0"
# A 1x1 PNG: what "WeChat" serves for the QR image (this machine has no internet).
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
async def fake(aiohttp_server):  # type: ignore[no-untyped-def]
    made = FakeWeChat(apps={APPID: SECRET})
    made.base_url = await start(made, aiohttp_server)  # type: ignore[attr-defined]
    return made


@pytest.fixture
def settings(settings, fake):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={"wechat_appsecret": SECRET, "wechat_api_base": fake.base_url}
    )


@pytest.fixture
async def console(client, browser) -> Any:  # type: ignore[no-untyped-def]
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    await page.route(
        "https://mp.weixin.qq.com/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=PIXEL),
    )
    yield Console(page, str(client.make_url("/console/")))
    await context.close()


async def test_a_worker_scans_the_login_qr_confirms_and_the_console_signs_in(
    client, world: World, console, fake, make_resident, shots
):
    phone = make_resident("o_worker_qr")
    await phone.say("你好")
    worker = await Resident.get(openid="o_worker_qr")
    await RoleAssignment.create(
        resident=worker, role=Role.COMMUNITY_WORKER, community=world.community
    )

    await console.open()
    await console.page.click("#login-qr")
    image = console.page.locator("#login-qr-image")
    await image.wait_for(state="visible")
    assert (await image.get_attribute("src") or "").startswith(
        "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="
    )
    assert await image.evaluate("img => img.naturalWidth") == 1
    await shots(console.page, "qr")
    [scene] = fake.qr_scenes

    xml = message_xml(
        phone.openid,
        APPID,
        "event",
        {"Event": "SCAN", "EventKey": scene},
        created=int(time.time()) + 1,
    )
    _, raw = await phone.push(xml)
    # The scan alone signs nobody in: the worker reads where the sign-in came from first.
    assert "127.0.*.*" in reply_text(raw)
    await console.page.wait_for_timeout(4500)  # a poll or more: still on the QR card
    assert await console.page.locator("#login-qr-card").is_visible()
    assert await console.page.evaluate("sessionStorage.getItem('linli.console.token')") is None
    assert await phone.say("1") == world.app_state.translate("zh_Hans", "auth.qr.signed_in")

    await console.ready("dashboard")
    token = await console.page.evaluate("sessionStorage.getItem('linli.console.token')")
    assert await resolve(world.app_state.store, token) == worker.id
    console.assert_clean()
