"""An activity's page in the console: its shifts, a shift moved and given more places
before it starts (the volunteers signed up are told, the waitlist moves up), the server's
refusal of fewer places than volunteers confirmed, and a started shift left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import expect

from handlers.volunteers import service
from handlers.volunteers.rules import LOCAL
from models.audit import AuditLog
from models.outbox import Notification
from models.volunteers import Shift, SignUp
from tests.console.driver import Console, no_sideways_scroll
from tests.console.test_console import strings, worker_with_password
from tests.volunteers.conftest import patrol, volunteer
from tests.world import World


def local(value: datetime) -> str:
    """What a datetime-local field shows for an instant: Beijing wall-clock time."""
    return value.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M")


async def test_a_worker_moves_a_shift_and_adds_places_before_it_starts(
    client, world: World, screen: Console, screen_shot
):
    await worker_with_password(world)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now + timedelta(days=2)
    activity, shift = await patrol(world, start, capacity=1, now=now, title="周末巡逻")
    past = await Shift.create(
        activity=activity,
        starts_at=now - timedelta(hours=3),
        ends_at=now - timedelta(hours=1),
        capacity=3,
    )
    first, second = await volunteer(world, "张阿姨"), await volunteer(world, "李师傅")
    for person in (first, second):
        await service.sign_up(shift.id, person.id, now)
    words = await strings(client)
    page = screen.page

    await screen.sign_in()
    await screen.ready("dashboard")
    await screen.go("#/volunteers", "volunteers")
    await page.locator(f'a[data-open="{activity.id}"]').click()
    await screen.ready("activity")
    assert await page.text_content("#activity-title") == "周末巡逻"
    started = page.locator(f'article.shift[data-shift="{past.id}"]')
    assert await started.get_attribute("data-started") == "true"
    assert await started.locator("form").count() == 0
    assert words["console.activity.started"] in (await started.text_content() or "")
    card = page.locator(f'article.shift[data-shift="{shift.id}"]')
    await expect(card.locator(f'[data-places="{shift.id}"]')).to_have_text(
        words["console.activity.signed_up"].format(confirmed=1, capacity=1, waitlisted=1)
    )
    await card.locator("summary").click()
    form = card.locator("form.shift-form")
    assert await form.locator('input[name="starts_at"]').input_value() == local(start)

    later = start + timedelta(days=1, hours=2)
    await form.locator('input[name="starts_at"]').fill(local(later))
    await form.locator('input[name="ends_at"]').fill(local(later + timedelta(hours=2)))
    await form.locator('input[name="capacity"]').fill("3")
    await screen_shot(page, "edit")
    await form.locator('button[data-action="save-shift"]').click()
    saved = words["console.activity.saved"].format(told=2, promoted=1)
    await expect(page.locator("#message")).to_have_text(saved)
    fresh = await Shift.get(id=shift.id)
    assert (fresh.starts_at, fresh.ends_at, fresh.capacity) == (
        later,
        later + timedelta(hours=2),
        3,
    )
    assert (fresh.confirmed_count, fresh.waitlist_count) == (2, 0)
    assert (await SignUp.get(shift_id=shift.id, volunteer_id=second.id)).status == "confirmed"
    told = await Notification.filter(kind="volunteer.shift_changed").values_list(
        "audience", flat=True
    )
    assert sorted(told) == sorted([f"resident:{first.id}", f"resident:{second.id}"])
    assert await AuditLog.filter(action="volunteer_shift.changed").count() == 1
    await expect(page.locator(f'[data-places="{shift.id}"]')).to_have_text(
        words["console.activity.signed_up"].format(confirmed=2, capacity=3, waitlisted=0)
    )

    # Below the two now confirmed: the server's own refusal.
    await page.locator(f'article.shift[data-shift="{shift.id}"] summary').click()
    again = page.locator(f'form[data-shift-form="{shift.id}"]')
    await again.locator('input[name="capacity"]').fill("1")
    await again.locator('button[data-action="save-shift"]').click()
    below = world.app_state.translate(  # type: ignore[attr-defined]
        "zh_Hans", "volunteers.shift_changed.error.below_confirmed", id=shift.id, confirmed=2
    )
    await expect(page.locator("#message")).to_have_text(below)
    assert (await Shift.get(id=shift.id)).capacity == 3
    if screen.screen == "phone":
        await no_sideways_scroll(screen)
    await screen_shot(page, "after")
    screen.assert_clean(400, 409)
