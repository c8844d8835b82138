"""Changing a shift before it starts: who may, what is refused, who is told and how."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import job_context
from handlers.notices.relay import relay
from handlers.volunteers import service
from models.audit import AuditLog
from models.notices import Notice
from models.outbox import Notification
from models.volunteers import Shift, SignUp, VolunteerTeam
from tests.volunteers.conftest import patrol, volunteer
from tests.world import World


def soon(hours: float = 48) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)


def url(shift: Shift) -> str:
    return f"/api/v1/shifts/{shift.id}"


async def test_moving_a_shift_tells_each_volunteer_signed_up_in_their_language(
    client, world: World, bearer, app_state
):
    start = soon()
    _, shift = await patrol(world, start, capacity=1, now=datetime.now(UTC))
    first = await volunteer(world, "张三")
    waiting = await volunteer(world, "李四")
    waiting.language = "en"
    await waiting.save(update_fields=["language"])
    for person in (first, waiting):
        await service.sign_up(shift.id, person.id, datetime.now(UTC))
    await SignUp.filter(shift_id=shift.id).update(reminded_day_at=datetime.now(UTC))
    worker = bearer(await world.token(await world.worker()))
    later = start + timedelta(days=1)

    resp = await client.patch(
        url(shift),
        json={"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=3)).isoformat()},
        headers=worker,
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["told"], body["promoted"], body["capacity"]) == (2, [], 1)
    fresh = await Shift.get(id=shift.id)
    assert (fresh.starts_at, fresh.ends_at) == (later, later + timedelta(hours=3))
    # The reminders are owed again, for the new time.
    assert await SignUp.filter(shift_id=shift.id, reminded_day_at=None).count() == 2
    notes = await Notification.filter(kind="volunteer.shift_changed").order_by("id")
    assert [n.audience for n in notes] == [f"resident:{first.id}", f"resident:{waiting.id}"]
    entry = await AuditLog.get(action="volunteer_shift.changed", entity_id=str(shift.id))
    assert entry.before and entry.before["starts_at"] == start.isoformat()

    await relay(job_context(app_state, datetime.now(UTC)))
    notices = await Notice.filter(kind="volunteer.shift_changed").order_by("id")
    assert [n.scope["ids"] for n in notices] == [[first.id], [waiting.id]]  # one each
    chinese, english = notices[0].body, notices[1].body
    assert english.startswith("The time of shift") and "治安巡逻" in english
    assert chinese.startswith("您报名的“治安巡逻”")
    when = service.span(later, later + timedelta(hours=3))
    assert when in english and when in chinese
    for text in (english, chinese):  # nobody's name, phone or household but the activity's
        assert "张三" not in text and "李四" not in text


async def test_more_places_move_the_waitlist_up_and_fewer_than_confirmed_are_refused(
    client, world: World, bearer
):
    _, shift = await patrol(world, soon(), capacity=2, now=datetime.now(UTC))
    people = [await volunteer(world) for _ in range(5)]
    for person in people:
        await service.sign_up(shift.id, person.id, datetime.now(UTC))
    worker = bearer(await world.token(await world.worker()))

    cut = await client.patch(url(shift), json={"capacity": 1}, headers=worker)
    assert cut.status == 409
    error = (await cut.json())["error"]
    assert error["code"] == "volunteers.shift_changed.error.below_confirmed"
    assert "2" in error["message"]
    assert (await Shift.get(id=shift.id)).capacity == 2

    more = await client.patch(url(shift), json={"capacity": 4}, headers=worker)
    assert more.status == 200
    body = await more.json()
    assert body["promoted"] == [people[2].id, people[3].id]
    assert (body["confirmed"], body["waitlisted"], body["told"]) == (4, 1, 0)
    last = await SignUp.get(shift_id=shift.id, volunteer_id=people[4].id)
    assert (last.status, last.position) == ("waitlisted", 1)
    told = await Notification.filter(kind="volunteer.promoted").values_list("audience", flat=True)
    assert sorted(told) == sorted(f"resident:{p.id}" for p in people[2:4])
    assert await Notification.filter(kind="volunteer.shift_changed").count() == 0


async def test_a_started_shift_is_not_changed(client, world: World, bearer):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    _, shift = await patrol(world, start, now=datetime.now(UTC) - timedelta(days=1))
    await Shift.filter(id=shift.id).update(starts_at=datetime.now(UTC) - timedelta(minutes=5))
    worker = bearer(await world.token(await world.worker()))
    resp = await client.patch(
        url(shift), json={"capacity": 20}, headers={**worker, "Accept-Language": "en"}
    )
    assert resp.status == 409
    error = (await resp.json())["error"]
    assert error["code"] == "volunteers.shift_changed.error.started"
    assert (await Shift.get(id=shift.id)).capacity == 10


async def test_only_those_who_may_manage_the_activity_change_its_shifts(
    client, world: World, bearer
):
    leader = await volunteer(world, "队长")
    team = await VolunteerTeam.create(community=world.community, name="巡逻队", leader=leader)
    other = await volunteer(world, "别队队长")
    await VolunteerTeam.create(community=world.community, name="清洁队", leader=other)
    activity = await service.create_activity(
        await service.who(leader),
        datetime.now(UTC),
        title="夜间巡逻",
        team_id=team.id,
        shifts=[service.ShiftPlan(soon(), soon(50), 6)],
    )
    shift = await Shift.get(activity_id=activity.id)
    resident = await volunteer(world)
    for person, status in ((resident, 403), (other, 403), (leader, 200)):
        resp = await client.patch(
            url(shift), json={"capacity": 7}, headers=bearer(await world.token(person))
        )
        assert resp.status == status, (person.name, await resp.text())
    assert (await Shift.get(id=shift.id)).capacity == 7
    bad = await client.patch(
        url(shift),
        json={"starts_at": soon(60).isoformat()},
        headers=bearer(await world.token(leader)),
    )
    assert (await bad.json())["error"]["code"] == "volunteer.error.bad_time"  # after its end
    missing = await client.patch(
        "/api/v1/shifts/999999", json={}, headers=bearer(await world.token(leader))
    )
    assert missing.status == 404
