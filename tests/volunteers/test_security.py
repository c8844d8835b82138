"""Issue 13's volunteer findings: presence at check-in, masked names, no self-crediting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.simulator import message_xml, reply_text
from handlers.refusal import Refused
from handlers.volunteers import rules, service
from handlers.volunteers.service import ShiftPlan
from models.residents import Resident
from models.volunteers import PointsEntry, SignUp, VolunteerTeam
from tests.conftest import APPID
from tests.volunteers.conftest import CREATED, DAY, SITE, patrol, site_code, volunteer
from tests.world import World

V = "/api/v1/volunteers"


def soon(minutes: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes)


async def refused(code: str, call) -> Refused:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as caught:
        await call
    assert caught.value.code == code, caught.value.code
    return caught.value


async def scan(speaker, key: str) -> str:  # type: ignore[no-untyped-def]
    """The official account's SCAN event: a follower scanned a parametric QR code."""
    fields = {"Event": "SCAN", "EventKey": key, "Ticket": "tk"}
    status, xml = await speaker.push(message_xml(speaker.openid, APPID, "event", fields))
    assert status == 200, xml
    return reply_text(xml)


# --- finding 9: a scene key is no proof of presence -----------------------------------------------


async def test_a_site_code_alone_checks_no_one_in_through_the_api(client, world: World, bearer):
    activity, shift = await patrol(world, soon(10), now=datetime.now(UTC))
    me = await volunteer(world)
    auth = bearer(await world.token(me))
    await client.post(f"{V}/shifts/{shift.id}/signup", headers=auth)
    codes = await client.get(
        f"{V}/activities/{activity.id}/qr", headers=bearer(await world.token(await world.worker()))
    )
    key = next(s["scene"] for s in (await codes.json())["shifts"] if s["id"] == shift.id)
    for body in ({"scene": key}, {"scene": f"shift_{shift.id}"}):
        alone = await client.post(f"{V}/checkin", json=body, headers=auth)
        assert alone.status == 400, body
    assert (await SignUp.get(volunteer_id=me.id)).checked_in_at is None
    far = await client.post(
        f"{V}/checkin", json={"scene": key, "lat": SITE[0] + 9, "lng": SITE[1]}, headers=auth
    )
    assert (far.status, (await far.json())["error"]["code"]) == (409, "volunteer.error.too_far")
    assert (await SignUp.get(volunteer_id=me.id)).checked_in_at is None
    near = await client.post(
        f"{V}/checkin", json={"scene": key, "lat": SITE[0], "lng": SITE[1]}, headers=auth
    )
    assert (await near.json())["action"] == "check_in"


async def test_residents_views_of_activities_and_shifts_carry_no_scene_key(
    client, world: World, bearer
):
    activity, shift = await patrol(world, soon(60 * 24), now=datetime.now(UTC))
    me = await volunteer(world)
    auth = bearer(await world.token(me))
    await client.post(f"{V}/shifts/{shift.id}/signup", headers=auth)
    for url in (f"{V}/activities", f"{V}/activities/{activity.id}", f"{V}/me/shifts"):
        resp = await client.get(url, headers=auth)
        assert resp.status == 200, url
        text = await resp.text()
        assert "scene" not in text and f"shift_{shift.id}" not in text, url
    # Only the leader's and workers' own endpoint gives the keys.
    assert (await client.get(f"{V}/activities/{activity.id}/qr", headers=auth)).status == 403


async def test_a_made_up_scene_key_is_refused_even_from_a_wechat_scan(
    app_state, resident, world: World
):
    _, shift = await patrol(world, soon(10), now=datetime.now(UTC))
    await resident.say("注册志愿者")
    await resident.say(f"报名 {shift.id}")
    answer = await scan(resident, f"shift_{shift.id}")
    assert answer == app_state.translate("zh_Hans", "volunteer.error.bad_scene")
    me = await Resident.get(openid=resident.openid)
    assert (await SignUp.get(volunteer_id=me.id)).checked_in_at is None


