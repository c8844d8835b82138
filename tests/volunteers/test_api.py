"""``/api/v1/volunteers`` over real HTTP: capacity under concurrency, roles, check-in, records."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

from handlers.volunteers import service
from models.audit import AuditLog
from models.volunteers import Reward, Shift, SignUp, VolunteerTeam
from tests.volunteers.conftest import SITE, patrol, scan_at, site_code, volunteer
from tests.world import World


def soon(hours: float = 48) -> datetime:
    """A shift start in the future of the server's own clock."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)


async def test_100_concurrent_sign_ups_for_10_places(client, world: World, bearer):
    """Exactly 10 confirmed; 90 waitlisted at 1..90 in the order their transactions committed.

    Sign-up rows are inserted while the shift's lock is held, so their ids follow the order
    in which the server placed them: positions must rise with the ids, without gaps.
    """
    _, shift = await patrol(world, soon(), capacity=10, now=datetime.now(UTC))
    people = [await volunteer(world) for _ in range(100)]
    tokens = [await world.token(p) for p in people]

    async def sign_up(token: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        resp = await client.post(
            f"/api/v1/volunteers/shifts/{shift.id}/signup", headers=bearer(token)
        )
        return resp.status, await resp.json()

    answers = await asyncio.gather(*(sign_up(t) for t in tokens))
    assert [status for status, _ in answers] == [201] * 100
    confirmed = [a for _, a in answers if a["status"] == "confirmed"]
    waiting = [a for _, a in answers if a["status"] == "waitlisted"]
    assert len(confirmed) == 10 and len(waiting) == 90
    assert sorted(a["position"] for a in waiting) == list(range(1, 91))

    rows = await SignUp.filter(shift_id=shift.id).order_by("id")
    assert [r.status for r in rows] == ["confirmed"] * 10 + ["waitlisted"] * 90
    assert [r.position for r in rows[10:]] == list(range(1, 91))
    answered = {a["signup_id"]: (a["status"], a["position"]) for _, a in answers}
    assert answered == {r.id: (r.status, r.position) for r in rows}
    fresh = await Shift.get(id=shift.id)
    assert (fresh.confirmed_count, fresh.waitlist_count) == (10, 90)

    # Three of the confirmed cancel at once: the first three in line move up, in order.
    token_of = {p.id: t for p, t in zip(people, tokens, strict=True)}
    leaving = [token_of[rows[i].volunteer_id] for i in (0, 4, 9)]
    cancels = await asyncio.gather(
        *(
            client.post(f"/api/v1/volunteers/shifts/{shift.id}/cancel", headers=bearer(t))
            for t in leaving
        )
    )
    assert [c.status for c in cancels] == [200] * 3
    bodies = [await c.json() for c in cancels]
    promoted = sorted(v for b in bodies for v in b["promoted"])
    assert promoted == sorted(r.volunteer_id for r in rows[10:13])
    after = await SignUp.filter(shift_id=shift.id, status="waitlisted").order_by("position")
    assert [r.id for r in after] == [r.id for r in rows[13:]]
    assert [r.position for r in after] == list(range(1, 88))
    assert await SignUp.filter(shift_id=shift.id, status="confirmed").count() == 10


async def test_only_workers_and_their_own_team_leaders_create_activities(
    client, world: World, bearer
):
    resident = await volunteer(world)
    worker = await world.worker()
    leader = await volunteer(world, "队长")
    team = await VolunteerTeam.create(community=world.community, name="清洁队", leader=leader)
    other = await VolunteerTeam.create(community=world.community, name="巡逻队")
    start = soon()
    payload = {
        "title": "清洁家园",
        "category": "cleaning",
        "place": "中心花园",
        "lat": SITE[0],
        "lng": SITE[1],
        "shifts": [
            {
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=2)).isoformat(),
                "capacity": 8,
            }
        ],
    }
    url = "/api/v1/volunteers/activities"
    refused = await client.post(url, json=payload, headers=bearer(await world.token(resident)))
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "api.error.forbidden"
    made = await client.post(url, json=payload, headers=bearer(await world.token(worker)))
    assert made.status == 201, await made.text()
    body = await made.json()
    assert "scene" not in body  # the site's codes are the leader's, not in what residents see
    assert [s["capacity"] for s in body["shifts"]] == [8]
    leads = bearer(await world.token(leader))
    own = await client.post(url, json={**payload, "team_id": team.id}, headers=leads)
    assert own.status == 201
    theirs = await client.post(url, json={**payload, "team_id": other.id}, headers=leads)
    assert theirs.status == 403
    bad = await client.post(
        url,
        json={**payload, "shifts": [{**payload["shifts"][0], "ends_at": start.isoformat()}]},
        headers=bearer(await world.token(worker)),
    )
    assert (await bad.json())["error"]["code"] == "volunteer.error.bad_time"
    extra = await client.post(
        f"{url}/{body['id']}/shifts",
        json={
            "starts_at": (start + timedelta(days=1)).isoformat(),
            "ends_at": (start + timedelta(days=1, hours=3)).isoformat(),
            "capacity": 4,
        },
        headers=bearer(await world.token(worker)),
    )
    assert extra.status == 201
    qr = await client.get(f"{url}/{body['id']}/qr", headers=bearer(await world.token(worker)))
    codes = await qr.json()
    assert codes["activity"]["scene"].startswith(f"activity_{body['id']}_")
    assert codes["image"] is None and codes["expires_at"]
    assert len(codes["shifts"]) == 2
    listed = await client.get(url, headers=bearer(await world.token(resident)))
    assert (await listed.json())["total"] == 2


