"""What ``POST /api/v1/notices`` (and the group and mute bodies) take: the document's
models, strictly; what needs the community's data is refused with the notices' own ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.notices import Group, Mute, Notice
from models.residents import Role
from tests.world import World

URL = "/api/v1/notices"


async def _post(client, world: World, path: str, data: dict, role: Role = Role.COMMUNITY_WORKER):  # type: ignore[no-untyped-def,type-arg]
    worker = await world.worker(role)
    resp = await client.post(path, json=data, headers=await world.headers(worker))
    return resp.status, await resp.json()


def _notice(**changes: object) -> dict[str, object]:
    return {"title": "停水通知", "body": "明天停水", "scope": {"kind": "community"}} | changes


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"send": "yes"}, "send"),
        ({"send": 1}, "send"),
        ({"emergency": "true"}, "emergency"),
        ({"title": "   "}, "title"),
        ({"title": "长" * 101}, "title"),
        ({"kind": 7}, "kind"),
        ({"channels": []}, "channels"),
        ({"channels": ["oa", "sms"]}, "channels.1"),
        ({"scope": {"kind": "street"}}, "scope.kind"),
        ({"scope": {"kind": "community", "ids": "a" * 2000}}, "scope.ids"),
        ({"scope": {"kind": "buildings", "ids": [0]}}, "scope.ids"),
        ({"scope": {"kind": "buildings", "ids": list(range(1, 1002))}}, "scope.ids"),
        ({"scheduled_at": "2030-01-01T09:00:00"}, "scheduled_at"),  # no offset
        ({"scheduled_at": "2030-01-01"}, "scheduled_at"),
        ({"scheduled_at": 1_900_000_000}, "scheduled_at"),
    ],
)
async def test_a_notice_the_document_forbids_is_refused_and_not_made(
    client, world: World, changes, field
):
    status, body = await _post(client, world, URL, _notice(**changes))
    assert status == 400, body
    assert body["error"]["code"] == "api.error.bad_field"
    assert field in body["error"]["message"]
    assert await Notice.filter(community_id=world.community.id).count() == 0


@pytest.mark.parametrize(
    ("scheduled_at", "code"),
    [
        ("3000-01-01T09:00:00+08:00", "notice.error.bad_schedule"),
        ("9999-12-31T23:59:59-23:59", "notice.error.bad_schedule"),
        ("2020-01-01T09:00:00+08:00", "notice.error.schedule_in_past"),
    ],
)
async def test_a_schedule_no_worker_meant_keeps_its_own_message(
    client, world: World, scheduled_at, code
):
    status, body = await _post(client, world, URL, _notice(scheduled_at=scheduled_at))
    assert (status, body["error"]["code"]) == (400, code)


async def test_a_schedule_with_any_offset_is_stored_in_utc(client, world: World):
    at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    local = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"
    shanghai = (at + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S") + "+08:00"
    for given in (local, shanghai):
        status, made = await _post(client, world, URL, _notice(scheduled_at=given))
        assert status == 201, made
        assert made["status"] == "scheduled"
        assert datetime.fromisoformat(made["scheduled_at"]) == at
        assert made["scheduled_at"].endswith("+00:00")


@pytest.mark.parametrize(
    "scope",
    [
        {"kind": "buildings", "ids": ["1"]},  # "1" is no id
        {"kind": "buildings", "ids": []},
        {"kind": "buildings", "ids": [999_999]},  # not of this community
        {"kind": "roles", "ids": ["boss"]},
        {"kind": "roles", "ids": [1]},
    ],
)
async def test_a_scope_the_community_does_not_have_is_a_bad_scope(client, world: World, scope):
    status, body = await _post(client, world, URL, _notice(scope=scope))
    assert (status, body["error"]["code"]) == (400, "notice.error.bad_scope")


async def test_send_true_sends_and_unknown_fields_are_ignored(client, world: World):
    status, made = await _post(client, world, URL, _notice(send=True, colour="red"))
    assert status == 201, made
    assert made["status"] in {"sending", "done"}


async def test_a_community_worker_may_not_approve_even_a_missing_notice(client, world: World):
    status, body = await _post(client, world, f"{URL}/999999/approve", {})
    assert (status, body["error"]["code"]) == (403, "api.error.forbidden")
    status, body = await _post(client, world, f"{URL}/999999/approve", {}, role=Role.ADMIN)
    assert (status, body["error"]["code"]) == (404, "notice.error.not_found")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"name": "全体群", "webhook_key": "k" * 129, "scope": {"kind": "community"}},
            "webhook_key",
        ),
        ({"name": " ", "webhook_key": "key", "scope": {"kind": "community"}}, "name"),
        (
            {"name": "全体群", "webhook_key": "key", "scope": {"kind": "community", "ids": "x"}},
            "scope.ids",
        ),
        ({"name": "全体群", "webhook_key": "key"}, "scope"),
    ],
)
async def test_a_group_robot_the_document_forbids_is_refused(client, world: World, data, field):
    status, body = await _post(client, world, f"{URL}/groups", data)
    assert status == 400, body
    assert body["error"]["code"] == "api.error.bad_field" and field in body["error"]["message"]
    assert await Group.filter(community_id=world.community.id).count() == 0


async def test_a_group_robot_speaks_for_no_roles_or_groups(client, world: World):
    data = {"name": "全体群", "webhook_key": "key", "scope": {"kind": "roles", "ids": ["admin"]}}
    status, body = await _post(client, world, f"{URL}/groups", data)
    assert (status, body["error"]["code"]) == (400, "notice.error.bad_scope")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "water", "muted": "no"}, "muted"),
        ({"muted": True}, "kind"),
        ({"kind": ""}, "kind"),
    ],
)
async def test_a_mute_the_document_forbids_is_refused(client, world: World, data, field):
    person = await world.resident()
    resp = await client.post(f"{URL}/mutes", json=data, headers=await world.headers(person))
    assert resp.status == 400
    body = await resp.json()
    assert body["error"]["code"] == "api.error.bad_field" and field in body["error"]["message"]
    assert await Mute.filter(resident_id=person.id).count() == 0
