"""Who sees the photos attached to a round's records (handlers.media asks).

A menu item's photos and a spending's receipts are public to the community, as the menu
and the accounts are (资金公开); a paper ballot's photo is the console staff's and the
household's own, as a door-to-door form is.
"""

from __future__ import annotations

from handlers.roles import CONSOLE, Who
from models.budget import BallotVisit, MenuItem, Spending


def _id(subject_id: str) -> int | None:
    return int(subject_id) if subject_id.isdigit() and len(subject_id) < 10 else None


async def sees_item(who: Who, subject_id: str) -> bool:
    from handlers.budget.menu import published

    item_id = _id(subject_id)
    if item_id is None:
        return False
    item = await MenuItem.get_or_none(id=item_id, round__community_id=who.community_id)
    if item is None:
        return False
    return who.has(CONSOLE) or published(await item.round)


async def sees_spending(who: Who, subject_id: str) -> bool:
    spending_id = _id(subject_id)
    return (
        spending_id is not None
        and await Spending.filter(
            id=spending_id, item__round__community_id=who.community_id
        ).exists()
    )


async def sees_ballot(who: Who, subject_id: str) -> bool:
    visit_id = _id(subject_id)
    if visit_id is None:
        return False
    visit = await BallotVisit.get_or_none(id=visit_id, round__community_id=who.community_id)
    if visit is None:
        return False
    return who.has(CONSOLE) or (
        who.resident.household_id is not None and who.resident.household_id == visit.household_id
    )


def register_all() -> None:
    from handlers.media.visibility import register

    register("menu_item", sees_item)
    register("spending", sees_spending)
    register("ballot", sees_ballot)