async def test_sign_up_my_shifts_and_check_in_by_scene_and_location(client, world: World, bearer):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=20)
    activity, shift = await patrol(world, start, now=datetime.now(UTC))
    me = await volunteer(world)
    auth = bearer(await world.token(me))
    signed = await client.post(f"/api/v1/volunteers/shifts/{shift.id}/signup", headers=auth)
    assert (await signed.json())["status"] == "confirmed"
    again = await client.post(f"/api/v1/volunteers/shifts/{shift.id}/signup", headers=auth)
    assert again.status == 409
    mine = await (await client.get("/api/v1/volunteers/me/shifts", headers=auth)).json()
    assert [(m["shift"]["id"], m["status"]) for m in mine["items"]] == [(shift.id, "confirmed")]
    detail = await client.get(f"/api/v1/volunteers/activities/{activity.id}", headers=auth)
    assert (await detail.json())["shifts"][0]["mine"]["status"] == "confirmed"
    # Too late to cancel (it starts in 20 minutes): ask the leader.
    cancel = await client.post(f"/api/v1/volunteers/shifts/{shift.id}/cancel", headers=auth)
    assert cancel.status == 409
    assert (await cancel.json())["error"]["code"] == "volunteer.error.too_late_to_cancel"
    far = await client.post(
        "/api/v1/volunteers/checkin", json={"lat": SITE[0] + 0.01, "lng": SITE[1]}, headers=auth
    )
    assert far.status == 409
    error = (await far.json())["error"]
    assert error["code"] == "volunteer.error.too_far" and "1112 米" in error["message"]
    near = await client.post(
        "/api/v1/volunteers/checkin", json={"lat": SITE[0], "lng": SITE[1]}, headers=auth
    )
    assert (await near.json())["action"] == "check_in"
    key = await site_code(world, activity, datetime.now(UTC), shift)
    scan = await client.post(
        "/api/v1/volunteers/checkin",
        json={"scene": key, "lat": SITE[0], "lng": SITE[1]},
        headers=auth,
    )
    assert (await scan.json())["action"] == "already_in"
    nowhere = await client.post(
        "/api/v1/volunteers/checkin",
        json={"lat": SITE[0], "lng": SITE[1]},
        headers=bearer(await world.token(await volunteer(world))),
    )
    assert (await nowhere.json())["error"]["code"] == "volunteer.error.no_shift_now"


