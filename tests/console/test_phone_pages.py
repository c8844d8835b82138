"""A grid worker's day on a phone (375x667): the doors still to visit, a visit recorded at
the door, their own tickets and a step on one; nothing scrolls sideways and every button
is big enough for a thumb (44px). Each step checks the database; screenshots go to
tests/artifacts/console/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import expect

from handlers.complaints import service as complaints
from models.canvass import Visit
from models.community import Building, Grid
from models.complaints import Ticket
from models.residents import Role
from tests.console.driver import PHONE, Console, no_sideways_scroll
from tests.console.test_canvass import open_now, staff
from tests.world import World

THUMB = 44  # px: the smallest target a finger hits reliably (WCAG 2.5.5, Apple's HIG)


@pytest.fixture
async def phone(client, browser) -> Any:  # type: ignore[no-untyped-def]
    context = await browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, locale="zh-CN"
    )
    made = Console(await context.new_page(), str(client.make_url("/console/")))
    yield made
    await context.close()


async def thumb_sized(console: Console) -> None:
    """Every visible button, select and text field on the page is at least 44px high."""
    small = await console.page.evaluate(
        """(least) => [...document.querySelectorAll(
              'button, select, input:not([type=checkbox]):not([type=radio]):not([type=file])'
            )].filter((n) => n.offsetParent !== null && !n.hidden)
              .map((n) => [n.id || n.dataset.action || n.name || n.tagName,
                           n.getBoundingClientRect().height])
              .filter(([, height]) => height < least)""",
        THUMB,
    )
    assert small == []


async def fits(console: Console, shot: Any, name: str) -> None:
    await no_sideways_scroll(console)
    await thumb_sized(console)
    await shot(console.page, f"{name}-phone")


async def test_a_grid_worker_works_their_grid_on_a_phone(client, world: World, phone, shots):
    homes = await world.add_households(world.buildings[0], 3)
    elsewhere = await Grid.create(community=world.community, name="第二网格")
    far = await Building.create(community=world.community, grid=elsewhere, name="9栋")
    far_home = (await world.add_households(far, 1))[0]
    manager = await world.worker()
    reporter = await world.resident(homes[0])
    vote = await open_now(world, reporter, manager)
    now = datetime.now(UTC)
    mine = await complaints.intake(reporter, "楼道灯不亮，晚上看不见", now)
    theirs = await complaints.intake(await world.resident(far_home), "9栋门口垃圾没人清运", now)
    await staff(world, Role.GRID_WORKER, "xiao.zhao", world.grid)
    page = phone.page

    await phone.sign_in("xiao.zhao")
    await phone.ready("dashboard")
    await fits(phone, shots, "dashboard")

    # The doors of their grid still to visit, and a visit recorded at one of them.
    await phone.go("#/canvass", "canvass")
    assert await page.input_value("#canvass-vote") == str(vote)
    await fits(phone, shots, "doors")
    await page.tap(f'button.door[data-door="{homes[1].id}"]')
    await page.locator("#visit-form").wait_for()
    await page.locator('#visit-form input[name="outcome"][value="not_home"]').check()
    await fits(phone, shots, "visit-form")
    await page.tap("#visit-submit")
    await page.locator(f'button.door[data-door="{homes[1].id}"][data-state="visited"]').wait_for()
    visit = await Visit.get(proposal_id=vote, household_id=homes[1].id)
    assert visit.outcome == "not_home"
    await fits(phone, shots, "after-visit")

    # Their tickets: their grid's only, and a step on one.
    await phone.go("#/tickets", "tickets")
    shown = await page.locator("article.ticket").evaluate_all("ts => ts.map(t => t.dataset.number)")
    assert shown == [mine.number] and theirs.number not in shown
    await fits(phone, shots, "tickets")
    card = page.locator(f'article.ticket[data-number="{mine.number}"]')
    await card.locator('button[data-action="accept"]').tap()
    await expect(
        page.locator(f'article.ticket[data-number="{mine.number}"] button[data-action="resolve"]')
    ).to_be_visible()
    ticket = await Ticket.get(id=mine.id)
    assert ticket.status == "accepted"
    await fits(phone, shots, "ticket-accepted")

    await phone.go("#/households", "households")
    await fits(phone, shots, "households")
    phone.assert_clean()
