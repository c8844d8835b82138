"""Who may call each ``/api/v1/complaints`` endpoint, and what a resident never sees."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.complaints import service
from models.complaints import Ticket
from models.residents import Resident
from tests.api import seed_complaints
from tests.api.seed import people_of
from tests.complaints.conftest import handler_of
from tests.world import World, bearer

MISSING = 999_999_998
ENDPOINTS = [
    ("POST", "/api/v1/complaints", {"text": "电梯坏了"}),
    ("GET", "/api/v1/complaints", None),
    ("GET", "/api/v1/complaints/stats", None),
    ("GET", "/api/v1/complaints/{id}", None),
    ("POST", "/api/v1/complaints/{id}/actions/accept", {}),
    ("POST", "/api/v1/complaints/{id}/rating", {"stars": 5}),
]
ACTIONS = ["accept", "progress", "reassign", "resolve", "reject", "escalate"]


@pytest.fixture
async def people(world: World) -> dict[str, Resident]:
    found = await people_of(world)
    for n, person in enumerate(found.values()):
        person.name, person.phone = f"住户{n}号", f"1380000000{n}"
        await person.save(update_fields=["name", "phone"])
    await seed_complaints.seed(world, found)
    return found


async def _call(client, method: str, path: str, payload, headers):  # type: ignore[no-untyped-def]
    resp = await client.request(method, path, json=payload, headers=headers)
    return resp.status, await resp.json()


@pytest.mark.parametrize(("method", "path", "payload"), ENDPOINTS)
async def test_no_token_is_401_everywhere(client, world: World, method, path, payload):
    url = path.format(id=1)
    for headers in ({}, bearer("not-a-token"), {"Authorization": "Basic eDp5"}):
        status, answer = await _call(client, method, url, payload, headers)
        assert status == 401, (url, answer)
        assert answer["error"]["code"] == "api.error.unauthorized"


@pytest.mark.parametrize("action", ACTIONS)
async def test_a_resident_gets_403_on_steps_before_the_body_or_the_ticket(
    client, world: World, people, action
):
    token = await world.token(people["resident"])
    own = await Ticket.filter(reporter_id=people["resident"].id, status="assigned").first()
    assert own is not None
    for target in (MISSING, own.id):
        url = f"/api/v1/complaints/{target}/actions/{action}"
        for payload in (None, {}, {"note": 5, "department": ["x"]}):
            status, answer = await _call(client, "POST", url, payload, bearer(token))
            assert status == 403, (url, payload, answer)
            assert answer["error"]["code"] == "api.error.forbidden"
        resp = await client.post(url, data=b"{not json", headers=bearer(token))
        assert resp.status == 403
    assert (await Ticket.get(id=own.id)).status == "assigned"


async def test_stats_are_for_workers_only(client, world: World, people):
    handler = await handler_of(world, "property")
    for who in (people["resident"], handler):
        for query in ("", "?weeks=0", "?weeks=x"):
            resp = await client.get(
                f"/api/v1/complaints/stats{query}", headers=bearer(await world.token(who))
            )
            assert resp.status == 403, query
    boss = bearer(await world.token(people["worker"]))
    assert (await client.get("/api/v1/complaints/stats", headers=boss)).status == 200
    assert (await client.get("/api/v1/complaints/stats?weeks=105", headers=boss)).status == 400


async def test_a_resident_reaches_only_their_own_reports(client, world: World, people):
    mine = bearer(await world.token(people["resident"]))
    theirs = await Ticket.filter(reporter_id=people["neighbour"].id).values_list("id", flat=True)
    for ticket_id in theirs:
        for method, path, payload in [
            ("GET", "/api/v1/complaints/{id}", None),
            ("POST", "/api/v1/complaints/{id}/rating", {"stars": 1}),
        ]:
            status, answer = await _call(client, method, path.format(id=ticket_id), payload, mine)
            assert status == 404, (path, answer)
    listed = await (await client.get("/api/v1/complaints?per_page=100", headers=mine)).json()
    own = await Ticket.filter(reporter_id=people["resident"].id).values_list("id", flat=True)
    assert sorted(t["id"] for t in listed["items"]) == sorted(own)
    for item in listed["items"]:
        assert "reporter" not in item and "routing" not in item and "overdue" not in item


async def test_nobody_sees_personal_data_and_staff_never_see_an_anonymous_reporter(
    client, world: World, people
):
    anonymous = await Ticket.get(anonymous=True)
    handler = await handler_of(world, anonymous.department)
    url = f"/api/v1/complaints/{anonymous.id}"
    expected = {"resident": 200, "neighbour": 404, "worker": 200, "handler": 200}
    for role, who in (*people.items(), ("handler", handler)):
        headers = bearer(await world.token(who))
        listing = await (
            await client.get("/api/v1/complaints?per_page=100", headers=headers)
        ).text()
        resp = await client.get(url, headers=headers)
        assert resp.status == expected[role], role
        one = await resp.text()
        for person in people.values():
            for secret in (person.openid, person.phone):
                assert secret not in listing and secret not in one, (role, secret)
        if role in {"worker", "handler"}:
            assert (await resp.json())["reporter"] is None
            assert people["resident"].name not in one
            assert f'"id": {anonymous.id}' in listing or f'"id":{anonymous.id}' in listing


async def test_staff_lists_carry_the_deadline_and_filters_are_checked(client, world, people):
    boss = bearer(await world.token(people["worker"]))
    listed = await (await client.get("/api/v1/complaints?per_page=100", headers=boss)).json()
    assert listed["total"] == await Ticket.all().count()
    for item in listed["items"]:
        assert isinstance(item["overdue"], bool) and "due_at" in item
        if item["status"] in {"assigned", "reassigned"}:
            assert item["due_at"] == item["accept_due_at"]
        if item["status"] in {"closed", "resolved", "rejected"}:
            assert (item["due_at"], item["overdue"]) == (None, False)
    accepted = await (await client.get("/api/v1/complaints?status=accepted", headers=boss)).json()
    assert accepted["items"] and all(i["status"] == "accepted" for i in accepted["items"])
    assert all(i["due_at"] == i["resolve_due_at"] for i in accepted["items"])
    by_department = await (
        await client.get("/api/v1/complaints?department=property", headers=boss)
    ).json()
    assert all(i["department"] == "property" for i in by_department["items"])
    for query in ("status=lost", "department=nowhere", "page=0", "per_page=101"):
        resp = await client.get(f"/api/v1/complaints?{query}", headers=boss)
        answer = await resp.json()
        assert resp.status == 400, query
        if not query.startswith("p"):
            assert answer["error"]["code"] == "api.error.bad_filter"


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "电梯坏了\x00"},
        {"text": ["电梯坏了"]},
        {"text": "电梯坏了", "media": ["m\x00"]},
        {"text": "电梯坏了", "media": "m1"},
        {"text": "电梯坏了", "location": {"lat": True, "lng": 1}},
        {"text": "电梯坏了", "location": {"lat": 91, "lng": 1}},
        {"text": ""},
    ],
)
async def test_bad_reports_are_400_not_500(client, world: World, people, payload):
    headers = bearer(await world.token(people["resident"]))
    status, answer = await _call(client, "POST", "/api/v1/complaints", payload, headers)
    assert status == 400, answer


async def test_bad_step_fields_are_400_and_far_pages_handled(client, world: World, people):
    boss = bearer(await world.token(people["worker"]))
    ticket = await Ticket.filter(status="accepted").first()
    assert ticket is not None
    url = f"/api/v1/complaints/{ticket.id}/actions/resolve"
    for payload in ({"note": "好了\x00"}, {"note": "好了", "photo": "p" * 129}, {"note": 5}):
        status, _ = await _call(client, "POST", url, payload, boss)
        assert status == 400, payload
    status, answer = await _call(client, "POST", url, {"note": "已清运", "photo": "p-1"}, boss)
    assert (status, answer["status"], answer["overdue"]) == (200, "resolved", False)
    past_the_end = await client.get("/api/v1/complaints?page=99999", headers=boss)
    assert past_the_end.status == 200 and (await past_the_end.json())["items"] == []
    far = await client.get(f"/api/v1/complaints?page={10**20}", headers=boss)
    assert far.status == 400  # beyond any list: refused before the database sees it


async def test_stats_check_the_role_first_then_weeks_as_a_filter(client, world: World, people):
    handler = await handler_of(world, "property")
    for query in ("?weeks=0", "?weeks=105", "?weeks=8.0", "?weeks=x"):
        resp = await client.get(
            f"/api/v1/complaints/stats{query}", headers=bearer(await world.token(handler))
        )
        assert resp.status == 403, query  # the role, before anything the query says
        resp = await client.get(
            f"/api/v1/complaints/stats{query}", headers=bearer(await world.token(people["worker"]))
        )
        answer = await resp.json()
        assert (resp.status, answer["error"]["code"]) == (400, "api.error.bad_filter"), query
        assert "weeks" in answer["error"]["message"]
    boss = bearer(await world.token(people["worker"]))
    assert (await client.get("/api/v1/complaints/stats?weeks=104", headers=boss)).status == 200


async def test_the_document_says_stats_are_for_managers(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert spec["paths"]["/api/v1/complaints/stats"]["get"]["x-roles"] == "managers"
    listing = spec["paths"]["/api/v1/complaints"]["get"]["parameters"]
    mine = next(p for p in listing if p["name"] == "mine")
    assert mine["schema"]["type"] == "boolean" and mine["schema"]["default"] is False


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("mine=1", "api.error.bad_filter"),
        ("mine=yes", "api.error.bad_filter"),
        ("mine=", "api.error.bad_filter"),
        ("status=", "api.error.bad_filter"),
        ("department=", "api.error.bad_filter"),
        ("per_page=0&status=lost", "api.error.bad_paging"),  # paging first, then filters
        ("page=1.5", "api.error.bad_paging"),
    ],
)
async def test_list_filters_take_only_what_the_document_says(
    client, world: World, people, query, code
):
    for who in ("resident", "worker"):
        resp = await client.get(
            f"/api/v1/complaints?{query}", headers=bearer(await world.token(people[who]))
        )
        answer = await resp.json()
        assert (resp.status, answer["error"]["code"]) == (400, code), (who, query)


async def test_mine_true_gives_a_worker_only_their_own_reports(client, world: World, people):
    worker = people["worker"]
    await service.intake(worker, "我家楼下的路灯坏了", datetime.now(UTC))
    headers = bearer(await world.token(worker))
    listed = await (await client.get("/api/v1/complaints?mine=true", headers=headers)).json()
    assert listed["total"] == 1 and "routing" not in listed["items"][0]
    everything = await (await client.get("/api/v1/complaints?mine=false", headers=headers)).json()
    assert everything["total"] == await Ticket.all().count()


@pytest.mark.parametrize(
    ("payload", "name"),
    [
        ({"text": None}, "text"),
        ({"text": "电梯坏了" * 501}, "text"),
        ({"text": "电梯坏了", "anonymous": "yes"}, "anonymous"),
        ({"text": "电梯坏了", "anonymous": None}, "anonymous"),
        ({"text": "电梯坏了", "media": None}, "media"),
        ({"text": "电梯坏了", "media": ["m" * 513]}, "media.0"),
        ({"text": "电梯坏了", "location": {"lat": 1}}, "location.lng"),
        ({"text": "电梯坏了", "location": {"lat": "1", "lng": 1}}, "location.lat"),
    ],
)
async def test_a_report_the_document_forbids_is_refused_by_field(
    client, world: World, people, payload, name
):
    headers = bearer(await world.token(people["resident"]))
    before = await Ticket.all().count()
    status, answer = await _call(client, "POST", "/api/v1/complaints", payload, headers)
    assert (status, answer["error"]["code"]) == (400, "api.error.bad_field"), answer
    assert name in answer["error"]["message"]
    assert await Ticket.all().count() == before


async def test_a_blank_report_keeps_its_own_message_and_unknown_fields_are_ignored(
    client, world: World, people
):
    headers = bearer(await world.token(people["resident"]))
    status, answer = await _call(client, "POST", "/api/v1/complaints", {"text": "  "}, headers)
    assert (status, answer["error"]["code"]) == (400, "ticket.error.empty")
    status, answer = await _call(
        client,
        "POST",
        "/api/v1/complaints",
        {"text": "电梯坏了", "location": {"lat": 22, "lng": 114, "label": "3栋"}, "extra": 1},
        headers,
    )
    assert status == 201 and answer["location"] == {"lat": 22, "lng": 114}


@pytest.mark.parametrize(
    "payload",
    [
        {"stars": 0},
        {"stars": 6},
        {"stars": "5"},
        {"stars": 5.0},
        {"stars": True},
        {},
        {"stars": 5, "comment": None},
        {"stars": 5, "comment": "好" * 2001},
    ],
)
async def test_a_rating_the_document_forbids_is_refused_and_the_ticket_stays_resolved(
    client, world: World, people, payload
):
    ticket = await Ticket.get(reporter_id=people["resident"].id, status="resolved")
    headers = bearer(await world.token(people["resident"]))
    url = f"/api/v1/complaints/{ticket.id}/rating"
    status, answer = await _call(client, "POST", url, payload, headers)
    assert (status, answer["error"]["code"]) == (400, "api.error.bad_field"), answer
    assert (await Ticket.get(id=ticket.id)).status == "resolved"
    status, answer = await _call(client, "POST", url, {"stars": 5}, headers)
    assert (status, answer["status"]) == (200, "closed")


async def test_a_rating_twice_is_409(client, world: World, people):
    closed = await Ticket.get(reporter_id=people["resident"].id, status="closed")
    headers = bearer(await world.token(people["resident"]))
    url = f"/api/v1/complaints/{closed.id}/rating"
    status, answer = await _call(client, "POST", url, {"stars": 4}, headers)
    assert (status, answer["error"]["code"]) == (409, "ticket.error.not_resolved")


async def test_reassigning_needs_another_known_department(client, world: World, people):
    boss = bearer(await world.token(people["worker"]))
    ticket = await Ticket.filter(status="accepted").first()
    assert ticket is not None
    url = f"/api/v1/complaints/{ticket.id}/actions/reassign"
    note = {"note": "不归我们管"}
    status, answer = await _call(client, "POST", url, {**note, "department": "nowhere"}, boss)
    assert (status, answer["error"]["code"]) == (400, "api.error.bad_field")
    assert "department" in answer["error"]["message"]
    for payload in (note, {**note, "department": ticket.department}):
        status, answer = await _call(client, "POST", url, payload, boss)
        assert (status, answer["error"]["code"]) == (400, "ticket.error.bad_department")
    other = "sanitation" if ticket.department != "sanitation" else "property"
    status, answer = await _call(client, "POST", url, {**note, "department": other}, boss)
    assert (status, answer["status"], answer["department"]) == (200, "reassigned", other)


async def test_steps_refused_by_the_ticket_loop_carry_their_status(client, world: World, people):
    boss = bearer(await world.token(people["worker"]))
    closed = await Ticket.get(status="closed")
    url = f"/api/v1/complaints/{closed.id}/actions/accept"
    status, answer = await _call(client, "POST", url, {"note": None}, boss)
    assert (status, answer["error"]["code"]) == (409, "ticket.error.illegal_transition")
    fresh = await Ticket.filter(status="assigned").first()
    assert fresh is not None
    handler = bearer(await world.token(await handler_of(world, fresh.department)))
    url = f"/api/v1/complaints/{fresh.id}/actions/escalate"
    status, answer = await _call(client, "POST", url, None, handler)
    assert (status, answer["error"]["code"]) == (403, "ticket.error.forbidden")
    missing = f"/api/v1/complaints/{MISSING}/actions/accept"
    status, answer = await _call(client, "POST", missing, None, boss)
    assert (status, answer["error"]["code"]) == (404, "ticket.error.not_found")


async def test_an_id_in_other_digits_is_not_found(client, world: World, people):
    own = await Ticket.filter(reporter_id=people["resident"].id).first()
    assert own is not None
    arabic = str(own.id).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    headers = bearer(await world.token(people["resident"]))
    assert (await client.get(f"/api/v1/complaints/{own.id}", headers=headers)).status == 200
    status, answer = await _call(client, "GET", f"/api/v1/complaints/{arabic}", None, headers)
    assert (status, answer["error"]["code"]) == (404, "ticket.error.not_found")
