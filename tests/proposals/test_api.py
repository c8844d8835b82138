"""``/api/v1/proposals`` over real HTTP: roles, the error shape, and concurrent votes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from handlers.proposals import service
from models.audit import AuditLog
from models.proposals import Proposal, Vote
from models.residents import Resident, Role
from tests.proposals import factories
from tests.world import World, bearer


async def test_no_token_is_401_in_the_callers_language(client, world: World):
    resp = await client.get("/api/v1/proposals", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert resp.status == 401
    assert await resp.json() == {
        "error": {"code": "api.error.unauthorized", "message": "Please sign in first."}
    }
    forged = await client.get("/api/v1/proposals", headers=bearer("not-a-token"))
    assert forged.status == 401
    assert (await forged.json())["error"]["message"] == "请先登录。"


async def test_a_resident_proposes_and_only_a_worker_publishes(client, world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    resident, worker = await world.resident(home), await world.worker()
    mine, boss = await world.token(resident), await world.token(worker)
    made = await client.post(
        "/api/v1/proposals",
        json={"title": "加装路灯", "description": "太黑了", "category": "rectification"},
        headers=bearer(mine),
    )
    assert made.status == 201, await made.text()
    proposal = await made.json()
    assert (proposal["status"], proposal["mine"]) == ("submitted", True)
    url = f"/api/v1/proposals/{proposal['id']}/actions"
    review = await client.post(f"{url}/review", headers=bearer(mine))
    assert review.status == 403
    assert (await review.json())["error"]["code"] == "api.error.forbidden"
    assert (await client.post(f"{url}/review", headers=bearer(boss))).status == 200
    published = await client.post(f"{url}/publish", headers=bearer(boss))
    assert (await published.json())["status"] == "published"
    resident.language = "zh_Hant"  # the resident's own choice wins over Accept-Language
    await resident.save(update_fields=["language"])
    bad = await client.post(
        "/api/v1/proposals", json={"title": "", "description": "x"}, headers=bearer(mine, "en")
    )
    assert bad.status == 400
    assert (await bad.json())["error"]["message"].startswith("標題需要")


async def test_drafts_of_others_are_invisible_to_residents(client, world: World):
    homes = await world.add_households(world.buildings[0], 2)
    author, neighbour = await world.resident(homes[0]), await world.resident(homes[1])
    made = await service.create(
        await world.who(author), title="加装路灯", description="太黑了", category="project"
    )
    peek = await client.get(
        f"/api/v1/proposals/{made.id}", headers=bearer(await world.token(neighbour))
    )
    assert peek.status == 404
    listed = await client.get("/api/v1/proposals", headers=bearer(await world.token(neighbour)))
    assert (await listed.json())["total"] == 0
    own = await client.get("/api/v1/proposals", headers=bearer(await world.token(author)))
    assert [p["id"] for p in (await own.json())["items"]] == [made.id]


async def test_200_concurrent_votes_from_150_households_count_exactly(client, world: World):
    homes = await world.add_households(world.buildings[0], 150)
    people: list[tuple[Resident, str]] = []
    expected = {"yes": 0, "no": 0, "abstain": 0}
    for index, home in enumerate(homes):
        choice = ("yes", "no", "abstain")[index % 3] if index % 5 else "yes"
        expected[choice] += 1
        for _ in range(2 if index < 50 else 1):
            people.append((await world.resident(home), choice))
    assert len(people) == 200
    worker = await world.worker()
    proposal_id = await factories.published(world, people[0][0], worker)
    proposal = await Proposal.get(id=proposal_id)
    proposal.published_at = datetime.now(UTC) - timedelta(days=6)
    await proposal.save(update_fields=["published_at"])
    opened = await client.post(
        f"/api/v1/proposals/{proposal_id}/actions/open",
        json={"days": 3},
        headers=bearer(await world.token(worker)),
    )
    assert opened.status == 200, await opened.text()
    tokens = [(await world.token(person), choice) for person, choice in people]

    async def vote(token: str, choice: str) -> int:
        resp = await client.post(
            f"/api/v1/proposals/{proposal_id}/vote", json={"choice": choice}, headers=bearer(token)
        )
        await resp.read()
        return resp.status

    statuses = await asyncio.gather(*(vote(t, c) for t, c in tokens))
    assert statuses == [200] * 200
    assert await Vote.filter(proposal_id=proposal_id).count() == 150
    counted = await service.tally(await Proposal.get(id=proposal_id))
    assert (counted.yes, counted.no, counted.abstain) == (
        expected["yes"],
        expected["no"],
        expected["abstain"],
    )
    assert await AuditLog.filter(action="vote.cast", entity_id=str(proposal_id)).count() == 150
    seen = await client.get(f"/api/v1/proposals/{proposal_id}", headers=bearer(tokens[0][0]))
    body = await seen.json()
    assert (body["turnout"], body["eligible"], "tally" in body) == (150, 150, False)


async def test_only_an_admin_reads_who_voted_what(client, world: World):
    homes = await world.add_households(world.buildings[0], 2)
    voter, other = await world.resident(homes[0]), await world.resident(homes[1])
    worker, admin = await world.worker(), await world.worker(Role.ADMIN)
    proposal_id = await factories.voting(world, voter, worker)
    await service.cast_vote(proposal_id, voter.id, "no", datetime(2026, 11, 8, tzinfo=UTC))
    url = f"/api/v1/proposals/{proposal_id}/audit"
    for outsider in (other, worker):
        assert (await client.get(url, headers=bearer(await world.token(outsider)))).status == 403
    trail = await (await client.get(url, headers=bearer(await world.token(admin)))).json()
    votes = [e for e in trail["items"] if e["action"] == "vote.cast"]
    assert votes == [
        {
            "at": votes[0]["at"],
            "actor": f"resident:{voter.id}",
            "action": "vote.cast",
            "before": None,
            "after": {
                "elector": f"h{homes[0].id}",
                "choice": "no",
                "channel": "online",
                "at": "2026-11-08T00:00:00+00:00",
            },
        }
    ]


# --- what the document says is what runs -------------------------------------------------


async def _error(resp) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    answer = await resp.json()
    return resp.status, answer["error"]["code"], answer["error"]["message"]


async def test_a_submit_flag_that_is_no_boolean_is_refused_not_taken_for_true(client, world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    headers = bearer(await world.token(await world.resident(home)))
    for flag in ("no", 0, None):
        resp = await client.post(
            "/api/v1/proposals",
            json={"title": "加装路灯", "description": "太黑了", "submit": flag},
            headers=headers,
        )
        assert await _error(resp) == (400, "api.error.bad_field", "字段 submit 的值无效。"), flag
    assert await Proposal.all().count() == 0
    kept = await client.post(
        "/api/v1/proposals",
        json={"title": "加装路灯", "description": "太黑了", "submit": False},
        headers=headers,
    )
    assert (await kept.json())["status"] == "draft"


async def test_mine_is_a_boolean_filter(client, world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    headers = bearer(await world.token(await world.resident(home)))
    for query in ("mine=1", "mine=yes", "status=", "category=Project"):
        resp = await client.get(f"/api/v1/proposals?{query}", headers=headers)
        assert (await _error(resp))[:2] == (400, "api.error.bad_filter"), query
    assert (await client.get("/api/v1/proposals?mine=true", headers=headers)).status == 200


async def test_the_estimated_cost_is_a_number_rounded_to_the_fen(client, world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    headers = bearer(await world.token(await world.resident(home)))
    made = {}
    for cost in (12.345, 0.1, -0.0, 9_999_999_999.99):
        resp = await client.post(
            "/api/v1/proposals",
            json={"title": "加装路灯", "description": "太黑了", "estimated_cost": cost},
            headers=headers,
        )
        assert resp.status == 201, await resp.text()
        made[cost] = (await resp.json())["estimated_cost"]
    assert made == {12.345: "12.35", 0.1: "0.10", -0.0: "0.00", 9_999_999_999.99: "9999999999.99"}
    for cost in ("12.50", -0.01, 10_000_000_000, True):
        resp = await client.post(
            "/api/v1/proposals",
            json={"title": "加装路灯", "description": "太黑了", "estimated_cost": cost},
            headers=headers,
        )
        assert (await _error(resp))[:2] == (400, "api.error.bad_field"), cost


async def test_a_blank_title_keeps_its_own_message_and_a_long_one_is_a_bad_field(
    client, world: World
):
    home = (await world.add_households(world.buildings[0], 1))[0]
    headers = bearer(await world.token(await world.resident(home)))
    for blank in ("", "   "):
        resp = await client.post(
            "/api/v1/proposals", json={"title": blank, "description": "x"}, headers=headers
        )
        status, code, _ = await _error(resp)
        assert (status, code) == (400, "proposal.error.bad_title"), blank
    long = await client.post(
        "/api/v1/proposals",
        json={"title": "灯" * (service.TITLE_MAX + 1), "description": "x"},
        headers=headers,
    )
    assert (await _error(long))[:2] == (400, "api.error.bad_field")
    missing = await client.post("/api/v1/proposals", json={"description": "x"}, headers=headers)
    assert (await _error(missing))[2] == "字段 title 的值无效。"


async def test_each_action_reads_its_own_body(client, world: World):
    homes = await world.add_households(world.buildings[0], 2)
    proposer, worker = await world.resident(homes[0]), await world.worker()
    boss = bearer(await world.token(worker))
    made = await service.create(
        await world.who(proposer), title="加装路灯", description="太黑了", category="project"
    )
    url = f"/api/v1/proposals/{made.id}/actions"
    for blank in ({}, {"reason": None}, {"reason": " "}):
        resp = await client.post(f"{url}/reject", json=blank, headers=boss)
        assert (await _error(resp))[:2] == (400, "proposal.error.reason_required"), blank
    wrong = await client.post(f"{url}/reject", json={"reason": ["重复"]}, headers=boss)
    assert (await _error(wrong))[:2] == (400, "api.error.bad_field")
    # A body an action does not need may be left out, or carry what it ignores.
    assert (await client.post(f"{url}/review", headers=boss)).status == 200
    published = await client.post(f"{url}/publish", json={"days": 3}, headers=boss)
    assert (await published.json())["status"] == "published"
    for days in (0, 61, "7", 7.5):
        opened = await client.post(f"{url}/open", json={"days": days}, headers=boss)
        assert (await _error(opened))[:2] == (400, "api.error.bad_field"), days
    early = await client.post(f"{url}/open", json={"days": 7}, headers=boss)
    assert (await _error(early))[:2] == (409, "proposal.error.publicity_not_over")
    unknown = await client.post(f"{url}/dance", json={}, headers=boss)
    assert (await _error(unknown))[:2] == (404, "api.error.not_found")


async def test_a_vote_choice_outside_the_three_is_a_bad_field(client, world: World):
    homes = await world.add_households(world.buildings[0], 2)
    voter = await world.resident(homes[0])
    proposal_id = await factories.voting(world, voter, await world.worker())
    headers = bearer(await world.token(voter))
    for choice in ("maybe", "YES", None, 1):
        resp = await client.post(
            f"/api/v1/proposals/{proposal_id}/vote", json={"choice": choice}, headers=headers
        )
        assert await _error(resp) == (400, "api.error.bad_field", "字段 choice 的值无效。"), choice
    assert await Vote.filter(proposal_id=proposal_id).count() == 0


async def test_a_long_rating_comment_is_refused_not_cut(client, world: World):
    homes = await world.add_households(world.buildings[0], 1)
    voter = await world.resident(homes[0])
    proposal_id = await factories.voting(world, voter, await world.worker())
    resp = await client.post(
        f"/api/v1/proposals/{proposal_id}/rating",
        json={"stars": 5, "comment": "好" * (service.TEXT_MAX + 1)},
        headers=bearer(await world.token(voter)),
    )
    assert (await _error(resp))[:2] == (400, "api.error.bad_field")
    stars = await client.post(
        f"/api/v1/proposals/{proposal_id}/rating",
        json={"stars": 6},
        headers=bearer(await world.token(voter)),
    )
    assert (await _error(stars))[:2] == (400, "api.error.bad_field")


async def test_a_comment_path_that_is_no_id_is_the_comments_404(client, world: World):
    boss = bearer(await world.token(await world.worker()))
    for raw in ("abc", "0", "١٢"):
        resp = await client.post(
            f"/api/v1/comments/{raw}/hide", json={"reason": "广告"}, headers=boss
        )
        assert (await _error(resp))[:2] == (404, "proposal.error.comment_not_found"), raw


async def test_the_document_names_each_actions_role_and_body(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    actions = {
        path.rsplit("/", 1)[1]: ops["post"]
        for path, ops in spec["paths"].items()
        if path.startswith("/api/v1/proposals/{id}/actions/")
    }
    assert set(actions) == {
        "submit",
        "withdraw",
        "review",
        "reject",
        "publish",
        "open",
        "close",
        "start",
        "progress",
        "complete",
    }
    roles = {name: op.get("x-roles") for name, op in actions.items()}
    assert roles.pop("submit") is roles.pop("withdraw") is None
    assert set(roles.values()) == {"managers"}
    close = actions["close"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    override = spec["components"]["schemas"][close.rsplit("/", 1)[1]]["properties"]
    assert set(override) == {"override_reason"}
    body = actions["open"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    days = spec["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]["days"]
    assert (days["minimum"], days["maximum"], days["default"]) == (1, 60, 7)
    audit = spec["paths"]["/api/v1/proposals/{id}/audit"]["get"]
    assert audit["x-roles"] == "admins"


async def test_an_admin_reading_who_voted_what_leaves_an_audit_entry(client, world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    voter, worker = await world.resident(home), await world.worker()
    admin = await world.worker(Role.ADMIN)
    proposal_id = await factories.voting(world, voter, worker)
    await service.cast_vote(proposal_id, voter.id, "yes", datetime(2026, 11, 8, tzinfo=UTC))
    url = f"/api/v1/proposals/{proposal_id}/audit"
    refused = await client.get(url, headers=bearer(await world.token(worker)))
    assert refused.status == 403
    assert await AuditLog.filter(action="proposal.audit_read").count() == 0
    for page in (1, 2):
        resp = await client.get(f"{url}?page={page}", headers=bearer(await world.token(admin)))
        assert resp.status == 200
    reads = await AuditLog.filter(action="proposal.audit_read").order_by("id")
    assert [(r.actor, r.entity, r.entity_id) for r in reads] == [
        (f"resident:{admin.id}", "proposal", str(proposal_id))
    ] * 2
    assert [r.after for r in reads] == [{"page": 1}, {"page": 2}]
    # The next reader of the trail sees who read it before them.
    trail = await (await client.get(url, headers=bearer(await world.token(admin)))).json()
    assert [e["actor"] for e in trail["items"] if e["action"] == "proposal.audit_read"][:2] == [
        f"resident:{admin.id}"
    ] * 2
