"""Volunteering by chat, through the real callback: register, sign up, cancel, check in, points."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bot.simulator import message_xml, reply_text
from handlers.volunteers import service
from models.outbox import Notification
from models.residents import Resident, Role, RoleAssignment
from models.volunteers import Reward, SignUp, VolunteerProfile
from tests.conftest import APPID
from tests.volunteers.conftest import SITE, patrol, site_code, volunteer
from tests.world import World


def soon(minutes: float) -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=minutes)


async def shift_in(world: World, minutes: float, capacity: int = 10, title: str = "治安巡逻"):  # type: ignore[no-untyped-def]
    return await patrol(world, soon(minutes), capacity=capacity, now=datetime.now(UTC), title=title)


async def event_at(speaker, name: str, key: str, created: int) -> str:  # type: ignore[no-untyped-def]
    """An event with its own CreateTime (events are de-duplicated by openid, time and name)."""
    fields = {"Event": name, "EventKey": key}
    status, xml = await speaker.push(message_xml(speaker.openid, APPID, "event", fields, created))
    assert status == 200, xml
    return reply_text(xml)


async def send_location(speaker, lat: float, lng: float) -> str:  # type: ignore[no-untyped-def]
    status, xml = await speaker.push(
        message_xml(
            speaker.openid,
            APPID,
            "location",
            {"Location_X": str(lat), "Location_Y": str(lng), "Scale": "16", "Label": "幸福里"},
        )
    )
    assert status == 200, xml
    return reply_text(xml)


async def test_registering_and_signing_up_by_chat(resident, world: World):
    _, shift = await shift_in(world, 3 * 24 * 60)
    listing = await resident.say("志愿")
    assert f"【{shift.id}】治安巡逻" in listing and "已报 0/10" in listing
    assert "注册志愿者" in listing  # not registered yet: told how
    assert "还不是注册志愿者" in await resident.say(f"报名 {shift.id}")
    assert "注册成功" in await resident.say("注册志愿者 电工 急救 1968")
    me = await Resident.get(openid=resident.openid)
    profile = await VolunteerProfile.get(resident_id=me.id)
    assert (profile.skills, profile.birth_year) == (["电工", "急救"], 1968)
    assert await RoleAssignment.filter(resident_id=me.id, role=Role.VOLUNTEER).exists()
    assert "已经是注册志愿者" in await resident.say("注册志愿者")
    done = await resident.say(f"报名 {shift.id}")
    assert "报名成功" in done and "幸福里北门" in done
    assert "已经报名" in await resident.say(f"报名 {shift.id}")
    mine = await resident.say("我的排班")
    assert f"【{shift.id}】治安巡逻" in mine and "已确认" in mine
    # The numbered menu reaches the same list.
    assert f"【{shift.id}】治安巡逻" in await resident.say("10")
    assert "报名 3" in await resident.say("报名")


async def test_cancel_with_a_number_is_the_volunteers_and_alone_is_helps(
    app_state, resident, make_resident, world: World
):
    _, shift = await shift_in(world, 3 * 24 * 60, capacity=1)
    await resident.say("注册志愿者")
    other = make_resident("o_waiting")
    await other.say("注册志愿者")
    assert "报名成功" in await resident.say(f"报名 {shift.id}")
    assert "候补第 1 位" in await other.say(f"报名 {shift.id}")
    nothing = app_state.translate("zh_Hans", "help.nothing_to_cancel")
    assert await resident.say("取消") == nothing
    cancelled = await resident.say(f"取消 {shift.id}")
    assert "已取消" in cancelled and "治安巡逻" in cancelled
    waiting = await Resident.get(openid="o_waiting")
    row = await SignUp.get(shift_id=shift.id, volunteer_id=waiting.id)
    assert (row.status, row.position) == ("confirmed", None)
    assert await Notification.filter(
        kind="volunteer.promoted", audience=f"resident:{waiting.id}"
    ).exists()
    assert "已确认" in await other.say("我的排班")
    assert "没有报名" in await resident.say(f"取消 {shift.id}")


async def test_cancelling_close_to_the_start_is_refused_with_the_reason(resident, world: World):
    _, shift = await shift_in(world, 90)
    await resident.say("注册志愿者")
    await resident.say(f"报名 {shift.id}")
    answer = await resident.say(f"取消 {shift.id}")
    assert "2 小时内不能自行取消" in answer and "队长" in answer


async def test_overlapping_shifts_by_chat(resident, world: World):
    _, first = await shift_in(world, 3 * 24 * 60)
    _, second = await shift_in(world, 3 * 24 * 60 + 60, title="清洁家园")
    await resident.say("注册志愿者")
    await resident.say(f"报名 {first.id}")
    clash = await resident.say(f"报名 {second.id}")
    assert "时间冲突" in clash and "治安巡逻" in clash


async def test_scanning_the_site_code_checks_in_and_out(resident, world: World):
    activity, shift = await shift_in(world, 20)
    await resident.say("注册志愿者")
    await resident.say(f"报名 {shift.id}")
    now = int(time.time())
    key = await site_code(world, activity, datetime.now(UTC), shift)
    assert "签到成功" in await event_at(resident, "SCAN", key, now)
    # A second scan a moment later (another event: WeChat's time differs) is a repeat.
    assert "您已于" in await event_at(resident, "SCAN", key, now + 1)
    me = await Resident.get(openid=resident.openid)
    assert (await SignUp.get(shift_id=shift.id, volunteer_id=me.id)).checked_in_at is not None


async def test_following_by_the_site_code_welcomes_and_checks_in(
    app_state, make_resident, world: World
):
    newcomer = make_resident("o_new_volunteer")
    activity, shift = await shift_in(world, 10)
    await newcomer.say("注册志愿者")
    await newcomer.say(f"报名 {shift.id}")
    await newcomer.event("unsubscribe")
    key = await site_code(world, activity, datetime.now(UTC), shift)
    answer = await newcomer.event("subscribe", f"qrscene_{key}")
    assert answer.startswith(app_state.translate("zh_Hans", "residents.welcome"))
    assert "签到成功" in answer
    assert (await Resident.get(openid="o_new_volunteer")).active is True


async def test_a_location_checks_in_near_the_site_and_is_just_received_elsewhere(
    app_state, resident, world: World
):
    _, shift = await shift_in(world, 15)
    received = app_state.translate("zh_Hans", "help.media_outside_flow")
    assert await send_location(resident, *SITE) == received  # not a volunteer on any shift
    await resident.say("注册志愿者")
    await resident.say(f"报名 {shift.id}")
    far = await send_location(resident, SITE[0] + 0.01, SITE[1])
    assert "约 1112 米" in far and "200 米" in far
    assert "签到成功" in await send_location(resident, SITE[0] + 0.0005, SITE[1])


async def test_a_location_inside_a_complaint_flow_stays_the_complaints(resident, world: World):
    _, shift = await shift_in(world, 15)
    await resident.say("注册志愿者")
    await resident.say(f"报名 {shift.id}")
    await resident.say("投诉 楼下井盖没了，晚上很危险")
    assert "位置" in await send_location(resident, *SITE)
    me = await Resident.get(openid=resident.openid)
    assert (await SignUp.get(shift_id=shift.id, volunteer_id=me.id)).checked_in_at is None


async def test_points_rewards_and_redemption_by_chat(resident, world: World):
    await resident.say("注册志愿者")
    me = await Resident.get(openid=resident.openid)
    boss = await service.who(await world.worker())
    await service.grant_points(boss, me.id, 25, "社区表彰", "bonus", datetime.now(UTC))
    gift = await Reward.create(community=world.community, name="洗衣液", cost=20, stock=2)
    shown = await resident.say("积分")
    assert "您的积分：25" in shown and "表彰奖励 +25" in shown
    assert f"【{gift.id}】洗衣液 —— 20 积分（剩 2 份）" in shown
    assert "洗衣液" in await resident.say("兑换")
    done = await resident.say(f"兑换 {gift.id}")
    assert "兑换成功" in done and "剩余 5 积分" in done
    short = await resident.say(f"兑换 {gift.id}")
    assert "积分不足" in short and "需要 20" in short


async def test_traditional_and_english(make_resident, world: World):
    _, shift = await shift_in(world, 3 * 24 * 60)
    hant, en = make_resident("o_hant"), make_resident("o_en")
    for speaker, language in ((hant, "zh_Hant"), (en, "en")):
        await speaker.say("帮助")
        row = await Resident.get(openid=speaker.openid)
        row.language = language
        await row.save(update_fields=["language"])
    assert "註冊成功" in await hant.say("註冊志願者")
    assert "報名成功" in await hant.say(f"報名 {shift.id}")
    assert "已取消" in await hant.say(f"取消 {shift.id}")
    assert "Welcome to the volunteers" in await en.say("register volunteer")
    assert "You are signed up" in await en.say(f"sign up {shift.id}")
    assert "(confirmed)" in await en.say("my shifts")
    assert "is cancelled" in await en.say(f"cancel {shift.id}")
    assert "Your points: 0" in await en.say("points")


async def test_the_leaderboard_by_chat(resident, world: World):
    assert "还没有志愿服务记录" in await resident.say("最美志愿者")
    star = await volunteer(world, "王阿姨")
    boss = await service.who(await world.worker())
    await service.grant_points(boss, star.id, 12, "表彰", "bonus", datetime.now(UTC))
    board = await resident.say("最美志愿者")
    assert "1. 王*姨 —— 12 积分，0 小时" in board  # masked, as the API shows it


async def test_following_by_a_site_code_one_is_not_on_still_welcomes(
    app_state, make_resident, world: World
):
    newcomer = make_resident("o_not_on_it")
    activity, shift = await shift_in(world, 10)
    await newcomer.say("注册志愿者")
    await newcomer.event("unsubscribe")
    key = await site_code(world, activity, datetime.now(UTC), shift)
    answer = await newcomer.event("subscribe", f"qrscene_{key}")
    welcome = app_state.translate("zh_Hans", "residents.welcome")
    refused = app_state.translate("zh_Hans", "volunteer.error.not_on_shift")
    assert answer == f"{welcome}\n\n{refused}"


async def test_a_refused_scan_inside_a_complaint_flow_leaves_the_flow_as_it_was(
    app_state, resident, world: World
):
    activity, shift = await shift_in(world, 20)
    await resident.say("注册志愿者")
    await resident.say("投诉 楼下井盖没了，晚上很危险")
    key = await site_code(world, activity, datetime.now(UTC), shift)
    refused = await event_at(resident, "SCAN", key, int(time.time()))
    assert refused == app_state.translate("zh_Hans", "volunteer.error.not_on_shift")
    assert "位置" in await send_location(resident, *SITE)  # still the complaint's question


async def test_registering_again_by_chat_without_words_keeps_the_skills(resident, world: World):
    await resident.say("注册志愿者 电工 1968")
    assert "电工" in await resident.say("注册志愿者")
    me = await Resident.get(openid=resident.openid)
    assert (await VolunteerProfile.get(resident_id=me.id)).skills == ["电工"]
