"""Notices end to end against the fake WeChat/WeCom server, on both backends."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from handlers.notices import service
from models.db import using
from models.notices import Delivery, Group, Notice
from models.residents import Resident, Role, RoleAssignment
from tests.notices.conftest import ROBOT_KEYS, deliver, residents_of
from tests.world import World


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def post_notice(client, world: World, bearer, worker: Resident, **data):  # type: ignore[no-untyped-def]
    resp = await client.post(
        "/api/v1/notices", json=data, headers=bearer(await world.token(worker))
    )
    return resp.status, await resp.json()


def building(world: World, index: int) -> dict:  # type: ignore[type-arg]
    return {"kind": "buildings", "ids": [world.buildings[index].id]}


async def test_a_building_notice_reaches_exactly_its_residents(
    client, world, app_state, fake, bearer
):
    inside = await residents_of(world, 0, 5)
    outside = await residents_of(world, 1, 3)
    worker = await world.worker()
    status, made = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="停水通知",
        body="明天9点到12点停水",
        scope=building(world, 0),
        send=True,
    )
    assert status == 201, made
    assert made["status"] == "sending"
    assert made["pending"] == 5 and made["total"] == 5
    assert dict(await deliver(app_state, now())) == {"sent": 5}
    assert sorted(fake.messages) == sorted(r.openid for r in inside)
    assert all(len(fake.messages[r.openid]) == 1 for r in inside)
    assert not any(fake.messages.get(r.openid) for r in outside)
    text = fake.messages[inside[0].openid][0].body["text"]["content"]
    assert "停水通知" in text and "明天9点到12点停水" in text
    resp = await client.get(
        f"/api/v1/notices/{made['id']}", headers=bearer(await world.token(worker))
    )
    got = await resp.json()
    assert (got["sent"], got["pending"], got["failed"], got["status"]) == (5, 0, 0, "done")
    assert "sent" not in await deliver(app_state, now())  # nothing twice


async def test_a_resident_cannot_send_or_read_notices(client, world, app_state, bearer):
    [person] = await residents_of(world, 0, 1)
    status, body = await post_notice(
        client, world, bearer, person, title="假通知", body="大家好", scope={"kind": "community"}
    )
    assert status == 403 and body["error"]["code"] == "api.error.forbidden"
    worker = await world.worker(Role.ADMIN)
    status, made = await post_notice(
        client, world, bearer, worker, title="通知", body="内容", scope={"kind": "community"}
    )
    assert status == 201 and made["status"] == "draft"
    token = await world.token(person)
    resp = await client.get(f"/api/v1/notices/{made['id']}", headers=bearer(token))
    assert resp.status == 403
    resp = await client.post(f"/api/v1/notices/{made['id']}/send", headers=bearer(token))
    assert resp.status == 403
    status, bad = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="通知",
        body="内容",
        scope={"kind": "buildings", "ids": [999999]},
    )
    assert status == 400 and bad["error"]["code"] == "notice.error.bad_scope"


async def test_a_scheduled_notice_goes_only_when_due(client, world, app_state, fake, bearer):
    people = await residents_of(world, 0, 2)
    worker = await world.worker()
    at = now() + timedelta(hours=1)
    status, made = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="消防演练",
        body="周六上午消防演练",
        scope={"kind": "community"},
        scheduled_at=at.isoformat(),
    )
    assert status == 201 and made["status"] == "scheduled"
    with using(app_state.db):
        assert await service.expand_due(now()) == 0
        assert "sent" not in await deliver(app_state, now())
        assert await service.expand_due(at + timedelta(seconds=1)) == 1
        assert await service.expand_due(at + timedelta(seconds=2)) == 0  # once
    assert (await deliver(app_state, at))["sent"] == 3  # the two residents and the worker
    assert all(len(fake.messages[p.openid]) == 1 for p in people)


async def test_muted_kinds_are_skipped_unless_emergency(client, world, app_state, fake, bearer):
    quiet, loud = await residents_of(world, 0, 2)
    resp = await client.post(
        "/api/v1/notices/mutes", json={"kind": "activity"}, headers=bearer(await world.token(quiet))
    )
    assert (await resp.json()) == {"muted": ["activity"]}
    worker = await world.worker()
    _, plain = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="活动",
        body="周末包饺子",
        kind="activity",
        scope=building(world, 0),
        send=True,
    )
    assert plain["total"] == 1
    _, urgent = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="燃气泄漏",
        body="请立即开窗",
        kind="activity",
        emergency=True,
        scope=building(world, 0),
        send=True,
    )
    assert urgent["total"] == 2
    await deliver(app_state, now())
    assert len(fake.messages[quiet.openid]) == 1
    assert len(fake.messages[loud.openid]) == 2
    resp = await client.post(
        "/api/v1/notices/mutes",
        json={"kind": "activity", "muted": False},
        headers=bearer(await world.token(quiet)),
    )
    assert (await resp.json()) == {"muted": []}


async def test_quota_errors_are_retried_then_sent(client, world, app_state, fake, bearer):
    [person] = await residents_of(world, 0, 1)
    worker = await world.worker()
    _, made = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="通知",
        body="内容",
        scope=building(world, 0),
        send=True,
    )
    fake.fail_next(2, api="custom", errcode=45009)
    t = now()
    assert dict(await deliver(app_state, t)) == {"retry": 1}
    assert dict(await deliver(app_state, t)) == {}  # not before its backoff
    assert dict(await deliver(app_state, t + timedelta(seconds=16))) == {"retry": 1}
    assert dict(await deliver(app_state, t + timedelta(minutes=5))) == {"sent": 1}
    assert len(fake.messages[person.openid]) == 1
    with using(app_state.db):
        row = await Delivery.get(notice_id=made["id"])
    assert (row.status, row.attempts) == ("sent", 3)


async def test_an_unfollowed_resident_is_a_recorded_failure(client, world, app_state, fake, bearer):
    gone, stays = await residents_of(world, 0, 2)
    fake.unsubscribed.add(gone.openid)
    worker = await world.worker()
    _, made = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="通知",
        body="内容",
        scope=building(world, 0),
        send=True,
    )
    assert dict(await deliver(app_state, now())) == {"sent": 1, "failed": 1}
    assert "failed" not in await deliver(app_state, now())
    headers = bearer(await world.token(worker))
    resp = await client.get(f"/api/v1/notices/{made['id']}/failures", headers=headers)
    page = await resp.json()
    assert page["total"] == 1
    assert page["items"][0]["resident_id"] == gone.id
    assert page["items"][0]["failure"] == "unsubscribed"
    assert len(fake.messages[stays.openid]) == 1


async def test_group_robots_of_the_scope_get_it_once(client, world, app_state, fake, bearer):
    await residents_of(world, 0, 1)
    with using(app_state.db):
        for key, scope in zip(
            ROBOT_KEYS,
            [building(world, 0), building(world, 1), {"kind": "community", "ids": []}],
            strict=True,
        ):
            await Group.create(community=world.community, name=key, webhook_key=key, scope=scope)
    worker = await world.worker()
    _, made = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="电梯检修",
        body="1栋电梯周三检修",
        scope=building(world, 0),
        channels=["oa", "robot"],
        send=True,
    )
    assert made["total"] == 2
    assert dict(await deliver(app_state, now())) == {"sent": 2}
    assert [len(fake.robot_messages[k]) for k in ROBOT_KEYS] == [1, 0, 0]
    content = fake.robot_messages[ROBOT_KEYS[0]][0].body["markdown"]["content"]
    assert "电梯检修" in content
    _, everyone = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="全体通知",
        body="社区大扫除",
        scope={"kind": "community"},
        channels=["robot"],
        send=True,
    )
    assert everyone["total"] == 3
    await deliver(app_state, now())
    assert [len(fake.robot_messages[k]) for k in ROBOT_KEYS] == [2, 1, 1]


async def test_expanding_again_adds_nothing(client, world, app_state, bearer):
    await residents_of(world, 0, 4)
    worker = await world.worker()
    _, made = await post_notice(
        client, world, bearer, worker, title="通知", body="内容", scope=building(world, 0)
    )
    with using(app_state.db):
        assert await service.expand(made["id"], now()) == 4
        # As if the first expansion died after taking the notice, before finishing.
        await Notice.filter(id=made["id"]).update(expanded_at=None)
        await Delivery.filter(id=(await Delivery.filter(notice_id=made["id"]).first()).id).delete()
        assert await service.due_notices(now()) == [made["id"]]
        assert await service.expand_due(now()) == 1
        assert await Delivery.filter(notice_id=made["id"]).count() == 4
        assert await service.expand(made["id"], now()) == 4
    resp = await client.post(
        f"/api/v1/notices/{made['id']}/send", headers=bearer(await world.token(worker))
    )
    assert resp.status == 409


async def test_a_sender_killed_midway_and_restarted_sends_each_message_once(
    client, world, app_state, fake, bearer
):
    """300 residents; the sender is cancelled after about 100 sends, then run again."""
    people = await residents_of(world, 0, 300)
    worker = await world.worker()
    _, made = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="停水",
        body="明天停水",
        kind="water",
        scope=building(world, 0),
        send=True,
    )
    assert made["total"] == 300
    t = now()
    with using(app_state.db):
        task = asyncio.create_task(deliver(app_state, t, rate=600.0, batch=50))
    for _ in range(2000):  # until about a third went out
        if fake.accepted >= 100:
            break
        await asyncio.sleep(0.005)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    first = fake.accepted
    assert 100 <= first < 300
    # Restarted later: claims left by the dead sender are never sent again.
    await deliver(app_state, t + timedelta(minutes=11))
    with using(app_state.db):
        rows = await Delivery.filter(notice_id=made["id"]).values("resident_id", "status")
        assert (await Notice.get(id=made["id"])).status == "done"
    status_of = {r["resident_id"]: r["status"] for r in rows}
    assert set(Counter(status_of.values())) <= {"sent", "unknown"}
    assert fake.duplicates == 0
    for person in people:
        got = len(fake.messages[person.openid])
        if status_of[person.id] == "sent":
            assert got == 1, person.openid
        else:
            assert got <= 1
    unknown = sum(1 for s in status_of.values() if s == "unknown")
    assert unknown <= 32  # only what was in flight when it died
    assert all(m.api == "template" for p in people for m in fake.messages[p.openid])


async def test_a_cancelled_notice_sends_nothing_more(client, world, app_state, fake, bearer):
    inside = await residents_of(world, 0, 4)
    worker = await world.worker()
    status, made = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="停水通知",
        body="改期，另行通知",
        scope=building(world, 0),
        send=True,
    )
    assert status == 201 and made["pending"] == 4
    url = f"/api/v1/notices/{made['id']}/cancel"
    token = await world.token(worker)
    stopped = await client.post(url, headers=bearer(token))
    body = await stopped.json()
    assert (body["status"], body["pending"], body["failed"]) == ("cancelled", 0, 4)
    assert "sent" not in await deliver(app_state, now())
    assert not any(fake.messages.get(r.openid) for r in inside)
    again = await client.post(url, headers=bearer(token))
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "notice.error.not_cancellable"
    resident_token = await world.token(inside[0])
    assert (await client.post(url, headers=bearer(resident_token))).status == 403


async def test_volunteer_and_role_scopes(client, world, app_state, fake, bearer):
    people = await residents_of(world, 0, 4)
    await RoleAssignment.create(resident=people[0], role=Role.VOLUNTEER, community=world.community)
    await RoleAssignment.create(resident=people[1], role=Role.VOLUNTEER, community=world.community)
    await RoleAssignment.create(
        resident=people[2], role=Role.GRID_WORKER, community=world.community
    )
    await Group.create(
        community=world.community,
        name="志愿者群",
        webhook_key=ROBOT_KEYS[2],
        scope={"kind": "volunteers", "ids": []},
    )
    worker = await world.worker()
    _, volunteers = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="周六清洁家园",
        body="上午9点小区广场集合",
        scope={"kind": "volunteers"},
        channels=["oa", "robot"],
        send=True,
    )
    assert volunteers["total"] == 3  # two volunteers and the volunteers' group
    _, grid_workers = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="网格例会",
        body="周一下午两点",
        scope={"kind": "roles", "ids": ["grid_worker"]},
        send=True,
    )
    assert grid_workers["total"] == 1
    await deliver(app_state, now())
    assert sorted(fake.messages) == sorted(p.openid for p in people[:3])
    assert len(fake.robot_messages[ROBOT_KEYS[2]]) == 1
    _, bad = await post_notice(
        client, world, bearer, worker, title="x", body="y", scope={"kind": "roles", "ids": ["boss"]}
    )
    assert bad["error"]["code"] == "notice.error.bad_scope"


class TestApproval:
    @pytest.fixture
    def settings(self, settings):  # type: ignore[no-untyped-def]
        return settings.model_copy(update={"notices_need_approval": True})

    async def test_an_admin_approves_before_anything_goes(
        self, client, world, app_state, fake, bearer
    ):
        inside = await residents_of(world, 0, 2)
        worker, admin = await world.worker(), await world.worker(Role.ADMIN)
        status, made = await post_notice(
            client,
            world,
            bearer,
            worker,
            title="停电通知",
            body="周三上午检修",
            scope=building(world, 0),
            send=True,
        )
        assert (status, made["status"], made["total"]) == (201, "pending_approval", 0)
        url = f"/api/v1/notices/{made['id']}"
        send = await client.post(f"{url}/send", headers=bearer(await world.token(worker)))
        assert (await send.json())["error"]["code"] == "notice.error.pending_approval"
        refused = await client.post(f"{url}/approve", headers=bearer(await world.token(worker)))
        assert refused.status == 403
        approved = await client.post(f"{url}/approve", headers=bearer(await world.token(admin)))
        assert (await approved.json())["status"] == "draft"
        again = await client.post(f"{url}/approve", headers=bearer(await world.token(admin)))
        assert again.status == 409
        sent = await client.post(f"{url}/send", headers=bearer(await world.token(worker)))
        assert (await sent.json())["total"] == 2
        await deliver(app_state, now())
        assert sorted(fake.messages) == sorted(r.openid for r in inside)


async def test_workers_register_group_robots_and_address_chosen_groups(
    client, world, app_state, fake, bearer
):
    await residents_of(world, 0, 2)
    worker = await world.worker()
    token = await world.token(worker)
    made = []
    for name, key, scope in (
        ("1栋群", ROBOT_KEYS[0], building(world, 0)),
        ("全体群", ROBOT_KEYS[2], {"kind": "community"}),
    ):
        resp = await client.post(
            "/api/v1/notices/groups",
            json={"name": name, "webhook_key": key, "scope": scope},
            headers=bearer(token),
        )
        assert resp.status == 201, await resp.text()
        made.append((await resp.json())["id"])
    listed = await (await client.get("/api/v1/notices/groups", headers=bearer(token))).json()
    assert [g["name"] for g in listed["items"]] == ["1栋群", "全体群"]
    assert all(key not in str(listed) for key in ROBOT_KEYS)  # keys are secrets
    _, notice = await post_notice(
        client,
        world,
        bearer,
        worker,
        title="群公告",
        body="只发全体群",
        scope={"kind": "groups", "ids": [made[1]]},
        channels=["robot"],
        send=True,
    )
    assert notice["total"] == 1
    await deliver(app_state, now())
    assert [len(fake.robot_messages[k]) for k in ROBOT_KEYS] == [0, 0, 1]
    resident = (await residents_of(world, 1, 1))[0]
    refused = await client.post(
        "/api/v1/notices/groups",
        json={"name": "x", "webhook_key": "k", "scope": {"kind": "community"}},
        headers=bearer(await world.token(resident)),
    )
    assert refused.status == 403
