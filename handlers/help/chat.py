"""帮助/菜单/0 always shows the menu; 取消 always leaves a flow ("取消 3" is a volunteer's)."""

from __future__ import annotations

from handlers.router import Router
from handlers.types import NO_REPLY, Context, Event, Reply

router = Router(name="help")

HELP_WORDS = ("帮助", "幫助", "菜单", "菜單", "選單", "目录", "0", "help", "menu", "?", "？")
CANCEL_WORDS = ("取消", "取消吧", "取消了", "算了", "不要了", "退出", "cancel", "quit")


def menu_text(ctx: Context) -> str:
    lines = [ctx.t("menu.title")]
    lines += [ctx.t("menu.item", digit=digit, label=ctx.t(label)) for digit, _, label in ctx.menu]
    lines.append(ctx.t("menu.footer"))
    return "\n".join(lines)


@router.text(*HELP_WORDS, any_state=True)
async def show_menu(event: Event, ctx: Context) -> Reply:
    ctx.leave()
    return Reply(menu_text(ctx))


@router.text(*CANCEL_WORDS, any_state=True, bare=True)
async def cancel(event: Event, ctx: Context) -> Reply:
    was_in_flow = ctx.state is not None
    ctx.leave()
    return Reply(ctx.t("help.cancelled" if was_in_flow else "help.nothing_to_cancel"))


@router.fallback("text", "voice")
async def not_understood(event: Event, ctx: Context) -> Reply:
    if not event.text.strip():
        return Reply(ctx.t("help.voice_unrecognized" if event.kind == "voice" else "help.empty"))
    return Reply(ctx.t("help.not_understood") + "\n\n" + menu_text(ctx))


@router.fallback("image", "video", "shortvideo", "location", "link", "file")
async def media_outside_flow(event: Event, ctx: Context) -> Reply:
    return Reply(ctx.t("help.media_outside_flow"))


# Events WeChat only informs us of. The dispatcher answers them before any lookup: a
# broadcast of 100,000 template messages brings 100,000 templatesendjobfinish pushes.
PASSIVE_EVENTS = frozenset(
    {"view", "view_miniprogram", "templatesendjobfinish", "subscribe_msg_popup_event"}
)


@router.event(*PASSIVE_EVENTS)
async def acknowledge(event: Event, ctx: Context) -> Reply:
    """Events WeChat only informs us of: nothing to say back."""
    return NO_REPLY
