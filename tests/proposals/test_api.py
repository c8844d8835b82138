"""``/api/v1/proposals`` over real HTTP: roles, the error shape, and concurrent votes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from handlers.proposals import service
from models.audit import AuditLog
from models.proposals import Proposal, Vote
from models.residents import Resident, Role
from tests.proposals import factories
from tests.world import World


def bearer(token: str, language: str = "") -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if language:
        headers["Accept-Language"] = language
    return headers


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
            "after": {"elector": f"h{homes[0].id}", "choice": "no"},
        }
    ]
