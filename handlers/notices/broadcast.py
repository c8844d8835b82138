"""Workers broadcast from WeCom: "通知 3号楼 明天9点到12点停水", a preview, then 确认.

Plain text in, text out: the transport (``bot.wecom``) decrypts and identifies the
worker, this module decides. The pending broadcast waits in the shared store, one
per worker, for ten minutes; 确认 creates the notice through ``service`` and expands
it to its deliveries (the delivery job sends them), 取消 drops it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from handlers.i18n import N_, language_of
from handlers.notices import rules, service
from handlers.refusal import Refused
from handlers.roles import Who, who_of
from handlers.types import KeyValueStore
from models.community import Building, Grid
from models.notices import Notice
from models.residents import Resident

PENDING_TTL_SECONDS = 600
COMMAND = "通知"
CONFIRM = frozenset({"确认", "確認", "confirm", "yes"})
PROGRESS = frozenset({"进度", "進度", "progress"})
CANCEL = frozenset({"取消", "cancel", "no"})
COMMUNITY_WORDS = frozenset({"全社区", "全社區", "全体", "全體", "全部"})
CHANNELS = list(rules.CHANNELS)

Translate = Callable[..., str]

MESSAGES = (
    N_("broadcast.not_linked"),
    N_("broadcast.forbidden"),
    N_("broadcast.usage"),
    N_("broadcast.unknown_scope"),
    N_("broadcast.too_long"),
    N_("broadcast.preview"),
    N_("broadcast.nothing_pending"),
    N_("broadcast.cancelled"),
    N_("broadcast.sent"),
    N_("broadcast.title"),
    N_("broadcast.community"),
)


def pending_key(sender: str) -> str:
    """The store key of a worker's broadcast awaiting 确认; ``sender`` names the worker."""
    return f"notice:broadcast:{sender}"


def split_command(text: str) -> tuple[str, str] | None:
    """``"通知 3号楼 明天停水"`` → ``("3号楼", "明天停水")``; ``None`` if not a 通知 command."""
    text = text.strip()
    if not text.startswith(COMMAND):
        return None
    parts = text[len(COMMAND) :].strip().split(maxsplit=1)
    if len(parts) < 2:
        return "", ""
    return parts[0], parts[1].strip()


async def resolve_scope(community_id: int, word: str) -> dict[str, Any] | None:
    """A scope word → a notice scope: 全社区/全体, a building name or a grid name."""
    if word in COMMUNITY_WORDS:
        return {"kind": "community", "ids": []}
    building = await Building.get_or_none(community_id=community_id, name=word)
    if building is not None:
        return {"kind": "buildings", "ids": [building.id]}
    grid = await Grid.get_or_none(community_id=community_id, name=word)
    if grid is not None:
        return {"kind": "grids", "ids": [grid.id]}
    return None


async def _scope_names(community_id: int) -> str:
    names = await Building.filter(community_id=community_id).order_by("id").limit(3)
    return "、".join(b.name for b in names)


async def handle(
    store: KeyValueStore,
    translate: Translate,
    sender: str,
    resident: Resident | None,
    text: str,
    now: datetime,
    *,
    needs_approval: bool = False,
) -> str:
    """The reply to one text message of the worker ``sender`` (linked to ``resident``)."""
    language = language_of(resident.language if resident is not None else None)

    def t(msgid: str, **params: Any) -> str:
        return translate(language, msgid, **params)

    if resident is None:
        return t("broadcast.not_linked")
    who = await who_of(resident)
    if not who.is_manager:
        return t("broadcast.forbidden")
    community_id = who.community_id
    word = text.strip()
    key = pending_key(sender)
    if word in CONFIRM:
        return await _confirm(store, t, key, who, now, needs_approval)
    if word in CANCEL:
        if await store.get(key) is None:
            return t("broadcast.nothing_pending")
        await store.delete(key)
        return t("broadcast.cancelled")
    head, _, rest = word.partition(" ")
    if head in PROGRESS and rest.strip().isdigit():
        return await _progress(t, who, int(rest.strip()))
    command = split_command(word)
    if command is None or not command[1]:
        return t("broadcast.usage")
    scope_word, body = command
    scope = await resolve_scope(community_id, scope_word)
    if scope is None:
        return t(
            "broadcast.unknown_scope",
            scope=scope_word,
            examples=await _scope_names(community_id),
        )
    if len(body) > rules.MAX_BODY:
        return t("broadcast.too_long", limit=rules.MAX_BODY)
    scope_name = t("broadcast.community") if scope["kind"] == "community" else scope_word
    title = t("broadcast.title", scope=scope_name)[: rules.MAX_TITLE]
    draft = Notice(
        community_id=community_id, title=title, body=body, scope=scope, channels=CHANNELS
    )
    found = await service.recipients(draft)
    pending = {"resident_id": resident.id, "title": title, "body": body, "scope": scope}
    await store.set(key, json.dumps(pending, ensure_ascii=False), ttl=PENDING_TTL_SECONDS)
    return t(
        "broadcast.preview",
        residents=len(found.residents),
        groups=len(found.groups) + len(found.customer_groups),
        title=title,
        body=body,
    )


async def _progress(t: Translate, who: Who, notice_id: int) -> str:
    """ "进度 12": how far the worker's notice has got, as the API shows it."""
    try:
        notice = await service.visible_notice(who, notice_id)
    except Refused:
        return t("broadcast.no_such_notice", id=notice_id)
    counts = rules.progress(await service.counts(notice.id))
    return t(
        "broadcast.progress",
        id=notice.id,
        title=notice.title,
        sent=counts["sent"],
        failed=counts["failed"],
        pending=counts["pending"],
        unknown=counts["unknown"],
    )


async def _confirm(
    store: KeyValueStore,
    t: Translate,
    key: str,
    who: Who,
    now: datetime,
    needs_approval: bool = False,
) -> str:
    """Create and expand the pending broadcast, once even if 确认 arrives twice."""
    async with store.lock(f"{key}:lock"):
        raw = await store.get(key)
        if raw is None:
            return t("broadcast.nothing_pending")
        pending = json.loads(raw)
        if pending.get("resident_id") != who.id:
            await store.delete(key)
            return t("broadcast.nothing_pending")
        try:
            notice = await service.create(
                who,
                now,
                title=pending["title"],
                body=pending["body"],
                scope=pending["scope"],
                channels=CHANNELS,
                needs_approval=needs_approval,
            )
        except Refused as error:
            await store.delete(key)
            if error.status == 403:
                return t("broadcast.forbidden")
            return t("broadcast.usage")
        await store.delete(key)
    if notice.status == "pending_approval":
        return t("broadcast.pending_approval", id=notice.id)
    await service.expand(notice.id, now)
    progress = rules.progress(await service.counts(notice.id))
    return t("broadcast.sent", id=notice.id, title=notice.title, total=progress["total"])
