"""After the vote: households of the scope rate the completed work, once each."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from handlers.proposals.lifecycle import TEXT_MAX, move
from handlers.proposals.rules import Status
from handlers.proposals.scope import in_scope
from handlers.proposals.visibility import get_visible
from handlers.refusal import Refused
from handlers.roles import Who
from models.audit import record
from models.proposals import Proposal, Rating


async def rate(proposal_id: int, who: Who, stars: int, text: str = "") -> Proposal:
    """A household's 1-5 stars (and a comment, cut at ``TEXT_MAX``); a new rating replaces it."""
    resident = who.resident
    if not 1 <= stars <= 5:
        raise Refused("proposal.error.bad_stars", 400)
    if not resident.verified or resident.household_id is None:
        raise Refused("proposal.error.not_verified", 403)
    proposal = await get_visible(proposal_id, who)
    if not await in_scope(proposal, resident.household_id):
        raise Refused("proposal.error.out_of_scope", 403)
    text = (text or "").strip()[:TEXT_MAX]
    async with in_transaction() as conn:
        await Proposal.filter(id=proposal.id).using_db(conn).select_for_update().first()
        fresh = await Proposal.get(id=proposal.id, using_db=conn)
        if fresh.status not in {Status.COMPLETED, Status.RATED}:
            raise Refused("proposal.error.not_completed", 409)
        previous = await Rating.get_or_none(
            proposal_id=proposal.id, household_id=resident.household_id, using_db=conn
        )
        if previous is None:
            await Rating.create(
                proposal_id=proposal.id,
                household_id=resident.household_id,
                stars=stars,
                comment=text,
                using_db=conn,
            )
            fresh.rating_count += 1
            fresh.rating_sum += stars
        else:
            fresh.rating_sum += stars - previous.stars
            previous.stars, previous.comment = stars, text
            await previous.save(using_db=conn)
        await fresh.save(update_fields=["rating_sum", "rating_count"], using_db=conn)
        if fresh.status == Status.COMPLETED:
            await move(fresh, "rate", who, conn)
        await record(
            who.name,
            "proposal.rated",
            "proposal",
            proposal.id,
            after={"stars": stars},
            using_db=conn,
        )
    return fresh
