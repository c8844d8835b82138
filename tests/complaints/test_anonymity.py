"""An anonymous report (匿名) shows the staff handling it nothing that identifies the reporter:
no building, no link to a named twin from the same building, no name in the ticket's trail.
The ticket still routes by the reporter's grid and building, and still reaches the reporter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from handlers.complaints import service
from handlers.roles import who_of
from models.audit import AuditLog
from models.complaints import Ticket
from models.outbox import Notification
from models.residents import Resident
from tests.complaints.conftest import handler_of
from tests.world import World

TEXT = "楼道里堆满了纸箱杂物，消防通道都堵住了"


async def _households(world: World) -> tuple[Resident, Resident]:
    """Two residents of the second building (``2栋``), with names and phones."""
    homes = await world.add_households(world.buildings[1], 2)
    people = [await world.resident(home) for home in homes]
    for n, person in enumerate(people):
        person.name, person.phone = f"住户{n}", f"1390000000{n}"
        await person.save(update_fields=["name", "phone"])
    return people[0], people[1]


async def test_staff_see_no_building_of_an_anonymous_reporter(client, world: World, bearer):
    me, _ = await _households(world)
    ticket = await service.intake(me, TEXT, datetime.now(UTC), anonymous=True)
    # Routed by where the reporter lives, as any report.
    assert (ticket.building_id, ticket.grid_id) == (world.buildings[1].id, world.grid.id)
    handler = await handler_of(world, ticket.department)
    for person in (handler, await world.worker()):
        headers = bearer(await world.token(person))
        one = await client.get(f"/api/v1/complaints/{ticket.id}", headers=headers)
        listing = await client.get("/api/v1/complaints?per_page=100", headers=headers)
        assert one.status == 200 and listing.status == 200
        body = await one.json()
        assert body["anonymous"] is True
        assert body["building"] is None and body["reporter"] is None
        for raw in (await one.text(), await listing.text()):
            for secret in ("2栋", me.name, me.phone, me.openid, f"resident:{me.id}"):
                assert secret not in raw, secret
    # A named ticket keeps its building for the staff.
    named = await service.intake(me, "路灯坏了一排，晚上很黑", datetime.now(UTC))
    handler = await handler_of(world, named.department)
    body = await (
        await client.get(
            f"/api/v1/complaints/{named.id}", headers=bearer(await world.token(handler))
        )
    ).json()
    assert body["building"] == "2栋"


async def test_an_anonymous_duplicate_is_not_linked_to_its_named_twin_for_staff(
    client, world: World, bearer
):
    """The twin is from the same building and shows its building and reporter: the link
    alone would say where the anonymous reporter lives."""
    neighbour, me = await _households(world)
    now = datetime.now(UTC)
    named = await service.intake(neighbour, TEXT, now)
    hidden = await service.intake(me, TEXT, now + timedelta(minutes=3), anonymous=True)
    assert hidden.duplicate_of_id == named.id  # kept: fixing the twin still closes this one
    handler = await handler_of(world, hidden.department)
    headers = bearer(await world.token(handler))
    body = await (await client.get(f"/api/v1/complaints/{hidden.id}", headers=headers)).json()
    assert body["duplicate_of"] is None
    listed = await (await client.get("/api/v1/complaints?per_page=100", headers=headers)).json()
    (item,) = [i for i in listed["items"] if i["id"] == hidden.id]
    assert item["duplicate_of"] is None and item["building"] is None
    # The reporter still sees their own report's link.
    mine = await service.view(hidden, for_staff=False)
    assert mine["duplicate_of"] == named.id


async def test_the_trail_of_an_anonymous_ticket_never_names_its_reporter(world: World):
    me, _ = await _households(world)
    boss = await who_of(await world.worker())
    now = datetime.now(UTC)
    ticket = await service.intake(me, TEXT, now - timedelta(days=2), anonymous=True)
    await service.act(boss, ticket.id, "accept", now - timedelta(days=2))
    await service.act(boss, ticket.id, "resolve", now - timedelta(days=1), note="已清理")
    await service.rate(me, ticket.number, 1, "又堆上了", now)  # reopens it
    trail = await AuditLog.filter(entity="ticket", entity_id=str(ticket.id)).values_list(
        "actor", "action"
    )
    assert ("anonymous", "ticket.reopen") in trail
    assert all(actor != f"resident:{me.id}" for actor, _ in trail), trail
    # The staff-facing notices name the ticket, never the reporter.
    for payload in await Notification.filter(subject_id=ticket.id).values_list(
        "payload", flat=True
    ):
        text = json.dumps(payload, ensure_ascii=False)
        assert me.name not in text and "2栋" not in text and str(me.phone) not in text
    assert (await Ticket.get(id=ticket.id)).status == "in_progress"
