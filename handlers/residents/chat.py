"""Conversation for following, binding a household, language and personal data."""

from __future__ import annotations

from handlers.help.chat import menu_text
from handlers.i18n import LANGUAGES, N_
from handlers.residents import accounts, service
from handlers.residents.rules import CodeStatus, mask
from handlers.router import Router, normalize
from handlers.types import NO_REPLY, Context, Event, Reply
from models.residents import Role

router = Router(name="residents")

BIND_STATE = "residents.bind"
LANGUAGE_STATE = "residents.language"
ERASE_STATE = "residents.erase"
QR_CONFIRM_STATE = "residents.qr_confirm"
BIND_SCENE = "bind_"

LANGUAGE_CHOICES = {
    "1": "zh_Hans",
    "简体": "zh_Hans",
    "简体中文": "zh_Hans",
    "zh_hans": "zh_Hans",
    "2": "zh_Hant",
    "繁体": "zh_Hant",
    "繁體": "zh_Hant",
    "繁體中文": "zh_Hant",
    "zh_hant": "zh_Hant",
    "3": "en",
    "english": "en",
    "en": "en",
    "英文": "en",
}
BIND_ANSWERS = {
    CodeStatus.UNKNOWN: N_("bind.unknown"),
    CodeStatus.USED: N_("bind.used"),
    CodeStatus.EXPIRED: N_("bind.expired"),
    CodeStatus.MALFORMED: N_("bind.malformed"),
}
ROLE_NAMES = {
    Role.RESIDENT: N_("role.resident"),
    Role.VOLUNTEER: N_("role.volunteer"),
    Role.GRID_WORKER: N_("role.grid_worker"),
    Role.COMMUNITY_WORKER: N_("role.community_worker"),
    Role.ADMIN: N_("role.admin"),
    Role.HANDLER: N_("role.handler"),
}
LANGUAGE_NAMES = {
    "zh_Hans": N_("language.name.zh_Hans"),
    "zh_Hant": N_("language.name.zh_Hant"),
    "en": N_("language.name.en"),
}
QR_LOGIN_ANSWERS = {
    "ok": N_("auth.qr.signed_in"),
    "not_worker": N_("auth.qr.not_worker"),
    "expired": N_("auth.qr.expired"),
}
QR_YES = frozenset({"1", "确认", "確認", "yes", "y", "confirm"})
YES = frozenset({"1", "确认", "確認", "确认删除", "確認刪除", "是", "yes", "y", "confirm"})


@router.event("subscribe")
async def subscribed(event: Event, ctx: Context) -> Reply:
    await service.set_active(ctx.resident, True)
    welcome = ctx.t("residents.welcome")
    if event.key.startswith(BIND_SCENE):
        return Reply(welcome + "\n\n" + await _bind(ctx, event.key[len(BIND_SCENE) :]))
    return Reply(welcome + "\n\n" + menu_text(ctx))


@router.event("unsubscribe")
async def unsubscribed(event: Event, ctx: Context) -> Reply:
    await service.set_active(ctx.resident, False)
    ctx.leave()
    return NO_REPLY


@router.scene(accounts.LOGIN_QR_SCENE)
async def scanned_console_login(event: Event, ctx: Context) -> Reply:
    """A worker scanned a console's login QR code: nothing is released until they confirm,
    having read where the sign-in came from (a code someone else showed them is not theirs)."""
    ticket = event.key[len(accounts.LOGIN_QR_SCENE) :]
    scan = await accounts.scan_qr_login(ctx.store, ticket, ctx.resident)
    if scan.outcome != "confirm":
        return Reply(ctx.t(QR_LOGIN_ANSWERS[scan.outcome]))
    ctx.enter(QR_CONFIRM_STATE, ticket=ticket)
    device = scan.device or ctx.t("auth.qr.unknown_device")
    return Reply(ctx.t("auth.qr.confirm", address=scan.address or "*", device=device))


@router.state(QR_CONFIRM_STATE)
async def console_login_answered(event: Event, ctx: Context) -> Reply:
    ctx.leave()
    ticket = str(ctx.state_data.get("ticket", ""))
    if normalize(event.text) not in QR_YES:
        await accounts.cancel_qr_login(ctx.store, ticket, ctx.resident)
        return Reply(ctx.t("auth.qr.cancelled"))
    outcome = await accounts.confirm_qr_login(ctx.store, ticket, ctx.resident)
    return Reply(ctx.t(QR_LOGIN_ANSWERS[outcome]))


