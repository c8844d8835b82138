"""Proposing and voting by chat, through the real callback, in three languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.simulator import message_xml, reply_text
from handlers.proposals import service
from models.proposals import Proposal, Vote
from models.residents import Resident
from tests.conftest import APPID
from tests.proposals import factories
from tests.world import World


async def bound(world: World, speaker, language: str = "zh_Hans") -> Resident:  # type: ignore[no-untyped-def]
    """The resident behind ``speaker``, bound to a new household of building 1."""
    await speaker.say("帮助")
    home = (await world.add_households(world.buildings[0], 1))[0]
    row = await Resident.get(openid=speaker.openid)
    row.household, row.verified, row.language = home, True, language
    await row.save()
    return row


async def open_vote(world: World, proposer: Resident) -> int:
    worker = await world.worker()
    proposal_id = await factories.published(world, proposer, worker)
    proposal = await Proposal.get(id=proposal_id)
    proposal.published_at = datetime.now(UTC) - timedelta(days=6)
    await proposal.save(update_fields=["published_at"])
    await service.open_voting(proposal_id, await world.who(worker), datetime.now(UTC))
    return proposal_id


async def test_an_unbound_resident_is_asked_to_bind_first(resident, world: World):
    assert "绑定" in await resident.say("提建议")


async def test_a_guided_proposal_by_digits(resident, world: World):
    await bound(world, resident)
    assert "标题" in await resident.say("5")
    assert "说明" in await resident.say("3栋门口加装路灯")
    assert "哪一类" in await resident.say("晚上太黑，老人出门不安全")
    assert "照片" in await resident.say("2")
    confirm = await resident.say("1")
    assert "3栋门口加装路灯" in confirm and "整改" in confirm and "1栋" in confirm
    done = await resident.say("1")
    proposal = await Proposal.get(title="3栋门口加装路灯")
    assert str(proposal.id) in done
    assert (proposal.status, proposal.category) == ("submitted", "rectification")
    assert proposal.scope == {"kind": "buildings", "ids": [world.buildings[0].id]}
    mine = await resident.say("我的建议")
    assert "3栋门口加装路灯" in mine and "待审核" in mine


async def test_cancel_leaves_the_proposal_flow_without_saving(resident, world: World):
    await bound(world, resident)
    await resident.say("提建议")
    await resident.say("健身器材")
    assert "已取消" in await resident.say("取消")
    assert await Proposal.all().count() == 0
    # After cancelling, a digit is the menu again, not a flow answer.
    assert "标题" in await resident.say("5")


async def test_voting_from_the_list_then_changing_by_command(resident, world: World):
    me = await bound(world, resident)
    proposal_id = await open_vote(world, me)
    listing = await resident.say("6")
    assert f"#{proposal_id}" in listing and "已有 0/" in listing
    assert "赞成" in await resident.say("1")
    voted = await resident.say("赞成")
    assert "已记录" in voted
    changed = await resident.say(f"投票 {proposal_id} 反对")
    assert "已更改" in changed
    assert await Vote.filter(proposal_id=proposal_id).values_list("choice", flat=True) == ["no"]
    detail = await resident.say(f"详情 {proposal_id}")
    assert "已有 1/" in detail and "您家已投：反对" in detail


async def test_traditional_chinese_and_english_aliases_vote(make_resident, world: World):
    hant, en = make_resident("o_hant"), make_resident("o_en")
    proposer = await bound(world, hant, "zh_Hant")
    await bound(world, en, "en")
    proposal_id = await open_vote(world, proposer)
    assert "已記錄" in await hant.say(f"投票 {proposal_id} 贊成")
    assert "Recorded" in await en.say(f"vote {proposal_id} against")
    choices = sorted(await Vote.filter(proposal_id=proposal_id).values_list("choice", flat=True))
    assert choices == ["no", "yes"]


async def test_a_vote_by_voice_and_a_refusal_outside_the_scope(make_resident, world: World):
    speaker = make_resident("o_voice")
    me = await bound(world, speaker)
    proposal_id = await open_vote(world, me)
    status, xml = await speaker.push(
        message_xml(
            speaker.openid,
            APPID,
            "voice",
            {"MediaId": "m", "Format": "amr", "Recognition": f"投票{proposal_id}赞成。"},
        )
    )
    assert status == 200 and "已记录" in reply_text(xml)
    outsider = make_resident("o_outside")
    await outsider.say("帮助")
    far = (await world.add_households(world.buildings[1], 1))[0]
    row = await Resident.get(openid="o_outside")
    row.household, row.verified = far, True
    await row.save()
    assert "不在" in await outsider.say(f"投票 {proposal_id} 赞成")


async def test_a_vote_not_open_is_refused_before_the_choice_is_asked(resident, world: World):
    me = await bound(world, resident)
    worker = await world.worker()
    proposal_id = await factories.published(world, me, worker)
    refused = await resident.say(f"投票 {proposal_id}")
    assert "没有在进行中" in refused
    # No choice state was entered: "1" is the menu's binding again, not a vote for.
    after = await resident.say("1")
    assert "没有在进行中" not in after and "赞成" not in after
    assert await Vote.filter(proposal_id=proposal_id).count() == 0


async def test_unbound_before_confirming_ends_the_proposal_flow(resident, world: World):
    me = await bound(world, resident)
    await resident.say("提建议")
    await resident.say("3栋门口加装路灯")
    await resident.say("晚上太黑，老人出门不安全")
    await resident.say("2")
    assert "3栋门口加装路灯" in await resident.say("1")  # skip photos: the confirmation
    me.verified = False
    await me.save(update_fields=["verified"])
    assert "请先绑定" in await resident.say("1")
    assert await Proposal.all().count() == 0
    # The flow is over: "1" is the menu's binding now, not another try at submitting.
    assert "请先绑定" not in await resident.say("1")