async def test_attendance_no_show_and_adjustment_through_the_api(client, world: World, bearer):
    _, shift = await patrol(world)
    came, missed = await volunteer(world, "李阿姨"), await volunteer(world, "张叔")
    for p in (came, missed):
        await service.sign_up(shift.id, p.id, shift.starts_at - timedelta(days=1))
    await scan_at(world, came.id, shift, shift.starts_at)
    await service.close_ended_shifts(shift.ends_at)
    worker = bearer(await world.token(await world.worker()))
    outsider = bearer(await world.token(came))
    url = f"/api/v1/volunteers/shifts/{shift.id}/attendance"
    assert (await client.get(url, headers=outsider)).status == 403
    rows = (await (await client.get(url, headers=worker)).json())["items"]
    by_name = {r["volunteer"]["name"]: r for r in rows}
    assert by_name["李阿姨"]["minutes"] == 120 and by_name["张叔"]["checked_in_at"] is None
    # The shift lies in 2031: "now" is before it starts, so no-shows cannot be marked yet.
    early = await client.post(
        f"/api/v1/volunteers/signups/{by_name['张叔']['signup_id']}/no-show",
        json={"reason": "未到"},
        headers=worker,
    )
    assert (await early.json())["error"]["code"] == "volunteer.error.not_started"
    started = datetime.now(UTC) - timedelta(hours=3)
    await Shift.filter(id=shift.id).update(starts_at=started, ends_at=started + timedelta(hours=2))
    # The reason is a required field; one of blanks is no reason either.
    no_reason = await client.post(
        f"/api/v1/volunteers/signups/{by_name['张叔']['signup_id']}/no-show", headers=worker
    )
    assert no_reason.status == 400
    assert (await no_reason.json())["error"]["code"] == "api.error.bad_field"
    blank = await client.post(
        f"/api/v1/volunteers/signups/{by_name['张叔']['signup_id']}/no-show",
        json={"reason": "  "},
        headers=worker,
    )
    assert (await blank.json())["error"]["code"] == "volunteer.error.reason_required"
    marked = await client.post(
        f"/api/v1/volunteers/signups/{by_name['张叔']['signup_id']}/no-show",
        json={"reason": "未到"},
        headers=worker,
    )
    assert (await marked.json())["status"] == "no_show"
    adjusted = await client.post(
        f"/api/v1/volunteers/signups/{by_name['李阿姨']['signup_id']}/adjust",
        json={"minutes": 90, "reason": "提前半小时离开"},
        headers=worker,
    )
    assert (await adjusted.json())["points"] == 15
    assert await AuditLog.filter(action="volunteer.attendance_adjusted").count() == 1
    points = await (await client.get("/api/v1/volunteers/points", headers=outsider)).json()
    assert points["balance"] == 15
    assert [(e["kind"], e["points"]) for e in points["items"]] == [
        ("adjusted", -5),
        ("earned", 20),
    ]
    # The hours export, for the records.
    start = started.astimezone(service.LOCAL).date()
    export = await client.get(
        "/api/v1/volunteers/hours.csv",
        params={"from": (start - timedelta(days=1)).isoformat(), "to": start.isoformat()},
        headers=worker,
    )
    assert export.status == 200 and export.content_type == "text/csv"
    text = (await export.read()).decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["name"], r["status"], r["minutes"], r["hours"]) for r in table] == [
        ("李阿姨", "attended", "90", "1.50"),
        ("张叔", "no_show", "0", "0.00"),
    ]
    assert (await client.get("/api/v1/volunteers/hours.csv", headers=outsider)).status == 403


async def test_concurrent_redemptions_over_http(client, world: World, bearer):
    boss = await service.who(await world.worker())
    people = [await volunteer(world) for _ in range(6)]
    for p in people:
        await service.grant_points(boss, p.id, 30, "巡逻表彰", "bonus", datetime.now(UTC))
    gift = await Reward.create(community=world.community, name="米", cost=20, stock=4)
    # Each volunteer asks twice at once: points for one each, stock for four in all.
    tokens = [await world.token(p) for p in people]
    answers = await asyncio.gather(
        *(
            client.post(f"/api/v1/volunteers/rewards/{gift.id}/redeem", headers=bearer(t))
            for t in tokens + tokens
        )
    )
    statuses = [a.status for a in answers]
    assert statuses.count(201) == 4 and statuses.count(409) == 8
    codes = {(await a.json())["error"]["code"] for a in answers if a.status == 409}
    assert codes <= {"volunteer.error.out_of_stock", "volunteer.error.not_enough_points"}
    balances = sorted([await service.balance(p.id) for p in people])
    assert balances == [10, 10, 10, 10, 30, 30]
    assert (await Reward.get(id=gift.id)).stock == 0
    listed = await client.get("/api/v1/volunteers/rewards", headers=bearer(tokens[0]))
    assert (await listed.json())["items"][0]["stock"] == 0


