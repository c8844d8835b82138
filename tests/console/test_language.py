"""Chinese first: the console opens in the community's language whatever the browser's,
and a language the worker picks is the one it opens in next time."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from config.settings import Settings
from tests.console.driver import Console
from tests.console.test_console import strings, worker_with_password
from tests.world import World


async def english_browser(client: Any, browser: Any) -> tuple[Any, Console]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    return context, Console(await context.new_page(), str(client.make_url("/console/")))


async def test_an_english_browser_opens_in_chinese_until_the_worker_picks(
    client, world: World, browser, shots
):
    await worker_with_password(world)
    zh, en = await strings(client, "zh_Hans"), await strings(client, "en")
    context, console = await english_browser(client, browser)
    try:
        await console.sign_in()
        await console.ready("dashboard")
        assert await console.page.locator("#login-submit").count() == 0
        assert await console.page.text_content("#brand") == zh["console.title"]
        assert await console.page.evaluate("document.documentElement.lang") == "zh-CN"
        await shots(console.page, "chinese-first")

        await console.page.select_option("#lang", "en")
        await expect(console.page.locator("#brand")).to_have_text(en["console.title"])
        await console.page.reload()
        await console.ready("dashboard")
        assert await console.page.text_content("#brand") == en["console.title"]
        console.assert_clean()
    finally:
        await context.close()


class TestATraditionalCommunity:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"default_language": "zh_Hant"})

    async def test_its_console_opens_in_traditional_chinese(self, client):
        resp = await client.get("/console/strings.json", headers={"Accept-Language": "en"})
        assert (await resp.json())["lang"] == "zh_Hant"
