"""Volunteer service on the database: waitlist, overlap, check-in, hours, points, reminders."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from handlers.refusal import Refused
from handlers.volunteers import service
from handlers.volunteers.rules import ScanAction, SignUpStatus
from handlers.volunteers.service import CheckOutcome, ShiftPlan
from models.audit import AppendOnlyError, AuditLog
from models.outbox import Notification
from models.residents import Resident, Role, RoleAssignment
from models.volunteers import Activity, PointsEntry, Reward, Shift, SignUp, VolunteerTeam
from tests.volunteers.conftest import CREATED, DAY, SITE, patrol, scan_at, volunteer
from tests.world import World


async def refused(code: str, call, status: int | None = None) -> Refused:  # type: ignore[no-untyped-def]
    """The refusal ``call`` raises: its message id, and the status an API caller would get."""
    with pytest.raises(Refused) as caught:
        await call
    assert caught.value.code == code, caught.value.code
    if status is not None:
        assert caught.value.status == status, (code, caught.value.status)
    return caught.value


async def line(shift_id: int) -> list[tuple[int, str, int | None]]:
    """(volunteer, status, position) of every active sign-up, confirmed first."""
    rows = await SignUp.filter(shift_id=shift_id, status__in=["confirmed", "waitlisted"]).order_by(
        "status", "position", "id"
    )
    return [(r.volunteer_id, r.status, r.position) for r in rows]


# --- registration ---------------------------------------------------------------------------------


async def test_registering_grants_the_volunteer_role_once(world: World):
    person = await world.resident()
    profile, created = await service.register(person, CREATED, ["电工", "电工", "急救"], 1975)
    assert created and profile.skills == ["电工", "急救"] and profile.birth_year == 1975
    again, created = await service.register(person, CREATED, ["理发"])
    assert not created and again.id == profile.id and again.skills == ["理发"]
    roles = await RoleAssignment.filter(resident_id=person.id).values_list("role", flat=True)
    assert roles == [Role.VOLUNTEER]
    assert await AuditLog.filter(action="volunteer.registered").count() == 1
    await refused(
        "volunteer.error.bad_birth_year", service.register(person, CREATED, birth_year=1850), 400
    )


async def test_registering_again_replaces_the_skills_given_and_keeps_those_not(world: World):
    person = await world.resident()
    await service.register(person, CREATED, ["电工"], 1975)
    kept, _ = await service.register(person, CREATED, None, 1976)
    assert (kept.skills, kept.birth_year) == (["电工"], 1976)
    cleared, _ = await service.register(person, CREATED, [])
    assert (cleared.skills, cleared.birth_year) == ([], 1976)


async def test_a_description_or_place_past_its_limit_is_refused_not_cut(world: World):
    boss = await service.who(await world.worker())
    long = "长" * (service.TEXT_MAX + 1)
    error = await refused(
        "volunteer.error.too_long",
        service.create_activity(boss, CREATED, title="巡逻", description=long),
        400,
    )
    assert error.params == {"limit": service.TEXT_MAX}
    await refused(
        "volunteer.error.too_long",
        service.create_activity(boss, CREATED, title="巡逻", place="路" * 101),
        400,
    )
    await refused(
        "volunteer.error.too_long",
        service.create_reward(boss, "米", 5, 1, "长" * (service.TEXT_MAX + 1)),
        400,
    )
    assert await Activity.all().count() == 0
    made = await service.create_activity(boss, CREATED, title="巡逻", description="长" * 2000)
    assert len(made.description) == service.TEXT_MAX


async def test_a_worker_granting_points_to_a_non_volunteer_is_told_that_one_is_not(
    world: World,
):
    boss = await service.who(await world.worker())
    stranger = await world.resident()
    error = await refused(
        "volunteer.error.not_a_volunteer",
        service.grant_points(boss, stranger.id, 5, "表彰", "bonus", CREATED),
        404,
    )
    assert error.params == {"id": stranger.id}


async def test_an_unregistered_resident_cannot_sign_up(world: World):
    _, shift = await patrol(world)
    stranger = await world.resident()
    await refused(
        "volunteer.error.not_registered", service.sign_up(shift.id, stranger.id, CREATED), 403
    )


# --- capacity, waitlist, cancellation -------------------------------------------------------------


async def test_places_fill_then_a_waitlist_and_a_cancellation_promotes_the_first(world: World):
    _, shift = await patrol(world, capacity=2)
    people = [await volunteer(world) for _ in range(5)]
    outcomes = [await service.sign_up(shift.id, p.id, CREATED) for p in people]
    assert [(o.status.value, o.position) for o in outcomes] == [
        ("confirmed", None),
        ("confirmed", None),
        ("waitlisted", 1),
        ("waitlisted", 2),
        ("waitlisted", 3),
    ]
    done = await service.cancel(shift.id, people[1].id, CREATED)
    assert done.was is SignUpStatus.CONFIRMED and done.promoted == (people[2].id,)
    assert await line(shift.id) == [
        (people[0].id, "confirmed", None),
        (people[2].id, "confirmed", None),
        (people[3].id, "waitlisted", 1),
        (people[4].id, "waitlisted", 2),
    ]
    told = await Notification.get(kind="volunteer.promoted")
    assert (told.audience, told.subject, told.subject_id) == (
        f"resident:{people[2].id}",
        "volunteer_shift",
        shift.id,
    )
    assert told.payload["title"] == "治安巡逻"
    fresh = await Shift.get(id=shift.id)
    assert (fresh.confirmed_count, fresh.waitlist_count) == (2, 2)


async def test_leaving_the_waitlist_moves_those_behind_up(world: World):
    _, shift = await patrol(world, capacity=1)
    people = [await volunteer(world) for _ in range(4)]
    for p in people:
        await service.sign_up(shift.id, p.id, CREATED)
    done = await service.cancel(shift.id, people[2].id, CREATED)
    assert done.was is SignUpStatus.WAITLISTED and done.promoted == ()
    assert await line(shift.id) == [
        (people[0].id, "confirmed", None),
        (people[1].id, "waitlisted", 1),
        (people[3].id, "waitlisted", 2),
    ]
    # Signing up again after cancelling is a new arrival: the end of the line.
    again = await service.sign_up(shift.id, people[2].id, CREATED)
    assert (again.status, again.position) == (SignUpStatus.WAITLISTED, 3)
    assert await Notification.filter(kind="volunteer.promoted").count() == 0


async def test_concurrent_cancellations_keep_the_line_whole_and_in_order(world: World):
    _, shift = await patrol(world, capacity=3)
    people = [await volunteer(world) for _ in range(15)]
    for p in people:
        await service.sign_up(shift.id, p.id, CREATED)
    leaving = [people[i] for i in (0, 2, 4, 7, 8, 12, 14)]  # two confirmed, five waiting
    await asyncio.gather(*(service.cancel(shift.id, p.id, CREATED) for p in leaving))
    staying = [p.id for p in people if p not in leaving]
    assert await line(shift.id) == [
        *[(v, "confirmed", None) for v in sorted(staying[:3])],
        *[(v, "waitlisted", n) for n, v in enumerate(staying[3:], start=1)],
    ]
    fresh = await Shift.get(id=shift.id)
    assert (fresh.confirmed_count, fresh.waitlist_count) == (3, len(staying) - 3)


async def test_a_leader_releases_a_place_within_the_window_with_a_reason(world: World):
    _, shift = await patrol(world, capacity=1)
    first, second = await volunteer(world), await volunteer(world)
    await service.sign_up(shift.id, first.id, CREATED)
    await service.sign_up(shift.id, second.id, CREATED)
    boss = await service.who(await world.worker())
    place = await SignUp.get(shift_id=shift.id, volunteer_id=first.id)
    late = DAY - timedelta(minutes=30)
    await refused("volunteer.error.reason_required", service.release(boss, place.id, "", late))
    done = await service.release(boss, place.id, "家里有事，电话告知", late)
    assert done.promoted == (second.id,)
    assert await line(shift.id) == [(second.id, "confirmed", None)]
    told = (
        await Notification.filter(subject_id=shift.id)
        .order_by("id")
        .values_list("kind", "audience")
    )
    assert told == [
        ("volunteer.promoted", f"resident:{second.id}"),
        ("volunteer.released", f"resident:{first.id}"),
    ]
    assert (await AuditLog.get(action="volunteer.released")).after["reason"] == "家里有事，电话告知"
    await refused("volunteer.error.bad_status", service.release(boss, place.id, "再次", late))
    stranger = await service.who(await volunteer(world))
    await refused("volunteer.error.forbidden", service.release(stranger, place.id, "x", late), 403)
    await refused(
        "volunteer.error.too_long", service.release(boss, place.id, "长" * 501, late), 400
    )


async def test_signing_up_twice_is_refused(world: World):
    _, shift = await patrol(world)
    me = await volunteer(world)
    await service.sign_up(shift.id, me.id, CREATED)
    await refused(
        "volunteer.error.already_signed_up", service.sign_up(shift.id, me.id, CREATED), 409
    )


async def test_overlapping_shifts_are_refused_and_back_to_back_is_fine(world: World):
    _, morning = await patrol(world, DAY, hours=2)
    _, overlapping = await patrol(world, DAY + timedelta(hours=1), hours=2, title="清洁家园")
    _, after = await patrol(world, DAY + timedelta(hours=2), hours=2, title="关爱老人")
    me = await volunteer(world)
    await service.sign_up(morning.id, me.id, CREATED)
    error = await refused(
        "volunteer.error.overlap", service.sign_up(overlapping.id, me.id, CREATED)
    )
    assert error.params["title"] == "治安巡逻" and error.params["id"] == morning.id
    assert (await service.sign_up(after.id, me.id, CREATED)).status is SignUpStatus.CONFIRMED
    # A cancelled place no longer blocks the time.
    _, early = await patrol(world, DAY - timedelta(hours=1), hours=2, title="文明宣传")
    await refused("volunteer.error.overlap", service.sign_up(early.id, me.id, CREATED))
    await service.cancel(morning.id, me.id, CREATED)
    assert (await service.sign_up(early.id, me.id, CREATED)).status is SignUpStatus.CONFIRMED


async def test_cancelling_within_two_hours_is_refused_but_leaving_the_waitlist_is_not(
    world: World,
):
    _, shift = await patrol(world, capacity=1)
    first, second = await volunteer(world), await volunteer(world)
    await service.sign_up(shift.id, first.id, CREATED)
    await service.sign_up(shift.id, second.id, CREATED)
    late = DAY - timedelta(hours=2) + timedelta(seconds=1)
    error = await refused(
        "volunteer.error.too_late_to_cancel", service.cancel(shift.id, first.id, late)
    )
    assert error.params == {"hours": "2", "id": shift.id}
    assert (await service.cancel(shift.id, second.id, late)).was is SignUpStatus.WAITLISTED
    done = await service.cancel(shift.id, first.id, DAY - timedelta(hours=2))
    assert done.was is SignUpStatus.CONFIRMED
    await refused("volunteer.error.not_signed_up", service.cancel(shift.id, first.id, CREATED))
    await refused("volunteer.error.shift_started", service.sign_up(shift.id, first.id, DAY))


async def test_minimum_age_and_skills(world: World):
    _, shift = await patrol(world, min_age=18, skills=("急救",))
    unknown = await volunteer(world, skills=["急救"])
    young = await volunteer(world, skills=["急救"], birth_year=2015)
    unskilled = await volunteer(world, birth_year=1970)
    fit = await volunteer(world, skills=["急救"], birth_year=1970)
    await refused("volunteer.error.age_unknown", service.sign_up(shift.id, unknown.id, CREATED))
    await refused("volunteer.error.too_young", service.sign_up(shift.id, young.id, CREATED))
    error = await refused(
        "volunteer.error.missing_skills", service.sign_up(shift.id, unskilled.id, CREATED)
    )
    assert error.params == {"skills": "急救"}
    assert (await service.sign_up(shift.id, fit.id, CREATED)).status is SignUpStatus.CONFIRMED


async def test_concurrent_sign_ups_of_one_volunteer_for_overlapping_shifts_take_one(world: World):
    _, a = await patrol(world)
    _, b = await patrol(world, DAY + timedelta(minutes=30), title="清洁家园")
    me = await volunteer(world)
    results = await asyncio.gather(
        service.sign_up(a.id, me.id, CREATED),
        service.sign_up(b.id, me.id, CREATED),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, Refused)]
    assert len(errors) == 1 and errors[0].code == "volunteer.error.overlap"
    assert await SignUp.filter(volunteer_id=me.id).count() == 1


# --- check-in, check-out, hours and points --------------------------------------------------------


async def signed_up(world: World, **shift_options):  # type: ignore[no-untyped-def]
    activity, shift = await patrol(world, **shift_options)
    me = await volunteer(world)
    await service.sign_up(shift.id, me.id, CREATED)
    return activity, shift, me


async def test_the_check_in_window_opens_30_minutes_before_and_closes_at_the_end(world: World):
    _, shift, me = await signed_up(world)
    early = await refused(
        "volunteer.error.check_in_early",
        scan_at(world, me.id, shift, DAY - timedelta(minutes=30, seconds=1)),
    )
    assert early.params["time"] == "11-08 08:30"
    await refused(
        "volunteer.error.check_in_closed",
        scan_at(world, me.id, shift, DAY + timedelta(hours=2, seconds=1)),
    )
    done = await scan_at(world, me.id, shift, DAY - timedelta(minutes=30))
    assert done.action is ScanAction.CHECK_IN


async def test_a_scan_checks_in_a_repeat_is_ignored_and_the_next_checks_out(world: World):
    _, shift, me = await signed_up(world)

    async def scan(at: datetime) -> CheckOutcome:  # the activity's code works for its shifts
        return await scan_at(world, me.id, shift, at, whole_activity=True)

    assert (await scan(DAY - timedelta(minutes=10))).action is ScanAction.CHECK_IN
    again = await scan(DAY - timedelta(minutes=5))
    assert again.action is ScanAction.ALREADY_IN
    out = await scan(DAY + timedelta(minutes=90))
    # Early arrival does not count: 09:00 to 10:30 is 90 minutes, 15 points at 10 an hour.
    assert (out.action, out.minutes, out.points) == (ScanAction.CHECK_OUT, 90, 15)
    row = await SignUp.get(id=out.signup.id)
    assert (row.status, row.minutes, row.points) == ("attended", 90, 15)
    assert await service.balance(me.id) == 15
    done = await scan(DAY + timedelta(minutes=95))
    assert done.action is ScanAction.DONE
    kinds = await PointsEntry.filter(volunteer_id=me.id).values_list("kind", "points")
    assert kinds == [("earned", 15)]


async def test_scanning_someone_elses_shift_or_from_the_waitlist_is_refused(world: World):
    _, shift = await patrol(world, capacity=1)
    first, second, outsider = await volunteer(world), await volunteer(world), await volunteer(world)
    await service.sign_up(shift.id, first.id, CREATED)
    await service.sign_up(shift.id, second.id, CREATED)
    await refused("volunteer.error.not_on_shift", scan_at(world, outsider.id, shift, DAY))
    error = await refused("volunteer.error.waitlisted", scan_at(world, second.id, shift, DAY))
    assert error.params == {"position": 1}
    await refused("volunteer.error.bad_scene", service.check_by_scene(first.id, "shift_x", DAY))


async def test_location_check_in_within_the_radius_only(world: World):
    _, _, me = await signed_up(world)
    far = await refused(
        "volunteer.error.too_far",
        service.check_by_location(me.id, SITE[0] + 0.0019, SITE[1], DAY),  # ~211 m north
    )
    assert far.params == {"distance": 211, "radius": 200, "place": "幸福里北门"}
    done = await service.check_by_location(me.id, SITE[0] + 0.0017, SITE[1], DAY)  # ~189 m
    assert done is not None and done.action is ScanAction.CHECK_IN
    assert round(done.distance or 0) == 189
    # Still checked in after the end: the location checks out, counted until the end.
    out = await service.check_by_location(me.id, *SITE, DAY + timedelta(hours=5))
    assert out is not None and (out.action, out.minutes) == (ScanAction.CHECK_OUT, 120)
    # Outside every window of theirs, a location is just a location.
    assert await service.check_by_location(me.id, *SITE, DAY + timedelta(days=2)) is None
    stranger = await volunteer(world)
    assert await service.check_by_location(stranger.id, *SITE, DAY) is None


async def test_ended_shifts_check_out_at_their_end_once(world: World):
    _, shift, me = await signed_up(world)
    await scan_at(world, me.id, shift, DAY + timedelta(minutes=15))
    assert await service.close_ended_shifts(DAY + timedelta(hours=1)) == 0
    ended = DAY + timedelta(hours=2, minutes=3)
    assert await asyncio.gather(
        service.close_ended_shifts(ended), service.close_ended_shifts(ended)
    ) in ([1, 0], [0, 1])
    row = await SignUp.get(shift_id=shift.id, volunteer_id=me.id)
    assert (row.status, row.minutes, row.points) == ("attended", 105, 17)
    assert row.checked_out_at == DAY + timedelta(hours=2)
    assert await service.balance(me.id) == 17


async def test_the_points_ledger_is_append_only(world: World):
    _, shift, me = await signed_up(world)
    await scan_at(world, me.id, shift, DAY)
    await service.close_ended_shifts(DAY + timedelta(hours=3))
    entry = await PointsEntry.get(volunteer_id=me.id)
    entry.points = 1000
    with pytest.raises(AppendOnlyError):
        await entry.save()
    with pytest.raises(AppendOnlyError):
        await entry.delete()
    assert await service.balance(me.id) == 20


# --- leaders --------------------------------------------------------------------------------------


async def test_a_team_leader_marks_no_shows_and_adjusts_with_a_reason(world: World):
    leader = await volunteer(world, "王队长")
    team = await VolunteerTeam.create(community=world.community, name="巡逻队", leader=leader)
    boss = await service.who(leader)
    activity = await service.create_activity(
        boss,
        CREATED,
        title="夜间巡逻",
        team_id=team.id,
        shifts=[ShiftPlan(DAY, DAY + timedelta(hours=2), 5)],
    )
    shift = await Shift.get(activity_id=activity.id)
    came, missed = await volunteer(world, "李阿姨"), await volunteer(world, "张叔")
    for p in (came, missed):
        await service.sign_up(shift.id, p.id, CREATED)
    await scan_at(world, came.id, shift, DAY)
    _, rows = await service.attendance(boss, shift.id)
    seen = {r["volunteer"]["name"]: r for r in rows}
    assert seen["李阿姨"]["checked_in_at"] and seen["张叔"]["checked_in_at"] is None
    missed_row = seen["张叔"]["signup_id"]
    await refused(
        "volunteer.error.not_started",
        service.mark_no_show(boss, missed_row, "没来", DAY - timedelta(minutes=1)),
    )
    await refused(
        "volunteer.error.reason_required", service.mark_no_show(boss, missed_row, " ", DAY)
    )
    await service.mark_no_show(boss, missed_row, "电话未接", DAY + timedelta(minutes=30))
    assert (await SignUp.get(id=missed_row)).status == "no_show"
    # The volunteer who came forgot to scan out and left early: the leader sets 60 minutes.
    came_row = seen["李阿姨"]["signup_id"]
    await service.close_ended_shifts(DAY + timedelta(hours=2))
    assert await service.balance(came.id) == 20
    await refused("volunteer.error.bad_minutes", service.adjust(boss, came_row, 121, "多算了", DAY))
    adjusted = await service.adjust(boss, came_row, 60, "提前离开", DAY + timedelta(hours=3))
    assert (adjusted.status, adjusted.minutes, adjusted.points) == ("attended", 60, 10)
    assert await service.balance(came.id) == 10
    lines = (
        await PointsEntry.filter(volunteer_id=came.id)
        .order_by("id")
        .values_list("kind", "points", "reason")
    )
    assert lines == [("earned", 20, ""), ("adjusted", -10, "提前离开")]
    trail = await AuditLog.get(action="volunteer.attendance_adjusted")
    assert trail.actor == f"resident:{leader.id}"
    assert trail.before == {"status": "attended", "minutes": 120, "points": 20}
    assert trail.after["reason"] == "提前离开"
    assert (await AuditLog.get(action="volunteer.no_show")).after["reason"] == "电话未接"
    # Someone else's team is not theirs to manage.
    _, other = await patrol(world, DAY + timedelta(days=1))
    await refused("volunteer.error.forbidden", service.attendance(boss, other.id))


# --- points and rewards ---------------------------------------------------------------------------


async def grant(world: World, person, points: int) -> None:  # type: ignore[no-untyped-def]
    boss = await service.who(await world.worker())
    await service.grant_points(boss, person.id, points, "表彰", "bonus", CREATED)


async def test_redemption_needs_the_points_and_the_stock(world: World):
    me = await volunteer(world)
    await grant(world, me, 30)
    soap = await Reward.create(community=world.community, name="洗衣液", cost=20, stock=1)
    towel = await Reward.create(community=world.community, name="毛巾", cost=10, stock=0)
    await refused("volunteer.error.out_of_stock", service.redeem(me.id, towel.id, CREATED))
    done = await service.redeem(me.id, soap.id, CREATED)
    assert (done.balance, done.reward.stock) == (10, 0)
    await refused("volunteer.error.out_of_stock", service.redeem(me.id, soap.id, CREATED))
    soap.stock = 5
    await soap.save()
    short = await refused(
        "volunteer.error.not_enough_points", service.redeem(me.id, soap.id, CREATED)
    )
    assert short.params == {"balance": 10, "cost": 20}
    assert await service.balance(me.id) == 10
    kinds = (
        await PointsEntry.filter(volunteer_id=me.id).order_by("id").values_list("kind", "points")
    )
    assert kinds == [("bonus", 30), ("redeemed", -20)]


async def test_workers_restock_and_withdraw_rewards(world: World):
    boss = await service.who(await world.worker())
    made = await service.create_reward(boss, "电影票", 50, 2, "社区影院")
    restocked = await service.update_reward(boss, made.id, stock=10)
    assert restocked.stock == 10
    await service.update_reward(boss, made.id, active=False)
    assert await service.rewards(world.community.id) == []
    me = await volunteer(world)
    await refused("volunteer.error.reward_not_found", service.redeem(me.id, made.id, CREATED), 404)
    assert await AuditLog.filter(action="volunteer_reward.updated").count() == 2
    await refused(
        "volunteer.error.forbidden", service.update_reward(await service.who(me), made.id, stock=1)
    )


async def test_concurrent_redemptions_never_overspend_points_or_stock(world: World):
    rich = await volunteer(world)
    await grant(world, rich, 50)
    gift = await Reward.create(community=world.community, name="保温杯", cost=20, stock=10)
    # One volunteer, five attempts at once, points for two.
    results = await asyncio.gather(
        *(service.redeem(rich.id, gift.id, CREATED) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 2
    assert {r.code for r in results if isinstance(r, Refused)} == {
        "volunteer.error.not_enough_points"
    }
    assert await service.balance(rich.id) == 10
    # Eight volunteers at once for the last eight... of which only three are left after a cut.
    await Reward.filter(id=gift.id).update(stock=3)
    people = [await volunteer(world) for _ in range(8)]
    for p in people:
        await grant(world, p, 20)
    results = await asyncio.gather(
        *(service.redeem(p.id, gift.id, CREATED) for p in people), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 3
    assert (await Reward.get(id=gift.id)).stock == 0
    assert sorted([await service.balance(p.id) for p in people]) == [0] * 3 + [20] * 5


# --- reminders ------------------------------------------------------------------------------------


async def test_reminders_go_the_day_before_and_the_hour_before_each_once(world: World):
    _, shift = await patrol(world, capacity=1)
    me, waiting = await volunteer(world), await volunteer(world)
    await service.sign_up(shift.id, me.id, CREATED)
    await service.sign_up(shift.id, waiting.id, CREATED)

    async def run(at) -> dict[str, int]:  # type: ignore[no-untyped-def]
        return await service.send_reminders(at)

    assert await run(DAY - timedelta(hours=24, minutes=1)) == {"day": 0, "hour": 0}
    twice = await asyncio.gather(run(DAY - timedelta(hours=24)), run(DAY - timedelta(hours=24)))
    assert sorted(t["day"] for t in twice) == [0, 1]
    assert await run(DAY - timedelta(hours=3)) == {"day": 0, "hour": 0}
    assert await run(DAY - timedelta(minutes=60)) == {"day": 0, "hour": 1}
    assert await run(DAY - timedelta(minutes=30)) == {"day": 0, "hour": 0}
    kinds = (
        await Notification.filter(subject="volunteer_shift")
        .order_by("id")
        .values_list("kind", "audience")
    )
    assert kinds == [
        ("volunteer.reminder_day", f"resident:{me.id}"),
        ("volunteer.reminder_hour", f"resident:{me.id}"),
    ]


async def test_a_late_sign_up_gets_only_the_hour_reminder(world: World):
    _, shift = await patrol(world)
    me = await volunteer(world)
    await service.sign_up(shift.id, me.id, DAY - timedelta(minutes=40))
    assert await service.send_reminders(DAY - timedelta(minutes=39)) == {"day": 0, "hour": 1}
    assert await service.send_reminders(DAY - timedelta(minutes=1)) == {"day": 0, "hour": 0}


# --- recognition ----------------------------------------------------------------------------------


async def test_the_monthly_leaderboard_and_the_registration_share(world: World):
    activity, shift = await patrol(world)
    a, b = await volunteer(world, "甲"), await volunteer(world, "乙")
    for p in (a, b):
        await service.sign_up(shift.id, p.id, CREATED)
    await scan_at(world, a.id, shift, DAY)
    await scan_at(world, b.id, shift, DAY + timedelta(minutes=30))
    await service.close_ended_shifts(DAY + timedelta(hours=2))
    await grant(world, b, 5)  # granted in CREATED's month (November too)
    gift = await Reward.create(community=world.community, name="毛巾", cost=20, stock=5)
    await service.redeem(a.id, gift.id, DAY + timedelta(hours=3))  # spending does not lower rank
    assert activity.created_by_id is not None
    maker = await service.who(await Resident.get(id=activity.created_by_id))  # a worker
    board = await service.leaderboard(maker, DAY)
    assert [(r["rank"], r["volunteer"]["name"], r["points"], r["hours"]) for r in board] == [
        (1, "甲", 20, 2.0),
        (2, "乙", 20, 1.5),
    ]
    assert await service.leaderboard(await service.who(a), DAY + timedelta(days=40)) == []
    await world.resident()  # a resident who is not a volunteer
    share = await service.registration(world.community.id)
    # Residents: the two volunteers, the worker who made the patrol, the one who granted
    # points and the one just added.
    assert (share["volunteers"], share["residents"]) == (2, 5)
    assert share["share"] == 0.4
