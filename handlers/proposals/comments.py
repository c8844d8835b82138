"""Comments during publicity (公示), and their moderation with a reason shown in place."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from handlers.proposals.lifecycle import TEXT_MAX, clean_text
from handlers.proposals.rules import Status
from handlers.proposals.scope import in_scope
from handlers.proposals.visibility import get_visible
from handlers.refusal import Refused
from handlers.roles import Who
from models.audit import record
from models.proposals import Comment


async def comment(proposal_id: int, who: Who, text: str) -> Comment:
    """Verified residents of the scope, and workers, comment while the proposal is public."""
    proposal = await get_visible(proposal_id, who)
    if proposal.status != Status.PUBLISHED:
        raise Refused("proposal.error.not_in_publicity", 409)
    if not who.is_manager:
        if not who.resident.verified:
            raise Refused("proposal.error.not_verified", 403)
        if not await in_scope(proposal, who.resident.household_id):
            raise Refused("proposal.error.out_of_scope", 403)
    text = clean_text(text, TEXT_MAX, "proposal.error.bad_text")
    async with in_transaction() as conn:
        made = await Comment.create(
            proposal=proposal, resident=who.resident, text=text, using_db=conn
        )
        await record(who.name, "comment.created", "proposal_comment", made.id, using_db=conn)
    return made


async def hide_comment(comment_id: int, who: Who, reason: str) -> Comment:
    if not who.is_manager:
        raise Refused("proposal.error.forbidden", 403)
    found = await Comment.get_or_none(id=comment_id, proposal__community_id=who.community_id)
    if found is None:
        raise Refused("proposal.error.comment_not_found", 404, id=comment_id)
    reason = clean_text(reason, TEXT_MAX, "proposal.error.reason_required")
    async with in_transaction() as conn:
        found.hidden_reason = reason
        await found.save(update_fields=["hidden_reason"], using_db=conn)
        await record(
            who.name,
            "comment.hidden",
            "proposal_comment",
            found.id,
            after={"reason": reason},
            using_db=conn,
        )
    return found
