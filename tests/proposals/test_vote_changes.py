"""A household's vote changed by another of its members: the household hears of it."""

from __future__ import annotations

from datetime import timedelta

from bot.app import job_context
from handlers.notices.relay import relay
from handlers.proposals import service
from models.notices import Notice
from models.outbox import Notification
from tests.proposals import factories
from tests.world import T0, World

DURING = T0 + timedelta(days=6)
KIND = "proposal.vote_changed"


async def _changes(proposal_id: int) -> list[Notification]:
    return await Notification.filter(kind=KIND, subject_id=proposal_id).order_by("id")


async def test_the_other_members_hear_when_their_households_vote_is_changed(world: World):
    home, next_door = await world.add_households(world.buildings[0], 2)
    first, second, third = [await world.resident(home) for _ in range(3)]
    unbound = await world.resident(home, verified=False)
    neighbour = await world.resident(next_door)
    proposal_id = await factories.voting(world, neighbour, await world.worker())

    await service.cast_vote(proposal_id, first.id, "yes", DURING)
    await service.cast_vote(proposal_id, first.id, "no", DURING)  # one's own change: no news
    await service.cast_vote(proposal_id, second.id, "no", DURING)  # the same choice: no change
    assert await _changes(proposal_id) == []

    await service.cast_vote(proposal_id, second.id, "yes", DURING)
    told = await _changes(proposal_id)
    assert sorted(n.audience for n in told) == sorted(
        [f"resident:{first.id}", f"resident:{third.id}"]
    )
    for note in told:
        # Whoever reads the outbox learns of a change, never which way the household voted.
        assert set(note.payload) == {"id", "title"}
        assert note.subject == "proposal" and note.community_id == world.community.id
    assert f"resident:{unbound.id}" not in {n.audience for n in told}
    assert f"resident:{neighbour.id}" not in {n.audience for n in told}
    assert f"resident:{second.id}" not in {n.audience for n in told}


async def test_the_relay_words_the_change_without_the_choice(world: World, app_state):
    home = (await world.add_households(world.buildings[0], 1))[0]
    first, second = await world.resident(home), await world.resident(home)
    first.language = "en"
    await first.save(update_fields=["language"])
    proposal_id = await factories.voting(world, first, await world.worker())
    await service.cast_vote(proposal_id, first.id, "yes", DURING)
    await service.cast_vote(proposal_id, second.id, "abstain", DURING)
    await relay(job_context(app_state, DURING))
    notice = await Notice.get(kind=KIND)
    assert notice.scope == {"kind": "residents", "ids": [first.id]}
    assert "3栋门口加装路灯" in notice.body and f"#{proposal_id}" in notice.body
    for choice in ("yes", "abstain", "for", "against", "弃权", "赞成", "反对"):  # en, zh_Hans
        assert choice not in notice.body.lower()
