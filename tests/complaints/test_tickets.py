"""The ticket loop end to end: chat intake, routing, handlers' API, deadlines, duplicates."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from handlers.complaints import service
from handlers.complaints.learned import Model
from handlers.complaints.routing import Router
from handlers.complaints.rules import Actor
from handlers.complaints.training import load_corpus
from handlers.refusal import Refused
from handlers.roles import who_of
from models.complaints import RouterWeights, RoutingCorrection, Ticket
from models.outbox import Notification
from models.residents import Resident, Role, RoleAssignment
from tests.complaints.conftest import handler_of
from tests.world import World


async def bound(world: World, speaker, building: int = 0) -> Resident:  # type: ignore[no-untyped-def]
    await speaker.say("帮助")
    home = (await world.add_households(world.buildings[building], 1))[0]
    row = await Resident.get(openid=speaker.openid)
    row.household, row.verified = home, True
    await row.save()
    return row


async def report(speaker, text: str, anonymous: bool = False) -> Ticket:  # type: ignore[no-untyped-def]
    offered = await speaker.say(f"投诉 {text}")
    assert "回复 1 提交" in offered, offered
    done = await speaker.say("2" if anonymous else "1")
    assert "编号 T" in done, done
    number = done.split("编号 ")[1][:7]
    return await Ticket.get(number=number)


async def test_a_chat_report_is_routed_numbered_and_assigned(resident, world: World):
    me = await bound(world, resident)
    ticket = await report(resident, "3栋电梯又坏了，我妈下不了楼")
    assert ticket.department == "property"
    assert (ticket.status, ticket.reporter_id, ticket.anonymous) == ("assigned", me.id, False)
    assert ticket.building_id == world.buildings[0].id and ticket.grid_id == world.grid.id
    assert "电梯" in ticket.routing["terms"]
    assert await Notification.filter(
        subject="ticket", subject_id=ticket.id, audience="department:property"
    ).exists()
    status = await resident.say(f"查询 {ticket.number.lower()}")
    assert ticket.number in status and "物业服务" in status


async def test_photos_and_location_attach_within_the_flow(resident, world: World):
    await bound(world, resident)
    from bot.simulator import message_xml
    from tests.conftest import APPID

    await resident.say("投诉")
    await resident.say("楼下井盖没了，晚上很危险")
    await resident.push(
        message_xml(
            resident.openid, APPID, "image", {"PicUrl": "http://x/p.jpg", "MediaId": "media-1"}
        )
    )
    await resident.push(
        message_xml(
            resident.openid,
            APPID,
            "location",
            {"Location_X": "31.2", "Location_Y": "121.5", "Scale": "16", "Label": "幸福里"},
        )
    )
    assert "编号" in await resident.say("1")
    ticket = await Ticket.get(reporter__openid=resident.openid)
    assert ticket.media == ["media-1"]
    assert ticket.location["label"] == "幸福里"
    assert ticket.department == "municipal"


async def test_an_emergency_gets_the_numbers_at_once_and_the_duty_desk(resident, world: World):
    await bound(world, resident)
    answer = await resident.say("投诉 楼道里有很浓的煤气味")
    assert "119" in answer and "编号" in answer
    ticket = await Ticket.get(reporter__openid=resident.openid)
    assert ticket.emergency == "fire"
    assert ticket.accept_due_at - ticket.created_at == timedelta(minutes=30)
    assert await Notification.filter(subject_id=ticket.id, audience="on_duty").exists()


async def test_free_text_that_reads_like_a_complaint_is_offered(resident, world: World):
    await bound(world, resident)
    offer = await resident.say("楼下的垃圾桶满了好几天都没人来收")
    assert "要登记为诉求吗" in offer
    assert "回复 1 提交" in await resident.say("1")
    assert "编号" in await resident.say("1")
    assert (await Ticket.get(reporter__openid=resident.openid)).department == "sanitation"


async def test_a_vague_report_goes_to_the_grid_worker_for_triage(world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    me = await world.resident(home)
    ticket = await service.intake(me, "有个情况想跟社区反映一下，麻烦联系我", datetime.now(UTC))
    assert ticket.department == "other"
    assert await Notification.filter(
        subject_id=ticket.id, audience=f"grid:{world.grid.id}"
    ).exists()


async def test_anonymous_reports_never_reveal_the_reporter(
    client, make_resident, world: World, bearer
):
    speaker = make_resident("o_secret_reporter")
    me = await bound(world, speaker)
    me.name, me.phone = "王阿姨", "13800000000"
    await me.save()
    ticket = await report(speaker, "小区门口烧烤摊油烟太大，熏得开不了窗", anonymous=True)
    handler = await handler_of(world, ticket.department)
    token = await world.token(handler)
    resp = await client.get(f"/api/v1/complaints/{ticket.id}", headers=bearer(token))
    assert resp.status == 200
    raw = await resp.text()
    body = json.loads(raw)
    assert body["anonymous"] is True and body["reporter"] is None
    for secret in ("o_secret_reporter", "王阿姨", "13800000000", f'"reporter_id": {me.id}'):
        assert secret not in raw
    listing = await client.get("/api/v1/complaints", headers=bearer(token))
    assert "o_secret_reporter" not in await listing.text()
    # Still, the reporter is told: the notifications go to the ticket's reporter.
    assert await Notification.filter(subject_id=ticket.id).count() >= 1


async def test_the_ticket_loop_through_the_api_and_the_rating(
    client, resident, world: World, bearer
):
    await bound(world, resident)
    ticket = await report(resident, "3栋电梯又坏了，物业报修三天没人来")
    assert ticket.department == "property"
    handler = await handler_of(world, "property")
    stranger = await handler_of(world, "food_safety")
    token, other = await world.token(handler), await world.token(stranger)
    url = f"/api/v1/complaints/{ticket.id}/actions"
    assert (await client.post(f"{url}/accept", headers=bearer(other))).status == 404
    accepted = await client.post(f"{url}/accept", headers=bearer(token))
    assert (await accepted.json())["status"] == "accepted"
    progress = await client.post(
        f"{url}/progress", json={"note": "已联系楼上住户"}, headers=bearer(token)
    )
    assert (await progress.json())["status"] == "in_progress"
    no_note = await client.post(f"{url}/resolve", headers=bearer(token))
    assert (await no_note.json())["error"]["code"] == "ticket.error.note_required"
    resolved = await client.post(
        f"{url}/resolve",
        json={"note": "已更换楼上防水层", "photo": "media-9"},
        headers=bearer(token),
    )
    assert (await resolved.json())["status"] == "resolved"
    assert "已办结" in await resident.say(f"查询 {ticket.number}")
    assert "重新交办" in await resident.say(f"评价 {ticket.number} 1 还在漏")
    assert (await Ticket.get(id=ticket.id)).status == "in_progress"
    await client.post(f"{url}/resolve", json={"note": "再次修补"}, headers=bearer(token))
    assert "已完结" in await resident.say(f"评价 {ticket.number} 2 凑合")
    closed = await Ticket.get(id=ticket.id)
    assert (closed.status, closed.stars, closed.reopened) == ("closed", 2, 1)
    kinds = await Notification.filter(subject_id=ticket.id, audience="reporter").values_list(
        "kind", flat=True
    )
    assert kinds == [
        "ticket.accept",
        "ticket.progress",
        "ticket.resolve",
        "ticket.reopen",
        "ticket.resolve",
        "ticket.rate",
    ]


async def test_two_handlers_accepting_at_once_one_wins(client, world: World, bearer):
    home = (await world.add_households(world.buildings[0], 1))[0]
    ticket = await service.intake(await world.resident(home), "电梯坏了困人", datetime.now(UTC))
    tokens = [await world.token(await handler_of(world, "property")) for _ in range(2)]
    url = f"/api/v1/complaints/{ticket.id}/actions/accept"
    answers = await asyncio.gather(*(client.post(url, headers=bearer(t)) for t in tokens))
    assert sorted(a.status for a in answers) == [200, 409]
    assert await Notification.filter(subject_id=ticket.id, kind="ticket.accept").count() == 1


async def test_missed_deadlines_escalate_once_and_resolved_tickets_close_themselves(world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    start = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)  # Monday 18:00 in Beijing
    ticket = await service.intake(await world.resident(home), "小区路灯坏了一排", start)
    assert await service.check_deadlines(ticket.accept_due_at - timedelta(minutes=1)) == {
        "escalated": 0,
        "closed": 0,
    }
    assert await service.check_deadlines(ticket.accept_due_at) == {"escalated": 1, "closed": 0}
    assert await service.check_deadlines(ticket.accept_due_at + timedelta(hours=1)) == {
        "escalated": 0,
        "closed": 0,
    }
    audiences = await Notification.filter(
        subject_id=ticket.id, kind="ticket.escalated"
    ).values_list("audience", flat=True)
    assert sorted(audiences) == ["community_workers", f"supervisor:{ticket.department}"]
    boss = await who_of(await world.worker())
    late = ticket.accept_due_at + timedelta(hours=2)
    await service.act(boss, ticket.id, "accept", late)
    await service.act(boss, ticket.id, "resolve", late, note="已修复")
    assert await service.check_deadlines(late + timedelta(days=7)) == {"escalated": 0, "closed": 1}
    assert (await Ticket.get(id=ticket.id)).status == "closed"


async def test_similar_reports_are_linked_and_resolved_together(world: World):
    homes = await world.add_households(world.buildings[0], 3)
    now = datetime.now(UTC)
    first = await service.intake(await world.resident(homes[0]), "3栋电梯又坏了", now)
    second = await service.intake(
        await world.resident(homes[1]), "3栋的电梯坏了两天了没人修", now + timedelta(hours=2)
    )
    third = await service.intake(await world.resident(homes[2]), "楼下有人乱停车挡住消防通道", now)
    assert second.duplicate_of_id == first.id and third.duplicate_of_id is None
    boss = await who_of(await world.worker())
    assert (await service.view(first, for_staff=True))["reporters"] == 2
    await service.act(boss, first.id, "accept", now)
    await service.act(boss, first.id, "resolve", now, note="已更换主板")
    assert (await Ticket.get(id=second.id)).status == "resolved"
    told = await Notification.filter(
        subject_id=second.id, kind="ticket.resolve", audience="reporter"
    )
    assert len(told) == 1


def _small_corpus() -> list[dict[str, Any]]:
    """Forty items a department from the shipped corpus: retraining on it takes a second."""
    kept: dict[str, int] = {}
    small = []
    for item in load_corpus():
        if kept.get(item["department"], 0) < 40:
            kept[item["department"]] = kept.get(item["department"], 0) + 1
            small.append(item)
    return small


async def test_reassignment_teaches_the_router_once_two_workers_agree(world: World, monkeypatch):
    monkeypatch.setattr(service, "load_corpus", _small_corpus)
    homes = await world.add_households(world.buildings[0], 3)
    texts = [
        "隔壁单元装修的工人把建筑垃圾堆在楼道口",
        "装修工人又把建筑垃圾堆在楼道口了",
        "楼道口堆满了隔壁装修的建筑垃圾",
    ]
    before = service.route(texts[0])
    right = "city_management" if before.department != "city_management" else "sanitation"
    first, second = await who_of(await world.worker()), await who_of(await world.worker())
    lock = world.app_state.store.lock  # type: ignore[attr-defined]

    async def corrected(home: int, text: str, by: Any) -> None:
        ticket = await service.intake(await world.resident(home), text, datetime.now(UTC))
        await service.act(
            by, ticket.id, "reassign", datetime.now(UTC), note="属于违规堆放", department=right
        )

    try:
        await corrected(homes[0], texts[0], first)
        correction = await RoutingCorrection.get(text=texts[0])
        assert (correction.routed, correction.correct) == (before.department, right)
        assert correction.corrected_by == first.resident.id
        assert await service.retrain_if_corrected(lock) == 1
        # One worker, once: no lesson yet.
        assert (await RouterWeights.all().order_by("-id").first()).weights["lessons"] == 0
        await corrected(homes[1], texts[1], first)
        await corrected(homes[2], texts[2], second)
        assert await service.retrain_if_corrected(lock) == 3
        assert (await RouterWeights.all().order_by("-id").first()).weights["lessons"] == 3
        assert service.route(texts[0]).department == right
        assert await service.retrain_if_corrected(lock) == 0  # nothing new: no retraining
        await service.load_router()  # another process loads the stored model alike
        assert service.route(texts[0]).department == right
    finally:
        service._router, service._router_version = None, 0  # back to the shipped model


async def test_stats_for_workers_only(client, world: World, bearer):
    home = (await world.add_households(world.buildings[0], 1))[0]
    me = await world.resident(home)
    await service.intake(me, "电梯坏了", datetime.now(UTC))
    await service.intake(me, "垃圾没人收", datetime.now(UTC))
    assert (
        await client.get("/api/v1/complaints/stats", headers=bearer(await world.token(me)))
    ).status == 403
    resp = await client.get(
        "/api/v1/complaints/stats", headers=bearer(await world.token(await world.worker()))
    )
    weeks = (await resp.json())["weeks"]
    assert sum(w["count"] for w in weeks) == 2
    assert sum(w["by_department"].get("property", 0) for w in weeks) == 1


async def test_someone_elses_number_is_not_found(make_resident, world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    ticket = await service.intake(await world.resident(home), "电梯坏了", datetime.now(UTC))
    nosy = make_resident("o_nosy")
    assert "没有找到" in await nosy.say(f"查询 {ticket.number}")


async def test_a_text_too_long_is_refused_when_given_and_the_flow_waits_for_a_shorter_one(
    resident, world: World
):
    await bound(world, resident)
    assert "遇到了什么问题" in await resident.say("投诉")
    refused = await resident.say("楼下的路灯坏了" * 300)
    assert f"{service.TEXT_MAX} 字以内" in refused
    assert not await Ticket.all().exists()
    offered = await resident.say("楼下的路灯坏了一排，晚上很黑")  # still in the text step
    assert "回复 1 提交" in offered, offered
    assert "编号 T" in await resident.say("1")


async def test_a_report_that_could_not_be_filed_keeps_the_flow_for_another_try(
    resident, world: World, monkeypatch
):
    await bound(world, resident)
    await resident.say("投诉")
    assert "回复 1 提交" in await resident.say("小区门口的井盖松了，踩上去晃")
    real = service.rules.new_number
    taken = await service.intake(
        await world.resident(), "别的事情", datetime.now(UTC)
    )  # one number every try hits
    monkeypatch.setattr(service.rules, "new_number", lambda: taken.number)
    assert "系统繁忙" in await resident.say("1")
    monkeypatch.setattr(service.rules, "new_number", real)
    assert "编号 T" in await resident.say("1")  # the same report, not lost with the error
    mine = await Ticket.get(reporter__openid=resident.openid)
    assert "井盖" in mine.text


async def test_the_services_refuse_with_the_status_the_api_answers(world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    me = await world.resident(home)
    now = datetime.now(UTC)
    with pytest.raises(Refused) as caught:
        await service.intake(me, "   ", now)
    assert (caught.value.code, caught.value.status) == ("ticket.error.empty", 400)
    with pytest.raises(Refused) as caught:
        await service.intake(me, "坏" * (service.TEXT_MAX + 1), now)
    assert (caught.value.code, caught.value.status) == ("ticket.error.too_long", 400)
    assert caught.value.params == {"limit": service.TEXT_MAX}
    ticket = await service.intake(me, "小区路灯坏了一排", now)
    with pytest.raises(Refused) as caught:
        await service.rate(me, ticket.number, 5, "", now)
    assert (caught.value.code, caught.value.status) == ("ticket.error.not_resolved", 409)
    with pytest.raises(Refused) as caught:
        await service.rate(me, ticket.number, 9, "", now)
    assert (caught.value.code, caught.value.status) == ("ticket.error.bad_stars", 400)
    stranger = await who_of(await handler_of(world, "food_safety"))
    with pytest.raises(Refused) as caught:
        await service.act(stranger, ticket.id, "accept", now)
    assert (caught.value.code, caught.value.status) == ("ticket.error.not_found", 404)
    boss = await who_of(await world.worker())
    await service.act(boss, ticket.id, "accept", now)
    with pytest.raises(Refused) as caught:
        await service.act(boss, ticket.id, "accept", now)
    assert (caught.value.code, caught.value.status) == ("ticket.error.illegal_transition", 409)
    with pytest.raises(Refused) as caught:
        await service.act(boss, ticket.id, "reassign", now, note="转", department="nowhere")
    assert (caught.value.code, caught.value.status) == ("ticket.error.bad_department", 400)


async def test_a_grid_worker_handles_the_tickets_of_their_grid_only(world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    ticket = await service.intake(await world.resident(home), "有个情况想反映", datetime.now(UTC))
    mine = await world.worker(Role.GRID_WORKER)
    await RoleAssignment.filter(resident_id=mine.id).update(grid_id=world.grid.id)
    elsewhere = await world.worker(Role.GRID_WORKER)
    here, there = await who_of(mine), await who_of(elsewhere)
    assert service.actor_for(here, ticket) is Actor.WORKER
    assert service.actor_for(there, ticket) is None
    with pytest.raises(Refused) as caught:
        await service.act(there, ticket.id, "accept", datetime.now(UTC))
    assert caught.value.status == 404
    accepted = await service.act(here, ticket.id, "accept", datetime.now(UTC))
    assert accepted.status == "accepted"


async def test_an_unsure_routing_waits_for_triage_with_its_two_guesses(world: World, monkeypatch):
    keys = service.router().taxonomy.keys
    unsure = Model(keys, {}, np.zeros((0, len(keys))), np.zeros(len(keys)))
    monkeypatch.setattr(service, "_router", Router.from_config().with_model(unsure))
    home = (await world.add_households(world.buildings[0], 1))[0]
    ticket = await service.intake(await world.resident(home), "3栋电梯又坏了", datetime.now(UTC))
    assert ticket.department == service.TRIAGE
    routing = (await service.view(ticket, for_staff=True))["routing"]
    assert routing["triage"] is True
    assert [c["department"] for c in routing["candidates"]] == list(keys[:2])
