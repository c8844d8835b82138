"""Who may call each ``/api/v1/budget`` endpoint, and what a resident never sees."""

from __future__ import annotations

import json

import pytest

from handlers.openapi import api_routes
from models.budget import FundSource, MenuComment, MenuItem, Order, Round
from models.residents import Resident, Role, RoleAssignment
from tests.api import seed_budget
from tests.api.seed import people_of
from tests.world import World, bearer

R = "/api/v1/budget/rounds"
MISSING = 999_999_998
# Every route of handlers/budget/api.py, the body a caller would send, and who may call it:
# "resident" (any signed-in resident; the round must be of their community), or a set.
EVERY = [
    ("GET", R, None, "resident"),
    ("POST", R, {"year": 2030, "title": "t", "rule": "fit"}, "managers"),
    ("GET", f"{R}/{{id}}", None, "resident"),
    ("PUT", f"{R}/{{id}}/sources", {"sources": [{"kind": "street", "amount": "1"}]}, "managers"),
    ("POST", f"{R}/{{id}}/advance", {}, "managers"),
    ("GET", f"{R}/{{id}}/menu", None, "resident"),
    ("POST", f"{R}/{{id}}/menu", {"title": "t", "cost": "1", "responsible": "r"}, "managers"),
    ("PATCH", f"{R}/{{id}}/menu/{{number}}", {"title": "新"}, "managers"),
    ("POST", f"{R}/{{id}}/menu/{{number}}/withdraw", {"reason": "重复"}, "managers"),
    ("GET", f"{R}/{{id}}/menu/{{number}}/comments", None, "resident"),
    ("POST", f"{R}/{{id}}/menu/{{number}}/comments", {"text": "支持"}, "resident"),
    ("POST", f"{R}/{{id}}/comments/{{comment_id}}/hide", {"reason": "广告"}, "managers"),
    ("GET", f"{R}/{{id}}/order", None, "resident"),
    ("PUT", f"{R}/{{id}}/order", {"items": [1]}, "resident"),
    ("GET", f"{R}/{{id}}/coverage", None, "console"),
    ("GET", f"{R}/{{id}}/doors", None, "console"),
    ("POST", f"{R}/{{id}}/ballots", {"household_id": 1, "outcome": "not_home"}, "console"),
    ("GET", f"{R}/{{id}}/result", None, "resident"),
    ("GET", f"{R}/{{id}}/finances", None, "resident"),
    ("GET", f"{R}/{{id}}/menu/{{number}}/spending", None, "resident"),
    (
        "POST",
        f"{R}/{{id}}/menu/{{number}}/spending",
        {"amount": "1", "spent_on": "2026-01-01", "purpose": "p"},
        "managers",
    ),
    ("POST", f"{R}/{{id}}/menu/{{number}}/step", {"action": "start"}, "managers"),
    ("POST", f"{R}/{{id}}/menu/{{number}}/rating", {"stars": 5}, "resident"),
]
GUARDED = [(m, p, b, a) for m, p, b, a in EVERY if a != "resident"]
CONSOLE_ONLY = [(m, p, b) for m, p, b, a in GUARDED if a == "console"]
MANAGERS_ONLY = [(m, p, b) for m, p, b, a in GUARDED if a == "managers"]
PHONE, NAME = "13912345678", "隐私测试人"


def url(path: str, round_id: int = 1, number: int = 1, comment_id: int = 1) -> str:
    return path.format(id=round_id, number=number, comment_id=comment_id)


async def _people(world: World) -> dict[str, Resident]:
    people = await people_of(world)
    people["resident"].name, people["resident"].phone = NAME, PHONE
    await people["resident"].save(update_fields=["name", "phone"])
    await seed_budget.seed(world, people)
    return people


async def _call(client, method: str, path: str, payload, headers):  # type: ignore[no-untyped-def]
    resp = await client.request(method, path, json=payload, headers=headers)
    return resp.status, await resp.json()


async def _state() -> list[object]:
    """Everything a refused call might have changed."""
    return [
        await Round.all().order_by("id").values_list("status", "rule_name", "title"),
        await FundSource.all().order_by("id").values_list("amount", flat=True),
        await MenuItem.all().order_by("id").values_list("status", "cost", "title"),
        await MenuComment.all().order_by("id").values_list("hidden_reason", flat=True),
        await Order.all().order_by("id").values_list("items", flat=True),
    ]


def test_every_endpoint_is_listed(client):
    routes = {
        (m, p)
        for m, p, handler in api_routes(client.server.app)
        if handler.__module__ == "handlers.budget.api"
    }
    assert routes == {(m, p) for m, p, _, _ in EVERY}


