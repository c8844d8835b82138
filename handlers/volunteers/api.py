"""``/api/v1/volunteers``: the mini-program's and the workers' side of volunteer service.

The same service functions as the chat. Workers (and team leaders, for their team's
activities) create activities and shifts, see attendance, mark no-shows and adjust
hours; volunteers sign up, check in, see their points and redeem rewards.

Every route's ``@doc`` role is checked and its query and body are parsed
by the models of ``schemas`` before the handler runs; the service's ``Refused`` is
answered by the API middleware.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from aiohttp import web

from handlers.api import (
    caller,
    caller_id,
    deps,
    now,
    page_of,
    parsed,
    path_id,
    queried,
    request_language,
    require,
)
from handlers.openapi import Paging, doc
from handlers.records.workbook import XLSX
from handlers.refusal import Refused
from handlers.roles import MANAGERS, TEAM_LEADERS
from handlers.volunteers import rules, service
from handlers.volunteers import schemas as s
from handlers.volunteers.rules import LOCAL
from models.volunteers import Activity, TeamMember, VolunteerTeam

routes = web.RouteTableDef()

ID_PATH = {"type": "integer", "minimum": 1, "maximum": 999_999_999}
# The longest span of days one hours export covers.
HOURS_DAYS = 366


def _id(request: web.Request, name: str, not_found: str) -> int:
    """A path id, else 404 with the capability's message naming what was asked for."""
    return path_id(request, name, not_found, id=request.match_info[name][:12])


# --- registration and teams -----------------------------------------------------------------------


@routes.post("/api/v1/volunteers/register")
@doc(
    "Register as a volunteer (网上注册), or update one's skills and birth year",
    tag="volunteers",
    body=s.RegisterBody,
    response=s.ProfileView,
    also=(201,),
    description=(
        "Answers 200 when the caller was registered already (the profile is updated) and "
        "201 with the same body when the profile is new. Send {} to change nothing."
    ),
)
async def register(request: web.Request) -> web.Response:
    resident = await caller(request)
    body = parsed(request, s.RegisterBody)
    skills = body.skills if "skills" in body.model_fields_set else None
    profile, created = await service.register(resident, now(request), skills, body.birth_year)
    return web.json_response(
        {"id": profile.id, "skills": profile.skills, "birth_year": profile.birth_year},
        status=201 if created else 200,
    )


@routes.get("/api/v1/volunteers/me")
@doc(
    "The caller's volunteer profile, hours and points balance",
    tag="volunteers",
    response=s.MeView,
    errors=(404,),
)
async def me(request: web.Request) -> web.Response:
    resident = await caller(request)
    profile = await service.profile_of(resident.id)
    if profile is None:
        raise Refused("volunteer.error.not_registered", 404)
    teams = await TeamMember.filter(resident_id=resident.id).values_list("team_id", flat=True)
    minutes = await service.total_minutes(resident.id)
    return web.json_response(
        {
            "id": profile.id,
            "skills": profile.skills,
            "birth_year": profile.birth_year,
            "teams": sorted(teams),
            "registered_at": profile.registered_at.isoformat(),
            "hours": round(minutes / 60, 2),
            "points": await service.balance(resident.id),
        }
    )


@routes.get("/api/v1/volunteers/teams")
@doc(
    "The community's volunteer teams (志愿服务队)",
    tag="volunteers",
    query=Paging,
    response=s.TeamPage,
)
async def list_teams(request: web.Request) -> web.Response:
    resident = await caller(request)
    q = queried(request, Paging)
    query = VolunteerTeam.filter(community_id=resident.community_id)
    total = await query.count()
    teams = await query.order_by("id").offset((q.page - 1) * q.per_page).limit(q.per_page)
    items = [
        {"id": t.id, "name": t.name, "category": t.category, "leader_id": t.leader_id}
        for t in teams
    ]
    return web.json_response(page_of(items, total, q.page, q.per_page))