@router.scene(BIND_SCENE)
async def scanned_household_code(event: Event, ctx: Context) -> Reply:
    return Reply(await _bind(ctx, ctx.args))


@router.text("绑定", "綁定", "bind")
@router.menu("bind")
async def start_binding(event: Event, ctx: Context) -> Reply:
    if ctx.args:
        return Reply(await _bind(ctx, ctx.args))
    ctx.enter(BIND_STATE)
    return Reply(ctx.t("bind.prompt"))


@router.state(BIND_STATE)
async def binding_code_typed(event: Event, ctx: Context) -> Reply:
    text = await _bind(ctx, event.text)
    return Reply(text)


async def _bind(ctx: Context, typed: str) -> str:
    limit = ctx.settings.binding_failures_per_10min if ctx.settings else 5
    outcome = await service.bind_guarded(ctx.store, ctx.resident, typed, ctx.now(), limit)
    if outcome is None:
        ctx.leave()
        return ctx.t("bind.locked")
    if outcome.status is CodeStatus.OK:
        ctx.leave()
        label = await service.household_label(outcome.household.id if outcome.household else None)
        return ctx.t("bind.ok", household=label)
    if ctx.state is not None or ctx.next_state is not None:
        ctx.enter(BIND_STATE)
    return ctx.t(BIND_ANSWERS[outcome.status])


@router.text("语言", "語言", "language", "lang")
@router.menu("language")
async def choose_language(event: Event, ctx: Context) -> Reply:
    if ctx.args:
        return Reply(await _set_language(ctx, ctx.args))
    ctx.enter(LANGUAGE_STATE)
    return Reply(ctx.t("language.prompt"))


@router.state(LANGUAGE_STATE)
async def language_typed(event: Event, ctx: Context) -> Reply:
    return Reply(await _set_language(ctx, event.text))


async def _set_language(ctx: Context, typed: str) -> str:
    language = LANGUAGE_CHOICES.get(normalize(typed))
    if language not in LANGUAGES:
        ctx.enter(LANGUAGE_STATE)
        return ctx.t("language.unknown") + "\n" + ctx.t("language.prompt")
    await service.set_language(ctx.resident, language)
    ctx.language = language
    ctx.leave()
    return ctx.t("language.ok")


@router.text("我的信息", "我的資訊", "我的资料", "我的資料", "my data", "mydata")
@router.menu("my_data")
async def my_data(event: Event, ctx: Context) -> Reply:
    resident = ctx.resident
    household = await service.household_label(resident.household_id)
    roles = await service.roles_of(resident)
    phone = (
        "\n\n" + ctx.t("residents.phone.my_data", phone=accounts.mask_phone(resident.phone))
        if resident.phone
        else ""
    )
    return Reply(
        ctx.t(
            "residents.my_data",
            openid=mask(resident.openid or ""),
            household=household or ctx.t("residents.not_bound"),
            verified=ctx.t("common.yes" if resident.verified else "common.no"),
            roles="、".join(ctx.t(ROLE_NAMES[r]) for r in roles)
            or ctx.t(ROLE_NAMES[Role.RESIDENT]),
            language=ctx.t(LANGUAGE_NAMES.get(resident.language, LANGUAGE_NAMES["zh_Hans"])),
            since=resident.created_at.strftime("%Y-%m-%d"),
        )
        + phone
    )


@router.text("删除我的信息", "刪除我的資訊", "删除信息", "delete my data", "delete me")
@router.menu("delete_me")
async def ask_erase(event: Event, ctx: Context) -> Reply:
    ctx.enter(ERASE_STATE)
    return Reply(ctx.t("erase.confirm"))


@router.state(ERASE_STATE)
async def erase_confirmed(event: Event, ctx: Context) -> Reply:
    ctx.leave()
    if normalize(event.text) not in YES:
        return Reply(ctx.t("erase.kept"))
    await service.erase(ctx.resident, ctx.now())
    return Reply(ctx.t("erase.done"))
