"""One ticket's page in a real browser, on a desktop and on a phone: opened from the board,
its photo through the media API (a blob: URL, as CSP allows), its timeline, the report linked
to it, the reporter as the API names them to staff (never a phone; nobody on an anonymous
ticket), and a step with a note that lands in the database and on the timeline."""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image
from playwright.async_api import expect

from handlers.complaints import service
from handlers.residents.accounts import set_password
from models.audit import AuditLog
from models.complaints import Ticket
from models.media import Media
from models.residents import Resident, Role, RoleAssignment
from tests.console.driver import PASSWORD, TIMEOUT, Console, no_sideways_scroll
from tests.world import World

PHONE = "13800138000"
LIFT = "3栋电梯又坏了，我妈下不了楼"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 90), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


async def staff(world: World, role: Role, login: str, grid_id: int | None = None) -> Resident:
    person = await world.resident()
    person.name = "王主任" if role is Role.ADMIN else "小赵"
    await person.save()
    await RoleAssignment.create(
        resident=person, role=role, community=world.community, grid_id=grid_id
    )
    await set_password(person, login, PASSWORD)
    return person


async def reported(client: Any, world: World) -> tuple[Ticket, Ticket, Resident]:
    """A lift report with a photo and a place, made through the API as a resident would,
    and a neighbour's report of the same lift, linked to it."""
    homes = await world.add_households(world.buildings[0], 2)
    reporter = await world.resident(homes[0])
    reporter.name, reporter.phone = "李阿姨", PHONE
    await reporter.save()
    headers = await world.headers(reporter)
    uploaded = await client.post(
        "/api/v1/media", data=png(), headers={**headers, "Content-Type": "image/png"}
    )
    assert uploaded.status == 201
    media_id = (await uploaded.json())["id"]
    made = await client.post(
        "/api/v1/complaints",
        json={"text": LIFT, "media": [media_id], "location": {"lat": 22.54321, "lng": 114.05678}},
        headers=headers,
    )
    assert made.status == 201
    ticket = await Ticket.get(id=(await made.json())["id"])
    photo = await Media.get(id=media_id)
    assert (photo.subject, photo.subject_id) == ("ticket", str(ticket.id))
    twin = await service.intake(
        await world.resident(homes[1]), "3栋电梯又坏了，下不了楼", ticket.created_at
    )
    assert twin.duplicate_of_id == ticket.id
    return ticket, twin, reporter


async def photo_shown(console: Console, gallery: str) -> None:
    picture = console.page.locator(f"#{gallery} img").first
    await expect(picture).to_have_attribute("src", re.compile("^blob:"))
    await expect(picture).to_have_js_property("complete", True)
    assert await picture.evaluate("img => img.naturalWidth") == 120