async def test_a_wechat_scan_of_the_current_site_code_checks_in(resident, world: World):
    activity, shift = await patrol(world, soon(10), now=datetime.now(UTC))
    await resident.say("注册志愿者")
    await resident.say(f"报名 {shift.id}")
    answer = await scan(resident, await site_code(world, activity, datetime.now(UTC), shift))
    assert "签到成功" in answer


async def test_a_site_code_works_in_its_window_and_the_next_and_then_expires(world: World):
    activity, shift = await patrol(world)
    me = await volunteer(world)
    await service.sign_up(shift.id, me.id, CREATED)
    made = DAY - timedelta(minutes=5)
    key = await site_code(world, activity, made, shift)
    rotates = service.policy().scene_rotates
    await refused(
        "volunteer.error.scene_expired",
        service.check_by_scene(me.id, key, made + 2 * rotates, scanned=True),
    )
    await refused(
        "volunteer.error.scene_expired",
        service.check_by_scene(me.id, key, made - rotates, scanned=True),
    )
    done = await service.check_by_scene(me.id, key, made + rotates, scanned=True)
    assert done.action is rules.ScanAction.CHECK_IN


async def test_a_key_of_another_activity_or_with_a_forged_mac_is_refused(world: World):
    activity, shift = await patrol(world)
    other, _ = await patrol(world, title="清洁家园")
    me = await volunteer(world)
    await service.sign_up(shift.id, me.id, CREATED)
    never_issued = rules.scene_key("shift", shift.id, "guess", DAY, service.policy())
    await refused("volunteer.error.bad_scene", service.check_by_scene(me.id, never_issued, DAY))
    await site_code(world, activity, DAY)  # the activity's secret is issued now
    other_secret = await site_code(world, other, DAY)  # another activity's key
    forged = other_secret.replace(f"activity_{other.id}_", f"activity_{activity.id}_")
    for key in (never_issued, forged, f"shift_{shift.id}"):
        await refused(
            "volunteer.error.bad_scene", service.check_by_scene(me.id, key, DAY, scanned=True)
        )
    assert (await SignUp.get(volunteer_id=me.id)).checked_in_at is None


async def test_a_key_handed_in_without_a_wechat_scan_needs_a_location(world: World):
    activity, shift = await patrol(world)
    me = await volunteer(world)
    await service.sign_up(shift.id, me.id, CREATED)
    key = await site_code(world, activity, DAY, shift)
    await refused("volunteer.error.scene_needs_location", service.check_by_scene(me.id, key, DAY))
    await refused(
        "volunteer.error.too_far",
        service.check_by_scene(me.id, key, DAY, SITE[0] + 1, SITE[1]),
    )
    done = await service.check_by_scene(me.id, key, DAY, *SITE)
    assert done.action is rules.ScanAction.CHECK_IN and done.distance is not None


def test_a_scene_key_fits_wechat_and_rotates_with_the_window():
    pol = rules.Policy()
    key = rules.scene_key("activity", 999_999_999, "s" * 64, DAY, pol)
    assert len(key) <= 64
    scene = rules.parse_scene(key)
    assert scene is not None and (scene.kind, scene.ident) == ("activity", 999_999_999)
    assert rules.scene_genuine(scene, "s" * 64) and not rules.scene_genuine(scene, "t" * 64)
    assert rules.scene_key("activity", 999_999_999, "s" * 64, DAY + pol.scene_rotates, pol) != key
    assert rules.scene_current(scene, DAY + pol.scene_rotates, pol)
    assert not rules.scene_current(scene, DAY + 2 * pol.scene_rotates, pol)
    assert rules.scene_expires(DAY, pol) > DAY + pol.scene_rotates
    for bad in ("shift_3", "shift_3_1_zz", f"shift_3_1_{'0' * 19}", f"shift_0_1_{'0' * 20}"):
        assert rules.parse_scene(bad) is None, bad


# --- low: one masking rule for the leaderboard ----------------------------------------------------


