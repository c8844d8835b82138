"""One person reached two ways (official account, mini-program) merged into one resident.

Service-level tests on both backends: what moves, what stays apart, what is counted once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.complaints import service as complaints
from handlers.proposals.counting import tally
from handlers.residents import service
from handlers.volunteers import service as volunteers
from handlers.volunteers.service import ShiftPlan
from models.accounts import MiniProgramUser
from models.audit import AuditLog
from models.complaints import Ticket
from models.db import using
from models.proposals import Proposal, Vote
from models.residents import Resident, Role, RoleAssignment
from models.volunteers import Shift, SignUp, VolunteerProfile
from tests.proposals.factories import voting
from tests.world import T0, World

MP_APPID = "wxminiprogram00001"
UNIONID = "union_merge_1"
DAY = T0 + timedelta(days=30)


@pytest.fixture
def db(world):  # type: ignore[no-untyped-def]
    with using(world.app_state.db):
        yield world


async def mini_program_resident(world: World, household=None, unionid: str = UNIONID):  # type: ignore[no-untyped-def]
    """A resident who signed in from the mini-program only: no official-account openid."""
    person = await Resident.create(
        community=world.community,
        unionid=unionid,
        household=household,
        verified=household is not None,
    )
    await MiniProgramUser.create(appid=MP_APPID, openid=f"mp_{person.id}", resident=person)
    return person


async def shift(world: World, capacity: int = 10, hours: int = 0) -> Shift:
    boss = await world.who(await world.worker())
    starts = DAY + timedelta(hours=hours)
    activity = await volunteers.create_activity(
        boss,
        T0,
        title=f"巡逻{hours}",
        category="patrol",
        place="北门",
        shifts=[ShiftPlan(starts, starts + timedelta(hours=2), capacity)],
    )
    return await Shift.get(activity_id=activity.id)


async def test_a_follower_and_a_mini_program_resident_become_one(db):
    world = db
    home = (await world.add_households(world.buildings[0], 1))[0]
    keep = await mini_program_resident(world, home)
    gone = await world.resident(home)
    gone_openid = gone.openid
    ticket = await complaints.intake(gone, "3栋楼道灯坏了", T0)

    merged = await service.merge(keep, gone, T0)

    keeper = await Resident.get(id=keep.id)
    retired = await Resident.get(id=gone.id)
    assert keeper.openid == gone_openid and keeper.unionid == UNIONID
    assert keeper.household_id == home.id and keeper.verified
    assert retired.openid is None and retired.unionid is None and retired.erased_at is not None
    assert (await Ticket.get(id=ticket.id)).reporter_id == keeper.id
    assert await MiniProgramUser.filter(resident_id=keeper.id).count() == 1
    assert merged.moved.get("ticket") == 1
    # The dispatcher finds the follower's openid on the keeper from now on.
    assert (await service.find(world.community.id, gone_openid)).id == keeper.id
    audit = await AuditLog.get(action="resident.merged", entity_id=str(keeper.id))
    assert audit.after["from"] == gone.id
    assert gone_openid not in str(audit.after) and gone_openid not in str(audit.before)


async def test_one_household_vote_stays_one_after_the_merge(db):
    world = db
    homes = await world.add_households(world.buildings[0], 3)
    keep = await mini_program_resident(world, homes[0])
    gone = await world.resident(homes[0])
    neighbour = await world.resident(homes[1])
    proposal_id = await voting(world, neighbour, await world.worker())
    from handlers.proposals import voting as votes

    now = T0 + timedelta(days=5, hours=1)
    await votes.cast_vote(proposal_id, gone.id, "yes", now)
    await votes.cast_vote(proposal_id, keep.id, "yes", now + timedelta(minutes=1))
    await votes.cast_vote(proposal_id, neighbour.id, "no", now)
    proposal = await Proposal.get(id=proposal_id)
    before = await tally(proposal)

    await service.merge(keep, gone, T0)

    after = await tally(proposal)
    assert (after.yes, after.no, after.eligible) == (before.yes, before.no, before.eligible)
    assert after.yes == 1
    assert await Vote.filter(proposal_id=proposal_id).count() == 2
    assert await Vote.filter(resident_id=gone.id).count() == 0


async def test_two_sign_ups_for_one_shift_keep_one_place(db):
    world = db
    both, only_gone = await shift(world, capacity=2), await shift(world, hours=3)
    keep = await mini_program_resident(world)
    gone = await world.resident()
    for person in (keep, gone):
        await volunteers.register(person, T0)
        await RoleAssignment.get_or_create(
            resident_id=person.id, role=Role.VOLUNTEER, community_id=world.community.id
        )
    waiting = await world.resident()
    await volunteers.register(waiting, T0)
    await volunteers.sign_up(both.id, keep.id, T0)
    await volunteers.sign_up(both.id, gone.id, T0)
    await volunteers.sign_up(both.id, waiting.id, T0)  # the shift is full: waitlisted
    await volunteers.sign_up(only_gone.id, gone.id, T0)

    merged = await service.merge(keep, gone, T0)

    mine = await SignUp.filter(volunteer_id=keep.id).order_by("shift_id")
    assert [(s.shift_id, s.status) for s in mine] == [
        (both.id, "confirmed"),
        (only_gone.id, "confirmed"),
    ]
    # The second place went back to the line: the waiting volunteer has it now.
    assert (await SignUp.get(shift_id=both.id, volunteer_id=waiting.id)).status == "confirmed"
    fresh = await Shift.get(id=both.id)
    assert (fresh.confirmed_count, fresh.waitlist_count) == (2, 0)
    left = await SignUp.get(shift_id=both.id, volunteer_id=gone.id)
    assert left.status == "cancelled"
    assert merged.apart == {"volunteer_signup": 1, "volunteer_profile": 1}
    assert merged.dropped == {"role_assignment": 1}
    assert await VolunteerProfile.filter(resident_id=keep.id).count() == 1
    roles = await RoleAssignment.filter(resident_id=keep.id).values_list("role", flat=True)
    assert list(roles) == [Role.VOLUNTEER]


async def test_the_keepers_own_household_wins_and_a_merge_moves_nothing_twice(db):
    world = db
    homes = await world.add_households(world.buildings[0], 2)
    keep = await mini_program_resident(world, homes[0])
    gone = await world.resident(homes[1])
    await complaints.intake(gone, "小区门口垃圾没人清理", T0)
    await service.merge(keep, gone, T0)
    again = await service.merge(await Resident.get(id=keep.id), await Resident.get(id=gone.id), T0)
    assert again.moved == {}
    keeper = await Resident.get(id=keep.id)
    assert keeper.household_id == homes[0].id
    assert await Ticket.filter(reporter_id=keeper.id).count() == 1
    entries = await AuditLog.filter(action="resident.merged", entity_id=str(keep.id))
    assert [e.after["conflict"] for e in entries] == [True]


async def test_link_unionid_sets_it_or_merges_into_the_oldest(db):
    world = db
    alone = await world.resident()
    linked, merged = await service.link_unionid(alone, "union_alone", T0)
    assert linked.id == alone.id and merged == 0
    assert (await Resident.get(id=alone.id)).unionid == "union_alone"

    older = await mini_program_resident(world)
    follower = await world.resident()
    kept, merged = await service.link_unionid(follower, UNIONID, T0)
    assert kept.id == older.id and merged == 1
    assert kept.openid == follower.openid
    assert (await Resident.get(id=follower.id)).erased_at is not None
    assert await Resident.filter(unionid=UNIONID, erased_at=None).count() == 1


async def test_an_erased_resident_is_never_merged(db):
    world = db
    older = await mini_program_resident(world)
    follower = await world.resident()
    await service.erase(follower, T0)
    kept, merged = await service.link_unionid(follower, UNIONID, T0)
    assert kept.id == follower.id and merged == 0
    assert (await Resident.get(id=older.id)).openid is None
