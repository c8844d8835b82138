"""Other capabilities' notifications become delivered messages, in each reader's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import job_context
from handlers.complaints import service as complaints
from handlers.notices.relay import relay
from models.notices import Delivery, Notice
from models.outbox import Notification
from models.residents import Role, RoleAssignment
from tests.notices.conftest import deliver, residents_of
from tests.proposals import factories
from tests.world import T0, World


async def test_a_reporter_hears_of_each_step_once_in_their_language(world: World, app_state, fake):
    reporter = (await residents_of(world, 0, 1))[0]
    reporter.language = "zh_Hant"
    await reporter.save(update_fields=["language"])
    now = datetime.now(UTC)
    ticket = await complaints.intake(reporter, "电梯坏了，困了人", now)
    boss = await world.who(await world.worker())
    await complaints.act(boss, ticket.id, "accept", now)
    made = await relay(job_context(app_state, now))
    assert made >= 2  # the assignment to workers and the acceptance to the reporter
    assert await relay(job_context(app_state, now)) == 0  # nothing relayed twice
    notice = await Notice.get(kind="ticket.accept")
    assert notice.scope == {"kind": "residents", "ids": [reporter.id]}
    assert notice.body == f"您的訴求 {ticket.number} 已受理。"
    rows = await Delivery.filter(notice_id=notice.id).values_list("resident_id", flat=True)
    assert rows == [reporter.id]
    await deliver(app_state, now)
    texts = [m.body["text"]["content"] for m in fake.messages[reporter.openid]]
    assert any(ticket.number in t and "已受理" in t for t in texts)


async def test_a_department_notice_goes_to_its_handlers(world: World, app_state):
    reporter = (await residents_of(world, 0, 1))[0]
    handler = await world.resident()
    await RoleAssignment.create(
        resident=handler, role=Role.HANDLER, community=world.community, department="property"
    )
    now = datetime.now(UTC)
    await complaints.intake(reporter, "电梯坏了，困了人", now)
    await relay(job_context(app_state, now))
    notice = await Notice.get(kind="ticket.assigned")
    assert notice.scope == {"kind": "residents", "ids": [handler.id]}


async def test_a_published_proposal_reaches_its_scope(world: World, app_state):
    people = await residents_of(world, 0, 3)
    outsiders = await residents_of(world, 1, 2)
    worker = await world.worker()
    proposal_id = await factories.published(world, people[0], worker)
    await relay(job_context(app_state, T0))
    published = await Notice.filter(kind="proposal.published")
    scope_notice = next(n for n in published if n.scope["kind"] == "buildings")
    reached = set(
        await Delivery.filter(notice_id=scope_notice.id).values_list("resident_id", flat=True)
    )
    assert {p.id for p in people} <= reached
    assert not reached & {p.id for p in outsiders}
    assert "3栋门口加装路灯" in scope_notice.body
    assert await Notification.filter(subject_id=proposal_id, sent_at=None).count() == 0


async def test_instants_read_as_local_time(world: World, app_state):
    volunteer = (await residents_of(world, 0, 1))[0]
    starts = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
    await Notification.create(
        community=world.community,
        kind="volunteer.reminder_day",
        audience=f"resident:{volunteer.id}",
        subject="volunteer_shift",
        subject_id=1,
        payload={"title": "清洁家园", "place": "小区广场", "starts_at": starts.isoformat()},
    )
    await relay(job_context(app_state, starts - timedelta(days=1)))
    notice = await Notice.get(kind="volunteer.reminder_day")
    assert "11-24 09:00" in notice.body and "清洁家园" in notice.body
