"""入户走访 through the service layer, on both backends: who may record, one voice per
household whatever the channel, coverage as part of the rule, and the sealed record."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from handlers.canvass import service as canvass
from handlers.canvass.rules import VisitForm
from handlers.canvass.verify import verify_vote
from handlers.proposals import service
from handlers.refusal import Refused
from models.audit import AuditLog
from models.canvass import Dispute, Visit
from models.community import Building, Grid
from models.outbox import Notification
from models.proposals import Proposal, Vote
from models.residents import Resident, Role, RoleAssignment
from tests.proposals import factories
from tests.world import T0, World

OPEN = T0 + timedelta(days=5)
DURING = OPEN + timedelta(days=1)
END = OPEN + timedelta(days=7)
ORAL_YES = VisitForm("answered", "yes", "户主之子", "oral")


async def refused(code: str, status: int, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as caught:
        await call
    assert (caught.value.code, caught.value.status) == (code, status)


async def homes(world: World, count: int, building: Building | None = None) -> list[Resident]:
    made = await world.add_households(building or world.buildings[0], count)
    return [await world.resident(h) for h in made]


async def grid_worker(world: World, grid: Grid) -> Resident:
    person = await world.resident()
    await RoleAssignment.create(
        resident=person, role=Role.GRID_WORKER, community=world.community, grid=grid
    )
    return person


async def test_a_grid_worker_records_only_in_the_grids_they_serve(world: World):
    other_grid = await Grid.create(community=world.community, name="第二网格")
    far = await Building.create(community=world.community, grid=other_grid, name="9栋")
    near_people = await homes(world, 2)
    far_people = await homes(world, 1, far)
    proposal_id = await factories.voting(
        world,
        near_people[0],
        await world.worker(),
        scope={"kind": "community"},
    )
    mine = await world.who(await grid_worker(world, world.grid))
    done = await canvass.record_visit(
        mine, proposal_id, near_people[1].household_id, ORAL_YES, DURING
    )
    assert done.state == "in_person" and done.previous is None
    await refused(
        "canvass.error.outside_grid",
        403,
        canvass.record_visit(mine, proposal_id, far_people[0].household_id, ORAL_YES, DURING),
    )
    # A resident is no worker; the list of doors is refused the same way.
    resident = await world.who(near_people[0])
    await refused(
        "api.error.forbidden",
        403,
        canvass.record_visit(resident, proposal_id, near_people[1].household_id, ORAL_YES, DURING),
    )
    await refused("api.error.forbidden", 403, canvass.to_visit(resident, proposal_id))
    doors = await canvass.to_visit(mine, proposal_id)
    assert [d["household_id"] for d in doors] == [near_people[0].household_id]
    vote = await Vote.get(proposal_id=proposal_id)
    assert (vote.choice, vote.channel, vote.recorded_by_id, vote.resident_id) == (
        "yes",
        "in_person",
        mine.id,
        None,
    )


@pytest.mark.parametrize(
    ("form", "code"),
    [
        (VisitForm("answered", None, "张三", "oral"), "canvass.error.bad_choice"),
        (VisitForm("answered", "yes", "", "oral"), "canvass.error.respondent_required"),
        (VisitForm("answered", "yes", "张三", None), "canvass.error.bad_method"),
        (VisitForm("answered", "yes", "张三", "form"), "canvass.error.form_photo_required"),
        (VisitForm("not_home", "yes"), "canvass.error.choice_without_answer"),
        (VisitForm("other"), "canvass.error.reason_required"),
        (VisitForm("asleep"), "canvass.error.bad_outcome"),
    ],
)
async def test_a_visit_needs_what_the_form_asks(world: World, form: VisitForm, code: str):
    people = await homes(world, 1)
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[0], worker)
    who = await world.who(worker)
    await refused(
        code, 400, canvass.record_visit(who, proposal_id, people[0].household_id, form, DURING)
    )
    await refused(
        "canvass.error.bad_time",
        400,
        canvass.record_visit(
            who,
            proposal_id,
            people[0].household_id,
            ORAL_YES,
            DURING,
            visited_at=DURING + timedelta(hours=2),
        ),
    )
    assert await Visit.filter(proposal_id=proposal_id).count() == 0


async def test_the_latest_answer_counts_online_or_in_person_and_members_hear_of_it(world: World):
    people = await homes(world, 2)
    spouse = await world.resident(await people[0].household)
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[1], worker)
    who = await world.who(worker)
    hid = people[0].household_id
    await service.cast_vote(proposal_id, people[0].id, "no", DURING)
    done = await canvass.record_visit(who, proposal_id, hid, ORAL_YES, DURING)
    assert done.previous == "no"
    assert await Vote.filter(proposal_id=proposal_id).values_list("choice", "channel") == [
        ("yes", "in_person")
    ]
    told = await Notification.filter(kind="canvass.answer_recorded").values_list(
        "audience", flat=True
    )
    assert sorted(told) == sorted([f"resident:{people[0].id}", f"resident:{spouse.id}"])
    await service.cast_vote(proposal_id, spouse.id, "abstain", DURING)
    assert await Vote.filter(proposal_id=proposal_id).values_list("choice", "channel") == [
        ("abstain", "online")
    ]
    actions = (
        await AuditLog.filter(chain__isnull=False).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["vote.cast", "vote.changed", "vote.changed"]
    # A resident disputes what was recorded at the door; it shows on the result.
    made = await canvass.dispute(people[0], proposal_id, "我们没有同意", DURING)
    assert (await Dispute.get(id=made.id)).household_id == hid
    await refused(
        "canvass.error.nothing_to_dispute", 409, canvass.dispute(people[1], proposal_id, "", DURING)
    )


async def test_an_answer_at_the_door_racing_an_online_vote_leaves_one_voice(world: World):
    people = await homes(world, 1)
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[0], worker)
    who = await world.who(worker)
    hid = people[0].household_id
    for round_ in range(5):
        online, door = ("yes", "no") if round_ % 2 else ("no", "yes")
        form = VisitForm("answered", door, "户主", "oral")
        await asyncio.gather(
            service.cast_vote(proposal_id, people[0].id, online, DURING),
            canvass.record_visit(who, proposal_id, hid, form, DURING),
        )
        votes = await Vote.filter(proposal_id=proposal_id).values_list("choice", flat=True)
        assert len(votes) == 1 and votes[0] in {online, door}
    # Every answer is in the chain, and the chain ends with the voice counted.
    checked = await verify_vote(proposal_id)
    assert checked is not None and not checked.broken and not checked.mismatched


async def test_closing_waits_for_coverage_unless_an_admin_writes_why(world: World):
    people = await homes(world, 5)
    worker, admin = await world.worker(), await world.worker(Role.ADMIN)
    proposal_id = await factories.voting(world, people[0], worker)
    lock = world.app_state.store.lock  # type: ignore[attr-defined]
    for person in people[:4]:
        await service.cast_vote(proposal_id, person.id, "yes", DURING)
    boss = await world.who(worker)
    await refused(
        "proposal.error.coverage_incomplete",
        409,
        service.close_voting(proposal_id, boss, END, lock),
    )
    await refused(
        "proposal.error.override_forbidden",
        403,
        service.close_voting(proposal_id, boss, END, lock, override="来不及了"),
    )
    chief = await world.who(admin)
    await refused(
        "proposal.error.override_reason_required",
        400,
        service.close_voting(proposal_id, chief, END, lock, override="  "),
    )
    closed = await service.close_voting(proposal_id, chief, END, lock, override="该户长期联系不上")
    assert closed.status == "approved"  # 4 of 5 is 80%
    assert closed.result["override"] == {"by": chief.name, "reason": "该户长期联系不上"}
    assert closed.result["coverage"]["not_reached"] == 1
    entry = await AuditLog.get(action="vote.coverage_override")
    assert entry.after == {"not_reached": 1, "reason": "该户长期联系不上"}


@pytest.mark.parametrize(
    ("vacant", "outcome", "eligible"), [("exclude", "approved", 8), ("count", "not_approved", 10)]
)
async def test_vacant_households_in_or_out_of_the_denominator(
    world: World, vacant: str, outcome: str, eligible: int
):
    people = await homes(world, 10)
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[0], worker)
    proposal = await Proposal.get(id=proposal_id)
    await Proposal.filter(id=proposal_id).update(rule={**proposal.rule, "vacant": vacant})
    for person in people[:5]:  # 5 of 8 occupied is 62.5%; 5 of 10 is 50%
        await service.cast_vote(proposal_id, person.id, "yes", DURING)
    await factories.visited(world, proposal_id, worker, people[5:8], DURING, "not_home")
    await factories.visited(world, proposal_id, worker, people[8:], DURING, "vacant")
    await service.close_due(END, world.app_state.store.lock)  # type: ignore[attr-defined]
    closed = await Proposal.get(id=proposal_id)
    assert (closed.status, closed.result["eligible"]) == (outcome, eligible)
    assert closed.result["coverage"]["vacant_excluded"] == 2
    assert closed.result["coverage"]["reasons"] == {"not_home": 3, "vacant": 2}


async def test_after_the_end_only_households_not_reached_may_still_be_recorded(world: World):
    people = await homes(world, 3)
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[0], worker)
    who = await world.who(worker)
    await service.cast_vote(proposal_id, people[0].id, "yes", DURING)
    late = END + timedelta(hours=1)
    await refused(
        "proposal.error.vote_closed",
        409,
        canvass.record_visit(who, proposal_id, people[0].household_id, ORAL_YES, late),
    )
    done = await canvass.record_visit(who, proposal_id, people[1].household_id, ORAL_YES, late)
    assert done.state == "in_person"
    await factories.visited(world, proposal_id, worker, people[2:], late, "refused")
    await service.close_due(late, world.app_state.store.lock)  # type: ignore[attr-defined]
    closed = await Proposal.get(id=proposal_id)
    assert closed.status == "approved" and closed.result["yes"] == 2
    await refused(
        "proposal.error.vote_closed",
        409,
        canvass.record_visit(who, proposal_id, people[2].household_id, ORAL_YES, late),
    )


async def test_the_digest_seals_every_answer(world: World):
    people = await homes(world, 4)
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[0], worker)
    await service.cast_vote(proposal_id, people[0].id, "yes", DURING)
    await service.cast_vote(proposal_id, people[0].id, "no", DURING)
    await factories.visited(world, proposal_id, worker, people[1:3], DURING, choice="yes")
    await factories.visited(world, proposal_id, worker, people[3:], DURING, "moved_out")
    await service.close_due(END, world.app_state.store.lock)  # type: ignore[attr-defined]
    closed = await Proposal.get(id=proposal_id)
    checked = await verify_vote(proposal_id)
    assert checked is not None and checked.ok
    assert checked.digest == closed.result["digest"] and len(checked.digest) == 64
    # An answer changed behind the record: the vote no longer matches its chain.
    await Vote.filter(proposal_id=proposal_id, choice="no").update(choice="yes")
    tampered = await verify_vote(proposal_id)
    assert tampered is not None and not tampered.ok
    assert tampered.mismatched == [f"h{people[0].household_id}"]
    # An entry of the trail rewritten: its link no longer holds.
    first = await AuditLog.filter(chain__isnull=False).order_by("id").first()
    assert first is not None
    await AuditLog.filter(id=first.id).update(after={**(first.after or {}), "choice": "abstain"})
    rewritten = await verify_vote(proposal_id)
    assert rewritten is not None and rewritten.broken == [first.id]
