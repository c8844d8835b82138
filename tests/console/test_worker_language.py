"""A worker's language is theirs, kept on the server: picked once in the console (or the
chat), it is the one the console opens in on any browser; a worker who never chose one
reads the community's, also in a traditional-Chinese community where every resident's
stored language starts as zh_Hans."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from config.settings import Settings
from handlers.residents import service as residents
from handlers.residents.accounts import set_password
from models.audit import AuditLog
from models.residents import Resident
from tests.console.driver import PASSWORD, Console
from tests.console.test_console import strings
from tests.world import World


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"default_language": "zh_Hant"})


async def staff(world: World, login: str) -> Resident:
    worker = await world.worker()
    await set_password(worker, login, PASSWORD)
    return worker


async def fresh_browser(client: Any, browser: Any) -> tuple[Any, Console]:
    """A new context: nothing in its localStorage, a browser set to simplified Chinese."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    return context, Console(await context.new_page(), str(client.make_url("/console/")))


async def test_me_answers_the_chosen_language_or_the_communitys(client, world: World, bearer):
    never = await world.worker()
    chose_simplified = await world.worker()
    await residents.set_language(chose_simplified, "zh_Hans")  # as the chat's 语言 does
    for person, expected in ((never, "zh_Hant"), (chose_simplified, "zh_Hans")):
        assert person.language == "zh_Hans"  # the column cannot tell them apart
        me = await client.get("/api/v1/me", headers=bearer(await world.token(person)))
        assert (await me.json())["language"] == expected

    headers = bearer(await world.token(never))
    changed = await client.patch("/api/v1/me", json={"language": "en"}, headers=headers)
    assert changed.status == 200
    assert (await changed.json())["language"] == "en"
    assert (await Resident.get(id=never.id)).language == "en"
    entry = await AuditLog.get(action="resident.language", entity_id=str(never.id))
    assert (entry.before, entry.after) == ({"language": "zh_Hans"}, {"language": "en"})
    for wrong in ({"language": "fr"}, {}, {"language": None}):
        refused = await client.patch("/api/v1/me", json=wrong, headers=headers)
        assert refused.status == 400, wrong
    assert (await client.patch("/api/v1/me", json={"language": "en"})).status == 401


async def test_a_language_picked_follows_the_worker_to_a_fresh_browser(
    client, world: World, browser, shots
):
    picker = await staff(world, "li.na")
    await staff(world, "zhou.min")
    hant, en = await strings(client, "zh_Hant"), await strings(client, "en")

    context, console = await fresh_browser(client, browser)
    try:
        await console.sign_in("li.na")
        await console.ready("dashboard")
        assert await console.page.text_content("#brand") == hant["console.title"]
        await console.page.select_option("#lang", "en")
        await expect(console.page.locator("#brand")).to_have_text(en["console.title"])
        await console.ready("dashboard")
        console.assert_clean()
    finally:
        await context.close()
    assert (await Resident.get(id=picker.id)).language == "en"

    context, console = await fresh_browser(client, browser)
    try:
        await console.sign_in("li.na")
        await console.ready("dashboard")
        await expect(console.page.locator("#brand")).to_have_text(en["console.title"])
        assert await console.page.input_value("#lang") == "en"
        assert await console.page.evaluate("document.documentElement.lang") == "en"
        await expect(console.page.locator('#nav a[data-route="dashboard"]')).to_have_text(
            en["console.nav.dashboard"]
        )
        await shots(console.page, "picked-english")
        console.assert_clean()
    finally:
        await context.close()

    context, console = await fresh_browser(client, browser)
    try:
        await console.sign_in("zhou.min")
        await console.ready("dashboard")
        assert await console.page.text_content("#brand") == hant["console.title"]
        assert await console.page.input_value("#lang") == "zh_Hant"
        await shots(console.page, "community-language")
        console.assert_clean()
    finally:
        await context.close()


async def test_a_language_picked_on_the_sign_in_page_becomes_the_workers(
    client, world: World, browser
):
    worker = await staff(world, "wu.fang")
    en = await strings(client, "en")
    context, console = await fresh_browser(client, browser)
    try:
        await console.open()
        await console.page.wait_for_selector("#login-form")
        await console.page.select_option("#lang", "en")
        await expect(console.page.locator("#brand")).to_have_text(en["console.title"])
        await console.page.fill("#login-name", "wu.fang")
        await console.page.fill("#login-password", PASSWORD)
        await console.page.click("#login-submit")
        await console.ready("dashboard")
        assert await console.page.text_content("#brand") == en["console.title"]
        console.assert_clean()
    finally:
        await context.close()
    assert (await Resident.get(id=worker.id)).language == "en"
