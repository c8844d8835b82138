"""入户走访 by chat, through the real callback: a grid worker lists the doors and records
them (guided and in one line), the tally counts it, the refusals are the API's, and a
resident disputes what was recorded at their door; in three languages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from handlers.canvass import lookup
from handlers.canvass import service as canvass
from models.canvass import Dispute, Visit
from models.community import Building, Grid, Household
from models.proposals import Elector, Vote
from models.residents import Resident, Role, RoleAssignment
from tests.proposals import factories
from tests.world import T0, World

OPEN = T0 + timedelta(days=5)
DURING = OPEN + timedelta(days=1)  # 11-08 17:00 in Shanghai


@dataclass
class Survey:
    proposal_id: int
    homes: list[Household]  # 1栋, unit 1, rooms 0000-0002: the first grid
    far: Household  # 9栋, the second grid
    people: list[Resident]  # one bound resident per home of ``homes``
    other_grid: Grid


@pytest.fixture
async def survey(world: World, app_state) -> Survey:
    app_state.clock = lambda: DURING
    other_grid = await Grid.create(community=world.community, name="第二网格")
    far_building = await Building.create(community=world.community, grid=other_grid, name="9栋")
    homes = await world.add_households(world.buildings[0], 3)
    far = (await world.add_households(far_building, 1))[0]
    people = [await world.resident(h) for h in homes]
    proposal_id = await factories.voting(
        world, people[0], await world.worker(), scope={"kind": "community"}
    )
    return Survey(proposal_id, homes, far, people, other_grid)


async def grid_worker(world: World, grid: Grid, language: str = "zh_Hans") -> Resident:
    person = await world.resident()
    person.language = language
    await person.save(update_fields=["language"])
    await RoleAssignment.create(
        resident=person, role=Role.GRID_WORKER, community=world.community, grid=grid
    )
    return person


async def vote_of(proposal_id: int, household: Household) -> Vote | None:
    elector = await Elector.get(proposal_id=proposal_id, key=f"h{household.id}")
    return await Vote.get_or_none(proposal_id=proposal_id, elector_id=elector.id)


async def test_a_grid_worker_lists_and_records_an_answer_step_by_step(
    world: World, survey: Survey, make_resident
):
    worker = await grid_worker(world, world.grid)
    chat = make_resident(worker.openid)
    pid = survey.proposal_id
    listing = await chat.say(f"走访 {pid}")
    # Their own grid only: three doors, not 9栋 of the second grid.
    assert "已覆盖 0/3 户" in listing and "还有 3 户未走访" in listing
    assert "1. 1栋1单元0000（未走访）" in listing and "3. 1栋1单元0002（未走访）" in listing
    assert "9栋" not in listing
    assert "1栋1单元0001" in await chat.say("2")
    assert "没看懂" in await chat.say("9")
    assert "是谁表的态" in await chat.say("1")
    assert "1 口头" in await chat.say("户主之子")
    # A signed form is not taken by chat (its photo would not be kept): the step stays.
    assert "管理后台" in await chat.say("2")
    confirm = await chat.say("1")
    assert "1栋1单元0001" in confirm and "同意" in confirm and "户主之子（口头）" in confirm
    done = await chat.say("1")
    assert "已登记：1栋1单元0001 同意" in done and "已覆盖 1/3 户" in done
    vote = await vote_of(pid, survey.homes[1])
    assert vote is not None
    assert (vote.choice, vote.channel, vote.recorded_by_id) == ("yes", "in_person", worker.id)
    visit = await Visit.get(proposal_id=pid, household_id=survey.homes[1].id)
    assert (visit.outcome, visit.respondent, visit.method, visit.worker_id) == (
        "answered",
        "户主之子",
        "oral",
        worker.id,
    )
    assert visit.media == [] and visit.visited_at == DURING
    # The tally counts it, as the managers see it.
    seen = await canvass.coverage(await world.who(await world.worker()), pid)
    assert (seen["total"]["in_person"], seen["total"]["yes"], seen["total"]["eligible"]) == (
        1,
        1,
        4,
    )
    # Back on the list: the other numbers still name their doors.
    assert "1栋1单元0000" in await chat.say("1")
    assert "已取消" in await chat.say("取消")


async def test_one_line_entries_record_at_once_and_ask_for_what_is_missing(
    world: World, survey: Survey, make_resident
):
    worker = await grid_worker(world, world.grid)
    chat = make_resident(worker.openid)
    pid = survey.proposal_id
    done = await chat.say(f"走访 {pid} 1栋-1-0000 反对 张三 口头")
    assert "已登记：1栋1单元0000 反对" in done and "已覆盖 1/3 户" in done
    vote = await vote_of(pid, survey.homes[0])
    assert vote is not None and (vote.choice, vote.channel) == ("no", "in_person")
    again = await chat.say(f"走访 {pid} 1栋1单元0000 同意 户主 李四 口头")
    assert "之前的意见“反对”已被这次登记取代" in again
    vote = await vote_of(pid, survey.homes[0])
    assert vote is not None and vote.choice == "yes"
    assert await Visit.filter(household_id=survey.homes[0].id).values_list(
        "respondent", flat=True
    ) == ["张三", "户主 李四"]
    # Nobody at home: a visit without an answer, shown on the list with its date.
    assert "不在家" in await chat.say(f"走访 {pid} 1-1-1 不在家")
    assert "1. 1栋1单元0001（不在家 11-08）" in await chat.say(f"走访 {pid}")
    # "Other" needs its reason, an answer its respondent: asked, then confirmed.
    assert "写明原因" in await chat.say(f"走访 {pid} 1栋-1-0002 其他")
    assert "备注：门锁着，邻居说出差了" in await chat.say("门锁着，邻居说出差了")
    assert "已登记" in await chat.say("确认")
    visit = await Visit.filter(household_id=survey.homes[2].id).first()
    assert visit is not None and (visit.outcome, visit.note) == ("other", "门锁着，邻居说出差了")
    assert await vote_of(pid, survey.homes[2]) is None
    assert "是谁表的态" in await chat.say(f"走访 {pid} 1栋-1-0001 弃权")
    assert "没认出" in await chat.say(f"走访 {pid} 1栋 同意 张三 口头")
    assert "走访名单里没有" in await chat.say(f"走访 {pid} 7栋-1-0001 同意 张三 口头")
    assert await Visit.filter(proposal_id=pid).count() == 4


async def test_a_worker_of_another_grid_and_a_resident_are_refused(
    world: World, survey: Survey, make_resident
):
    pid = survey.proposal_id
    far_worker = make_resident((await grid_worker(world, survey.other_grid)).openid)
    refused = await far_worker.say(f"走访 {pid} 1栋-1-0000 同意 张三 口头")
    assert "不在您负责的网格内" in refused
    listing = await far_worker.say(f"走访 {pid}")
    assert "已覆盖 0/1 户" in listing and "9栋" in listing and "1栋" not in listing
    resident = make_resident(survey.people[1].openid)
    denied = await resident.say(f"走访 {pid}")
    assert "只有社区工作者" in denied and "1栋" not in denied
    assert "只有社区工作者" in await resident.say(f"走访 {pid} 1栋-1-0001 同意 我 口头")
    assert await Visit.all().count() == 0
    assert await Vote.filter(proposal_id=pid).count() == 0


async def test_a_resident_disputes_the_answer_recorded_at_their_door(
    world: World, survey: Survey, make_resident
):
    pid = survey.proposal_id
    worker = make_resident((await grid_worker(world, world.grid)).openid)
    assert "已登记" in await worker.say(f"走访 {pid} 1栋-1-0001 同意 户主 口头")
    home = make_resident(survey.people[1].openid)
    answer = await home.say(f"异议 {pid} 我家没有人表过态，Mr Wang 不认识")
    made = await Dispute.get(proposal_id=pid)
    assert f"第 {made.id} 号" in answer
    assert (made.household_id, made.resident_id) == (survey.homes[1].id, survey.people[1].id)
    assert made.reason == "我家没有人表过态，Mr Wang 不认识"
    # Nothing was recorded at the next door: nothing to dispute.
    assert "没有入户登记的记录" in await make_resident(survey.people[2].openid).say(f"异议 {pid}")
    assert "异议 表决编号 理由" in await home.say("异议")
    assert await Dispute.all().count() == 1


async def test_traditional_chinese_and_english_workers(world: World, survey: Survey, make_resident):
    pid = survey.proposal_id
    hant = make_resident((await grid_worker(world, world.grid, "zh_Hant")).openid)
    listing = await hant.say(f"走訪 {pid}")
    assert (
        "已覆蓋 0/3 戶" in listing and "1棟" not in listing and "1栋1單元0000（未走訪）" in listing
    )
    assert "走訪結果" in await hant.say("1")
    assert "是誰表的態" in await hant.say("反對")
    assert "口頭" in await hant.say("戶主")
    assert "表態人：戶主（口頭）" in await hant.say("口頭")
    assert "已登記" in await hant.say("確認")
    en = make_resident((await grid_worker(world, world.grid, "en")).openid)
    assert "Door-to-door survey" in await en.say("visit")
    done = await en.say(f"visit {pid} 1-1-2 abstain Zhang San oral")
    assert "Recorded: 1栋-1-0002, abstain." in done and "2/3 households reached" in done
    visit = await Visit.get(household_id=survey.homes[2].id)
    assert (visit.choice, visit.respondent) == ("abstain", "Zhang San")
    assert "Who answered?" in await en.say(f"visit {pid} 1-1-1 yes")


def test_typed_labels_are_read_part_by_part():
    assert lookup.parse("3栋2单元301") == lookup.Label("3", "2", "301")
    assert lookup.parse("3号楼-02-0301室") == lookup.Label("3", "2", "301")
    assert lookup.parse("A座 301") == lookup.Label("a", None, "301")
    assert lookup.parse("32301") is None and lookup.parse("") is None
