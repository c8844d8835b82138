"""One proposal's page in a real browser, on a desktop and on a phone: opened from the list,
its description, scope and photo (through the media API), the tally as the role may see it,
the coverage by building, comments an admin hides with a reason (gone for residents, in the
database), and the audit trail for admins only."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from PIL import Image
from playwright.async_api import expect

from handlers.proposals import service as proposals
from handlers.residents.accounts import set_password
from models.audit import AuditLog
from models.media import Media
from models.proposals import Comment
from models.residents import Resident, Role, RoleAssignment
from tests.console.driver import PASSWORD, TIMEOUT, Console, no_sideways_scroll
from tests.world import T0, World

DESCRIPTION = "晚上太黑，老人出门不安全。"
RUDE = "谁提的这种馊主意，脑子进水了"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (240, 200, 20)).save(out, "PNG")
    return out.getvalue()


async def staff(world: World, role: Role, login: str, grid_id: int | None = None) -> Resident:
    person = await world.resident()
    await RoleAssignment.create(
        resident=person, role=role, community=world.community, grid_id=grid_id
    )
    await set_password(person, login, PASSWORD)
    return person


async def a_vote(client, world: World) -> tuple[int, Resident, list[int]]:  # type: ignore[no-untyped-def]
    """A rectification of 1栋 proposed through the API with a photo, two comments made
    during its publicity, and its vote open now, one household having voted."""
    homes = await world.add_households(world.buildings[0], 3)
    proposer, neighbour = await world.resident(homes[0]), await world.resident(homes[1])
    headers = await world.headers(proposer)
    uploaded = await client.post(
        "/api/v1/media", data=png(), headers={**headers, "Content-Type": "image/png"}
    )
    assert uploaded.status == 201
    media_id = (await uploaded.json())["id"]
    made = await client.post(
        "/api/v1/proposals",
        json={
            "title": "1栋门口加装路灯",
            "description": DESCRIPTION,
            "category": "rectification",
            "scope": {"kind": "buildings", "ids": [world.buildings[0].id]},
            "photos": [media_id],
            "estimated_cost": 3800,
        },
        headers=headers,
    )
    assert made.status == 201, await made.text()
    proposal_id = (await made.json())["id"]
    assert (await Media.get(id=media_id)).subject_id == str(proposal_id)
    boss = await world.who(await world.worker())
    await proposals.act(proposal_id, boss, "review", T0)
    await proposals.act(proposal_id, boss, "publish", T0)
    kind = await proposals.comment(proposal_id, await world.who(neighbour), "支持，楼道口太暗了")
    rude = await proposals.comment(proposal_id, await world.who(neighbour), RUDE)
    await proposals.open_voting(proposal_id, boss, datetime.now(UTC))
    await proposals.cast_vote(proposal_id, neighbour.id, "yes", datetime.now(UTC))
    return proposal_id, neighbour, [kind.id, rude.id]


async def photo_shown(console: Console) -> None:
    picture = console.page.locator("#proposal-photos img").first
    await expect(picture).to_have_attribute("src", re.compile("^blob:"))
    await expect(picture).to_have_js_property("complete", True)
    assert await picture.evaluate("img => img.naturalWidth") == 80


async def test_an_admin_reads_a_proposal_hides_a_comment_and_sees_the_audit(
    client, world: World, screen: Console, screen_shot
):
    proposal_id, neighbour, (kind, rude) = await a_vote(client, world)
    await staff(world, Role.ADMIN, "admin.li")

    await screen.sign_in("admin.li")
    await screen.ready("dashboard")
    await screen.go("#/proposals", "proposals")
    page = screen.page
    await page.locator(f'a[data-open="{proposal_id}"]').click()
    await expect(page.locator("#proposal-description")).to_have_text(DESCRIPTION)
    await screen.ready("proposal")
    assert "1栋" in (await page.locator("#proposal-scope").text_content() or "")
    await photo_shown(screen)
    # An admin reads the live tally, and the coverage by building.
    await expect(page.locator("#proposal-tally")).to_contain_text("1")
    await expect(page.locator('#coverage-buildings tr[data-building="1栋"]')).to_be_visible()
    # The audit trail, with this very reading in it.
    audit = page.locator("#audit tr[data-audit]")
    actions = await audit.evaluate_all("rs => rs.map(r => r.dataset.audit)")
    assert "proposal.publish" in actions and "proposal.audit_read" in actions
    if screen.screen == "phone":
        await no_sideways_scroll(screen)
    await screen_shot(page, "before")

    reason = "含人身攻击，已隐藏"
    item = page.locator(f'li[data-comment="{rude}"]')
    await item.locator("input.hide-reason").fill(reason)
    await item.locator('button[data-action="hide"]').click()
    await expect(page.locator(f'li[data-comment="{rude}"]')).to_have_attribute(
        "data-hidden", "true", timeout=TIMEOUT
    )
    assert reason in (await page.locator(f'li[data-comment="{rude}"]').text_content() or "")
    assert await page.locator(f'li[data-comment="{kind}"] form.hide-form').count() == 1
    assert (await Comment.get(id=rude)).hidden_reason == reason
    assert await AuditLog.filter(
        entity="proposal_comment", entity_id=str(rude), action="comment.hidden"
    ).exists()
    # A resident reading the comments no longer gets its text, only the reason.
    seen = await client.get(
        f"/api/v1/proposals/{proposal_id}/comments", headers=await world.headers(neighbour)
    )
    items = {c["id"]: c for c in (await seen.json())["items"]}
    assert items[rude]["text"] is None and items[rude]["hidden_reason"] == reason
    assert RUDE not in await seen.text()
    await screen_shot(page, "hidden")
    screen.assert_clean()


async def test_a_grid_worker_reads_the_proposal_without_tally_moderation_or_audit(
    client, world: World, screen: Console, screen_shot
):
    proposal_id, _, (kind, _) = await a_vote(client, world)
    worker = await staff(world, Role.GRID_WORKER, "xiao.zhao", grid_id=world.grid.id)
    refused = await client.get(
        f"/api/v1/proposals/{proposal_id}/audit", headers=await world.headers(worker)
    )
    assert refused.status == 403

    await screen.sign_in("xiao.zhao")
    await screen.ready("dashboard")
    await screen.go(f"#/proposal?id={proposal_id}", "proposal")
    page = screen.page
    await expect(page.locator("#proposal-description")).to_have_text(DESCRIPTION)
    await photo_shown(screen)
    await expect(page.locator("#proposal-turnout")).to_be_visible()
    await expect(page.locator("#proposal-tally-hidden")).to_be_visible()
    assert await page.locator("#proposal-tally").count() == 0
    await expect(page.locator(f'li[data-comment="{kind}"]')).to_be_visible()
    assert await page.locator("form.hide-form").count() == 0
    assert await page.locator("#proposal-audit").count() == 0
    await expect(page.locator("#coverage")).to_be_visible()
    # The page never asked for the trail (a refused request would fail assert_clean).
    assert not await AuditLog.filter(
        entity="proposal", entity_id=str(proposal_id), action="proposal.audit_read"
    ).exists()
    if screen.screen == "phone":
        await no_sideways_scroll(screen)
    await screen_shot(page, "grid-worker")
    screen.assert_clean()
