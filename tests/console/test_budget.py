"""The 民生微实事 round's console pages in a real browser: the menu editor and the phases, a
paper ballot at a door on a grid worker's phone, the result table and chart, and the money
page's spending entry; each checks what the page shows against the database.

Setup follows tests/console/test_canvass.py (the ``Console`` wrapper fails a test on any
script error or unexpected failed request). The app runs on the real clock, so the rounds
here are planned around today (Beijing time), not around ``tests.world.T0``.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import expect

from handlers.budget import doors, ordering, rounds
from handlers.budget.doors import BallotForm
from handlers.budget.ordering import ends_at
from handlers.budget.rounds import Source
from handlers.clock import LOCAL
from handlers.residents.accounts import set_password
from models.audit import AuditLog
from models.budget import BallotVisit, FundSource, MenuItem, Order, Round, Spending
from models.community import Building, Grid
from models.media import Media
from models.residents import Resident, Role, RoleAssignment
from tests.budget import factories
from tests.console.driver import PASSWORD, TIMEOUT, Console
from tests.world import World

PHONE = {"width": 375, "height": 667}


@pytest.fixture
async def desk(client, browser) -> Any:  # type: ignore[no-untyped-def]
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    made = Console(await context.new_page(), str(client.make_url("/console/")))
    yield made
    await context.close()


@pytest.fixture
async def phone(client, browser) -> Any:  # type: ignore[no-untyped-def]
    context = await browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, locale="zh-CN"
    )
    made = Console(await context.new_page(), str(client.make_url("/console/")))
    yield made
    await context.close()


async def staff(world: World, role: Role, login: str, grid: Grid | None = None) -> Resident:
    person = await world.resident()
    await RoleAssignment.create(resident=person, role=role, community=world.community, grid=grid)
    await set_password(person, login, PASSWORD)
    return person


def lock_of(world: World) -> Any:
    return world.app_state.store.lock  # type: ignore[attr-defined]


def plan_around_today() -> dict[str, date]:
    """Ordering opened yesterday and lasts until the start of the day after tomorrow."""
    today = datetime.now(LOCAL).date()
    days = (-30, -20, -10, -1, 2, 4)
    return {p: today + timedelta(days=d) for p, d in zip(factories.PLAN, days, strict=True)}


async def new_round(world: World, worker: Resident, costs: list[str], fund: str = "100000") -> int:
    made = await rounds.create_round(
        await world.who(worker),
        year=datetime.now(LOCAL).year,
        title="民生微实事",
        rule_name="fit",
        phases=plan_around_today(),
        sources=[Source("government", Decimal(fund), "区级民生微实事资金")],
    )
    for n, cost in enumerate(costs, start=1):
        await factories.add(world, worker, made.id, cost, title=f"项目{n}")
    return made.id


async def opened(world: World, worker: Resident, round_id: int) -> None:
    """Review, publicity, then ordering, now."""
    who = await world.who(worker)
    for _ in range(3):
        await rounds.advance(who, round_id, datetime.now(UTC), lock_of(world))


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 160, 200)).save(out, "PNG")
    return out.getvalue()


async def cells(row: Any) -> dict[str, str]:
    """A table row's cells that carry data-col, by column, as their data-value or text."""
    found = row.locator("td[data-col]")
    keys = await found.evaluate_all("cs => cs.map(c => c.dataset.col)")
    values = await found.evaluate_all("cs => cs.map(c => c.dataset.value ?? c.textContent)")
    return dict(zip(keys, values, strict=True))


