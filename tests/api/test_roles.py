"""Every API route refuses callers its description does not admit, before it looks at anything.

The routes come from the app and the roles from each route's own ``@doc``, so a new
endpoint is covered the day it is added.
"""

from __future__ import annotations

import pytest

from bot.app import create_app
from config.settings import Settings
from handlers.openapi import api_routes, operation_of
from handlers.roles import RoleSet
from handlers.sessions import issue
from models.db import using
from models.residents import Role

ROUTES = sorted(
    (method, path, operation_of(handler))
    for method, path, handler in api_routes(create_app(Settings(_env_file=None)))
)


def concrete(path: str, operation) -> str:  # type: ignore[no-untyped-def]
    """The path with a plausible value in each parameter (ids that may not exist)."""
    for name, schema in (operation.path or {}).items():
        value = (schema.get("enum") or ["x" * 12])[0]
        path = path.replace("{" + name + "}", str(value))
    while "{" in path:
        start = path.index("{")
        path = path[:start] + "1" + path[path.index("}") + 1 :]
    return path


GUARDED = [(m, p, op) for m, p, op in ROUTES if op is not None and op.auth != "public"]
WORKER_ONLY = [
    (m, p, op)
    for m, p, op in ROUTES
    if op is not None and (op.auth == "worker" or isinstance(op.auth, RoleSet))
]
# Every role-guarded route, with each role that its set leaves out.
OUTSIDERS = [
    (m, p, op, role)
    for m, p, op in ROUTES
    if op is not None and isinstance(op.auth, RoleSet)
    for role in Role
    if role not in op.auth
]


def test_the_route_list_is_not_empty():
    assert len(GUARDED) > 40 and len(WORKER_ONLY) > 10


@pytest.mark.parametrize(("method", "path", "operation"), GUARDED, ids=lambda v: str(v)[:60])
async def test_without_a_session_it_is_401(client, method, path, operation):
    resp = await client.request(method, concrete(path, operation), json={})
    assert resp.status == 401, await resp.text()
    assert (await resp.json())["error"]["code"] == "api.error.unauthorized"


@pytest.mark.parametrize(("method", "path", "operation"), GUARDED, ids=lambda v: str(v)[:60])
async def test_a_revoked_or_forged_session_is_401(client, method, path, operation):
    resp = await client.request(
        method, concrete(path, operation), json={}, headers={"Authorization": "Bearer forged"}
    )
    assert resp.status == 401


@pytest.mark.parametrize(("method", "path", "operation"), WORKER_ONLY, ids=lambda v: str(v)[:60])
async def test_a_resident_on_a_worker_endpoint_is_403(client, world, method, path, operation):
    with using(world.app_state.db):
        home = (await world.add_households(world.buildings[0], 1))[0]
        person = await world.resident(home)
    token = await issue(world.app_state.store, person.id)
    resp = await client.request(
        method,
        concrete(path, operation),
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 403, await resp.text()
    body = await resp.json()
    assert set(body["error"]) == {"code", "message"}


@pytest.mark.parametrize(
    ("method", "path", "operation", "role"), OUTSIDERS, ids=lambda v: str(v)[:60]
)
async def test_a_role_outside_the_routes_set_is_403(client, world, method, path, operation, role):
    with using(world.app_state.db):
        person = await world.worker(role)
    resp = await client.request(
        method, concrete(path, operation), json={}, headers=await world.headers(person)
    )
    assert resp.status == 403, await resp.text()
    assert (await resp.json())["error"]["code"] == "api.error.forbidden"


async def test_me_names_the_role_sets_the_console_shows_itself_by(client, world):
    """The console asks the server which sets a person holds instead of its own role list."""
    with using(world.app_state.db):
        people = {
            "grid": await world.worker(Role.GRID_WORKER),
            "manager": await world.worker(),
            "resident": await world.resident(),
        }
    may = {}
    for name, person in people.items():
        resp = await client.get("/api/v1/me", headers=await world.headers(person))
        may[name] = set((await resp.json())["may"])
    assert may["grid"] == {"console", "ticket_staff"}
    assert {"console", "managers", "ticket_staff", "team_leaders"} <= may["manager"]
    assert "admins" not in may["manager"] and may["resident"] == set()