def test_the_document_names_each_routes_set(client):
    from handlers.openapi import operation_of

    for method, path, handler in api_routes(client.server.app):
        if handler.__module__ != "handlers.budget.api":
            continue
        auth = operation_of(handler).auth  # type: ignore[union-attr]
        wanted = next(a for m, p, _, a in EVERY if (m, p) == (method, path))
        assert getattr(auth, "name", auth) == wanted, (method, path)


@pytest.mark.parametrize(("method", "path", "payload", "auth"), EVERY)
async def test_no_token_is_401(client, method, path, payload, auth):
    for headers in ({}, bearer("not-a-token"), {"Authorization": "Basic eDp5"}):
        status, answer = await _call(client, method, url(path), payload, headers)
        assert status == 401, (path, answer)
        assert answer["error"]["code"] == "api.error.unauthorized"


@pytest.mark.parametrize(("method", "path", "payload"), CONSOLE_ONLY + MANAGERS_ONLY)
async def test_a_resident_is_refused_before_the_body_or_the_object(
    client, world: World, method, path, payload
):
    people = await _people(world)
    before = await _state()
    headers = bearer(await world.token(people["resident"]))
    for target in (MISSING, 1, 2, 3):
        for body in (payload, None, {}, {"items": "x", "amount": 1.5, "reason": None}):
            status, answer = await _call(client, method, url(path, target), body, headers)
            assert status == 403, (path, target, body, answer)
            assert answer["error"]["code"] == "api.error.forbidden"
        resp = await client.request(method, url(path, target), data=b"{not json", headers=headers)
        assert resp.status == 403
    assert await _state() == before


@pytest.mark.parametrize(("method", "path", "payload"), MANAGERS_ONLY)
async def test_a_grid_worker_does_not_manage_the_round(client, world: World, method, path, payload):
    people = await _people(world)
    walker = await world.resident()
    await RoleAssignment.create(
        resident=walker, role=Role.GRID_WORKER, community=world.community, grid=world.grid
    )
    before = await _state()
    for target in (1, 2, 3):
        status, answer = await _call(
            client, method, url(path, target), payload, await world.headers(walker)
        )
        assert status == 403, (path, answer)
    assert await _state() == before
    assert people  # the seed is there to be refused


async def test_a_grid_worker_reads_coverage_and_doors_of_an_open_round(client, world: World):
    await _people(world)
    walker = await world.resident()
    await RoleAssignment.create(
        resident=walker, role=Role.GRID_WORKER, community=world.community, grid=world.grid
    )
    headers = await world.headers(walker)
    opened = await Round.get(status="ordering")
    for path in ("coverage", "doors"):
        status, answer = await _call(client, "GET", f"{R}/{opened.id}/{path}", None, headers)
        assert status == 200, answer
    status, covered = await _call(client, "GET", f"{R}/{opened.id}/coverage", None, headers)
    assert covered["total"]["eligible"] == 4 and covered["total"]["online"] == 1


async def test_a_resident_never_reads_a_neighbours_data_or_live_support(client, world: World):
    people = await _people(world)
    headers = bearer(await world.token(people["neighbour"]))
    secrets = {PHONE, NAME, people["resident"].openid}
    seen = {}
    for method, path, _, auth in EVERY:
        if method != "GET" or auth != "resident":
            continue
        for target in (1, 2, 3):
            for number in (1, 2, 3):
                resp = await client.get(url(path, target, number), headers=headers)
                text = await resp.text()
                leaked = [s for s in secrets if s in text]
                assert not leaked, (path, leaked)
                if resp.status == 200:
                    seen[url(path, target, number)] = json.loads(text)
    assert len(seen) > 20
    opened = await Round.get(status="ordering")
    # The neighbour's household has not ordered in the open round; the resident's has.
    assert seen[f"{R}/{opened.id}/order"]["items"] == []
    for path, answer in seen.items():
        if path.startswith(f"{R}/{opened.id}"):
            assert '"support": ' not in json.dumps(answer).replace('"support": null', ""), path
    counted = await Round.get(result__not_isnull=True)
    menu = seen[f"{R}/{counted.id}/menu"]["items"]
    assert {i["number"]: i["support"] for i in menu} == {1: 2, 2: 1, 3: 1}
    # Comments never say who wrote them; a hidden one is not shown to residents.
    later = await Round.get(status="publicity")
    for number in (1, 2):
        for c in seen[f"{R}/{later.id}/menu/{number}/comments"]["items"]:
            assert set(c) == {"id", "text", "hidden", "hidden_reason", "mine", "created_at"}
            assert c["hidden"] is False and c["mine"] is False
    assert seen[f"{R}/{later.id}/menu/2/comments"]["items"] == []