async def test_a_round_is_created_from_the_rounds_list(client, world: World, desk):
    await staff(world, Role.COMMUNITY_WORKER, "wang.li")
    await desk.sign_in("wang.li")
    await desk.ready("dashboard")
    await desk.go("#/budget", "budget")
    page = desk.page
    assert await page.locator("#rounds").count() == 0  # none yet: the empty line
    await page.fill("#round-year", "2027")
    await page.fill("#round-title", "2027年民生微实事")
    await page.select_option("#round-rule", "three")
    for phase, day in plan_around_today().items():
        await page.fill(f'#round-form input[data-phase="{phase}"]', day.isoformat())
    first = page.locator("#budget-sources .source-row").first
    await first.locator(".source-name").fill("区级民生微实事资金")
    await first.locator(".source-amount").fill("200000")
    await page.click("#budget-add-source")
    second = page.locator("#budget-sources .source-row").nth(1)
    await second.locator(".source-kind").select_option("residents")
    await second.locator(".source-amount").fill("5000.50")
    await page.click("#round-create")
    await expect(page.locator("#round")).to_have_attribute("data-status", "collection")
    made = await Round.get(community_id=world.community.id, year=2027)
    assert (made.title, made.rule_name) == ("2027年民生微实事", "three")
    assert await page.locator("#round").get_attribute("data-round") == str(made.id)
    sources = await FundSource.filter(round_id=made.id).order_by("id").values_list("kind", "amount")
    assert sources == [("government", Decimal("200000.00")), ("residents", Decimal("5000.50"))]
    assert "205,000.50" in (await page.locator("#round-fund").text_content() or "")
    desk.assert_clean()


async def test_the_menu_editor_and_the_phases(client, world: World, desk, shots):
    manager = await staff(world, Role.COMMUNITY_WORKER, "wang.li")
    round_id = await new_round(world, manager, ["30000", "20000"])
    await world.add_households(world.buildings[0], 2)

    await desk.sign_in("wang.li")
    await desk.ready("dashboard")
    await desk.go("#/budget", "budget")
    page = desk.page
    await page.click(f'#rounds tr[data-round="{round_id}"] a')
    await expect(page.locator("#round")).to_have_attribute("data-status", "collection")
    await expect(page.locator("#round-body")).to_have_attribute("data-view", "menu")
    menu = page.locator("#budget-menu tbody tr")
    await expect(menu).to_have_count(2)
    shown = [await cells(menu.nth(i)) for i in range(2)]
    assert [s["cost"] for s in shown] == ["30000.00", "20000.00"]
    assert (
        await page.locator('#round-phases li[data-phase="collection"]').get_attribute(
            "aria-current"
        )
        == "step"
    )

    # A department's project through the form: it takes the next number.
    await page.fill("#item-title", "楼道照明改造")
    await page.fill("#item-cost", "12345.60")
    await page.fill("#item-responsible", "社区居委会")
    await page.click("#item-add")
    added = page.locator('#budget-menu tr[data-item="3"]')
    await expect(added).to_have_attribute("data-status", "listed")
    assert (await cells(added))["cost"] == "12345.60"
    item = await MenuItem.get(round_id=round_id, number=3)
    assert (item.title, item.cost, item.origin, item.responsible) == (
        "楼道照明改造",
        Decimal("12345.60"),
        "department",
        "社区居委会",
    )

    # Costing item 1 again, then withdrawing item 2 with its reason.
    first = page.locator('#budget-menu tr[data-item="1"]')
    await first.locator("input.item-cost").fill("28000.50")
    await first.locator('button[data-action="save"]').click()
    await expect(
        page.locator('#budget-menu tr[data-item="1"] td[data-col="cost"]')
    ).to_have_attribute("data-value", "28000.50")
    assert (await MenuItem.get(round_id=round_id, number=1)).cost == Decimal("28000.50")
    second = page.locator('#budget-menu tr[data-item="2"]')
    await second.locator("input.item-reason").fill("与物业维修计划重复")
    await second.locator('button[data-action="withdraw"]').click()
    await expect(page.locator('#budget-menu tr[data-item="2"]')).to_have_attribute(
        "data-status", "withdrawn"
    )
    assert (await MenuItem.get(round_id=round_id, number=2)).status == "withdrawn"
    withdrawn = await AuditLog.filter(action="budget.item_withdrawn").values_list(
        "after", flat=True
    )
    assert [a["reason"] for a in withdrawn] == ["与物业维修计划重复"]  # type: ignore[index]
    await shots(page, "menu")

    # Until the menu is published the fund's sources may change (the money tab).
    await page.click('#round-tabs a[data-view="money"]')
    await expect(page.locator("#round-body")).to_have_attribute("data-view", "money")
    await page.locator("#sources-form .source-amount").first.fill("120000")
    await page.click("#sources-save")
    await expect(page.locator('#money-totals [data-total="fund"]')).to_have_attribute(
        "data-value", "120000.00"
    )
    amounts = await FundSource.filter(round_id=round_id).values_list("amount", flat=True)
    assert amounts == [Decimal("120000.00")]
    await page.click('#round-tabs a[data-view="menu"]')
    await expect(page.locator("#round-body")).to_have_attribute("data-view", "menu")

    # Review, publicity, ordering: one click each; the menu is then fixed.
    for phase in ("review", "publicity", "ordering"):
        await page.click("#round-advance")
        await expect(page.locator("#round")).to_have_attribute("data-status", phase)
        assert (await Round.get(id=round_id)).status == phase
    assert (await Round.get(id=round_id)).eligible_count == 2
    await page.click('#round-tabs a[data-view="menu"]')
    await expect(page.locator("#round-body")).to_have_attribute("data-view", "menu")
    await expect(page.locator("#budget-menu tbody tr")).to_have_count(3)
    assert await page.locator("#item-form").count() == 0
    assert await page.locator('#budget-menu button[data-action="withdraw"]').count() == 0
    desk.assert_clean()