async def test_an_admin_opens_a_ticket_from_the_board_and_accepts_it(
    client, world: World, screen: Console, screen_shot
):
    ticket, twin, reporter = await reported(client, world)
    await staff(world, Role.ADMIN, "admin.li")

    await screen.sign_in("admin.li")
    await screen.ready("dashboard")
    await screen.go("#/tickets", "tickets")
    page = screen.page
    await page.locator(f'a[data-open="{ticket.id}"]').click()
    await expect(page.locator("#ticket-number")).to_have_text(ticket.number)
    await screen.ready("ticket")
    await photo_shown(screen, "ticket-photos")
    assert "22.54321" in (await page.locator("#ticket-location").text_content() or "")
    assert await page.locator("#ticket-text").text_content() == LIFT
    # An admin is told who reported it, but the API gives nobody a resident's phone.
    await expect(page.locator("#reporter-name")).to_have_text("李阿姨")
    await expect(page.locator("#reporter-no-phone")).to_be_visible()
    assert PHONE not in (await page.locator("main").text_content() or "")
    steps = page.locator("#ticket-timeline li")
    assert await steps.evaluate_all("ls => ls.map(l => l.dataset.step)") == ["created"]
    duplicate = page.locator(f'#ticket-duplicates a[data-link="{twin.id}"]')
    await expect(duplicate).to_contain_text(twin.number)
    if screen.screen == "phone":
        await no_sideways_scroll(screen)
    await screen_shot(page, "before")

    form = page.locator('form.ticket-action[data-action="accept"]')
    await form.locator("textarea").fill("下午两点去现场")
    await form.locator("button").click()
    await expect(steps).to_have_count(2, timeout=TIMEOUT)
    last = steps.last
    assert await last.get_attribute("data-step") == "accept"
    assert "下午两点去现场" in (await last.text_content() or "")
    assert "王主任" in (await last.text_content() or "")
    await expect(page.locator("#ticket-status")).to_have_attribute("data-status", "accepted")
    row = await Ticket.get(id=ticket.id)
    assert row.status == "accepted" and row.accepted_at is not None
    trail = await AuditLog.get(entity="ticket", entity_id=str(ticket.id), action="ticket.accept")
    assert trail.after == {"status": "accepted", "note": "下午两点去现场"}
    # The resolve form is offered now, and asks for its note.
    await expect(page.locator('form.ticket-action[data-action="resolve"]')).to_have_count(1)
    await screen_shot(page, "accepted")

    # The linked report opens its own page, which links back.
    await duplicate.click()
    await expect(page.locator("#ticket-number")).to_have_text(twin.number)
    await expect(page.locator(f'#ticket-original a[data-link="{ticket.id}"]')).to_be_visible()
    assert reporter.id != twin.reporter_id
    screen.assert_clean()


async def test_a_grid_worker_escalates_a_ticket_and_an_anonymous_one_hides_its_reporter(
    client, world: World, screen: Console, screen_shot
):
    ticket, _, reporter = await reported(client, world)
    worker = await staff(world, Role.GRID_WORKER, "xiao.zhao", grid_id=world.grid.id)
    seen = await client.get(f"/api/v1/complaints/{ticket.id}", headers=await world.headers(worker))
    assert PHONE not in await seen.text()

    await screen.sign_in("xiao.zhao")
    await screen.ready("dashboard")
    await screen.go("#/tickets", "tickets")
    page = screen.page
    await page.locator(f'a[data-open="{ticket.id}"]').click()
    await expect(page.locator("#ticket-number")).to_have_text(ticket.number)
    await screen.ready("ticket")
    # The photo is the grid's worker's to see: the ticket is of their grid.
    await photo_shown(screen, "ticket-photos")
    await expect(page.locator("#reporter-name")).to_have_text("李阿姨")
    assert await page.locator("#reporter-phone").count() == 0
    assert PHONE not in (await page.locator("main").text_content() or "")

    form = page.locator('form.ticket-action[data-action="escalate"]')
    await form.locator("textarea").fill("电梯困人风险，请街道督办")
    await form.locator("button").click()
    steps = page.locator("#ticket-timeline li")
    await expect(steps).to_have_count(2, timeout=TIMEOUT)
    assert await steps.last.get_attribute("data-step") == "escalate"
    assert "电梯困人风险" in (await steps.last.text_content() or "")
    row = await Ticket.get(id=ticket.id)
    assert row.status == "escalated" and row.escalated_at is not None
    assert await AuditLog.filter(
        entity="ticket",
        entity_id=str(ticket.id),
        action="ticket.escalate",
        actor=f"resident:{worker.id}",
    ).exists()
    if screen.screen == "phone":
        await no_sideways_scroll(screen)
    await screen_shot(page, "escalated")

    # An anonymous report: the reporter is hidden from every role, the trail says so.
    hidden = await service.intake(reporter, "楼下垃圾堆了好几天", ticket.created_at, anonymous=True)
    await screen.go(f"#/ticket?id={hidden.id}", "ticket")
    await expect(page.locator("#ticket-number")).to_have_text(hidden.number)
    await expect(page.locator("#reporter-anonymous")).to_be_visible()
    assert await page.locator("#reporter-name").count() == 0
    main = await page.locator("main").text_content() or ""
    assert "李阿姨" not in main and "1栋" not in main
    await screen_shot(page, "anonymous")
    screen.assert_clean()