async def test_registration_leaderboard_and_share(client, world: World, bearer):
    person = await world.resident()
    auth = bearer(await world.token(person))
    made = await client.post(
        "/api/v1/volunteers/register", json={"skills": ["急救"], "birth_year": 1980}, headers=auth
    )
    assert made.status == 201
    assert (await client.post("/api/v1/volunteers/register", json={}, headers=auth)).status == 200
    me = await (await client.get("/api/v1/volunteers/me", headers=auth)).json()
    assert (me["skills"], me["points"], me["hours"]) == (["急救"], 0, 0)
    boss = await world.worker()
    await service.grant_points(
        await service.who(boss), person.id, 8, "表彰", "bonus", datetime.now(UTC)
    )
    board = await (await client.get("/api/v1/volunteers/leaderboard", headers=auth)).json()
    assert [(r["rank"], r["volunteer"]["id"], r["points"]) for r in board["items"]] == [
        (1, person.id, 8)
    ]
    bad = await client.get("/api/v1/volunteers/leaderboard?month=2026-13", headers=auth)
    assert bad.status == 400
    assert (await client.get("/api/v1/volunteers/registration", headers=auth)).status == 403
    share = await client.get(
        "/api/v1/volunteers/registration", headers=bearer(await world.token(boss))
    )
    assert await share.json() == {
        "volunteers": 1,
        "residents": 2,
        "verified_residents": 0,
        "share": 0.5,
    }


async def test_errors_come_in_the_callers_language(client, world: World, bearer):
    stranger = await world.resident()
    stranger.language = "en"
    await stranger.save(update_fields=["language"])
    _, shift = await patrol(world)
    resp = await client.post(
        f"/api/v1/volunteers/shifts/{shift.id}/signup",
        headers={**bearer(await world.token(stranger)), "Accept-Language": "en"},
    )
    assert resp.status == 403
    assert await resp.json() == {
        "error": {
            "code": "volunteer.error.not_registered",
            "message": 'You are not a registered volunteer. Reply "register volunteer" to join.',
        }
    }
    missing = await client.post(
        "/api/v1/volunteers/shifts/999999/signup", headers=bearer(await world.token(stranger))
    )
    assert missing.status == 403  # not registered comes first: nothing else is theirs to see
    assert (await client.post("/api/v1/volunteers/shifts/1/signup")).status == 401


async def test_a_leader_releases_a_place_and_a_worker_restocks(client, world: World, bearer):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=45)
    _, shift = await patrol(world, start, capacity=1, now=datetime.now(UTC))
    first, second = await volunteer(world), await volunteer(world)
    for p in (first, second):
        await service.sign_up(shift.id, p.id, datetime.now(UTC))
    place = await SignUp.get(shift_id=shift.id, volunteer_id=first.id)
    worker = bearer(await world.token(await world.worker()))
    url = f"/api/v1/volunteers/signups/{place.id}/release"
    assert (await client.post(url, headers=bearer(await world.token(first)))).status == 403
    released = await client.post(url, json={"reason": "临时住院"}, headers=worker)
    assert await released.json() == {
        "shift_id": shift.id,
        "cancelled": "confirmed",
        "promoted": [second.id],
    }
    gift = await Reward.create(community=world.community, name="雨伞", cost=10, stock=0)
    restock = await client.post(
        f"/api/v1/volunteers/rewards/{gift.id}", json={"stock": 12}, headers=worker
    )
    assert (await restock.json())["stock"] == 12
    bad = await client.post(
        f"/api/v1/volunteers/rewards/{gift.id}", json={"active": "no"}, headers=worker
    )
    assert bad.status == 400


