"""Volunteering by chat: register, see activities, sign up, cancel, check in on site, points.

Shift numbers are the shifts' ids, so "报名 3" means the same in the list, on the notice
board and in a neighbour's message. Check-in is a scan of the site's QR code or a sent
location; the same act checks out.
"""

from __future__ import annotations

import re

from handlers.i18n import N_
from handlers.refusal import Refused
from handlers.residents import service as residents
from handlers.router import Router, normalize
from handlers.types import Context, Event, Reply
from handlers.volunteers import rules, service
from handlers.volunteers.rules import ScanAction, SignUpStatus
from handlers.volunteers.service import CheckOutcome

router = Router(name="volunteers")

LIST_LIMIT = 10
LEDGER_LINES = 5
WORDS = re.compile(r"[\s,，、;；]+")
KIND_NAMES = {
    "earned": N_("volunteer.kind.earned"),
    "bonus": N_("volunteer.kind.bonus"),
    "redeemed": N_("volunteer.kind.redeemed"),
    "adjusted": N_("volunteer.kind.adjusted"),
}
MINE_LINES = {
    "confirmed": N_("volunteer.chat.mine_confirmed"),
    "checked_in": N_("volunteer.chat.mine_checked_in"),
    "waitlisted": N_("volunteer.chat.mine_waitlisted"),
}


def _number(text: str) -> int | None:
    text = normalize(text).lstrip("#＃").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def hours(minutes: int) -> str:
    """Minutes as hours for people: 120 → "2", 90 → "1.5", 45 → "0.75"."""
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


# --- registration ---------------------------------------------------------------------------------


@router.text(
    "注册志愿者",
    "註冊志願者",
    "志愿者注册",
    "志願者註冊",
    "成为志愿者",
    "成為志願者",
    "register volunteer",
    "volunteer register",
)
async def register(event: Event, ctx: Context) -> Reply:
    """网上注册: typed words after the command are skills; a four-digit year is the birth year."""
    now = ctx.now()
    skills: list[str] = []
    birth_year = None
    for word in WORDS.split(ctx.args.strip()):
        if word.isascii() and word.isdigit() and len(word) == 4:
            birth_year = int(word)
        elif word:
            skills.append(word)
    # No words after the command keep the skills the profile has.
    profile, created = await service.register(ctx.resident, now, skills or None, birth_year)
    if created:
        return Reply(ctx.t("volunteer.chat.registered"))
    return Reply(
        ctx.t(
            "volunteer.chat.already_registered",
            skills="、".join(profile.skills) or ctx.t("volunteer.chat.no_skills"),
        )
    )


# --- recognition (before the list: "志愿排行" starts with "志愿") -------------------------


@router.text("最美志愿者", "最美志願者", "志愿排行", "志願排行", "leaderboard")
async def leaderboard(event: Event, ctx: Context) -> Reply:
    board = await service.leaderboard(await service.who(ctx.resident), ctx.now())
    if not board:
        return Reply(ctx.t("volunteer.chat.leaderboard_empty"))
    lines = [ctx.t("volunteer.chat.leaderboard_title")]
    for row in board:
        name = row["volunteer"]["name"] or ctx.t(
            "volunteer.chat.anonymous", id=row["volunteer"]["id"]
        )
        lines.append(
            ctx.t(
                "volunteer.chat.leaderboard_line",
                rank=row["rank"],
                name=name,
                points=row["points"],
                hours=f"{row['hours']:g}",
            )
        )
    return Reply("\n".join(lines))


# --- activities and sign-up -----------------------------------------------------------------------


@router.text("志愿", "志願", "volunteer", "volunteers")
@router.menu("volunteer")
async def list_shifts(event: Event, ctx: Context) -> Reply:
    shifts = await service.upcoming(ctx.resident.community_id, ctx.now(), LIST_LIMIT)
    if not shifts:
        return Reply(ctx.t("volunteer.chat.none_upcoming"))
    lines = [ctx.t("volunteer.chat.list_title")]
    for shift in shifts:
        line = ctx.t(
            "volunteer.chat.list_line",
            id=shift.id,
            title=shift.activity.title,
            time=service.when(shift),
            place=shift.activity.place or "-",
            confirmed=shift.confirmed_count,
            capacity=shift.capacity,
        )
        if shift.confirmed_count >= shift.capacity:
            line += ctx.t("volunteer.chat.full")
        lines.append(line)
    if await service.profile_of(ctx.resident.id) is None:
        lines.append(ctx.t("volunteer.chat.register_hint"))
    else:
        lines.append(ctx.t("volunteer.chat.signup_hint"))
    return Reply("\n".join(lines))


@router.text("报名", "報名", "signup", "sign up")
async def sign_up(event: Event, ctx: Context) -> Reply:
    shift_id = _number(ctx.args)
    if shift_id is None:
        return Reply(ctx.t("volunteer.chat.signup_hint"))
    done = await service.sign_up(shift_id, ctx.resident.id, ctx.now())
    if done.status is SignUpStatus.CONFIRMED:
        return Reply(
            ctx.t(
                "volunteer.chat.confirmed",
                title=done.title,
                time=done.when,
                place=done.place or "-",
            )
        )
    return Reply(
        ctx.t("volunteer.chat.waitlisted", title=done.title, time=done.when, position=done.position)
    )


