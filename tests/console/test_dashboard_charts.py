"""The dashboard's ECharts charts in a real browser, on a desktop and on a phone.

Rows are made through the capabilities' services (intake, act, rate, votes) and plain
shift rows; each chart is checked as ECharts drew it (its instance on the container, a
canvas), its tooltip against the database, its "save as image" button, and the page
against the console's CSP (no script error, no violation). The app runs on the real clock,
so every ticket lies in the current local week (Asia/Shanghai).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import expect

from handlers.complaints import service as complaints
from handlers.complaints.rules import week_of
from handlers.dashboard.service import week_starts
from handlers.proposals import service as proposals
from handlers.residents.accounts import set_password
from models.complaints import Ticket
from models.proposals import Proposal, Vote
from models.volunteers import Activity, Shift, SignUp
from tests.console.driver import LOGIN, PASSWORD, Console, no_sideways_scroll
from tests.proposals import factories
from tests.world import T0, World

CHARTS = (
    "complaints-chart",
    "complaint-heatmap",
    "resolve-times",
    "satisfaction",
    "votes",
    "volunteer-hours",
)
# Every CSP violation the page sees, whatever Chromium logs about it.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
"""


async def seed(world: World) -> dict[str, Any]:
    """Tickets from both buildings (one anonymous), two of them rated; a vote; hours."""
    now = datetime.now(UTC)
    start = max(now - timedelta(hours=2), week_starts(now)[-1])

    def at(step: int) -> datetime:
        return start + (now - start) * step / 12

    one, two = world.buildings
    homes = await world.add_households(one, 2) + await world.add_households(two, 1)
    alice, carol, bob = [await world.resident(home) for home in homes]
    worker = await world.worker()
    worker.name = "王丽"
    await worker.save(update_fields=["name"])
    await set_password(worker, LOGIN, PASSWORD)
    staff = await world.who(worker)
    fixed = [
        await complaints.intake(alice, "楼道灯不亮", at(0)),
        await complaints.intake(carol, "小区垃圾没人清运", at(1)),
    ]
    await complaints.intake(alice, "楼下水管漏水", at(2))
    await complaints.intake(bob, "电梯异响", at(3))
    await complaints.intake(bob, "有人在楼道堆放杂物", at(4), anonymous=True)
    for ticket, reporter, stars in zip(fixed, (alice, carol), (5, 4), strict=True):
        await complaints.act(staff, ticket.id, "accept", at(5))
        await complaints.act(staff, ticket.id, "resolve", at(6), note="已处理")
        await complaints.rate(reporter, ticket.number, stars, "", at(7))
    vote = await factories.voting(world, alice, worker)
    for voter, choice in zip((alice, carol), ("yes", "no"), strict=True):
        await proposals.cast_vote(vote, voter.id, choice, T0 + timedelta(days=6))
    activity = await Activity.create(community=world.community, title="清洁楼道")
    shift = await Shift.create(
        activity=activity, starts_at=at(1), ends_at=at(1) + timedelta(hours=2), capacity=5
    )
    for volunteer, minutes in ((alice, 90), (carol, 60)):
        await SignUp.create(
            shift=shift, volunteer=volunteer, status="attended", minutes=minutes, signed_up_at=at(0)
        )
    return {"week": week_of(now), "vote": vote, "one": one, "two": two}