V = "/api/v1/volunteers"


async def refusal(resp) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """Status, code and message of a refusal."""
    error = (await resp.json())["error"]
    return resp.status, error["code"], error["message"]


async def test_a_team_without_a_category_is_refused(client, world: World, bearer):
    worker = bearer(await world.token(await world.worker()))
    resp = await client.post(
        f"{V}/teams", json={"name": "巡逻队", "category": None}, headers=worker
    )
    status, code, message = await refusal(resp)
    assert (status, code) == (400, "api.error.bad_field") and "category" in message
    assert await VolunteerTeam.all().count() == 0
    made = await client.post(f"{V}/teams", json={"name": "巡逻队"}, headers=worker)
    assert made.status == 201
    assert (await VolunteerTeam.get(id=(await made.json())["id"])).category == "event"


def _shift(start: datetime, **extra) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "capacity": 3,
        **extra,
    }


async def test_what_the_activity_document_limits_is_refused_not_cut(client, world: World, bearer):
    worker = bearer(await world.token(await world.worker()))
    start = soon()
    base = {"title": "清洁家园", "shifts": [_shift(start)]}
    cases = {
        "description": {**base, "description": "长" * (service.TEXT_MAX + 1)},
        "shifts": {**base, "shifts": [_shift(start + timedelta(days=d)) for d in range(51)]},
        "place": {**base, "place": None},
        "required_skills.0": {**base, "required_skills": ["急" * (service.SKILL_MAX + 1)]},
    }
    for name, payload in cases.items():
        resp = await client.post(f"{V}/activities", json=payload, headers=worker)
        status, code, message = await refusal(resp)
        assert (status, code) == (400, "api.error.bad_field"), (name, code)
        assert name in message, (name, message)
    assert await Shift.all().count() == 0
    most = {**base, "description": "长" * service.TEXT_MAX, "shifts": [_shift(start)] * 50}
    made = await client.post(f"{V}/activities", json=most, headers=worker)
    assert made.status == 201, await made.text()
    body = await made.json()
    assert len(body["description"]) == service.TEXT_MAX and len(body["shifts"]) == 50


async def test_a_time_without_its_utc_offset_is_refused(client, world: World, bearer):
    worker = bearer(await world.token(await world.worker()))
    start = soon()
    naive = start.replace(tzinfo=None).isoformat()
    for bad in (naive, str(int(start.timestamp())), "2026-11-08", "9999-12-31T23:59:59-23:59"):
        resp = await client.post(
            f"{V}/activities",
            json={"title": "巡逻", "shifts": [_shift(start, starts_at=bad)]},
            headers=worker,
        )
        status, code, message = await refusal(resp)
        assert (status, code) == (400, "api.error.bad_field"), bad
        assert "shifts.0.starts_at" in message, message
    made = await client.post(f"{V}/activities", json={"title": "巡逻"}, headers=worker)
    activity = (await made.json())["id"]
    resp = await client.post(
        f"{V}/activities/{activity}/shifts", json=_shift(start, ends_at=naive), headers=worker
    )
    assert (await refusal(resp))[:2] == (400, "api.error.bad_field")
    beijing = start.astimezone(service.LOCAL).isoformat()  # +08:00: the same instant
    resp = await client.post(
        f"{V}/activities/{activity}/shifts", json=_shift(start, starts_at=beijing), headers=worker
    )
    assert resp.status == 201
    assert datetime.fromisoformat((await resp.json())["starts_at"]) == start


async def test_flags_are_true_or_false_and_nothing_else(client, world: World, bearer):
    me = bearer(await world.token(await volunteer(world)))
    for flag in ("true", "false"):
        assert (await client.get(f"{V}/me/shifts?history={flag}", headers=me)).status == 200
        assert (await client.get(f"{V}/activities?all={flag}", headers=me)).status == 200
    for flag in ("yes", "1", "0", "TRUE", ""):
        resp = await client.get(f"{V}/me/shifts?history={flag}", headers=me)
        status, code, message = await refusal(resp)
        assert (status, code) == (400, "api.error.bad_filter") and "history" in message, flag