@router.text("我的排班", "my shifts", "myshifts")
async def my_shifts(event: Event, ctx: Context) -> Reply:
    mine = await service.my_signups(ctx.resident.id, ctx.now())
    if not mine:
        return Reply(ctx.t("volunteer.chat.none_mine"))
    lines = [ctx.t("volunteer.chat.mine_title")]
    for signup in mine:
        state = signup.status
        if state == SignUpStatus.CONFIRMED and signup.checked_in_at is not None:
            state = "checked_in"
        params = {
            "id": signup.shift.id,
            "title": signup.shift.activity.title,
            "time": service.when(signup.shift),
        }
        if state == SignUpStatus.WAITLISTED:
            lines.append(ctx.t(MINE_LINES["waitlisted"], position=signup.position, **params))
        else:
            lines.append(ctx.t(MINE_LINES[state], **params))
    hours_before = service.policy().cancel_window.total_seconds() / 3600
    lines.append(ctx.t("volunteer.chat.mine_hint", hours=f"{hours_before:g}"))
    return Reply("\n".join(lines))


@router.text("取消", "cancel", "取消报名", "取消報名")
async def cancel(event: Event, ctx: Context) -> Reply:
    """``取消 3``; a bare 取消 is the help router's (it leaves a flow)."""
    shift_id = _number(ctx.args)
    if shift_id is None:
        return Reply(ctx.t("volunteer.chat.cancel_hint"))
    done = await service.cancel(shift_id, ctx.resident.id, ctx.now())
    return Reply(
        ctx.t(
            "volunteer.chat.cancelled"
            if done.was is SignUpStatus.CONFIRMED
            else "volunteer.chat.left_waitlist",
            title=done.shift.activity.title,
            time=service.when(done.shift),
        )
    )


# --- points and rewards ---------------------------------------------------------------------------


@router.text("积分", "積分", "我的积分", "我的積分", "points")
async def points(event: Event, ctx: Context) -> Reply:
    if await service.profile_of(ctx.resident.id) is None:
        return Reply(ctx.t("volunteer.error.not_registered"))
    balance = await service.balance(ctx.resident.id)
    minutes = await service.total_minutes(ctx.resident.id)
    lines = [ctx.t("volunteer.chat.points", balance=balance, hours=hours(minutes))]
    _, entries = await service.ledger(ctx.resident.id, limit=LEDGER_LINES)
    for entry in entries:
        lines.append(
            ctx.t(
                "volunteer.chat.ledger_line",
                date=entry.at.astimezone(rules.LOCAL).strftime("%m-%d"),
                kind=ctx.t(KIND_NAMES.get(entry.kind, KIND_NAMES["adjusted"])),
                points=f"{entry.points:+d}",
            )
        )
    lines.append(await _reward_list(ctx))
    return Reply("\n".join(lines))


async def _reward_list(ctx: Context) -> str:
    found = await service.rewards(ctx.resident.community_id)
    if not found:
        return ctx.t("volunteer.chat.no_rewards")
    lines = [ctx.t("volunteer.chat.rewards_title")]
    lines += [
        ctx.t(
            "volunteer.chat.reward_line", id=r.id, name=r.name, cost=r.cost, stock=max(r.stock, 0)
        )
        for r in found
    ]
    return "\n".join(lines)


@router.text("兑换", "兌換", "积分兑换", "積分兌換", "redeem")
async def redeem(event: Event, ctx: Context) -> Reply:
    reward_id = _number(ctx.args)
    if reward_id is None:
        return Reply(await _reward_list(ctx))
    done = await service.redeem(ctx.resident.id, reward_id, ctx.now())
    return Reply(
        ctx.t(
            "volunteer.chat.redeemed",
            name=done.reward.name,
            cost=done.reward.cost,
            balance=done.balance,
        )
    )


# --- on site: scans and locations -----------------------------------------------------------------


def describe_check(ctx: Context, done: CheckOutcome) -> str:
    title, time = done.activity.title, service.when(done.shift)
    if done.action is ScanAction.CHECK_IN:
        return ctx.t("volunteer.chat.checked_in", title=title, time=time)
    if done.action is ScanAction.CHECK_OUT:
        return ctx.t(
            "volunteer.chat.checked_out",
            title=title,
            hours=hours(done.minutes or 0),
            points=done.points or 0,
        )
    if done.action is ScanAction.DONE:
        return ctx.t("volunteer.chat.already_out", title=title, hours=hours(done.minutes or 0))
    return ctx.t("volunteer.chat.already_in", title=title, time=service.local_time(done.at))


@router.scene(rules.SHIFT_SCENE)
@router.scene(rules.ACTIVITY_SCENE)
async def scanned_site_code(event: Event, ctx: Context) -> Reply:
    """签到 by the site's parametric QR code; scanning it to follow also welcomes.

    A follower is welcomed whatever the scan says, so a refused check-in is told after
    the welcome here, not by the dispatcher (and, as there, the flow stays put).
    """
    if event.event != "subscribe":
        done = await service.check_by_scene(ctx.resident.id, event.key, ctx.now(), scanned=True)
        return Reply(describe_check(ctx, done))
    await residents.set_active(ctx.resident, True)
    welcome = ctx.t("residents.welcome") + "\n\n"
    try:
        done = await service.check_by_scene(ctx.resident.id, event.key, ctx.now(), scanned=True)
    except Refused as refused:
        ctx.next_state = ctx.state
        return Reply(welcome + ctx.t(refused.code, **refused.params))
    return Reply(welcome + describe_check(ctx, done))


@router.message("location")
async def location_sent(event: Event, ctx: Context) -> Reply:
    """A location at a shift of theirs checks the volunteer in or out; else it is received."""
    where = event.location
    done = None
    if where is not None:
        done = await service.check_by_location(
            ctx.resident.id, where.latitude, where.longitude, ctx.now()
        )
    if done is None:
        return Reply(ctx.t("help.media_outside_flow"))
    return Reply(describe_check(ctx, done))