async def strings(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return (await (await client.get("/console/strings.json?lang=zh_Hans")).json())["messages"]


async def chart_call(page: Any, chart: str, body: str, *args: Any) -> Any:
    """Run ``body`` with ``chart`` (the ECharts instance of section #chart) and ``args``."""
    return await page.evaluate(
        f"([id, args]) => {{ const chart = echarts.getInstanceByDom("
        f"document.querySelector(`#${{id}} .echart`)); {body} }}",
        [chart, list(args)],
    )


async def hover(console: Console, chart: str, finder: dict[str, int], value: list[Any]) -> None:
    """Point at ``value`` (data coordinates) of the chart: the mouse, or a finger on a phone."""
    page = console.page
    box = page.locator(f"#{chart} .echart")
    await box.scroll_into_view_if_needed()
    x, y = await chart_call(
        page, chart, "return chart.convertToPixel(args[0], args[1]);", finder, value
    )
    bounds = await box.bounding_box()
    assert bounds is not None
    if console.screen == "phone":
        await page.touchscreen.tap(bounds["x"] + x, bounds["y"] + y)
    else:
        await page.mouse.move(bounds["x"] + x, bounds["y"] + y)


async def test_the_dashboard_draws_every_chart_with_echarts(
    client, world: World, screen: Console, screen_shot
):
    seeded = await seed(world)
    zh = await strings(client)
    page = screen.page
    await page.add_init_script(WATCH_CSP)

    await screen.sign_in()
    await screen.ready("dashboard")
    assert await page.evaluate("() => echarts.version") == "6.1.0"
    for chart in CHARTS:
        section = page.locator(f"#{chart}")
        # Drawn by ECharts: its instance on the container, its canvas inside.
        assert await section.locator(".echart[_echarts_instance_]").count() == 1, chart
        assert await section.locator(".echart canvas").count() >= 1, chart
        # Said in words too, for screen readers: the aria-label is the summary shown.
        label = await section.locator(".echart").get_attribute("aria-label")
        assert label and label == (await section.locator(".chart-summary").text_content())
        saving = await chart_call(
            page, chart, "return chart.getOption().toolbox[0].feature.saveAsImage;"
        )
        assert saving["title"] == zh["console.chart.save"], chart
        assert saving["name"] == f"linli-{chart}"
    await expect(page.locator("#complaints-chart h2")).to_have_text(
        zh["console.dashboard.complaints"]
    )
    await expect(page.locator("#complaint-heatmap h2")).to_have_text(
        zh["console.dashboard.heatmap"]
    )

    week = seeded["week"]
    received = await Ticket.filter(community_id=world.community.id).count()
    assert received == 5
    # Complaints by department: the current week's total, as the database has it.
    totals = await chart_call(
        page,
        chart="complaints-chart",
        body="return chart.getOption().series.map((s) => s.data[s.data.length - 1]);",
    )
    assert sum(totals) == received
    await hover(screen, "complaints-chart", {"seriesIndex": 0}, [7, 0.5])
    tooltip = page.locator("#complaints-chart .chart-tooltip")
    await expect(tooltip).to_be_visible()
    await expect(tooltip).to_contain_text(week)
    await expect(tooltip).to_contain_text(f"{zh['console.chart.total']}{received}")

    # The heatmap: 1栋's cell of this week counts its residents' tickets; the anonymous one
    # is not on 2栋 (its building is never shown) but in the last row.
    heat = page.locator("#complaint-heatmap")
    names = await chart_call(page, "complaint-heatmap", "return chart.getOption().yAxis[0].data;")
    assert names == ["1栋", "2栋", zh["console.chart.unplaced"]]
    on_one = await Ticket.filter(building_id=seeded["one"].id, anonymous=False).count()
    on_two = await Ticket.filter(building_id=seeded["two"].id, anonymous=False).count()
    assert (on_one, on_two) == (3, 1)
    await hover(screen, "complaint-heatmap", {"seriesIndex": 0}, [7, 0])
    await expect(heat.locator(".chart-tooltip")).to_contain_text(f"1栋 · {week}")
    await expect(heat.locator(".chart-tooltip")).to_contain_text(
        f"{zh['console.chart.tickets']}{on_one}"
    )
    await hover(screen, "complaint-heatmap", {"seriesIndex": 0}, [7, 1])
    await expect(heat.locator(".chart-tooltip")).to_contain_text(
        f"{zh['console.chart.tickets']}{on_two}"
    )

    # Satisfaction: the average of the stars the reporters gave.
    stars = await Ticket.filter(stars__not_isnull=True).values_list("stars", flat=True)
    average = sum(stars) / len(stars)
    assert average == 4.5
    await hover(screen, "satisfaction", {"seriesIndex": 0}, [7, average])
    tip = page.locator("#satisfaction .chart-tooltip")
    await expect(tip).to_contain_text(f"{zh['console.chart.stars']}4.5")
    await expect(tip).to_contain_text(f"{zh['console.chart.rated']}{len(stars)}")

    # Vote turnout: voted / eligible from the database; a community worker sees the tally.
    proposal = await Proposal.get(id=seeded["vote"])
    voted = await Vote.filter(proposal_id=proposal.id).count()
    await hover(screen, "votes", {"seriesIndex": 0}, [0.1, 0])
    tip = page.locator("#votes .chart-tooltip")
    await expect(tip).to_contain_text(proposal.title)
    await expect(tip).to_contain_text(f"{voted} / {proposal.eligible_count}")
    await expect(tip).to_contain_text(f"{zh['console.dashboard.yes']}1")
    meter = await page.locator("#votes tbody tr meter").get_attribute("value")
    assert float(meter or 0) == round(voted / (proposal.eligible_count or 1), 4)

    # Volunteer hours: the attended minutes of this week's shift.
    minutes = await SignUp.filter(status="attended").values_list("minutes", flat=True)
    await hover(screen, "volunteer-hours", {"seriesIndex": 0}, [7, 0.5])
    tip = page.locator("#volunteer-hours .chart-tooltip")
    await expect(tip).to_contain_text(f"{zh['console.dashboard.hours']}{sum(minutes) / 60:g}")
    await expect(tip).to_contain_text(f"{zh['console.chart.attended']}{len(minutes)}")

    # Every figure is in a table too (here: the heatmap's, opened).
    await heat.locator(".chart-data summary").click()
    rows = await heat.locator(".chart-data tbody tr").all_text_contents()
    assert f"1栋{week}{on_one}" in rows

    if screen.screen == "phone":
        await no_sideways_scroll(screen)
    await screen_shot(page, "dashboard")

    # Refreshed: drawn again from the API, the old instances disposed, none left behind.
    await page.evaluate("() => { window.__before = document.querySelector('.echart'); }")
    await page.click(".page-head button")
    await screen.ready("dashboard")
    assert await page.evaluate("() => window.__before.isConnected") is False
    assert await page.evaluate("() => echarts.getInstanceByDom(window.__before)") is None
    assert await page.locator(".echart[_echarts_instance_]").count() == len(CHARTS)
    assert await page.evaluate("() => window.__csp") == []
    screen.assert_clean()


async def test_save_as_image_downloads_the_chart(client, world: World, screen: Console):
    await seed(world)
    page = screen.page
    await page.add_init_script(WATCH_CSP)
    await screen.sign_in()
    await screen.ready("dashboard")
    box = page.locator("#complaint-heatmap .echart")
    await box.scroll_into_view_if_needed()
    bounds = await box.bounding_box()
    assert bounds is not None
    # The toolbox's icon, found among what ECharts drew by its title.
    title = (await strings(client))["console.chart.save"]
    x, y = await chart_call(
        page,
        "complaint-heatmap",
        "const icon = chart.getZr().storage.getDisplayList().find((el) => el.__title === args[0]);"
        "const r = icon.getBoundingRect().clone(); r.applyTransform(icon.getComputedTransform());"
        "return [r.x + r.width / 2, r.y + r.height / 2];",
        title,
    )
    async with page.expect_download() as made:
        await page.mouse.click(bounds["x"] + x, bounds["y"] + y)
    download = await made.value
    assert download.suggested_filename == "linli-complaint-heatmap.png"
    assert (await download.path()).stat().st_size > 1000  # a PNG, not an empty file
    assert await page.evaluate("() => window.__csp") == []
    screen.assert_clean()


async def test_without_echarts_the_tables_remain(client, world: World, screen: Console):
    """npm ci not run: the page says so, keeps every table, and the server says what to run."""
    from bot.console import VENDOR

    await seed(world)
    missing = client.server.app[VENDOR]
    missing["echarts.min.js"] = missing["echarts.min.js"].with_name("not-installed.js")
    answer = await client.get("/console/vendor/echarts.min.js")
    assert answer.status == 503
    assert "npm ci --prefix bot/console" in await answer.text()
    zh = await strings(client)

    await screen.sign_in()
    await screen.ready("dashboard")
    assert await screen.message() == zh["console.chart.missing"]
    page = screen.page
    assert await page.locator(".echart").count() == 0
    assert await page.locator("#resolve-times tbody tr").count() >= 1
    assert await page.locator("#complaint-heatmap .chart-data[open] tbody tr").count() >= 2
    screen.assert_clean(503)