async def test_registering_replaces_the_skills_sent_and_keeps_those_not(
    client, world: World, bearer
):
    auth = bearer(await world.token(await world.resident()))
    url = f"{V}/register"
    made = await client.post(url, json={"skills": ["急救"], "birth_year": 1980}, headers=auth)
    assert made.status == 201
    kept = await client.post(url, json={"birth_year": 1981}, headers=auth)
    assert (kept.status, await kept.json())[1]["skills"] == ["急救"]
    cleared = await client.post(url, json={"skills": []}, headers=auth)
    assert (await cleared.json())["skills"] == [] and (await cleared.json())["birth_year"] == 1981
    for bad in ({"skills": ["  "]}, {"skills": ["急" * 25]}, {"skills": [1]}):
        status, code, _ = await refusal(await client.post(url, json=bad, headers=auth))
        assert (status, code) == (400, "api.error.bad_field"), bad
    # Every field is optional, so the document lets the body be left out: it changes nothing.
    empty = await client.post(url, headers=auth)
    assert empty.status == 200 and (await empty.json())["birth_year"] == 1981
    as_json = {**auth, "Content-Type": "application/json"}
    status, code, _ = await refusal(await client.post(url, data=b"[]", headers=as_json))
    assert (status, code) == (400, "api.error.bad_json")


async def test_a_check_in_needs_a_whole_location_scene_or_not(client, world: World, bearer):
    me = bearer(await world.token(await volunteer(world)))
    for body, name in (
        ({}, "lat"),
        ({"lat": SITE[0]}, "lng"),
        ({"lat": True, "lng": 1}, "lat"),
        ({"scene": "shift_1"}, "lat"),
    ):
        resp = await client.post(f"{V}/checkin", json=body, headers=me)
        status, code, message = await refusal(resp)
        assert (status, code) == (400, "api.error.bad_field") and name in message, body


async def test_the_hours_export_takes_days_and_a_span_of_a_year_at_most(
    client, world: World, bearer
):
    worker = bearer(await world.token(await world.worker()))
    url = f"{V}/hours.csv"
    ok = await client.get(url, params={"from": "2026-11-01", "to": "2026-11-30"}, headers=worker)
    assert ok.status == 200
    for params, name in (
        ({"from": "2026-11-01T00:00:00+08:00"}, "from"),
        ({"from": "1999-12-31"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "to"),
        ({"from": "2025-01-01", "to": "2026-01-03"}, "to"),
    ):
        status, code, message = await refusal(await client.get(url, params=params, headers=worker))
        assert (status, code) == (400, "api.error.bad_filter") and name in message, params


async def test_a_grant_to_someone_who_is_not_a_volunteer_is_404(client, world: World, bearer):
    worker = bearer(await world.token(await world.worker()))
    stranger = await world.resident()
    resp = await client.post(
        f"{V}/points",
        json={"resident_id": stranger.id, "points": 5, "reason": "表彰"},
        headers=worker,
    )
    assert (await refusal(resp))[:2] == (404, "volunteer.error.not_a_volunteer")
    for bad in (
        {"resident_id": stranger.id, "points": 5},
        {"resident_id": stranger.id, "points": "5", "reason": "x"},
    ):
        assert (await client.post(f"{V}/points", json=bad, headers=worker)).status == 400


async def test_a_birth_year_may_be_this_year_and_not_the_next(client, world: World, bearer):
    """The document cannot name the current year; the service checks it against the clock."""
    auth = bearer(await world.token(await world.resident()))
    year = datetime.now(UTC).year
    later = await client.post(f"{V}/register", json={"birth_year": year + 1}, headers=auth)
    status, code, _ = await refusal(later)
    assert (status, code) == (400, "volunteer.error.bad_birth_year")
    made = await client.post(f"{V}/register", json={"birth_year": year}, headers=auth)
    assert made.status == 201 and (await made.json())["birth_year"] == year