async def test_the_chat_leaderboard_masks_other_volunteers_names(resident, world: World):
    star = await volunteer(world, "王小明")
    await resident.say("注册志愿者")
    me = await Resident.get(openid=resident.openid)
    me.name = "李大红"
    await me.save(update_fields=["name"])
    boss = await service.who(await world.worker())
    now = datetime.now(UTC)
    await service.grant_points(boss, star.id, 9, "表彰", "bonus", now)
    await service.grant_points(boss, me.id, 3, "表彰", "bonus", now)
    board = await resident.say("最美志愿者")
    assert "王*明" in board and "王小明" not in board
    assert "李大红" in board  # one's own name is one's own


async def test_both_doors_mask_the_leaderboard_alike(client, world: World, bearer):
    star = await volunteer(world, "欧阳小明")
    boss = await service.who(await world.worker())
    await service.grant_points(boss, star.id, 9, "表彰", "bonus", datetime.now(UTC))
    viewer = await volunteer(world)
    api = await client.get(f"{V}/leaderboard", headers=bearer(await world.token(viewer)))
    items = (await api.json())["items"]
    assert items[0]["volunteer"]["name"] == rules.masked_name("欧阳小明") == "欧**明"
    board = await service.leaderboard(await service.who(viewer), datetime.now(UTC))
    assert board[0]["volunteer"]["name"] == "欧**明"
    assert (await service.leaderboard(boss, datetime.now(UTC)))[0]["volunteer"]["name"] == (
        "欧阳小明"
    )


# --- low: nobody credits themselves ---------------------------------------------------------------


async def leaders_own_signup(world: World):  # type: ignore[no-untyped-def]
    """A team leader (a resident) signed up to a shift of their own team, after the shift."""
    leader = await volunteer(world, "队长")
    team = await VolunteerTeam.create(community=world.community, name="巡逻队", leader=leader)
    boss = await service.who(await world.worker())
    activity = await service.create_activity(
        boss,
        CREATED,
        title="治安巡逻",
        category="patrol",
        place="幸福里北门",
        latitude=SITE[0],
        longitude=SITE[1],
        radius_m=200,
        team_id=team.id,
        shifts=[ShiftPlan(DAY, DAY + timedelta(hours=2), 10)],
    )
    shift = (await activity.shifts.all())[0]
    own = await service.sign_up(shift.id, leader.id, CREATED)
    member = await volunteer(world)
    theirs = await service.sign_up(shift.id, member.id, CREATED)
    return leader, own.signup_id, theirs.signup_id


async def test_a_team_leader_cannot_credit_hours_to_their_own_sign_up(client, world: World, bearer):
    leader, own, theirs = await leaders_own_signup(world)
    auth = bearer(await world.token(leader))
    body = {"minutes": 120, "reason": "忘了签到"}
    mine = await client.post(f"{V}/signups/{own}/adjust", json=body, headers=auth)
    assert mine.status == 403
    assert (await mine.json())["error"]["code"] == "volunteer.error.own_credit"
    missed = await client.post(f"{V}/signups/{own}/no-show", json={"reason": "x"}, headers=auth)
    assert missed.status == 403
    assert (await SignUp.get(id=own)).minutes is None
    assert not await PointsEntry.filter(volunteer_id=leader.id).exists()
    later = DAY + timedelta(hours=3)
    who = await service.who(leader)
    await refused("volunteer.error.own_credit", service.adjust(who, own, 120, "忘了签到", later))
    done = await service.adjust(who, theirs, 120, "忘了签到", later)  # a member's: theirs to fix
    assert (done.minutes, done.points) == (120, 20)


async def test_a_worker_cannot_grant_points_to_themselves(world: World):
    worker = await world.worker()
    await service.register(worker, CREATED)
    who = await service.who(worker)
    for kind in ("bonus", "adjusted"):
        await refused(
            "volunteer.error.own_credit",
            service.grant_points(who, worker.id, 50, "自己表彰", kind, DAY),
        )
    assert not await PointsEntry.filter(volunteer_id=worker.id).exists()
    leader, _, _ = await leaders_own_signup(world)
    entry = await service.grant_points(who, leader.id, 5, "表彰", "bonus", DAY)
    assert entry.points == 5