async def test_a_paper_ballot_at_a_door_on_a_phone(client, world: World, phone, shots):
    homes = await world.add_households(world.buildings[0], 3)
    elsewhere = await Grid.create(community=world.community, name="第二网格")
    far = await Building.create(community=world.community, grid=elsewhere, name="9栋")
    (far_home,) = await world.add_households(far, 1)
    manager = await world.worker()
    round_id = await new_round(world, manager, ["30000", "20000", "60000"])
    await opened(world, manager, round_id)
    online = await world.resident(homes[0])
    await ordering.place_order(await world.who(online), round_id, [3], datetime.now(UTC))
    worker = await staff(world, Role.GRID_WORKER, "xiao.zhao", world.grid)

    await phone.sign_in("xiao.zhao")
    await phone.ready("dashboard")
    await phone.go(f"#/budget?id={round_id}", "budget")
    page = phone.page
    await expect(page.locator("#round-body")).to_have_attribute("data-view", "doors")
    # The worker's own grid only: 3 households, one ordered online; 9栋 is not theirs.
    head = page.locator("#budget-coverage .reach-head")
    await expect(head).to_have_attribute("data-eligible", "3")
    assert await head.get_attribute("data-reached") == "1"
    assert await page.locator("#round-advance").count() == 0  # managers move the round
    listed = await page.locator("#ballot-doors button.door").evaluate_all(
        "ds => ds.map(d => Number(d.dataset.door))"
    )
    assert listed == [homes[1].id, homes[2].id]
    assert far_home.id not in listed
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    await shots(page, "doors-phone")

    await page.tap(f'#ballot-doors button.door[data-door="{homes[1].id}"]')
    form = page.locator("#ballot-form")
    await form.wait_for()
    await form.locator('input[name="outcome"][value="answered"]').check()
    for number in (1, 2):
        await form.locator(f'#ballot-items input[value="{number}"]').check()
    await page.fill("#ballot-respondent", "户主本人")
    await form.locator('input[name="method"][value="form"]').check()
    await page.set_input_files(
        "#ballot-photo", files=[{"name": "ballot.png", "mimeType": "image/png", "buffer": png()}]
    )
    photo = page.locator("#ballot-photos li").first
    await photo.wait_for()
    media_id = await photo.get_attribute("data-media")
    await shots(page, "ballot-form-phone")
    await page.tap("#ballot-submit")

    await expect(head).to_have_attribute("data-reached", "2", timeout=TIMEOUT)
    assert await page.locator(f'button.door[data-door="{homes[1].id}"]').count() == 0
    order = await Order.get(round_id=round_id, elector__household_id=homes[1].id)
    assert (order.items, order.channel, order.recorded_by_id) == ([1, 2], "in_person", worker.id)
    visit = await BallotVisit.get(round_id=round_id, household_id=homes[1].id)
    assert (visit.outcome, visit.method, visit.respondent, visit.media) == (
        "answered",
        "form",
        "户主本人",
        [media_id],
    )
    attached = await Media.get(id=media_id)
    assert (attached.subject, attached.subject_id) == ("ballot", str(visit.id))

    # Nobody at home at the last door: it stays on the list, visited.
    await page.tap(f'#ballot-doors button.door[data-door="{homes[2].id}"]')
    await page.locator('#ballot-form input[name="outcome"][value="not_home"]').check()
    assert not await page.locator("#ballot-answer").is_visible()
    await page.tap("#ballot-submit")
    await page.locator(f'button.door[data-door="{homes[2].id}"][data-state="visited"]').wait_for()
    assert await BallotVisit.filter(round_id=round_id, household_id=homes[2].id).count() == 1
    assert await Order.filter(round_id=round_id).count() == 2
    phone.assert_clean()


