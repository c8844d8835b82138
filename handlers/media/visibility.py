"""Who may see an attached upload: whoever may see the record it is attached to.

Each kind of record (``Media.subject``) has one question here, asked with the person and
the record's id; the answer is the owning capability's own rule, so a photo is never more
visible than the ticket, proposal or visit it documents. A subject nobody registered is
seen by nobody. Every question also keeps to the person's own community.

The capabilities are imported when asked, not at the top: they call ``attach`` from
``handlers.media.service``, and importing them here first would make a cycle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers.refusal import Refused
from handlers.roles import CONSOLE, Who

Sees = Callable[[Who, str], Awaitable[bool]]


def _id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 9 else None


async def sees_ticket(who: Who, subject_id: str) -> bool:
    """The reporter, and the staff the ticket is for (its department's handlers, its grid's
    workers, the managers): the complaints capability's own rule."""
    from handlers.complaints.service import sees
    from models.complaints import Ticket

    ticket_id = _id(subject_id)
    if ticket_id is None:
        return False
    ticket = await Ticket.get_or_none(id=ticket_id, community_id=who.community_id)
    if ticket is None:
        return False
    return ticket.reporter_id == who.id or sees(who, ticket)


async def sees_proposal(who: Who, subject_id: str) -> bool:
    """Whoever may see the proposal (public once published; before, its proposer and the
    managers)."""
    from handlers.proposals.visibility import get_visible

    proposal_id = _id(subject_id)
    if proposal_id is None:
        return False
    try:
        await get_visible(proposal_id, who)
    except Refused:
        return False
    return True


async def sees_visit(who: Who, subject_id: str) -> bool:
    """A door-to-door visit's photos (a signed paper form): the community's console staff,
    and the residents bound to the household that was visited."""
    from models.canvass import Visit

    visit_id = _id(subject_id)
    if visit_id is None:
        return False
    visit = await Visit.get_or_none(id=visit_id, proposal__community_id=who.community_id)
    if visit is None:
        return False
    if who.has(CONSOLE):
        return True
    resident = who.resident
    return resident.verified and resident.household_id == visit.household_id


SEES: dict[str, Sees] = {
    "ticket": sees_ticket,
    "proposal": sees_proposal,
    "visit": sees_visit,
}


def register(subject: str, sees: Sees) -> None:
    """Let another capability say who may see the uploads attached to its records."""
    SEES[subject] = sees


async def may_see(who: Who, subject: str, subject_id: str) -> bool:
    rule = SEES.get(subject)
    return rule is not None and await rule(who, subject_id)
