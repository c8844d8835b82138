"""Who may call each ``/api/v1/proposals`` endpoint, and what a resident never sees."""

from __future__ import annotations

import pytest

from models.proposals import Comment, Proposal
from models.residents import Resident
from tests.api import seed_proposals
from tests.api.seed import people_of
from tests.world import World, bearer

MISSING = 999_999_998
ENDPOINTS = [
    ("GET", "/api/v1/proposals", None),
    ("GET", "/api/v1/proposals/{id}", None),
    ("POST", "/api/v1/proposals", {"title": "加装路灯", "description": "太黑了"}),
    ("POST", "/api/v1/proposals/{id}/actions/submit", {}),
    ("GET", "/api/v1/proposals/{id}/audit", None),
    ("POST", "/api/v1/proposals/{id}/vote", {"choice": "yes"}),
    ("GET", "/api/v1/proposals/{id}/comments", None),
    ("POST", "/api/v1/proposals/{id}/comments", {"text": "支持"}),
    ("POST", "/api/v1/comments/{id}/hide", {"reason": "广告"}),
    ("POST", "/api/v1/proposals/{id}/rating", {"stars": 5}),
]
WORKER_ACTIONS = ["review", "reject", "publish", "open", "close", "start", "progress", "complete"]
WORKER_ONLY = [
    *(f"/api/v1/proposals/{{id}}/actions/{action}" for action in WORKER_ACTIONS),
    "/api/v1/comments/{id}/hide",
]


@pytest.fixture
async def people(world: World) -> dict[str, Resident]:
    found = await people_of(world)
    for n, person in enumerate(found.values()):
        person.name, person.phone = f"住户{n}号", f"1380000000{n}"
        await person.save(update_fields=["name", "phone"])
    await seed_proposals.seed(world, found)
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


@pytest.mark.parametrize("path", WORKER_ONLY)
async def test_a_resident_gets_403_before_the_body_or_the_object(
    client, world: World, people, path
):
    token = await world.token(people["resident"])
    published = await Proposal.get(title="3栋门口加装路灯")
    for target in (MISSING, published.id):
        url = path.format(id=target)
        for payload in (None, {}, {"reason": 5, "days": "x", "text": None}):
            status, answer = await _call(client, "POST", url, payload, bearer(token))
            assert status == 403, (url, payload, answer)
            assert answer["error"]["code"] == "api.error.forbidden"
        resp = await client.post(url, data=b"{not json", headers=bearer(token))
        assert resp.status == 403
    assert (await Proposal.get(id=published.id)).status == "published"


async def test_only_an_admin_reads_the_audit_trail(client, world: World, people):
    voting = await Proposal.get(title="健身器材翻新")
    plain_worker = await world.worker()
    for who in (people["resident"], people["neighbour"], plain_worker):
        for target in (voting.id, MISSING):
            url = f"/api/v1/proposals/{target}/audit"
            resp = await client.get(url, headers=bearer(await world.token(who)))
            assert resp.status == 403, url
    admin = await client.get(
        f"/api/v1/proposals/{voting.id}/audit", headers=bearer(await world.token(people["worker"]))
    )
    assert admin.status == 200
    assert {e["action"] for e in (await admin.json())["items"]} >= {"vote.cast"}


async def test_a_draft_is_its_proposers_business(client, world: World, people):
    draft = await Proposal.get(title="楼道加装扶手")
    nosy = bearer(await world.token(people["neighbour"]))
    for method, path, payload in [
        ("GET", "/api/v1/proposals/{id}", None),
        ("GET", "/api/v1/proposals/{id}/comments", None),
        ("POST", "/api/v1/proposals/{id}/actions/submit", {}),
        ("POST", "/api/v1/proposals/{id}/actions/withdraw", {}),
    ]:
        status, answer = await _call(client, method, path.format(id=draft.id), payload, nosy)
        assert status == 404, (path, answer)
    listed = await (await client.get("/api/v1/proposals?per_page=100", headers=nosy)).json()
    assert draft.id not in {p["id"] for p in listed["items"]}
    mine = bearer(await world.token(people["resident"]))
    own = await (await client.get(f"/api/v1/proposals/{draft.id}", headers=mine)).json()
    assert own["mine"] is True and own["status"] == "draft"