async def closed_round(world: World, manager: Resident) -> int:
    """Five households: the fund of 100,000 pays for 3 (60,000) and 1 (30,000); 2 is left out."""
    homes = await world.add_households(world.buildings[0], 5)
    round_id = await new_round(world, manager, ["30000", "20000", "60000"])
    await opened(world, manager, round_id)
    now = datetime.now(UTC)
    picks = ([3], [3, 1], [3], [1, 2])
    for home, wanted in zip(homes, picks, strict=False):
        resident = await world.resident(home)
        await ordering.place_order(await world.who(resident), round_id, wanted, now)
    who = await world.who(manager)
    await doors.record_ballot(who, round_id, homes[4].id, BallotForm("not_home"), now)
    found = await Round.get(id=round_id)
    await rounds.advance(who, round_id, ends_at(found) + timedelta(hours=1), lock_of(world))
    return round_id


async def test_the_result_and_the_money(client, world: World, desk, shots):
    manager = await staff(world, Role.COMMUNITY_WORKER, "wang.li")
    round_id = await closed_round(world, manager)
    done = await Round.get(id=round_id)
    assert done.status == "result" and done.result is not None

    await desk.sign_in("wang.li")
    await desk.ready("dashboard")
    await desk.go(f"#/budget?id={round_id}&view=result", "budget")
    page = desk.page
    rows = page.locator("#result-items tbody tr")
    await expect(rows).to_have_count(3)
    orders = [o.items for o in await Order.filter(round_id=round_id)]
    funded = set(done.result["funded"])
    assert funded == {1, 3}
    for row in done.result["items"]:
        number = row["number"]
        shown = page.locator(f'#result-items tr[data-item="{number}"]')
        assert (await cells(shown))["support"] == str(sum(1 for o in orders if number in o))
        assert (await cells(shown))["support"] == str(row["support"])
        assert await shown.get_attribute("data-standing") == row["standing"]
        assert ("funded" in (await shown.get_attribute("class") or "")) == (number in funded)
    bars = page.locator("#result-chart rect.bar")
    values = await bars.evaluate_all(
        "bs => bs.map(b => [b.dataset.label, Number(b.dataset.value)])"
    )
    assert sorted(values) == sorted([str(r["number"]), r["support"]] for r in done.result["items"])
    await shots(page, "result")

    # The money page: a spending on project 3 through the form.
    await page.click('#round-tabs a[data-view="money"]')
    await expect(page.locator("#round-body")).to_have_attribute("data-view", "money")
    projects = page.locator("#money-projects tbody tr")
    await expect(projects).to_have_count(2)
    three = page.locator('#money-projects tr[data-item="3"]')
    assert await cells(three) == {"budget": "60000.00", "spent": "0.00", "left": "60000.00"}
    assert await page.locator("#spending-over").count() == 0  # only admins pass a budget line
    await page.select_option("#spending-item", "3")
    await page.fill("#spending-amount", "1234.50")
    await page.fill("#spending-purpose", "健身器材首付款")
    await page.click("#spending-submit")
    await expect(
        page.locator('#money-projects tr[data-item="3"] td[data-col="spent"]')
    ).to_have_attribute("data-value", "1234.50", timeout=TIMEOUT)
    assert (await cells(page.locator('#money-projects tr[data-item="3"]')))["left"] == "58765.50"
    assert (
        await page.locator('#money-totals [data-total="spent"]').get_attribute("data-value")
        == "1234.50"
    )
    entry = page.locator('#spending-list[data-item="3"] tbody tr')
    await expect(entry).to_have_count(1)
    assert (await entry.locator("td.purpose").text_content()) == "健身器材首付款"
    (spent,) = await Spending.filter(item__round_id=round_id)
    assert (spent.amount, spent.purpose, spent.recorded_by_id, spent.over_reason) == (
        Decimal("1234.50"),
        "健身器材首付款",
        manager.id,
        None,
    )
    assert (await spent.item).number == 3
    await shots(page, "money")

    # The project starts (实施).
    await page.locator('#money-projects tr[data-item="3"] button[data-action="start"]').click()
    await expect(page.locator('#money-projects tr[data-item="3"]')).to_have_attribute(
        "data-status", "implementing"
    )
    assert (await MenuItem.get(round_id=round_id, number=3)).status == "implementing"
    desk.assert_clean()


