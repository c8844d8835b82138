"""One visibility rule for both doors: before publication (and once rejected or withdrawn)
a proposal is its proposer's and the managers' business; to anyone else, by chat or by
the API, it reads exactly as a proposal that does not exist."""

from __future__ import annotations

import pytest

from handlers.proposals import service
from handlers.refusal import Refused
from models.proposals import Comment, Rating, Vote
from models.residents import Resident, Role, RoleAssignment
from tests.proposals import factories
from tests.world import T0, World, bearer

MISSING = 999_999_997
SECRET = "只给审核人看的说明"
REASON = "与去年的项目重复"


async def bound(world: World, speaker) -> Resident:  # type: ignore[no-untyped-def]
    """The resident behind ``speaker``, bound to a new household of building 1."""
    await speaker.say("帮助")
    home = (await world.add_households(world.buildings[0], 1))[0]
    row = await Resident.get(openid=speaker.openid)
    row.household, row.verified = home, True
    await row.save()
    return row


async def hidden_proposals(world: World, author: Resident) -> dict[str, int]:
    """One proposal of ``author`` in each state nobody else may see, by status."""
    who, boss = await world.who(author), await world.who(await world.worker())

    async def made(submit: bool = True) -> int:
        proposal = await service.create(
            who, title="楼道加装扶手", description=SECRET, category="project", submit=submit
        )
        return proposal.id

    found = {"draft": await made(submit=False), "submitted": await made()}
    found["under_review"] = await made()
    await service.act(found["under_review"], boss, "review", T0)
    found["rejected"] = await made()
    await service.act(found["rejected"], boss, "review", T0)
    await service.act(found["rejected"], boss, "reject", T0, REASON)
    found["withdrawn"] = await made()
    await service.act(found["withdrawn"], who, "withdraw", T0)
    return found


async def author_of_building_1(world: World) -> Resident:
    home = (await world.add_households(world.buildings[0], 1))[0]
    return await world.resident(home)


@pytest.mark.parametrize(
    "command",
    ["详情 {id}", "詳情 {id}", "投票 {id}", "投票 {id} 赞成", "评论 {id} 支持", "评价 {id} 5"],
)
async def test_chat_commands_on_a_hidden_proposal_read_as_on_a_missing_one(
    resident, world: World, command: str
):
    await bound(world, resident)
    hidden = await hidden_proposals(world, await author_of_building_1(world))
    missing = await resident.say(command.format(id=MISSING))
    assert str(MISSING) in missing
    for status, proposal_id in hidden.items():
        reply = await resident.say(command.format(id=proposal_id))
        assert reply == missing.replace(str(MISSING), str(proposal_id)), (status, reply)
        assert SECRET not in reply and REASON not in reply
    assert await Vote.all().count() == 0
    assert await Comment.all().count() == 0
    assert await Rating.all().count() == 0


async def test_the_proposer_and_a_manager_see_the_hidden_proposal_by_chat(
    make_resident, world: World
):
    author_speaker, worker_speaker = make_resident("o_author"), make_resident("o_manager")
    author = await bound(world, author_speaker)
    hidden = await hidden_proposals(world, author)
    manager = await bound(world, worker_speaker)
    await RoleAssignment.create(
        resident=manager, role=Role.COMMUNITY_WORKER, community=world.community
    )
    for speaker in (author_speaker, worker_speaker):
        for status, proposal_id in hidden.items():
            seen = await speaker.say(f"详情 {proposal_id}")
            assert SECRET in seen, (status, seen)
        assert REASON in await speaker.say(f"详情 {hidden['rejected']}")


async def test_a_published_proposal_is_shown_to_any_resident_by_chat(resident, world: World):
    await bound(world, resident)
    proposal_id = await factories.published(
        world, await author_of_building_1(world), await world.worker()
    )
    assert "3栋门口加装路灯" in await resident.say(f"详情 {proposal_id}")


async def test_api_votes_comments_and_ratings_on_a_hidden_proposal_are_404(client, world: World):
    hidden = await hidden_proposals(world, await author_of_building_1(world))
    neighbour = await world.resident((await world.add_households(world.buildings[0], 1))[0])
    headers = bearer(await world.token(neighbour))
    for method, path, payload in [
        ("GET", "/api/v1/proposals/{id}", None),
        ("GET", "/api/v1/proposals/{id}/comments", None),
        ("POST", "/api/v1/proposals/{id}/vote", {"choice": "yes"}),
        ("POST", "/api/v1/proposals/{id}/comments", {"text": "支持"}),
        ("POST", "/api/v1/proposals/{id}/rating", {"stars": 5}),
        ("POST", "/api/v1/proposals/{id}/actions/withdraw", {}),
    ]:
        for status, proposal_id in [("missing", MISSING), *hidden.items()]:
            resp = await client.request(
                method, path.format(id=proposal_id), json=payload, headers=headers
            )
            answer = await resp.json()
            assert resp.status == 404, (path, status, answer)
            assert answer["error"]["code"] == "proposal.error.not_found"
            assert SECRET not in str(answer) and REASON not in str(answer)


async def test_the_service_refuses_a_hidden_proposal_as_not_found(world: World):
    hidden = await hidden_proposals(world, await author_of_building_1(world))
    neighbour = await world.resident((await world.add_households(world.buildings[0], 1))[0])
    who = await world.who(neighbour)
    for proposal_id in hidden.values():
        with pytest.raises(Refused) as caught:
            await service.get_visible(proposal_id, who)
        assert (caught.value.code, caught.value.status) == ("proposal.error.not_found", 404)
        for call in (
            lambda p: service.comment(p, who, "支持"),
            lambda p: service.rate(p, who, 5),
            lambda p: service.cast_vote(p, neighbour.id, "yes", T0),
            lambda p: service.check_voice(p, neighbour.id, T0),
        ):
            with pytest.raises(Refused) as caught:
                await call(proposal_id)
            assert (caught.value.code, caught.value.status) == ("proposal.error.not_found", 404)