@routes.post("/api/v1/volunteers/teams")
@doc(
    "Create a volunteer team, optionally with its leader",
    tag="volunteers",
    auth=MANAGERS,
    body=s.TeamBody,
    response=s.TeamMade,
    status=201,
    errors=(409,),
)
async def create_team(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    body = parsed(request, s.TeamBody)
    team = await service.create_team(who, body.name, body.category.value, body.leader_id)
    return web.json_response({"id": team.id, "name": team.name}, status=201)


@routes.post("/api/v1/volunteers/teams/{team}/join")
@doc(
    "Join a team of the community (registered volunteers only); joining twice is joining",
    tag="volunteers",
    response=s.Joined,
    errors=(403,),
    path={"team": ID_PATH},
)
async def join_team(request: web.Request) -> web.Response:
    resident = await caller(request)
    team_id = _id(request, "team", "volunteer.error.team_not_found")
    team = await service.join_team(resident, team_id)
    return web.json_response({"team_id": team.id, "member": True})


# --- activities and shifts ------------------------------------------------------------------------


@routes.get("/api/v1/volunteers/activities")
@doc(
    "Open activities with shifts still to come, newest first",
    tag="volunteers",
    query=s.ActivityQuery,
    response=s.ActivityPage,
)
async def list_activities(request: web.Request) -> web.Response:
    """Open activities with shifts still to come (``?all=true``: every activity)."""
    resident = await caller(request)
    q = queried(request, s.ActivityQuery)
    every, at = bool(q.all), now(request)
    query = Activity.filter(community_id=resident.community_id)
    if not every:
        query = query.filter(status="open", shifts__ends_at__gte=at).distinct()
    total = await query.count()
    found = (
        await query.order_by("-id")
        .offset((q.page - 1) * q.per_page)
        .limit(q.per_page)
        .prefetch_related("shifts")
    )
    items = []
    for activity in found:
        shifts = sorted(activity.shifts, key=lambda s: (s.starts_at, s.id))
        items.append(
            {
                **service.activity_view(activity),
                "shifts": [service.shift_view(s) for s in shifts if every or s.ends_at >= at],
            }
        )
    return web.json_response(page_of(items, total, q.page, q.per_page))


@routes.post("/api/v1/volunteers/activities")
@doc(
    "Create an activity with its first shifts: workers, or a team leader for their own team",
    tag="volunteers",
    auth=TEAM_LEADERS,
    body=s.ActivityBody,
    response=s.ActivityDetail,
    status=201,
    errors=(403, 404),
)
async def create_activity(request: web.Request) -> web.Response:
    who = await require(request, TEAM_LEADERS)
    body = parsed(request, s.ActivityBody)
    activity = await service.create_activity(
        who,
        now(request),
        title=body.title,
        description=body.description,
        category=body.category.value,
        place=body.place,
        latitude=body.lat,
        longitude=body.lng,
        radius_m=body.radius_m,
        team_id=body.team_id,
        required_skills=body.required_skills,
        shifts=[shift.plan() for shift in body.shifts],
    )
    return web.json_response(await service.activity_detail(activity, who.id), status=201)


@routes.get("/api/v1/volunteers/activities/{id}")
@doc(
    "An activity with all its shifts and the caller's own sign-up on each",
    tag="volunteers",
    response=s.ActivityDetail,
)
async def get_activity(request: web.Request) -> web.Response:
    resident = await caller(request)
    activity_id = _id(request, "id", "volunteer.error.activity_not_found")
    activity = await service.get_activity(activity_id, resident.community_id)
    return web.json_response(await service.activity_detail(activity, resident.id))


@routes.post("/api/v1/volunteers/activities/{id}/shifts")
@doc(
    "Add a shift to an activity the caller leads",
    tag="volunteers",
    auth=TEAM_LEADERS,
    body=s.ShiftBody,
    response=s.ShiftView,
    status=201,
    errors=(403,),
)
async def add_shift(request: web.Request) -> web.Response:
    who = await require(request, TEAM_LEADERS)
    activity_id = _id(request, "id", "volunteer.error.activity_not_found")
    plan = parsed(request, s.ShiftBody).plan()
    shift = await service.add_shift(who, activity_id, plan, now(request))
    return web.json_response(service.shift_view(shift), status=201)


@routes.patch("/api/v1/shifts/{id}")
@doc(
    "Move a shift or change its places, only before it starts: whoever may manage its activity",
    tag="volunteers",
    auth=TEAM_LEADERS,
    body=s.ShiftChange,
    response=s.ShiftChanged,
    errors=(403, 409),
    description=(
        "Workers, or the leader of the activity's team. 409 once the shift has started, and "
        "for places below the volunteers already confirmed (a leader releases someone by "
        "name instead). Places added are taken by the head of the waitlist, in order; when "
        "the time moves, everyone signed up is told the new time in their own language."
    ),
)
async def change_shift(request: web.Request) -> web.Response:
    who = await require(request, TEAM_LEADERS)
    shift_id = _id(request, "id", "volunteer.error.shift_not_found")
    body = parsed(request, s.ShiftChange)
    done = await service.change_shift(
        who,
        shift_id,
        now(request),
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        capacity=body.capacity,
    )
    return web.json_response(
        {**service.shift_view(done.shift), "promoted": list(done.promoted), "told": done.told}
    )


@routes.get("/api/v1/volunteers/activities/{id}/qr")
@doc(
    "The scene keys of the site's check-in QR codes: the activity's and each shift's",
    tag="volunteers",
    auth=TEAM_LEADERS,
    response=s.QrCodes,
    errors=(403,),
    description=(
        "JSON, not an image: WeChat makes the picture from a scene key with the official "
        "account's credentials, and until that client exists ``image`` is null. The keys "
        "rotate: each works until ``expires_at``, so the code shown is made afresh."
    ),
)
async def qr_codes(request: web.Request) -> web.Response:
    """The scene keys of the site's parametric QR codes: one for the activity, one per shift.

    Scanning either checks a signed-up volunteer in or out. The keys rotate: each works
    until ``expires_at``, so the code shown at the site is made afresh from this answer.
    The image itself is made by WeChat from a scene key with the official account's
    credentials (the notices issue's WeChat client); until that client exists ``image``
    is null and nothing calls WeChat.
    """
    who = await require(request, TEAM_LEADERS)
    activity_id = _id(request, "id", "volunteer.error.activity_not_found")
    codes = await service.site_codes(who, activity_id, now(request))
    return web.json_response({**codes, "image": None})


# --- sign-up --------------------------------------------------------------------------------------


@routes.post("/api/v1/volunteers/shifts/{shift}/signup")
@doc(
    "Take a place on a shift, or the next place on its waitlist",
    tag="volunteers",
    response=s.SignedUp,
    status=201,
    errors=(403, 409),
    path={"shift": ID_PATH},
)
async def sign_up(request: web.Request) -> web.Response:
    """The hot path (an event opening at 8 pm): the session alone, then one transaction."""
    resident_id = await caller_id(request)
    shift_id = _id(request, "shift", "volunteer.error.shift_not_found")
    done = await service.sign_up(shift_id, resident_id, now(request))
    return web.json_response(
        {
            "signup_id": done.signup_id,
            "shift_id": done.shift_id,
            "status": done.status.value,
            "position": done.position,
        },
        status=201,
    )


@routes.post("/api/v1/volunteers/shifts/{shift}/cancel")
@doc(
    "Give up one's place (not within 2 hours of the start) or leave the waitlist",
    tag="volunteers",
    response=s.Cancelled,
    errors=(403, 409),
    path={"shift": ID_PATH},
)
async def cancel(request: web.Request) -> web.Response:
    resident_id = await caller_id(request)
    shift_id = _id(request, "shift", "volunteer.error.shift_not_found")
    done = await service.cancel(shift_id, resident_id, now(request))
    return web.json_response(
        {"shift_id": done.shift.id, "cancelled": done.was.value, "promoted": list(done.promoted)}
    )


@routes.get("/api/v1/volunteers/me/shifts")
@doc(
    "The caller's upcoming places and waitlist positions (history: every sign-up)",
    tag="volunteers",
    query=s.MyShiftsQuery,
    response=s.MySignUpPage,
)
async def my_shifts(request: web.Request) -> web.Response:
    resident = await caller(request)
    q = queried(request, s.MyShiftsQuery)
    total, found = await service.my_signups_page(
        resident.id, now(request), bool(q.history), (q.page - 1) * q.per_page, q.per_page
    )
    items = [
        {
            **service.signup_view(s),
            "shift": service.shift_view(s.shift),
            "activity": {"id": s.shift.activity.id, "title": s.shift.activity.title},
        }
        for s in found
    ]
    return web.json_response(page_of(items, total, q.page, q.per_page))


# --- on site and attendance -----------------------------------------------------------------------


@routes.post("/api/v1/volunteers/checkin")
@doc(
    "签到 or 签退 by the caller's location, with the scanned scene key if there is one",
    tag="volunteers",
    body=s.CheckBody,
    response=s.Checked,
    errors=(403, 409),
)
async def check_in(request: web.Request) -> web.Response:
    """签到 or 签退 by a location, with the site code's current scene key or without.

    A scene key is no proof of presence here (only WeChat's own scan event is): the
    location is always asked for and checked against the activity's radius.
    """
    resident = await caller(request)
    body = parsed(request, s.CheckBody)
    at = now(request)
    if body.scene is not None:
        done = await service.check_by_scene(resident.id, body.scene, at, body.lat, body.lng)
    else:
        found = await service.check_by_location(resident.id, body.lat, body.lng, at)
        if found is None:
            raise Refused("volunteer.error.no_shift_now", 409)
        done = found
    return web.json_response(
        {
            "action": done.action.value,
            "signup_id": done.signup.id,
            "shift_id": done.shift.id,
            "at": done.at.isoformat(),
            "minutes": done.minutes,
            "points": done.points,
            "distance_m": None if done.distance is None else round(done.distance),
        }
    )


@routes.get("/api/v1/volunteers/shifts/{shift}/attendance")
@doc(
    "Who is on a shift and who checked in and out: for its leader and workers",
    tag="volunteers",
    auth=TEAM_LEADERS,
    response=s.Attendance,
    errors=(403,),
    path={"shift": ID_PATH},
)
async def attendance(request: web.Request) -> web.Response:
    who = await require(request, TEAM_LEADERS)
    shift_id = _id(request, "shift", "volunteer.error.shift_not_found")
    shift, rows = await service.attendance(who, shift_id)
    return web.json_response({"shift": service.shift_view(shift), "items": rows})


@routes.post("/api/v1/volunteers/signups/{signup}/no-show")
@doc(
    "Mark a confirmed volunteer who never checked in as a no-show, with a reason",
    tag="volunteers",
    auth=TEAM_LEADERS,
    body=s.ReasonBody,
    response=s.SignUpView,
    errors=(403, 409),
    path={"signup": ID_PATH},
)
async def no_show(request: web.Request) -> web.Response:
    who = await require(request, TEAM_LEADERS)
    signup_id = _id(request, "signup", "volunteer.error.signup_not_found")
    reason = parsed(request, s.ReasonBody).reason
    signup = await service.mark_no_show(who, signup_id, reason, now(request))
    return web.json_response(service.signup_view(signup))


@routes.post("/api/v1/volunteers/signups/{signup}/adjust")
@doc(
    "Correct the minutes a volunteer served, with a reason; points follow the minutes",
    tag="volunteers",
    auth=TEAM_LEADERS,
    body=s.AdjustBody,
    response=s.SignUpView,
    errors=(403, 409),
    path={"signup": ID_PATH},
)
async def adjust(request: web.Request) -> web.Response:
    who = await require(request, TEAM_LEADERS)
    signup_id = _id(request, "signup", "volunteer.error.signup_not_found")
    body = parsed(request, s.AdjustBody)
    signup = await service.adjust(who, signup_id, body.minutes, body.reason, now(request))
    return web.json_response(service.signup_view(signup))


@routes.post("/api/v1/volunteers/signups/{signup}/release")
@doc(
    "A leader gives up a volunteer's place for them (also within 2 hours), with a reason",
    tag="volunteers",
    auth=TEAM_LEADERS,
    body=s.ReasonBody,
    response=s.Cancelled,
    errors=(403, 409),
    path={"signup": ID_PATH},
)
async def release(request: web.Request) -> web.Response:
    """The leader cancels a place for a volunteer (even within the 2-hour window), with a reason."""
    who = await require(request, TEAM_LEADERS)
    signup_id = _id(request, "signup", "volunteer.error.signup_not_found")
    reason = parsed(request, s.ReasonBody).reason
    done = await service.release(who, signup_id, reason, now(request))
    return web.json_response(
        {"shift_id": done.shift.id, "cancelled": done.was.value, "promoted": list(done.promoted)}
    )


# --- points and rewards ---------------------------------------------------------------------------


@routes.get("/api/v1/volunteers/points")
@doc(
    "The caller's points balance and ledger, newest first",
    tag="volunteers",
    query=Paging,
    response=s.PointsPage,
)
async def points(request: web.Request) -> web.Response:
    resident = await caller(request)
    q = queried(request, Paging)
    total, entries = await service.ledger(resident.id, (q.page - 1) * q.per_page, q.per_page)
    listing = page_of([service.entry_view(e) for e in entries], total, q.page, q.per_page)
    return web.json_response({"balance": await service.balance(resident.id), **listing})


@routes.post("/api/v1/volunteers/points")
@doc(
    "Grant a volunteer a bonus (表彰) or correct their points, with a reason",
    tag="volunteers",
    auth=MANAGERS,
    body=s.GrantBody,
    response=s.EntryView,
    status=201,
    errors=(403, 404),
)
async def grant_points(request: web.Request) -> web.Response:
    """A worker's bonus (``kind: bonus``) or correction (``adjusted``), always with a reason."""
    who = await require(request, MANAGERS)
    body = parsed(request, s.GrantBody)
    entry = await service.grant_points(
        who, body.resident_id, body.points, body.reason, body.kind.value, now(request)
    )
    return web.json_response(service.entry_view(entry), status=201)


@routes.get("/api/v1/volunteers/rewards")
@doc(
    "The community's rewards to redeem points for, cheapest first",
    tag="volunteers",
    query=Paging,
    response=s.RewardPage,
)
async def list_rewards(request: web.Request) -> web.Response:
    resident = await caller(request)
    q = queried(request, Paging)
    found = await service.rewards(resident.community_id)
    shown = found[(q.page - 1) * q.per_page : q.page * q.per_page]
    return web.json_response(
        page_of([service.reward_view(r) for r in shown], len(found), q.page, q.per_page)
    )


@routes.post("/api/v1/volunteers/rewards")
@doc(
    "Add a reward to the catalogue",
    tag="volunteers",
    auth=MANAGERS,
    body=s.RewardBody,
    response=s.RewardView,
    status=201,
)
async def create_reward(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    body = parsed(request, s.RewardBody)
    reward = await service.create_reward(who, body.name, body.cost, body.stock, body.description)
    return web.json_response(service.reward_view(reward), status=201)


@routes.post("/api/v1/volunteers/rewards/{reward}")
@doc(
    "Restock a reward or take it off the catalogue",
    tag="volunteers",
    auth=MANAGERS,
    body=s.RewardUpdate,
    response=s.RewardUpdated,
    path={"reward": ID_PATH},
)
async def update_reward(request: web.Request) -> web.Response:
    """Restock (``{"stock": 20}``) or withdraw (``{"active": false}``) a reward; workers only."""
    who = await require(request, MANAGERS)
    reward_id = _id(request, "reward", "volunteer.error.reward_not_found")
    body = parsed(request, s.RewardUpdate)
    reward = await service.update_reward(who, reward_id, stock=body.stock, active=body.active)
    return web.json_response({**service.reward_view(reward), "active": reward.active})


@routes.post("/api/v1/volunteers/rewards/{reward}/redeem")
@doc(
    "积分兑换: spend points on a reward",
    tag="volunteers",
    response=s.Redeemed,
    status=201,
    errors=(403, 409),
    path={"reward": ID_PATH},
)
async def redeem(request: web.Request) -> web.Response:
    resident_id = await caller_id(request)
    reward_id = _id(request, "reward", "volunteer.error.reward_not_found")
    done = await service.redeem(resident_id, reward_id, now(request))
    return web.json_response(
        {
            "redemption_id": done.redemption.id,
            "reward": service.reward_view(done.reward),
            "balance": done.balance,
        },
        status=201,
    )


# --- recognition and records ----------------------------------------------------------------------


@routes.get("/api/v1/volunteers/leaderboard")
@doc(
    "最美志愿者: the month's top volunteers by points earned and hours served",
    tag="volunteers",
    query=s.LeaderboardQuery,
    response=s.Leaderboard,
)
async def leaderboard(request: web.Request) -> web.Response:
    """最美志愿者 of a month (``?month=2026-11``, default this month) in the caller's community."""
    who = await require(request)
    at = queried(request, s.LeaderboardQuery).at(now(request))
    start, _ = rules.month_bounds(at)
    board = await service.leaderboard(who, at)
    return web.json_response({"month": start.strftime("%Y-%m"), "items": board})


@routes.get("/api/v1/volunteers/registration")
@doc(
    "The share of the community's residents registered as volunteers (注册率)",
    tag="volunteers",
    auth=MANAGERS,
    response=s.Registration,
)
async def registration(request: web.Request) -> web.Response:
    """The registration share the plans set targets for; workers only."""
    who = await require(request, MANAGERS)
    return web.json_response(await service.registration(who.community_id))


def _hours_span(request: web.Request) -> tuple[date, date, datetime, datetime]:
    """The local days an hours export covers (``?from=&to=``, this month by default) and
    their [since, until) instants."""
    q = queried(request, s.HoursQuery)
    month_start, month_end = rules.month_bounds(now(request))
    first = q.from_ or month_start.date()
    last = q.to or (month_end - timedelta(days=1)).date()
    if last < first or (last - first).days > HOURS_DAYS:
        raise Refused("api.error.bad_filter", 400, name="to")
    since = datetime.combine(first, datetime.min.time(), LOCAL)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), LOCAL)
    return first, last, since, until


