"""One ticket's staff view: its timeline, linked reports, the caller's steps, the contact rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.complaints import rules, service
from handlers.complaints.rules import Action, Actor
from handlers.roles import who_of
from models.audit import AuditLog
from models.residents import Resident, Role, RoleAssignment
from tests.complaints.conftest import handler_of
from tests.world import World

PHONE = "13800138000"
LIFT = "3栋电梯又坏了，我妈下不了楼"


def test_the_steps_offered_are_those_the_rules_allow_the_actor():
    offered = ("accept", "progress", "reassign", "resolve", "reject", "escalate")
    assert rules.steps("assigned", Actor.HANDLER, offered) == [
        Action.ACCEPT,
        Action.REASSIGN,
        Action.REJECT,
    ]
    assert rules.steps("assigned", Actor.WORKER, offered) == [
        Action.ACCEPT,
        Action.REASSIGN,
        Action.REJECT,
        Action.ESCALATE,
    ]
    assert rules.steps("in_progress", Actor.HANDLER, offered) == [
        Action.PROGRESS,
        Action.REASSIGN,
        Action.RESOLVE,
    ]
    assert rules.steps("closed", Actor.WORKER, offered) == []


async def test_the_timeline_shows_every_step_with_who_when_and_where_it_was_routed(
    client, world: World
):
    home = (await world.add_households(world.buildings[0], 1))[0]
    reporter = await world.resident(home)
    reporter.name = "李阿姨"
    await reporter.save()
    now = datetime.now(UTC)
    ticket = await service.intake(reporter, LIFT, now)
    boss = await world.worker()
    boss.name = "王主任"
    await boss.save()
    who = await who_of(boss)
    await service.act(who, ticket.id, "reassign", now, note="其实是公共设施", department="other")
    await service.act(who, ticket.id, "accept", now, note="马上去看")
    await service.act(who, ticket.id, "progress", now, note="已联系电梯公司")
    await service.act(who, ticket.id, "escalate", now, note="三天没修好")

    got = await client.get(f"/api/v1/complaints/{ticket.id}", headers=await world.headers(boss))
    assert got.status == 200
    data = await got.json()
    steps = [(s["action"], s["from_status"], s["status"]) for s in data["timeline"]]
    assert steps == [
        ("created", None, "assigned"),
        ("reassign", "assigned", "reassigned"),
        ("accept", "reassigned", "accepted"),
        ("progress", "accepted", "in_progress"),
        ("escalate", "in_progress", "escalated"),
    ]
    created, moved, accepted = data["timeline"][:3]
    assert created["actor"] == {"kind": "reporter", "id": reporter.id, "name": "李阿姨"}
    assert created["department"] == "property"
    assert (moved["from_department"], moved["department"]) == ("property", "other")
    assert moved["note"] == "其实是公共设施"
    assert accepted["actor"] == {"kind": "staff", "id": boss.id, "name": "王主任"}
    assert data["timeline"][3]["note"] == "已联系电梯公司"
    # The worker may still progress, resolve, reassign it; a note goes with some.
    offers = {o["action"]: o["needs_note"] for o in data["actions"]}
    assert offers == {
        "accept": False,
        "progress": False,
        "reassign": True,
        "resolve": True,
        "reject": True,
    }
    # The trail the timeline reads is the audit log itself.
    assert await AuditLog.filter(entity="ticket", entity_id=str(ticket.id)).count() == 5


async def test_staff_are_told_the_reporters_name_never_a_phone_nor_an_anonymous_reporter(
    client, world: World
):
    home = (await world.add_households(world.buildings[0], 1))[0]
    reporter = await world.resident(home)
    reporter.name, reporter.phone = "李阿姨", PHONE
    await reporter.save()
    now = datetime.now(UTC)
    ticket = await service.intake(reporter, LIFT, now)
    hidden = await service.intake(reporter, "楼下垃圾堆了好几天", now, anonymous=True)
    admin = await world.worker(Role.ADMIN)
    grid_worker = await world.worker(Role.GRID_WORKER)
    await RoleAssignment.filter(resident_id=grid_worker.id).update(grid_id=world.grid.id)
    handler = await handler_of(world, "property")
    for person in (admin, grid_worker, handler):
        headers = await world.headers(person)
        one = await client.get(f"/api/v1/complaints/{ticket.id}", headers=headers)
        assert (await one.json())["reporter"] == {"id": reporter.id, "name": "李阿姨"}
        assert PHONE not in await one.text()
        listed = await client.get("/api/v1/complaints", headers=headers)
        assert PHONE not in await listed.text()
    anonymous = await client.get(
        f"/api/v1/complaints/{hidden.id}", headers=await world.headers(admin)
    )
    data = await anonymous.json()
    assert data["reporter"] is None and data["building"] is None
    assert "李阿姨" not in await anonymous.text()
    assert [s["actor"] for s in data["timeline"]] == [
        {"kind": "reporter", "id": None, "name": None}
    ]


async def test_linked_reports_show_both_ways_but_never_an_anonymous_twin(client, world: World):
    homes = await world.add_households(world.buildings[0], 3)
    now = datetime.now(UTC)
    first = await service.intake(await world.resident(homes[0]), "3栋电梯又坏了", now)
    second = await service.intake(
        await world.resident(homes[1]), "3栋的电梯坏了两天了没人修", now + timedelta(hours=1)
    )
    third = await service.intake(
        await world.resident(homes[2]),
        "3栋电梯坏了没人修",
        now + timedelta(hours=2),
        anonymous=True,
    )
    assert second.duplicate_of_id == first.id and third.duplicate_of_id == first.id
    headers = await world.headers(await world.worker())
    primary = await (await client.get(f"/api/v1/complaints/{first.id}", headers=headers)).json()
    assert primary["duplicates"] == [
        {"id": second.id, "number": second.number, "status": "assigned"}
    ]
    assert primary["original"] is None and primary["reporters"] == 3
    twin = await (await client.get(f"/api/v1/complaints/{second.id}", headers=headers)).json()
    assert twin["original"] == {"id": first.id, "number": first.number, "status": "assigned"}
    hidden = await (await client.get(f"/api/v1/complaints/{third.id}", headers=headers)).json()
    assert hidden["original"] is None and hidden["duplicate_of"] is None


async def test_an_action_answers_with_the_timeline_that_shows_it(client, world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    ticket = await service.intake(await world.resident(home), LIFT, datetime.now(UTC))
    handler = await handler_of(world, "property")
    done = await client.post(
        f"/api/v1/complaints/{ticket.id}/actions/accept",
        json={"note": "下午去现场"},
        headers=await world.headers(handler),
    )
    assert done.status == 200
    data = await done.json()
    assert data["timeline"][-1]["action"] == "accept"
    assert data["timeline"][-1]["note"] == "下午去现场"
    assert [o["action"] for o in data["actions"]] == ["progress", "reassign", "resolve", "reject"]
    # The reporter's own view has none of the staff fields.
    mine = await client.get(
        f"/api/v1/complaints/{ticket.id}",
        headers=await world.headers(await Resident.get(id=ticket.reporter_id)),
    )
    assert "timeline" not in await mine.json()
