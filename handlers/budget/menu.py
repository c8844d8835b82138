"""The menu (项目库): reviewed proposals and departments' projects, costed, then published
with comments before ordering.

Residents see the menu once it is published (公示); before that it is the workers' draft.
A reviewed 民生微实事 proposal brings its title, description, scope and photos; a worker
sets its reviewed cost and who carries it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers.budget import rules
from handlers.budget.rounds import _require, get_round, money_in, staff, still_in
from handlers.budget.rules import Phase
from handlers.proposals.lifecycle import clean_text
from handlers.proposals.rules import Category, Status
from handlers.proposals.scope import check_scope
from handlers.refusal import Refused
from handlers.roles import MANAGERS, Who
from models.audit import record
from models.budget import MenuComment, MenuItem, Round
from models.proposals import Proposal

TITLE_MAX = 100
TEXT_MAX = 2000
RESPONSIBLE_MAX = 100
COMMENT_MAX = 500
PHOTOS_MAX = 9
# A proposal reviewed and published (公示), or approved by its own vote, may go on the menu.
FROM_PROPOSAL = frozenset({Status.PUBLISHED, Status.APPROVED})
PUBLISHED = frozenset(p for p in Phase if p not in rules.MENU_OPEN)


def published(found: Round) -> bool:
    return Phase(found.status) in PUBLISHED


async def visible_round(who: Who, round_id: int) -> Round:
    """The round of the caller's community (every resident may see its fund and menu)."""
    return await get_round(round_id, who.community_id)


def _menu_open(found: Round) -> None:
    if Phase(found.status) not in rules.MENU_OPEN:
        raise Refused("budget.error.menu_fixed", 409)


async def add_item(
    who: Who,
    round_id: int,
    *,
    cost: Any,
    responsible: str,
    proposal_id: int | None = None,
    title: str | None = None,
    description: str | None = None,
    scope: dict[str, Any] | None = None,
    photos: Iterable[str] = (),
) -> MenuItem:
    """A menu item from a reviewed proposal, or a department's project (title required)."""
    _require(who)
    found = await get_round(round_id, who.community_id)
    _menu_open(found)
    amount = money_in(cost, "budget.error.bad_cost")
    responsible = clean_text(responsible, RESPONSIBLE_MAX, "budget.error.bad_responsible")
    media = [str(p) for p in photos]
    if len(media) > PHOTOS_MAX:
        raise Refused("budget.error.too_many_photos", 400, max=PHOTOS_MAX)
    proposal = None
    if proposal_id is not None:
        proposal = await Proposal.get_or_none(id=proposal_id, community_id=who.community_id)
        if proposal is None:
            raise Refused("proposal.error.not_found", 404, id=proposal_id)
        if proposal.category != Category.PROJECT or proposal.status not in FROM_PROPOSAL:
            raise Refused("budget.error.proposal_not_reviewed", 409)
        if await MenuItem.filter(round_id=found.id, proposal_id=proposal.id).exists():
            raise Refused("budget.error.already_on_menu", 409)
    origin = "proposal" if proposal else "department"
    name = clean_text(
        title if title is not None else (proposal.title if proposal else ""),
        TITLE_MAX,
        "budget.error.bad_title",
    )
    text = (
        description if description is not None else (proposal.description if proposal else "")
    ).strip()
    if len(text) > TEXT_MAX:
        raise Refused("budget.error.bad_description", 400, limit=TEXT_MAX)
    area = await check_scope(
        who.community_id,
        scope if scope is not None else (proposal.scope if proposal else {"kind": "community"}),
    )
    kept = list(proposal.photos) if proposal and not media else media
    for _ in range(3):
        try:
            async with in_transaction() as conn:
                await still_in(conn, found.id, rules.MENU_OPEN, "budget.error.menu_fixed")
                top = (
                    await MenuItem.filter(round_id=found.id)
                    .using_db(conn)
                    .order_by("-number")
                    .first()
                )
                number = (top.number if top else 0) + 1
                item = await MenuItem.create(
                    round_id=found.id,
                    number=number,
                    title=name,
                    description=text,
                    cost=amount,
                    responsible=responsible,
                    scope=area,
                    photos=kept,
                    origin=origin,
                    proposal_id=proposal.id if proposal else None,
                    using_db=conn,
                )
                if media:
                    from handlers.media import service as media_service

                    await media_service.attach(media, who, "menu_item", item.id, conn=conn)
                await record(
                    who.name,
                    "budget.item_added",
                    "budget_round",
                    found.id,
                    after={
                        "number": number,
                        "cost": str(amount),
                        "origin": origin,
                        "proposal": proposal_id,
                    },
                    using_db=conn,
                )
            return item
        except IntegrityError:
            continue  # another item took the number meanwhile: take the next
    raise Refused("budget.error.changed_meanwhile", 409)


async def item_of(found: Round, number: int, conn: Any = None) -> MenuItem:
    item = await MenuItem.filter(round_id=found.id, number=number).using_db(conn).first()
    if item is None:
        raise Refused("budget.error.no_item", 404, number=number)
    return item


