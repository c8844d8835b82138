"""``/api/v1/volunteers``: the mini-program's and the workers' side of volunteer service.

The same service functions as the chat. Workers (and team leaders, for their team's
activities) create activities and shifts, see attendance, mark no-shows and adjust
hours; volunteers sign up, check in, see their points and redeem rewards.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from handlers.api import ApiError, body, caller, caller_id, page_of, paging, unstorable
from handlers.openapi import Paging, doc
from handlers.roles import MANAGERS, TEAM_LEADERS
from handlers.volunteers import rules, service
from handlers.volunteers import schemas as s
from handlers.volunteers.rules import LOCAL
from handlers.volunteers.service import ShiftPlan, VolunteerError
from models.volunteers import Activity, TeamMember, VolunteerTeam

routes = web.RouteTableDef()

STATUS_OF_ERROR = {
    "volunteer.error.activity_not_found": 404,
    "volunteer.error.shift_not_found": 404,
    "volunteer.error.signup_not_found": 404,
    "volunteer.error.reward_not_found": 404,
    "volunteer.error.team_not_found": 404,
    "volunteer.error.forbidden": 403,
    "volunteer.error.not_registered": 403,
    "volunteer.error.too_young": 403,
    "volunteer.error.age_unknown": 403,
    "volunteer.error.missing_skills": 403,
    "volunteer.error.not_on_shift": 403,
    "volunteer.error.already_signed_up": 409,
    "volunteer.error.overlap": 409,
    "volunteer.error.shift_started": 409,
    "volunteer.error.too_late_to_cancel": 409,
    "volunteer.error.not_signed_up": 409,
    "volunteer.error.waitlisted": 409,
    "volunteer.error.check_in_early": 409,
    "volunteer.error.check_in_closed": 409,
    "volunteer.error.too_far": 409,
    "volunteer.error.no_shift_now": 409,
    "volunteer.error.out_of_stock": 409,
    "volunteer.error.not_enough_points": 409,
    "volunteer.error.changed_meanwhile": 409,
    "volunteer.error.bad_status": 409,
    "volunteer.error.not_started": 409,
    "volunteer.error.team_exists": 409,
}
NOT_FOUND_OF = {
    "id": "volunteer.error.activity_not_found",
    "shift": "volunteer.error.shift_not_found",
    "signup": "volunteer.error.signup_not_found",
    "reward": "volunteer.error.reward_not_found",
    "team": "volunteer.error.team_not_found",
}


# Numbers the database columns hold; times and days the records can be about.
INT_MAX = 2**31 - 1
MIN_YEAR, MAX_YEAR = 2000, 2999
ID_PATH = {"type": "integer", "minimum": 1, "maximum": 999_999_999}


def _refused(exc: VolunteerError) -> ApiError:
    return ApiError(STATUS_OF_ERROR.get(exc.code, 400), exc.code, **exc.params)


def _now() -> datetime:
    return datetime.now(UTC)


def _id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise ApiError(404, NOT_FOUND_OF[name], id=raw[:12])
    return int(raw)


async def _who(request: web.Request) -> service.Who:
    return await service.who(await caller(request))


async def _worker(request: web.Request) -> service.Who:
    """A community worker or admin; anyone else is refused before the body or the object."""
    who = await _who(request)
    if not who.is_manager:
        raise ApiError(403, "api.error.forbidden")
    return who


async def _staff(request: web.Request) -> service.Who:
    """A worker or a team leader (which activities they lead is checked on the object)."""
    who = await _who(request)
    if not who.leads_a_team:
        raise ApiError(403, "api.error.forbidden")
    return who


async def _body(request: web.Request, optional: bool = False) -> dict[str, Any]:
    if optional and not request.can_read_body:
        return {}
    data = await body(request)
    bad = unstorable(data)
    if bad:
        raise ApiError(400, "api.error.bad_field", name=bad)
    return data


def _int(data: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = data.get(name, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > INT_MAX:
        raise ApiError(400, "api.error.bad_field", name=name)
    return value


def _str(data: dict[str, Any], name: str, default: str = "") -> str:
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ApiError(400, "api.error.bad_field", name=name)
    return value


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false").lower()
    if value not in {"1", "true", "0", "false"}:
        raise ApiError(400, "api.error.bad_filter", name=name)
    return value in {"1", "true"}


def _instant(value: Any, name: str) -> datetime:
    """An ISO 8601 time; without an offset it is read as local (Beijing) time."""
    if not isinstance(value, str):
        raise ApiError(400, "api.error.bad_field", name=name)
    try:
        parsed = datetime.fromisoformat(value)
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL)
        in_utc = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ApiError(400, "api.error.bad_field", name=name) from None
    if not MIN_YEAR <= in_utc.year <= MAX_YEAR:
        raise ApiError(400, "api.error.bad_field", name=name)
    return parsed


def _strings(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "api.error.bad_field", name=name)
    return value


def _plan(data: Any) -> ShiftPlan:
    if not isinstance(data, dict):
        raise ApiError(400, "api.error.bad_field", name="shifts")
    capacity = _int(data, "capacity")
    if capacity is None:
        raise ApiError(400, "api.error.bad_field", name="capacity")
    return ShiftPlan(
        starts_at=_instant(data.get("starts_at"), "starts_at"),
        ends_at=_instant(data.get("ends_at"), "ends_at"),
        capacity=capacity,
        min_age=_int(data, "min_age"),
        skills=tuple(_strings(data, "skills")),
    )


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
        "201 with the same body when the profile is new. The body may be left out."
    ),
)
async def register(request: web.Request) -> web.Response:
    resident = await caller(request)
    data = await _body(request, optional=True)
    try:
        profile, created = await service.register(
            resident, _now(), _strings(data, "skills"), _int(data, "birth_year")
        )
    except VolunteerError as exc:
        raise _refused(exc) from None
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
        raise ApiError(404, "volunteer.error.not_registered")
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
    page, per_page = paging(request)
    query = VolunteerTeam.filter(community_id=resident.community_id)  # type: ignore[attr-defined]
    total = await query.count()
    teams = await query.order_by("id").offset((page - 1) * per_page).limit(per_page)
    items = [
        {"id": t.id, "name": t.name, "category": t.category, "leader_id": t.leader_id}  # type: ignore[attr-defined]
        for t in teams
    ]
    return web.json_response(page_of(items, total, page, per_page))


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
    who = await _worker(request)
    data = await _body(request)
    try:
        team = await service.create_team(
            who, _str(data, "name"), _str(data, "category", "event"), _int(data, "leader_id")
        )
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    try:
        team = await service.join_team(resident, _id(request, "team"))
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    """Open activities with shifts still to come (``?all=1``: every activity)."""
    resident = await caller(request)
    page, per_page = paging(request)
    every = _flag(request, "all")
    now = _now()
    query = Activity.filter(community_id=resident.community_id)  # type: ignore[attr-defined]
    if not every:
        query = query.filter(status="open", shifts__ends_at__gte=now).distinct()
    total = await query.count()
    found = (
        await query.order_by("-id")
        .offset((page - 1) * per_page)
        .limit(per_page)
        .prefetch_related("shifts")
    )
    items = []
    for activity in found:
        shifts = sorted(activity.shifts, key=lambda s: (s.starts_at, s.id))
        items.append(
            {
                **service.activity_view(activity),
                "shifts": [service.shift_view(s) for s in shifts if every or s.ends_at >= now],
            }
        )
    return web.json_response(page_of(items, total, page, per_page))


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
    who = await _staff(request)
    data = await _body(request)
    shifts = data.get("shifts") or []
    if not isinstance(shifts, list):
        raise ApiError(400, "api.error.bad_field", name="shifts")
    try:
        activity = await service.create_activity(
            who,
            _now(),
            title=_str(data, "title"),
            description=_str(data, "description"),
            category=_str(data, "category", "event"),
            place=_str(data, "place"),
            latitude=data.get("lat"),
            longitude=data.get("lng"),
            radius_m=_int(data, "radius_m"),
            team_id=_int(data, "team_id"),
            required_skills=_strings(data, "required_skills"),
            shifts=[_plan(s) for s in shifts],
        )
    except VolunteerError as exc:
        raise _refused(exc) from None
    return web.json_response(await service.activity_detail(activity, who.resident.id), status=201)


@routes.get("/api/v1/volunteers/activities/{id}")
@doc(
    "An activity with all its shifts and the caller's own sign-up on each",
    tag="volunteers",
    response=s.ActivityDetail,
)
async def get_activity(request: web.Request) -> web.Response:
    resident = await caller(request)
    try:
        activity = await service.get_activity(_id(request), resident.community_id)  # type: ignore[attr-defined]
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    who = await _staff(request)
    activity_id = _id(request)
    plan = _plan(await _body(request))
    try:
        shift = await service.add_shift(who, activity_id, plan, _now())
    except VolunteerError as exc:
        raise _refused(exc) from None
    return web.json_response(service.shift_view(shift), status=201)


@routes.get("/api/v1/volunteers/activities/{id}/qr")
@doc(
    "The scene keys of the site's check-in QR codes: the activity's and each shift's",
    tag="volunteers",
    auth=TEAM_LEADERS,
    response=s.QrCodes,
    errors=(403,),
    description=(
        "JSON, not an image: WeChat makes the picture from a scene key with the official "
        "account's credentials, and until that client exists ``image`` is null."
    ),
)
async def qr_codes(request: web.Request) -> web.Response:
    """The scene keys of the site's parametric QR codes: one for the activity, one per shift.

    Scanning either checks a signed-up volunteer in or out. The image itself is made by
    WeChat from a scene key with the official account's credentials (the notices issue's
    WeChat client); until that client exists ``image`` is null and nothing calls WeChat.
    """
    who = await _staff(request)
    try:
        activity = await service.get_activity(_id(request), who.community_id)
    except VolunteerError as exc:
        raise _refused(exc) from None
    if not who.leads(activity.team_id):  # type: ignore[attr-defined]
        raise ApiError(403, "api.error.forbidden")
    shifts = await activity.shifts.all().order_by("starts_at", "id")
    return web.json_response(
        {
            "activity": {"id": activity.id, "scene": rules.scene_key("activity", activity.id)},
            "shifts": [{"id": s.id, "scene": rules.scene_key("shift", s.id)} for s in shifts],
            "image": None,
        }
    )


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
    try:
        done = await service.sign_up(_id(request, "shift"), resident_id, _now())
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    try:
        done = await service.cancel(_id(request, "shift"), resident_id, _now())
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    page, per_page = paging(request)
    history = _flag(request, "history")
    total, found = await service.my_signups_page(
        resident.id, _now(), history, (page - 1) * per_page, per_page
    )
    items = [
        {
            **service.signup_view(s),
            "shift": service.shift_view(s.shift),
            "activity": {"id": s.shift.activity.id, "title": s.shift.activity.title},
        }
        for s in found
    ]
    return web.json_response(page_of(items, total, page, per_page))


# --- on site and attendance -----------------------------------------------------------------------


@routes.post("/api/v1/volunteers/checkin")
@doc(
    "签到 or 签退 by a scanned scene key, or else by the caller's location",
    tag="volunteers",
    body=s.CheckBody,
    response=s.Checked,
    errors=(403, 409),
)
async def check_in(request: web.Request) -> web.Response:
    """签到 or 签退 by a scanned scene key (``{"scene": "shift_3"}``) or a location."""
    resident = await caller(request)
    data = await _body(request)
    now = _now()
    try:
        if data.get("scene") is not None:
            done = await service.check_by_scene(resident.id, _str(data, "scene"), now)
        else:
            lat, lng = data.get("lat"), data.get("lng")
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lng)):
                raise ApiError(400, "api.error.bad_field", name="lat")
            if not (-90 <= lat <= 90 and -180 <= lng <= 180):
                raise ApiError(400, "api.error.bad_field", name="lat")
            found = await service.check_by_location(resident.id, float(lat), float(lng), now)
            if found is None:
                raise ApiError(409, "volunteer.error.no_shift_now")
            done = found
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    who = await _staff(request)
    try:
        shift, rows = await service.attendance(who, _id(request, "shift"))
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    who = await _staff(request)
    signup_id = _id(request, "signup")
    data = await _body(request, optional=True)
    try:
        signup = await service.mark_no_show(who, signup_id, _reason(data), _now())
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    who = await _staff(request)
    signup_id = _id(request, "signup")
    data = await _body(request)
    minutes = _int(data, "minutes")
    if minutes is None:
        raise ApiError(400, "api.error.bad_field", name="minutes")
    try:
        signup = await service.adjust(who, signup_id, minutes, _reason(data), _now())
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    who = await _staff(request)
    signup_id = _id(request, "signup")
    data = await _body(request, optional=True)
    try:
        done = await service.release(who, signup_id, _reason(data), _now())
    except VolunteerError as exc:
        raise _refused(exc) from None
    return web.json_response(
        {"shift_id": done.shift.id, "cancelled": done.was.value, "promoted": list(done.promoted)}
    )


def _reason(data: dict[str, Any]) -> str | None:
    return _str(data, "reason") or None


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
    page, per_page = paging(request)
    total, entries = await service.ledger(resident.id, (page - 1) * per_page, per_page)
    listing = page_of([service.entry_view(e) for e in entries], total, page, per_page)
    return web.json_response({"balance": await service.balance(resident.id), **listing})


@routes.post("/api/v1/volunteers/points")
@doc(
    "Grant a volunteer a bonus (表彰) or correct their points, with a reason",
    tag="volunteers",
    auth=MANAGERS,
    body=s.GrantBody,
    response=s.EntryView,
    status=201,
    errors=(404,),
)
async def grant_points(request: web.Request) -> web.Response:
    """A worker's bonus (``kind: bonus``) or correction (``adjusted``), always with a reason."""
    who = await _worker(request)
    data = await _body(request)
    resident_id, amount = _int(data, "resident_id"), _int(data, "points")
    if resident_id is None or amount is None:
        raise ApiError(400, "api.error.bad_field", name="points")
    try:
        entry = await service.grant_points(
            who, resident_id, amount, _reason(data), _str(data, "kind", "bonus"), _now()
        )
    except VolunteerError as exc:
        if exc.code == "volunteer.error.not_registered":  # the one named, not the caller
            raise ApiError(404, "volunteer.error.not_a_volunteer", id=resident_id) from None
        raise _refused(exc) from None
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
    page, per_page = paging(request)
    found = await service.rewards(resident.community_id)  # type: ignore[attr-defined]
    shown = found[(page - 1) * per_page : page * per_page]
    return web.json_response(
        page_of([service.reward_view(r) for r in shown], len(found), page, per_page)
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
    who = await _worker(request)
    data = await _body(request)
    cost, stock = _int(data, "cost"), _int(data, "stock", 0)
    if cost is None or stock is None:
        raise ApiError(400, "api.error.bad_field", name="cost")
    try:
        reward = await service.create_reward(
            who, _str(data, "name"), cost, stock, _str(data, "description")
        )
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    who = await _worker(request)
    reward_id = _id(request, "reward")
    data = await _body(request)
    active = data.get("active")
    if active is not None and not isinstance(active, bool):
        raise ApiError(400, "api.error.bad_field", name="active")
    try:
        reward = await service.update_reward(
            who, reward_id, stock=_int(data, "stock"), active=active
        )
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    try:
        done = await service.redeem(resident_id, _id(request, "reward"), _now())
    except VolunteerError as exc:
        raise _refused(exc) from None
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
    who = await _who(request)
    resident = who.resident
    month = request.query.get("month")
    try:
        at = _now() if month is None else rules.parse_month(month)
    except ValueError:  # year 0000
        at = None
    if at is None or not MIN_YEAR <= at.year <= MAX_YEAR:
        raise ApiError(400, "api.error.bad_filter", name="month")
    start, _ = rules.month_bounds(at)
    board = await service.leaderboard(resident.community_id, at)  # type: ignore[attr-defined]
    if not who.is_manager:  # an honour roll shows others as 王*明, as posted lists do
        for row in board:
            if row["volunteer"]["id"] != resident.id:
                row["volunteer"]["name"] = _masked(row["volunteer"]["name"])
    return web.json_response({"month": start.strftime("%Y-%m"), "items": board})


def _masked(name: str | None) -> str | None:
    """A name as public lists show it: its first and (from three characters) last kept."""
    if not name:
        return name
    if len(name) < 3:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@routes.get("/api/v1/volunteers/registration")
@doc(
    "The share of the community's residents registered as volunteers (注册率)",
    tag="volunteers",
    auth=MANAGERS,
    response=s.Registration,
)
async def registration(request: web.Request) -> web.Response:
    """The registration share the plans set targets for; workers only."""
    who = await _worker(request)
    return web.json_response(await service.registration(who.community_id))


def _day(value: str | None, name: str, default: date) -> date:
    if value is None:
        return default
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "api.error.bad_filter", name=name) from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ApiError(400, "api.error.bad_filter", name=name)
    return day


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
    who = await _worker(request)
    month_start, month_end = rules.month_bounds(_now())
    first = _day(request.query.get("from"), "from", month_start.date())
    last = _day(request.query.get("to"), "to", (month_end - timedelta(days=1)).date())
    if last < first or (last - first).days > 366:
        raise ApiError(400, "api.error.bad_filter", name="to")
    since = datetime.combine(first, datetime.min.time(), LOCAL)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), LOCAL)
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
