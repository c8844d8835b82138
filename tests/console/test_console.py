"""The console in a real browser: each flow checks what the page shows and what the database holds.

The app is the ``client`` fixture's server on a real port; rows are made with ``world`` and
the capabilities' own service functions. Screenshots go to tests/artifacts/console/.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from handlers.complaints import service as complaints
from handlers.proposals import service as proposals
from handlers.residents.accounts import set_password
from handlers.sessions import resolve
from models.complaints import RoutingCorrection, Ticket
from models.notices import Delivery, Notice
from models.proposals import Proposal
from models.residents import BindingCode, Resident
from models.volunteers import Activity, Shift, SignUp
from tests.console.driver import LOGIN, PASSWORD, TIMEOUT, Console
from tests.proposals import factories
from tests.world import T0, World


@pytest.fixture
async def console(client, browser) -> Any:  # type: ignore[no-untyped-def]
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    made = Console(page, str(client.make_url("/console/")))
    yield made
    await context.close()


async def worker_with_password(world: World) -> Resident:
    worker = await world.worker()
    worker.name = "王丽"
    await worker.save(update_fields=["name"])
    await set_password(worker, LOGIN, PASSWORD)
    return worker


async def strings(client, lang: str = "zh_Hans") -> dict[str, str]:  # type: ignore[no-untyped-def]
    resp = await client.get(f"/console/strings.json?lang={lang}")
    return (await resp.json())["messages"]


async def test_sign_in_with_a_password_and_see_the_dashboard(client, world: World, console, shots):
    worker = await worker_with_password(world)
    homes = await world.add_households(world.buildings[0], 3)
    reporter = await world.resident(homes[0])
    now = datetime.now(UTC)
    for text in ("3栋电梯坏了，困人了", "小区垃圾没人清运", "楼道灯不亮"):
        await complaints.intake(reporter, text, now - timedelta(days=1))
    fixed = await complaints.intake(reporter, "楼下水管漏水", now - timedelta(days=9))
    staff = await world.who(worker)
    await complaints.act(staff, fixed.id, "accept", now - timedelta(days=9, hours=-1))
    await complaints.act(staff, fixed.id, "resolve", now - timedelta(days=8), note="已修好")
    voters = [await world.resident(h) for h in homes]
    vote = await factories.voting(world, voters[0], worker)
    for voter, choice in zip(voters, ("yes", "no"), strict=False):
        await proposals.cast_vote(vote, voter.id, choice, T0 + timedelta(days=6))
    activity = await Activity.create(community=world.community, title="清洁楼道")
    shift = await Shift.create(
        activity=activity,
        starts_at=now - timedelta(days=2),
        ends_at=now - timedelta(days=2, hours=-2),
        capacity=5,
    )
    await SignUp.create(
        shift=shift, volunteer=reporter, status="attended", minutes=120, signed_up_at=now
    )

    await console.sign_in(LOGIN, "not-the-password")  # refused: 401
    refused = await console.message()
    answer = await client.post(
        "/api/v1/auth/password", json={"login": LOGIN, "password": "not-the-password"}
    )
    assert refused == (await answer.json())["error"]["message"]
    assert await console.page.evaluate("sessionStorage.length") == 0

    await console.page.fill("#login-password", PASSWORD)
    await console.page.click("#login-submit")
    await console.ready("dashboard")
    token = await console.page.evaluate("sessionStorage.getItem('linli.console.token')")
    assert await resolve(world.app_state.store, token) == worker.id  # type: ignore[attr-defined]
    page = console.page
    assert await page.text_content('[data-count="open_tickets"] .count-value') == "3"
    # Drawn by ECharts (tests/console/test_dashboard_charts.py checks the charts in depth).
    total = await page.evaluate(
        "() => echarts.getInstanceByDom(document.querySelector('#complaints-chart .echart'))"
        ".getOption().series.reduce((sum, s) => s.data.map((v, i) => (sum[i] || 0) + v), [])"
    )
    assert [n for n in total if n] == [1, 3]  # the fixed leak (9 days ago), then the three
    resolved = page.locator("#resolve-times tbody tr")
    assert await resolved.count() == 1
    assert (
        await resolved.locator("td").nth(2).text_content()
    ) == "24"  # hours: received 9 days ago, fixed 8 days ago
    turnout = page.locator("#votes tbody tr")
    assert "3栋门口加装路灯" in (await turnout.text_content() or "")
    assert (await turnout.locator("meter").get_attribute("value")) == "0.6667"
    hours = await page.evaluate(
        "() => echarts.getInstanceByDom(document.querySelector('#volunteer-hours .echart'))"
        ".getOption().series[0].data"
    )
    assert len(hours) == 8
    assert sum(hours) == 2.0
    assert await Ticket.filter(community_id=world.community.id).count() == 4
    await shots(page, "dashboard")
    console.assert_clean(401)


async def test_review_and_publish_a_submitted_proposal(client, world: World, console, shots):
    worker = await worker_with_password(world)
    home = (await world.add_households(world.buildings[0], 1))[0]
    proposer = await world.resident(home)
    made = await proposals.create(
        await world.who(proposer),
        title="小区加装充电桩",
        description="电动车充电难，希望在2栋旁加装充电桩。",
        category="project",
    )
    assert made.status == "submitted"

    await console.sign_in()
    await console.ready("dashboard")
    assert (
        await console.page.text_content('[data-count="proposals_awaiting_review"] .count-value')
        == "1"
    )
    await console.go("#/proposals", "proposals")
    row = console.page.locator(f'tr[data-proposal="{made.id}"]')
    assert "小区加装充电桩" in (await row.text_content() or "")
    await row.locator('button[data-action="review"]').click()
    await console.page.wait_for_selector(
        f'tr[data-proposal="{made.id}"][data-status="under_review"]'
    )
    assert (await Proposal.get(id=made.id)).status == "under_review"
    await shots(console.page, "under-review")

    await console.page.locator(
        f'tr[data-proposal="{made.id}"] button[data-action="publish"]'
    ).click()
    await console.page.wait_for_selector(f'tr[data-proposal="{made.id}"][data-status="published"]')
    labels = await strings(client)
    shown = await console.page.text_content(f'tr[data-proposal="{made.id}"] .status')
    assert shown == labels["console.proposal.published"]
    fresh = await Proposal.get(id=made.id)
    assert fresh.status == "published"
    assert fresh.published_at is not None
    await shots(console.page, "published")
    assert worker.id
    console.assert_clean()


async def test_reject_needs_a_reason_and_shows_the_servers_message(client, world, console):
    await worker_with_password(world)
    home = (await world.add_households(world.buildings[0], 1))[0]
    made = await proposals.create(
        await world.who(await world.resident(home)),
        title="拆除违建",
        description="楼顶违建影响安全。",
        category="rectification",
    )
    await console.sign_in()
    await console.ready("dashboard")
    await console.go("#/proposals", "proposals")
    await console.page.locator(
        f'tr[data-proposal="{made.id}"] button[data-action="reject"]'
    ).click()
    refused = await client.post(
        f"/api/v1/proposals/{made.id}/actions/reject",
        json={},
        headers={"Authorization": "Bearer " + await world.token(await world.worker())},
    )
    assert await console.message() == (await refused.json())["error"]["message"]
    assert (await Proposal.get(id=made.id)).status == "submitted"
    await console.page.fill(f'input[data-reason="{made.id}"]', "不属于社区事务")
    await console.page.locator(
        f'tr[data-proposal="{made.id}"] button[data-action="reject"]'
    ).click()
    await console.page.wait_for_selector(f'tr[data-proposal="{made.id}"][data-status="rejected"]')
    fresh = await Proposal.get(id=made.id)
    assert (fresh.status, fresh.rejection_reason) == ("rejected", "不属于社区事务")
    console.assert_clean(400)


async def test_live_tally_then_close_the_vote(client, world: World, console, shots):
    worker = await worker_with_password(world)
    homes = await world.add_households(world.buildings[0], 5)
    voters = [await world.resident(h) for h in homes]
    # a rectification: 3 of 5 households
    proposal_id = await factories.voting(world, voters[0], worker)
    during = T0 + timedelta(days=6)
    for voter, choice in zip(voters, ("yes", "yes", "no"), strict=False):
        await proposals.cast_vote(proposal_id, voter.id, choice, during)

    await console.sign_in()
    await console.ready("dashboard")
    await console.go("#/proposals", "proposals")
    tally = console.page.locator(f'[data-tally="{proposal_id}"]')
    assert (await tally.locator(".yes").text_content() or "").endswith(" 2")
    assert (await tally.locator(".no").text_content() or "").endswith(" 1")
    # A household votes while the page is open: the tally follows without a reload.
    await proposals.cast_vote(proposal_id, voters[3].id, "yes", during)
    await expect(tally.locator(".yes")).to_have_text(re.compile(r" 3$"), timeout=TIMEOUT)
    await shots(console.page, "live-tally")
    # 全覆盖: the last household is visited (not at home) before the vote can be decided.
    await factories.visited(world, proposal_id, worker, voters[4:], during, "not_home")

    # The vote ended (14 November); closing counts it against the rule: 3 of 5 is 60%.
    ends = (await Proposal.get(id=proposal_id)).voting_ends_at
    assert ends is not None and ends < datetime.now(UTC)
    await console.page.locator(
        f'tr[data-proposal="{proposal_id}"] button[data-action="close"]'
    ).click()
    await console.ready("proposals")
    await console.page.wait_for_selector(
        f'tr[data-proposal="{proposal_id}"][data-status="approved"]'
    )
    outcome = console.page.locator(f'tr[data-proposal="{proposal_id}"] [data-outcome]')
    assert await outcome.get_attribute("data-outcome") == "approved"
    labels = await strings(client)
    assert labels["console.proposal.approved"] in (await outcome.text_content() or "")
    closed = await Proposal.get(id=proposal_id)
    assert closed.status == "approved"
    assert closed.result is not None
    assert (closed.result["yes"], closed.result["no"], closed.result["eligible"]) == (3, 1, 5)
    await shots(console.page, "closed")
    console.assert_clean()


async def test_reassign_a_ticket_and_take_it(client, world: World, console, shots):
    worker = await worker_with_password(world)
    home = (await world.add_households(world.buildings[0], 1))[0]
    reporter = await world.resident(home)
    ticket = await complaints.intake(reporter, "小区垃圾桶满了没人清运", datetime.now(UTC))
    assert ticket.status == "assigned"
    target = next(k for k in complaints.departments() if k not in {ticket.department, "triage"})

    await console.sign_in()
    await console.ready("dashboard")
    await console.go("#/tickets", "tickets")
    card = console.page.locator(f'article[data-ticket="{ticket.id}"]')
    lane = console.page.locator(f'section[data-lane="{ticket.department}"]')
    assert await lane.locator(f'article[data-ticket="{ticket.id}"]').count() == 1
    assert ticket.number in (await card.text_content() or "")
    await card.locator(f'select[data-department="{ticket.id}"]').select_option(target)
    await card.locator(f'input[data-note="{ticket.id}"]').fill("属于其他部门")
    await card.locator('button[data-action="reassign"]').click()
    await console.ready("tickets")
    lane = console.page.locator(f'section[data-lane="{target}"] [data-column="reassigned"]')
    moved = lane.locator(f'article[data-ticket="{ticket.id}"]')
    await moved.wait_for()
    fresh = await Ticket.get(id=ticket.id)
    assert (fresh.department, fresh.status) == (target, "reassigned")
    assert await RoutingCorrection.filter(ticket_id=ticket.id, correct=target).exists()
    await shots(console.page, "reassigned")

    await moved.locator('button[data-action="accept"]').click()
    await console.ready("tickets")
    await console.page.wait_for_selector(
        f'[data-column="accepted"] article[data-ticket="{ticket.id}"]'
    )
    fresh = await Ticket.get(id=ticket.id)
    assert (fresh.status, fresh.handler_id) == ("accepted", worker.id)  # type: ignore[attr-defined]
    console.assert_clean()


async def test_create_and_send_a_notice_and_follow_its_progress(
    client, world: World, console, shots
):
    await worker_with_password(world)
    homes = await world.add_households(world.buildings[0], 3)
    for home in homes:
        await world.resident(home)

    await console.sign_in()
    await console.ready("dashboard")
    await console.go("#/notices", "notices")
    page = console.page
    await page.fill("#notice-title", "停水通知")
    await page.fill("#notice-body", "明天上午9点至12点停水，请提前储水。")
    await page.select_option("#notice-scope", "buildings")
    await page.fill("#notice-ids", str(world.buildings[0].id))
    await page.click("#notice-create")
    notice = await _eventually(lambda: Notice.get_or_none(title="停水通知"))
    row = page.locator(f'tr[data-notice="{notice.id}"]')
    await row.wait_for()
    assert await row.get_attribute("data-status") == "draft"
    assert notice.scope == {"kind": "buildings", "ids": [world.buildings[0].id]}

    await row.locator('button[data-action="send"]').click()
    await page.wait_for_selector(f'tr[data-notice="{notice.id}"][data-status="sending"]')
    labels = await strings(client)
    expected = labels["console.notices.progress"].format(sent=0, total=3, failed=0, pending=3)
    progress = page.locator(f'[data-progress="{notice.id}"] span')
    assert (await progress.text_content() or "").strip() == expected
    assert await Delivery.filter(notice_id=notice.id).count() == 3
    await shots(page, "sending")

    # Two messages go out (the sender job's work, done here by hand): the page follows.
    sent = await Delivery.filter(notice_id=notice.id).order_by("id").limit(2)
    await Delivery.filter(id__in=[d.id for d in sent]).update(status="sent")
    later = labels["console.notices.progress"].format(sent=2, total=3, failed=0, pending=1)
    await expect(progress).to_have_text(later, timeout=TIMEOUT)
    assert (await Notice.get(id=notice.id)).status == "sending"
    await shots(page, "progress")
    console.assert_clean()


async def _eventually(fetch: Any, tries: int = 100) -> Any:
    import asyncio

    for _ in range(tries):
        found = await fetch()
        if found is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("never appeared")


async def test_volunteer_attendance(client, world: World, console, shots):
    await worker_with_password(world)
    home = (await world.add_households(world.buildings[0], 1))[0]
    helper = await world.resident(home)
    helper.name = "李阿姨"
    await helper.save(update_fields=["name"])
    now = datetime.now(UTC)
    activity = await Activity.create(
        community=world.community, title="关爱独居老人", place="活动室"
    )
    shift = await Shift.create(
        activity=activity, starts_at=now - timedelta(hours=3), ends_at=now, capacity=4
    )
    await SignUp.create(
        shift=shift,
        volunteer=helper,
        status="attended",
        minutes=150,
        points=15,
        signed_up_at=now - timedelta(days=1),
        checked_in_at=now - timedelta(hours=3),
        checked_out_at=now - timedelta(minutes=30),
    )

    await console.sign_in()
    await console.ready("dashboard")
    await console.go("#/volunteers", "volunteers")
    card = console.page.locator(f'[data-activity="{activity.id}"]')
    assert "关爱独居老人" in (await card.text_content() or "")
    await card.locator(f'[data-shift="{shift.id}"] button[data-action="attendance"]').click()
    rows = console.page.locator(f'table[data-attendance="{shift.id}"] tbody tr')
    await rows.first.wait_for()
    cells = await rows.first.locator("td").all_text_contents()
    signup = await SignUp.get(shift_id=shift.id)
    labels = await strings(client)
    assert cells[0] == "李阿姨"
    assert cells[1] == labels[f"console.signup.{signup.status}"]
    assert (cells[4], cells[5]) == (str(signup.minutes), str(signup.points))
    await shots(console.page, "attendance")
    console.assert_clean()


async def test_households_binding_codes_print_and_language(client, world: World, console, shots):
    await worker_with_password(world)
    homes = await world.add_households(world.buildings[1], 3)
    await world.resident(homes[0])

    await console.sign_in()
    await console.ready("dashboard")
    await console.go("#/households", "households")
    page = console.page
    assert await page.locator("#households tbody tr").count() == 3
    row = page.locator(f'tr[data-household="{homes[1].id}"]')
    await row.locator('button[data-action="new-code"]').click()
    await expect(row.locator("td.code")).to_have_text(re.compile(r"\S"))
    code = await BindingCode.get(household_id=homes[1].id)
    assert await row.locator("td.code").text_content() == code.code
    assert code.used_at is None

    await page.emulate_media(media="print")
    assert not await page.locator("#print").is_visible()
    assert not await page.locator("#nav").is_visible()
    assert await row.locator("td.code").is_visible()
    await shots(page, "print")
    await page.emulate_media(media="screen")

    english = await strings(client, "en")
    await page.select_option("#lang", "en")
    await expect(page.locator('#nav a[data-route="households"]')).to_have_text(
        english["console.nav.households"]
    )
    await expect(page.locator("main h1")).to_have_text(english["console.households.heading"])
    assert await page.evaluate("localStorage.getItem('linli.console.lang')") == "en"
    await shots(page, "english")
    console.assert_clean()
