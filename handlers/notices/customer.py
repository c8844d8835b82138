"""Customer groups (客户群): the WeCom groups of residents a notice reaches by mass sending.

Workers register each group of their community with WeCom's chat id, its owner (群主,
the worker's WeCom userid, who confirms each task) and the buildings or grids it serves,
as they do a robot's group. The sending and the polling are the transport's
(``bot.deliver_groups``); this module keeps the groups and tells how each one fared.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from handlers.notices import rules
from handlers.refusal import Refused
from handlers.roles import Who
from models.notices import CustomerGroup, GroupDelivery

# A customer group speaks for places or for everyone, never for named people or roles.
GROUP_SCOPES = ("community", "volunteers", "grids", "buildings")


def _require_sender(who: Who) -> None:
    if not who.is_manager:
        raise Refused("notice.error.forbidden", 403)


def _word(text: str, limit: int, code: str) -> str:
    word = text.strip()
    if not word or len(word) > limit or any(c.isspace() for c in word):
        raise Refused(code)
    return word


async def register(
    who: Who, chat_id: str, name: str, owner: str, scope: Mapping[str, Any]
) -> CustomerGroup:
    """A customer group of the community and the scope it serves; re-registering its chat
    id updates it (a new owner, another name or scope) and makes it active again."""
    from handlers.notices.service import clean_scope

    _require_sender(who)
    chat = _word(chat_id, rules.MAX_CHAT_ID, "notices.customer_group.error.bad_chat_id")
    userid = _word(owner, rules.MAX_USERID, "notices.customer_group.error.bad_owner")
    title = name.strip()
    if not title or len(title) > rules.MAX_GROUP_NAME:
        raise Refused("notice.error.bad_text", limit=rules.MAX_GROUP_NAME)
    clean = await clean_scope(who.community_id, scope)
    if clean["kind"] not in GROUP_SCOPES:
        raise Refused("notice.error.bad_scope")
    group, created = await CustomerGroup.get_or_create(
        community_id=who.community_id,
        chat_id=chat,
        defaults={"name": title, "owner": userid, "scope": clean},
    )
    if not created:
        group.name, group.owner, group.scope, group.active = title, userid, clean, True
        await group.save(update_fields=["name", "owner", "scope", "active"])
    return group


def view(group: CustomerGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "chat_id": group.chat_id,
        "name": group.name,
        "owner": group.owner,
        "scope": group.scope,
        "active": group.active,
    }


async def list_groups(who: Who, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """The community's customer groups, oldest first."""
    _require_sender(who)
    query = CustomerGroup.filter(community_id=who.community_id)
    total = await query.count()
    found = await query.order_by("id").offset((page - 1) * per_page).limit(per_page)
    return [view(g) for g in found], total


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


async def deliveries(notice_id: int) -> list[dict[str, Any]]:
    """How the notice fared in each customer group: its status and when each step was."""
    rows = await GroupDelivery.filter(notice_id=notice_id).order_by("id").prefetch_related("group")
    return [
        {
            "group_id": r.group_id,
            "name": r.group.name,
            "status": r.status,
            "failure": r.failure,
            "submitted_at": _iso(r.submitted_at),
            "confirmed_at": _iso(r.confirmed_at),
            "sent_at": _iso(r.sent_at),
        }
        for r in rows
    ]