@routes.get("/api/v1/volunteers/hours.csv")
@doc(
    "Hours served per volunteer and shift, as CSV for the records (UTF-8 with a BOM)",
    tag="volunteers",
    auth=MANAGERS,
    query=s.HoursQuery,
    content_type="text/csv",
)
async def hours_csv(request: web.Request) -> web.Response:
    """Hours served per volunteer and shift (``?from=2026-11-01&to=2026-11-30``, local days)."""
    who = await require(request, MANAGERS)
    first, last, since, until = _hours_span(request)
    text = await service.hours_csv(who.community_id, since, until)
    # A byte-order mark, so spreadsheet programs used in community offices read UTF-8.
    return web.Response(
        body=("\ufeff" + text).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="volunteer-hours-{first.isoformat()}-{last.isoformat()}.csv"'
            )
        },
    )


@routes.get("/api/v1/volunteers/hours.xlsx")
@doc(
    "The same hours as the CSV, as an .xlsx sheet with typed dates, times and numbers",
    tag="volunteers",
    auth=MANAGERS,
    query=s.HoursQuery,
    content_type=XLSX,
)
async def hours_xlsx(request: web.Request) -> web.Response:
    """The rows of ``hours.csv``, headings and states in the caller's language."""
    who = await require(request, MANAGERS)
    first, last, since, until = _hours_span(request)
    language = request_language(request)
    translate = deps(request).translate
    body = await service.hours_xlsx(
        who.community_id, since, until, lambda msgid: translate(language, msgid)
    )
    name = f"volunteer-hours-{first.isoformat()}-{last.isoformat()}.xlsx"
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
