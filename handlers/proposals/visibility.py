"""Which proposals a person may see at all: one rule for the chat and the API.

Before publication, and once rejected or withdrawn, a proposal is its proposer's and the
managers' business. To anyone else it does not exist: every door that takes a proposal id
(detail, list, comments, votes, ratings, the proposer's actions) refuses it exactly as it
refuses an id nobody has, so sequential ids reveal nothing.
"""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from handlers.proposals.rules import Status
from handlers.refusal import Refused
from handlers.roles import MANAGERS, Who
from models.proposals import Proposal

PRIVATE = frozenset(
    {Status.DRAFT, Status.SUBMITTED, Status.UNDER_REVIEW, Status.REJECTED, Status.WITHDRAWN}
)
PUBLIC = tuple(s.value for s in Status if s not in PRIVATE)


def visible_to(proposal: Proposal, who: Who) -> bool:
    return may_see(proposal.status, proposal.proposer_id, who)


def may_see(status: str, proposer_id: int | None, who: Who) -> bool:
    """The rule itself, on a proposal's status and proposer (the vote's plain SQL reads those)."""
    return (
        status in PUBLIC or (proposer_id is not None and proposer_id == who.id) or who.has(MANAGERS)
    )


def visible_only(query: QuerySet[Proposal], who: Who) -> QuerySet[Proposal]:
    """``query`` narrowed to the proposals ``visible_to`` lets this person see."""
    if who.has(MANAGERS):
        return query
    return query.filter(Q(status__in=list(PUBLIC)) | Q(proposer_id=who.id))


async def get_visible(proposal_id: int, who: Who) -> Proposal:
    """The proposal of the person's community, if they may see it; else the refusal a
    proposal that does not exist gets."""
    proposal = await Proposal.get_or_none(id=proposal_id, community_id=who.community_id)
    if proposal is None or not visible_to(proposal, who):
        raise Refused("proposal.error.not_found", 404, id=proposal_id)
    return proposal