async def test_an_admin_passes_a_budget_line_with_a_reason(client, world: World, desk):
    manager = await world.worker()
    await staff(world, Role.ADMIN, "admin.li")
    round_id = await closed_round(world, manager)

    await desk.sign_in("admin.li")
    await desk.ready("dashboard")
    await desk.go(f"#/budget?id={round_id}&view=money", "budget")
    page = desk.page
    await page.locator("#spending-over").wait_for()
    await page.select_option("#spending-item", "1")
    await page.fill("#spending-amount", "30000.01")
    await page.fill("#spending-purpose", "材料涨价")
    # Past the line without a reason: the server's refusal, in the worker's language.
    await page.click("#spending-submit")
    expected = world.app_state.translate("zh_Hans", "budget.error.over_budget_reason")  # type: ignore[attr-defined]
    assert await desk.message() == expected
    assert await Spending.filter(item__round_id=round_id).count() == 0
    await page.fill("#spending-over-reason", "钢材价格上涨，经居民议事会同意")
    await page.click("#spending-submit")
    await expect(
        page.locator('#money-projects tr[data-item="1"] td[data-col="left"]')
    ).to_have_attribute("data-value", "-0.01", timeout=TIMEOUT)
    assert "over" in (
        await page.locator('#money-projects tr[data-item="1"]').get_attribute("class") or ""
    )
    (spent,) = await Spending.filter(item__round_id=round_id)
    assert (spent.amount, spent.over_reason) == (
        Decimal("30000.01"),
        "钢材价格上涨，经居民议事会同意",
    )
    desk.assert_clean(400)


def export_routes(client: Any) -> bool:
    paths = {r.resource.canonical for r in client.server.app.router.routes() if r.resource}
    base = "/api/v1/budget/rounds/{id}"
    return {
        f"{base}/poster.pdf",
        f"{base}/record.xlsx",
        f"{base}/report.pdf",
        f"{base}/report.xlsx",
    } <= paths


async def test_the_rounds_files_download(client, world: World, desk):
    if not export_routes(client):
        pytest.skip("the round's export routes are not in the app yet")
    manager = await staff(world, Role.COMMUNITY_WORKER, "wang.li")
    round_id = await closed_round(world, manager)
    await desk.sign_in("wang.li")
    await desk.ready("dashboard")
    await desk.go(f"#/budget?id={round_id}", "budget")
    for button, magic in (
        ("#round-poster", b"%PDF"),
        ("#round-record", b"PK"),
        ("#round-report-pdf", b"%PDF"),
        ("#round-report-xlsx", b"PK"),
    ):
        async with desk.page.expect_download() as made:
            await desk.page.click(button)
        path = await (await made.value).path()
        assert path is not None and path.read_bytes().startswith(magic), button
    desk.assert_clean()
