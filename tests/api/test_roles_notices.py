"""Who may call the notice endpoints; robot keys never leave the server."""

from __future__ import annotations

import pytest

from models.notices import Group, Notice
from models.residents import Resident
from tests.api import seed_notices
from tests.api.seed import people_of
from tests.world import World

N = "/api/v1/notices"
EVERY = [
    ("POST", N),
    ("GET", N),
    ("POST", f"{N}/mutes"),
    ("GET", f"{N}/groups"),
    ("POST", f"{N}/groups"),
    ("GET", f"{N}/customer-groups"),
    ("POST", f"{N}/customer-groups"),
    ("POST", f"{N}/preview"),
    ("GET", f"{N}/1"),
    ("GET", f"{N}/1/failures"),
    ("GET", f"{N}/1/preview"),
    ("GET", f"{N}/1/delivery"),
    ("POST", f"{N}/1/approve"),
    ("POST", f"{N}/1/cancel"),
    ("POST", f"{N}/1/send"),
]
WORKER_ONLY = [(m, p) for m, p in EVERY if p != f"{N}/mutes"]
KEY = "seed-robot-key-0123456789abcdef"


async def _people(world: World) -> dict[str, Resident]:
    people = await people_of(world, households=2)
    await seed_notices.seed(world, people)
    return people


def test_every_endpoint_is_listed(client):
    from handlers.openapi import api_routes

    routes = {(m, p) for m, p, _ in api_routes(client.server.app) if p.startswith(N)}
    assert len(routes) == len(EVERY)


@pytest.mark.parametrize(("method", "path"), EVERY)
async def test_no_token_is_401(client, method, path):
    resp = await client.request(method, path, json={})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "api.error.unauthorized"


@pytest.mark.parametrize(("method", "path"), WORKER_ONLY)
@pytest.mark.parametrize("target", ["missing", "real"])
@pytest.mark.parametrize("payload", [None, {}, "not json"])
async def test_a_plain_resident_is_refused_before_the_body_or_the_object(
    client, world: World, bearer, method, path, target, payload
):
    people = await _people(world)
    if target == "real":
        notice = await Notice.filter(community_id=world.community.id).first()
        path = path.replace("/1", f"/{notice.id}")  # type: ignore[union-attr]
    else:
        path = path.replace("/1", "/999999")
    headers = bearer(await world.token(people["resident"]))
    if isinstance(payload, str):
        resp = await client.request(method, path, data=payload, headers=headers)
    else:
        resp = await client.request(method, path, json=payload, headers=headers)
    assert resp.status == 403, await resp.text()
    assert (await resp.json())["error"]["code"] == "api.error.forbidden"


async def test_only_an_admin_approves(client, world: World, bearer):
    people = await _people(world)
    plain = await world.worker()  # a community worker, not an admin
    notice = await Notice.filter(community_id=world.community.id).first()
    resp = await client.post(
        f"{N}/{notice.id}/approve",  # type: ignore[union-attr]
        headers=bearer(await world.token(plain)),
    )
    assert resp.status == 403
    resp = await client.post(
        f"{N}/{notice.id}/approve",  # type: ignore[union-attr]
        headers=bearer(await world.token(people["worker"])),
    )
    assert resp.status == 409  # an admin may; this one was not waiting for approval


async def test_robot_keys_stay_masked_in_every_response(client, world: World, bearer):
    people = await _people(world)
    headers = bearer(await world.token(people["worker"]))
    made = await client.post(
        f"{N}/groups",
        json={"name": "全体群", "webhook_key": "short-key", "scope": {"kind": "community"}},
        headers=headers,
    )
    assert made.status == 201
    group = await Group.get(name="1栋群")
    texts = [await made.text()]
    listed = await client.get(f"{N}/groups", headers=headers)
    texts.append(await listed.text())
    items = {g["name"]: g["webhook_key"] for g in (await listed.json())["items"]}
    assert items == {"1栋群": "…" + KEY[-4:], "全体群": "…"}  # a short key shows nothing
    sent = await client.post(
        N,
        json={
            "title": "群公告",
            "body": "只发群",
            "scope": {"kind": "groups", "ids": [group.id]},
            "channels": ["robot"],
            "send": True,
        },
        headers=headers,
    )
    assert sent.status == 201, await sent.text()
    notice_id = (await sent.json())["id"]
    texts.append(await sent.text())
    for path in (N, f"{N}/{notice_id}", f"{N}/{notice_id}/failures"):
        resp = await client.get(path, headers=headers)
        assert resp.status == 200
        texts.append(await resp.text())
    for text in texts:
        assert KEY not in text and "short-key" not in text


async def test_mutes_are_the_callers_own(client, world: World, bearer):
    people = await _people(world)  # the resident muted "activity"
    resp = await client.post(
        f"{N}/mutes",
        json={"kind": "water"},
        headers=bearer(await world.token(people["neighbour"])),
    )
    assert resp.status == 200
    assert await resp.json() == {"muted": ["water"]}
    resp = await client.post(
        f"{N}/mutes",
        json={"kind": "water", "muted": False},
        headers=bearer(await world.token(people["resident"])),
    )
    assert await resp.json() == {"muted": ["activity"]}


async def test_failures_name_no_personal_data(client, world: World, bearer):
    people = await _people(world)
    sent = await Notice.get(title="电梯检修")
    resp = await client.get(
        f"{N}/{sent.id}/failures", headers=bearer(await world.token(people["worker"]))
    )
    page = await resp.json()
    assert page["total"] == 2
    for row in page["items"]:
        assert set(row) == {"channel", "resident_id", "group_id", "status", "failure", "attempts"}
    assert people["resident"].openid not in await resp.text()
    assert (await world.who(people["worker"])).is_manager
