"""Who may call the volunteer endpoints, and what a resident sees of other residents."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from handlers.volunteers.rules import LOCAL
from models.db import using
from models.residents import Resident
from models.volunteers import Activity, Shift, SignUp, VolunteerTeam
from tests.api import seed_volunteers
from tests.api.seed import people_of
from tests.world import World

V = "/api/v1/volunteers"
EVERY = [
    ("POST", f"{V}/register"),
    ("GET", f"{V}/me"),
    ("GET", f"{V}/teams"),
    ("POST", f"{V}/teams"),
    ("POST", f"{V}/teams/1/join"),
    ("GET", f"{V}/activities"),
    ("POST", f"{V}/activities"),
    ("GET", f"{V}/activities/1"),
    ("POST", f"{V}/activities/1/shifts"),
    ("GET", f"{V}/activities/1/qr"),
    ("POST", f"{V}/shifts/1/signup"),
    ("POST", f"{V}/shifts/1/cancel"),
    ("GET", f"{V}/me/shifts"),
    ("POST", f"{V}/checkin"),
    ("GET", f"{V}/shifts/1/attendance"),
    ("POST", f"{V}/signups/1/no-show"),
    ("POST", f"{V}/signups/1/adjust"),
    ("POST", f"{V}/signups/1/release"),
    ("GET", f"{V}/points"),
    ("POST", f"{V}/points"),
    ("GET", f"{V}/rewards"),
    ("POST", f"{V}/rewards"),
    ("POST", f"{V}/rewards/1"),
    ("POST", f"{V}/rewards/1/redeem"),
    ("GET", f"{V}/leaderboard"),
    ("GET", f"{V}/registration"),
    ("GET", f"{V}/hours.csv"),
    ("GET", f"{V}/hours.xlsx"),
]
WORKER_ONLY = [
    ("POST", f"{V}/teams"),
    ("POST", f"{V}/points"),
    ("POST", f"{V}/rewards"),
    ("POST", f"{V}/rewards/999999"),
    ("GET", f"{V}/registration"),
    ("GET", f"{V}/hours.csv"),
    ("GET", f"{V}/hours.xlsx"),
]
# Workers, and team leaders for their own team's activities.
LEADERS_ONLY = [
    ("POST", f"{V}/activities"),
    ("POST", f"{V}/activities/999999/shifts"),
    ("GET", f"{V}/activities/999999/qr"),
    ("GET", f"{V}/shifts/999999/attendance"),
    ("POST", f"{V}/signups/999999/no-show"),
    ("POST", f"{V}/signups/999999/adjust"),
    ("POST", f"{V}/signups/999999/release"),
]
PHONE, ADDRESS = "13912345678", "幸福里3栋2单元1101"


async def _people(world: World) -> dict[str, Resident]:
    people = await people_of(world, households=2)
    people["neighbour"].name, people["neighbour"].phone = "王阿姨", PHONE
    await people["neighbour"].save(update_fields=["name", "phone"])
    await seed_volunteers.seed(world, people)
    return people


def test_every_endpoint_is_listed(client):
    from handlers.openapi import api_routes

    routes = {(m, p) for m, p, _ in api_routes(client.server.app) if p.startswith(V)}
    listed = {(m, p.replace("/1/", "/{x}/").replace("/1", "/{x}")) for m, p in EVERY}
    assert len(routes) == len(listed) == len(EVERY)


@pytest.mark.parametrize(("method", "path"), EVERY)
async def test_no_token_is_401(client, method, path):
    resp = await client.request(method, path, json={})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "api.error.unauthorized"


@pytest.mark.parametrize(("method", "path"), WORKER_ONLY + LEADERS_ONLY)
@pytest.mark.parametrize("payload", [None, {}, "not json"])
async def test_a_plain_resident_is_refused_before_the_body_or_the_object(
    client, world: World, bearer, method, path, payload
):
    people = await _people(world)
    headers = bearer(await world.token(people["resident"]))
    if isinstance(payload, str):
        resp = await client.request(method, path, data=payload, headers=headers)
    else:
        resp = await client.request(method, path, json=payload, headers=headers)
    assert resp.status == 403, await resp.text()
    assert (await resp.json())["error"]["code"] == "api.error.forbidden"


async def test_a_leader_leads_only_their_own_teams_activities(client, world: World, bearer):
    await _people(world)
    team = await VolunteerTeam.get(name="巡逻队")
    leader = bearer(await world.token(await Resident.get(id=team.leader_id)))  # type: ignore[attr-defined]
    patrol = await Activity.get(title="治安巡逻")
    other = await Activity.get(title="清洁家园")
    ok = await client.get(f"{V}/activities/{patrol.id}/qr", headers=leader)
    assert ok.status == 200
    refused = await client.get(f"{V}/activities/{other.id}/qr", headers=leader)
    assert refused.status == 403
    shift = await Shift.get(activity_id=other.id, confirmed_count=1, capacity=5)
    seen = await client.get(f"{V}/shifts/{shift.id}/attendance", headers=leader)
    assert seen.status == 403


async def test_a_resident_sees_only_their_own_sign_ups_and_points(client, world: World, bearer):
    people = await _people(world)
    mine, theirs = people["resident"], people["neighbour"]
    headers = bearer(await world.token(mine))
    shifts = await (await client.get(f"{V}/me/shifts?history=true", headers=headers)).json()
    own = set(await SignUp.filter(volunteer_id=mine.id).values_list("id", flat=True))
    assert shifts["total"] == len(own) and {s["id"] for s in shifts["items"]} == own
    points = await (await client.get(f"{V}/points", headers=headers)).json()
    assert points["balance"] == 50 + 20 - 20  # earned, bonus, a redemption: their own only
    # An activity shows each shift's counts, and the caller's own place only.
    activity = await Activity.get(title="清洁家园")
    detail = await (await client.get(f"{V}/activities/{activity.id}", headers=headers)).json()
    places = {s["mine"]["id"] for s in detail["shifts"] if s.get("mine")}
    assert places <= own and len(places) == 2
    neighbours = await SignUp.filter(volunteer_id=theirs.id).values_list("id", flat=True)
    assert not places & set(neighbours)


async def test_no_response_carries_anothers_personal_data(client, world: World, bearer, app_state):
    people = await _people(world)
    with using(app_state.db):
        openid = (await Resident.get(id=people["neighbour"].id)).openid
    headers = bearer(await world.token(people["resident"]))
    activity = await Activity.get(title="清洁家园")
    for path in (
        "/me",
        "/teams",
        "/activities?all=true",
        f"/activities/{activity.id}",
        "/me/shifts?history=true",
        "/points",
        "/rewards",
        "/leaderboard",
    ):
        resp = await client.get(V + path, headers=headers)
        assert resp.status == 200, (path, await resp.text())
        text = await resp.text()
        for secret in (PHONE, openid, ADDRESS, "1101"):
            assert secret not in text, (path, secret)


async def test_the_hours_export_is_for_workers_and_holds_no_formulas(client, world: World, bearer):
    people = await _people(world)
    people["resident"].name = "=HYPERLINK(1)"
    await people["resident"].save(update_fields=["name"])
    today = datetime.now(LOCAL).date()
    resp = await client.get(
        f"{V}/hours.csv",
        params={"from": str(today - timedelta(days=2)), "to": str(today)},
        headers=bearer(await world.token(people["worker"])),
    )
    assert resp.status == 200 and resp.content_type == "text/csv"
    text = (await resp.read()).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text and ",=HYPERLINK" not in text
    assert PHONE not in text


async def test_the_leaderboard_masks_other_volunteers_names(client, world: World, bearer):
    people = await _people(world)
    people["resident"].name = "李小明"
    await people["resident"].save(update_fields=["name"])

    async def names(person: Resident) -> dict[int, str | None]:
        resp = await client.get(f"{V}/leaderboard", headers=bearer(await world.token(person)))
        return {r["volunteer"]["id"]: r["volunteer"]["name"] for r in (await resp.json())["items"]}

    mine, theirs = people["resident"].id, people["neighbour"].id
    assert (await names(people["neighbour"]))[mine] == "李*明"
    assert (await names(people["neighbour"]))[theirs] == "王阿姨"  # one's own, in full
    assert (await names(people["resident"]))[theirs] == "王*姨"
    assert (await names(people["worker"]))[mine] == "李小明"


@pytest.mark.parametrize("month", ["0000-08", "9999-12", "2026-13", "2026-1x", ""])
async def test_a_month_out_of_reach_is_a_bad_filter(client, world: World, bearer, month):
    people = await _people(world)
    resp = await client.get(
        f"{V}/leaderboard",
        params={"month": month},
        headers=bearer(await world.token(people["resident"])),
    )
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "api.error.bad_filter"