async def update_item(
    who: Who,
    round_id: int,
    number: int,
    *,
    cost: Any = None,
    responsible: str | None = None,
    title: str | None = None,
    description: str | None = None,
) -> MenuItem:
    """Review and costing (评议与测算): change an item until the menu is published."""
    _require(who)
    found = await get_round(round_id, who.community_id)
    _menu_open(found)
    item = await item_of(found, number)
    if item.status != "listed":
        raise Refused("budget.error.item_withdrawn", 409)
    before = {"cost": str(item.cost), "responsible": item.responsible, "title": item.title}
    if cost is not None:
        item.cost = money_in(cost, "budget.error.bad_cost")
    if responsible is not None:
        item.responsible = clean_text(responsible, RESPONSIBLE_MAX, "budget.error.bad_responsible")
    if title is not None:
        item.title = clean_text(title, TITLE_MAX, "budget.error.bad_title")
    if description is not None:
        if len(description.strip()) > TEXT_MAX:
            raise Refused("budget.error.bad_description", 400, limit=TEXT_MAX)
        item.description = description.strip()
    async with in_transaction() as conn:
        await still_in(conn, found.id, rules.MENU_OPEN, "budget.error.menu_fixed")
        await item.save(using_db=conn)
        await record(
            who.name,
            "budget.item_changed",
            "budget_round",
            found.id,
            before={"number": number, **before},
            after={
                "number": number,
                "cost": str(item.cost),
                "responsible": item.responsible,
                "title": item.title,
            },
            using_db=conn,
        )
    return item


async def withdraw_item(who: Who, round_id: int, number: int, reason: str) -> MenuItem:
    """Take an item off the menu before publication, with the reason (kept, not deleted)."""
    _require(who)
    reason = clean_text(reason, COMMENT_MAX, "budget.error.reason_required")
    found = await get_round(round_id, who.community_id)
    _menu_open(found)
    item = await item_of(found, number)
    if item.status != "listed":
        raise Refused("budget.error.item_withdrawn", 409)
    async with in_transaction() as conn:
        await still_in(conn, found.id, rules.MENU_OPEN, "budget.error.menu_fixed")
        await MenuItem.filter(id=item.id, status="listed").using_db(conn).update(status="withdrawn")
        item.status = "withdrawn"
        await record(
            who.name,
            "budget.item_withdrawn",
            "budget_round",
            found.id,
            after={"number": number, "reason": reason},
            using_db=conn,
        )
    return item


async def listed_items(found: Round, conn: Any = None) -> list[MenuItem]:
    """The items that may be ordered (listed) or were, once the result is in (funded …)."""
    return (
        await MenuItem.filter(round_id=found.id)
        .exclude(status="withdrawn")
        .using_db(conn)
        .order_by("number")
    )


async def menu(who: Who, round_id: int) -> tuple[Round, list[MenuItem]]:
    """The menu the caller may see: staff always, residents once it is published."""
    found = await visible_round(who, round_id)
    if not published(found) and not staff(who):
        return found, []
    if staff(who):
        items = await MenuItem.filter(round_id=found.id).order_by("number")
    else:
        items = await listed_items(found)
    return found, list(items)


def as_items(items: Iterable[MenuItem]) -> dict[int, rules.Item]:
    """The rules' view of the menu, by menu number."""
    return {i.number: rules.Item(i.id, i.number, Decimal(i.cost)) for i in items}


# --- comments during publicity ----------------------------------------------------


async def comment(who: Who, round_id: int, number: int, text: str) -> MenuComment:
    """A verified resident's comment on an item while the menu is published (公示)."""
    if not who.resident.verified and not who.has(MANAGERS):
        raise Refused("proposal.error.not_verified", 403)
    text = clean_text(text, COMMENT_MAX, "budget.error.bad_comment")
    found = await visible_round(who, round_id)
    if Phase(found.status) != Phase.PUBLICITY:
        raise Refused("budget.error.not_publicity", 409)
    item = await item_of(found, number)
    if item.status == "withdrawn":
        raise Refused("budget.error.no_item", 404, number=number)
    async with in_transaction() as conn:
        made = await MenuComment.create(
            item_id=item.id, resident_id=who.id, text=text, using_db=conn
        )
        await record(
            who.name,
            "budget.commented",
            "budget_round",
            found.id,
            after={"number": number, "comment": made.id},
            using_db=conn,
        )
    return made


async def comments(who: Who, round_id: int, number: int) -> list[dict[str, Any]]:
    """An item's comments: residents see the shown ones, managers also the hidden with the
    reason. Never who wrote them (a resident's name is theirs)."""
    found = await visible_round(who, round_id)
    if not published(found) and not staff(who):
        raise Refused("budget.error.no_item", 404, number=number)
    item = await item_of(found, number)
    rows = (
        await MenuComment.filter(item_id=item.id)
        .order_by("id")
        .values("id", "text", "hidden_reason", "created_at", "resident_id")
    )
    out = []
    for row in rows:
        hidden = row["hidden_reason"] is not None
        if hidden and not who.has(MANAGERS):
            continue
        out.append(
            {
                "id": row["id"],
                "text": row["text"],
                "created_at": row["created_at"],
                "hidden_reason": row["hidden_reason"],
                "mine": row["resident_id"] == who.id,
            }
        )
    return out


async def hide_comment(
    who: Who, round_id: int, comment_id: int, reason: str, now: datetime
) -> None:
    """Managers hide a comment with a reason; it stays on record."""
    _require(who)
    reason = clean_text(reason, COMMENT_MAX, "budget.error.reason_required")
    found = await visible_round(who, round_id)
    # An update cannot filter through a join: the comment is found first, then updated.
    mine = await MenuComment.filter(id=comment_id, item__round_id=found.id).values_list(
        "id", flat=True
    )
    if not mine:
        raise Refused("budget.error.no_comment", 404)
    await MenuComment.filter(id=comment_id).update(hidden_reason=reason)
    await record(
        who.name,
        "budget.comment_hidden",
        "budget_round",
        found.id,
        after={"comment": comment_id, "reason": reason},
    )