async def test_residents_never_see_each_others_votes_or_personal_data(client, world: World, people):
    voting = await Proposal.get(title="健身器材翻新")
    seen = {}
    for role in ("resident", "neighbour", "worker"):
        headers = bearer(await world.token(people[role]))
        raw = []
        for url in (
            "/api/v1/proposals?per_page=100",
            f"/api/v1/proposals/{voting.id}",
            f"/api/v1/proposals/{(await Proposal.get(title='3栋门口加装路灯')).id}/comments",
        ):
            resp = await client.get(url, headers=headers)
            assert resp.status == 200, url
            raw.append(await resp.text())
        seen[role] = await (
            await client.get(f"/api/v1/proposals/{voting.id}", headers=headers)
        ).json()
        if role != "worker":
            for person in people.values():
                for secret in (person.openid, person.phone, person.name):
                    assert all(secret not in text for text in raw), (role, secret)
            assert all('"tally"' not in text for text in raw)
    assert (seen["resident"]["my_vote"], seen["neighbour"]["my_vote"]) == ("yes", "no")
    assert seen["resident"]["turnout"] == seen["neighbour"]["turnout"] == 2
    assert seen["worker"]["tally"] == {"yes": 1, "no": 1, "abstain": 0}
    assert seen["worker"]["my_vote"] is None


async def test_hidden_comments_show_their_reason_not_their_text(client, world: World, people):
    hidden = await Comment.get(hidden_reason="广告")
    url = f"/api/v1/proposals/{hidden.proposal_id}/comments"  # type: ignore[attr-defined]
    for role, text in (("resident", None), ("worker", hidden.text)):
        resp = await client.get(url, headers=bearer(await world.token(people[role])))
        found = [c for c in (await resp.json())["items"] if c["id"] == hidden.id]
        assert found[0]["text"] == text and found[0]["hidden_reason"] == "广告"


async def test_a_worker_lists_with_the_live_tally_and_bad_filters_are_400(client, world, people):
    headers = bearer(await world.token(people["worker"]))
    listed = await (await client.get("/api/v1/proposals?status=voting", headers=headers)).json()
    assert [p["tally"] for p in listed["items"]] == [{"yes": 1, "no": 1, "abstain": 0}]
    assert listed["items"][0]["eligible"] == 4 and listed["items"][0]["turnout"] == 2
    for query in ("status=open", "category=park", "page=0", "per_page=101"):
        resp = await client.get(f"/api/v1/proposals?{query}", headers=headers)
        assert resp.status == 400, query


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "路灯\x00", "description": "太黑了"},
        {"title": "路灯", "description": "太黑了", "estimated_cost": 1e30},
        {"title": "路灯", "description": "太黑了", "estimated_cost": "NaN"},
        {"title": "路灯", "description": "太黑了", "estimated_cost": -1},
        {"title": "路灯", "description": "太黑了", "funding": ["street"]},
        {"title": "路灯", "description": "太黑了", "scope": {"kind": ["grids"]}},
        {"title": "路灯", "description": "太黑了", "scope": {"kind": "grids", "ids": [10**12]}},
        {"title": "路灯", "description": "太黑了", "photos": ["a\x00"]},
        {"title": ["路灯"], "description": "太黑了"},
    ],
)
async def test_bad_proposals_are_400_not_500(client, world: World, people, payload):
    headers = bearer(await world.token(people["resident"]))
    status, answer = await _call(client, "POST", "/api/v1/proposals", payload, headers)
    assert status == 400, answer


async def test_bad_action_fields_and_far_pages_are_handled(client, world: World, people):
    boss = bearer(await world.token(people["worker"]))
    submitted = await Proposal.get(title="小区增设快递柜")
    url = f"/api/v1/proposals/{submitted.id}/actions/reject"
    for payload in ({"reason": 5}, {"reason": "广告\x00"}, {"reason": "x" * 2001}):
        status, _ = await _call(client, "POST", url, payload, boss)
        assert status == 400, payload
    status, answer = await _call(client, "POST", url, {"reason": "重复了"}, boss)
    assert (status, answer["status"], answer["rejection_reason"]) == (200, "rejected", "重复了")
    past_the_end = await client.get("/api/v1/proposals?page=99999", headers=boss)
    assert past_the_end.status == 200 and (await past_the_end.json())["items"] == []
    far = await client.get(f"/api/v1/proposals?page={10**20}", headers=boss)
    assert far.status == 400  # beyond any list: refused before the database sees it
