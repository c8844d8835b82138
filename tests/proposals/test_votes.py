"""Proposals and household votes through the service layer, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.proposals import rules, service, voting
from handlers.refusal import Refused
from models.audit import AuditLog
from models.outbox import Notification
from models.proposals import Elector, Proposal, Vote
from models.residents import Resident, Role
from tests.proposals import factories
from tests.world import T0, World

OPEN = T0 + timedelta(days=5)
DURING = OPEN + timedelta(days=1)
END = OPEN + timedelta(days=7)


# How grave each refusal is for an API caller: the service says so itself.
STATUS = {
    "proposal.error.illegal_transition": 409,
    "proposal.error.forbidden": 403,
    "proposal.error.reason_required": 400,
    "proposal.error.not_verified": 403,
    "proposal.error.publicity_not_over": 409,
    "proposal.error.out_of_scope": 403,
    "proposal.error.bad_choice": 400,
    "proposal.error.vote_closed": 409,
    "proposal.error.not_decided_yet": 409,
    "proposal.error.coverage_incomplete": 409,
    "proposal.error.not_completed": 409,
    "proposal.error.bad_stars": 400,
    "proposal.error.not_in_publicity": 409,
}


async def refused(code: str, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as caught:
        await call
    assert (caught.value.code, caught.value.status) == (code, STATUS[code])


async def voters(world: World, count: int) -> list[Resident]:
    homes = await world.add_households(world.buildings[0], count)
    return [await world.resident(h) for h in homes]


async def test_the_lifecycle_lands_in_the_audit_log_and_notifies(world: World):
    proposer, worker = (await voters(world, 1))[0], await world.worker()
    proposal_id = await factories.published(world, proposer, worker)
    proposal = await Proposal.get(id=proposal_id)
    assert proposal.status == "published"
    assert proposal.scope == {"kind": "buildings", "ids": [world.buildings[0].id]}
    actions = await AuditLog.filter(entity="proposal", entity_id=str(proposal_id)).values_list(
        "action", flat=True
    )
    assert actions == [
        "proposal.created",
        "proposal.submit",
        "proposal.review",
        "proposal.publish",
    ]
    kinds = await Notification.filter(subject_id=proposal_id).values_list("kind", "audience")
    assert sorted(kinds) == [("proposal.published", "proposer"), ("proposal.published", "scope")]


async def test_a_resident_cannot_publish_and_rejection_needs_a_reason(world: World):
    proposer, worker = (await voters(world, 1))[0], await world.worker()
    made = await service.create(
        await world.who(proposer),
        title="健身器材",
        description="小区缺少健身器材",
        category="project",
    )
    await refused(
        "proposal.error.illegal_transition",
        service.act(made.id, await world.who(worker), "publish", T0),
    )
    await service.act(made.id, await world.who(worker), "review", T0)
    await refused(
        "proposal.error.forbidden", service.act(made.id, await world.who(proposer), "publish", T0)
    )
    await refused(
        "proposal.error.reason_required",
        service.act(made.id, await world.who(worker), "reject", T0),
    )
    await service.act(made.id, await world.who(worker), "reject", T0, reason="不在本年度资金范围")
    rejected = await Proposal.get(id=made.id)
    assert (rejected.status, rejected.rejection_reason) == ("rejected", "不在本年度资金范围")
    told = await Notification.get(subject_id=made.id, kind="proposal.rejected")
    assert told.audience == "proposer" and told.payload["reason"] == "不在本年度资金范围"


async def test_unverified_residents_cannot_propose(world: World):
    stranger = await world.resident()
    await refused(
        "proposal.error.not_verified",
        service.create(
            await world.who(stranger), title="路灯", description="太黑", category="project"
        ),
    )


async def test_voting_opens_only_after_publicity_and_freezes_the_electorate(world: World):
    people = await voters(world, 4)
    worker = await world.worker()
    proposal_id = await factories.published(world, people[0], worker)
    boss = await world.who(worker)
    await refused(
        "proposal.error.publicity_not_over",
        service.open_voting(proposal_id, boss, OPEN - timedelta(minutes=1)),
    )
    await service.open_voting(proposal_id, boss, OPEN)
    assert (await Proposal.get(id=proposal_id)).eligible_count == 4
    # A household added (and bound) after opening has no voice and moves no denominator.
    late_home = (await world.add_households(world.buildings[0], 1))[0]
    late = await world.resident(late_home)
    await refused(
        "proposal.error.out_of_scope",
        service.cast_vote(proposal_id, late.id, "yes", DURING),
    )
    assert await Elector.filter(proposal_id=proposal_id).count() == 4


@pytest.mark.parametrize(("yes", "outcome"), [(71, "not_approved"), (72, "approved")])
async def test_rectification_needs_60_percent_of_all_households(
    world: World, yes: int, outcome: str
):
    people = await voters(world, 120)
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[0], worker)
    # Mixed channels: 50 for online, the rest of the "for" at the door.
    for person in people[:50]:
        await service.cast_vote(proposal_id, person.id, "yes", DURING)
    await factories.visited(world, proposal_id, worker, people[50:yes], DURING, choice="yes")
    # Everyone else who votes says no: 60% of the votes cast would pass, 60% of all would not.
    for person in people[yes : yes + 5]:
        await service.cast_vote(proposal_id, person.id, "no", DURING)
    lock = world.app_state.store.lock  # type: ignore[attr-defined]
    # 全覆盖: the deadline does not decide while households are not reached.
    await service.close_due(END, lock)
    assert (await Proposal.get(id=proposal_id)).status == "voting"
    await factories.visited(world, proposal_id, worker, people[yes + 5 :], END, "not_home")
    await service.close_due(END, lock)
    closed = await Proposal.get(id=proposal_id)
    assert closed.status == outcome
    assert closed.result["eligible"] == 120
    assert (closed.result["yes"], closed.result["no"], closed.result["abstain"]) == (yes, 5, 0)
    reached = closed.result["coverage"]
    assert (reached["online"], reached["in_person"]) == (55, yes - 50)
    assert (reached["visited"], reached["not_reached"]) == (120 - yes - 5, 0)
    assert closed.result["rule"]["threshold"] in {"3/5", "60%"}
    assert closed.result["early"] is False


async def test_project_rule_needs_half_turnout_and_a_majority(world: World):
    people = await voters(world, 10)
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[0], worker, category="project")
    for person, choice in zip(people[:5], ["yes", "yes", "yes", "no", "abstain"], strict=True):
        await service.cast_vote(proposal_id, person.id, choice, DURING)
    await service.close_due(END, world.app_state.store.lock)  # type: ignore[attr-defined]
    assert (await Proposal.get(id=proposal_id)).status == "approved"


async def test_the_last_vote_of_a_household_counts_and_every_change_is_audited(world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    wife, husband = await world.resident(home), await world.resident(home)
    others = await voters(world, 1)
    proposal_id = await factories.voting(world, others[0], await world.worker())
    first = await service.cast_vote(proposal_id, wife.id, "yes", DURING)
    second = await service.cast_vote(proposal_id, husband.id, "no", DURING)
    assert (first.previous, second.previous) == (None, "yes")
    assert await Vote.filter(proposal_id=proposal_id).values_list("choice", flat=True) == ["no"]
    trail = (
        await AuditLog.filter(action__startswith="vote.").order_by("id").values("action", "after")
    )
    assert [(t["action"], t["after"]["choice"]) for t in trail] == [
        ("vote.cast", "yes"),
        ("vote.changed", "no"),
    ]


async def test_unverified_closed_and_bad_choices_record_nothing(world: World):
    people = await voters(world, 3)
    proposal_id = await factories.voting(world, people[0], await world.worker())
    drifter = await world.resident()
    await refused(
        "proposal.error.not_verified",
        service.cast_vote(proposal_id, drifter.id, "yes", DURING),
    )
    await refused(
        "proposal.error.bad_choice",
        service.cast_vote(proposal_id, people[1].id, "maybe", DURING),
    )
    await refused(
        "proposal.error.vote_closed",
        service.cast_vote(proposal_id, people[1].id, "yes", END),
    )
    assert await Vote.filter(proposal_id=proposal_id).count() == 0


async def test_a_household_outside_the_scope_gets_a_clear_refusal(world: World):
    people = await voters(world, 2)
    outsider_home = (await world.add_households(world.buildings[1], 1))[0]
    outsider = await world.resident(outsider_home)
    proposal_id = await factories.voting(world, people[0], await world.worker())
    await refused(
        "proposal.error.out_of_scope",
        service.cast_vote(proposal_id, outsider.id, "yes", DURING),
    )


async def test_early_close_only_when_the_rest_cannot_change_the_outcome(world: World):
    people = await voters(world, 10)
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[0], worker)
    lock = world.app_state.store.lock  # type: ignore[attr-defined]
    for person in people[:5]:
        await service.cast_vote(proposal_id, person.id, "yes", DURING)
    await refused(
        "proposal.error.coverage_incomplete",
        service.close_voting(proposal_id, await world.who(worker), DURING, lock),
    )
    await factories.visited(world, proposal_id, worker, people[5:], DURING, "not_home")
    await refused(
        "proposal.error.not_decided_yet",
        service.close_voting(proposal_id, await world.who(worker), DURING, lock),
    )
    await service.cast_vote(proposal_id, people[5].id, "yes", DURING)
    closed = await service.close_voting(proposal_id, await world.who(worker), DURING, lock)
    assert closed.status == "approved" and closed.result["early"] is True
    await refused(
        "proposal.error.vote_closed",
        service.close_voting(proposal_id, await world.who(worker), END, lock),
    )


async def test_residents_see_turnout_and_their_own_vote_workers_see_the_tally(world: World):
    people = await voters(world, 4)
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[0], worker)
    await service.cast_vote(proposal_id, people[1].id, "no", DURING)
    proposal = await Proposal.get(id=proposal_id)
    seen = await service.view(proposal, await world.who(people[2]))
    assert (seen["turnout"], seen["eligible"], seen["my_vote"]) == (1, 4, None)
    assert "tally" not in seen
    own = await service.view(proposal, await world.who(people[1]))
    assert own["my_vote"] == "no"
    boss = await service.view(proposal, await world.who(worker))
    assert boss["tally"] == {"yes": 0, "no": 1, "abstain": 0}


async def test_a_page_of_views_keeps_each_votes_own_tally_and_choice(world: World):
    """``views`` counts all open votes of a page at once: nothing may leak between them."""
    people = await voters(world, 4)
    worker = await world.worker()
    first = await factories.voting(world, people[0], worker)
    second = await factories.voting(world, people[0], worker)
    await service.cast_vote(first, people[1].id, "no", DURING)
    await service.cast_vote(second, people[1].id, "yes", DURING)
    await service.cast_vote(second, people[2].id, "yes", DURING)
    page = await Proposal.filter(id__in=[first, second]).order_by("id")
    mine, theirs = (
        await service.views(page, await world.who(people[1])),
        await service.views(page, await world.who(worker)),
    )
    assert [(v["turnout"], v["my_vote"]) for v in mine] == [(1, "no"), (2, "yes")]
    assert [v["tally"] for v in theirs] == [
        {"yes": 0, "no": 1, "abstain": 0},
        {"yes": 2, "no": 0, "abstain": 0},
    ]
    assert [await service.view(p, await world.who(people[1])) for p in page] == mine


async def test_after_approval_progress_completion_and_ratings(world: World):
    people = await voters(world, 2)
    worker = await world.worker(Role.ADMIN)
    proposal_id = await factories.voting(world, people[0], worker)
    for person in people:
        await service.cast_vote(proposal_id, person.id, "yes", DURING)
    await service.close_due(END, world.app_state.store.lock)  # type: ignore[attr-defined]
    boss = await world.who(worker)
    await refused(
        "proposal.error.not_completed", service.rate(proposal_id, await world.who(people[0]), 5)
    )
    await service.act(proposal_id, boss, "start", END)
    await service.add_progress(proposal_id, boss, "灯杆已到货")
    await service.act(proposal_id, boss, "complete", END)
    await service.rate(proposal_id, await world.who(people[0]), 4)
    await service.rate(proposal_id, await world.who(people[0]), 5)  # a re-rating replaces
    rated = await service.rate(proposal_id, await world.who(people[1]), 3, "还行")
    assert rated.status == "rated"
    assert (rated.rating_count, rated.rating_sum) == (2, 8)
    await refused(
        "proposal.error.bad_stars", service.rate(proposal_id, await world.who(people[1]), 6)
    )


async def test_comments_only_in_publicity_and_moderation_hides_with_a_reason(world: World):
    people = await voters(world, 2)
    worker = await world.worker()
    proposal_id = await factories.published(world, people[0], worker)
    said = await service.comment(proposal_id, await world.who(people[1]), "支持，建议装在东侧")
    await refused(
        "proposal.error.forbidden",
        service.hide_comment(said.id, await world.who(people[0]), "广告"),
    )
    hidden = await service.hide_comment(said.id, await world.who(worker), "含有个人电话")
    assert hidden.hidden_reason == "含有个人电话"
    await service.open_voting(proposal_id, await world.who(worker), OPEN)
    await refused(
        "proposal.error.not_in_publicity",
        service.comment(proposal_id, await world.who(people[1]), "再说一句"),
    )


async def test_withdrawal_by_the_proposer_only_before_voting(world: World):
    people = await voters(world, 2)
    worker = await world.worker()
    proposal_id = await factories.published(world, people[0], worker)
    await refused(
        "proposal.error.forbidden",
        service.act(proposal_id, await world.who(people[1]), "withdraw", T0),
    )
    await service.act(proposal_id, await world.who(people[0]), "withdraw", T0)
    assert (await Proposal.get(id=proposal_id)).status == "withdrawn"


async def test_a_rule_counting_residents_and_floor_area(world: World, monkeypatch):
    """Owners' assembly style: each verified resident votes, and area must agree too."""
    owners_rule = rules.rule_from_mapping(
        {"unit": "resident", "basis": "eligible", "threshold": "1/2", "strict": True, "area": True}
    )
    monkeypatch.setattr(
        voting, "vote_rules", lambda: {"rectification": owners_rule, "project": rules.PROJECT}
    )
    small = await world.add_households(world.buildings[0], 3, area="50")
    large = (await world.add_households(world.buildings[0], 1, area="300"))[0]
    people = [await world.resident(h) for h in small] + [await world.resident(large)]
    spouse = await world.resident(small[0])  # a second voter in the same household
    proposal_id = await factories.voting(world, people[0], await world.worker())
    opened = await Proposal.get(id=proposal_id)
    assert opened.eligible_count == 5  # residents, not households
    for person in [*people[:3], spouse]:
        await service.cast_vote(proposal_id, person.id, "yes", DURING)
    await service.cast_vote(proposal_id, people[3].id, "no", DURING)
    await service.close_due(END, world.app_state.store.lock)  # type: ignore[attr-defined]
    closed = await Proposal.get(id=proposal_id)
    # 4 of 5 residents say yes, but they hold 50+50+50+50 of 500 m² (the spouse counts the
    # household's area again): 200 < 250, so the area majority fails.
    assert (closed.result["yes"], closed.result["no"]) == (4, 1)
    assert closed.status == "not_approved"


async def test_checking_a_voice_refuses_what_a_vote_would_and_records_nothing(world: World):
    people = await voters(world, 2)
    outsider = await world.resident((await world.add_households(world.buildings[1], 1))[0])
    proposal_id = await factories.voting(world, people[0], await world.worker())
    await service.check_voice(proposal_id, people[1].id, DURING)
    await refused(
        "proposal.error.out_of_scope", service.check_voice(proposal_id, outsider.id, DURING)
    )
    await refused("proposal.error.vote_closed", service.check_voice(proposal_id, people[1].id, END))
    with pytest.raises(Refused) as caught:
        await service.check_voice(999_999, people[1].id, DURING)
    assert (caught.value.code, caught.value.status) == ("proposal.error.not_found", 404)
    assert await Vote.filter(proposal_id=proposal_id).count() == 0
