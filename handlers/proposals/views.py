"""What people may see of a proposal they may see at all (``visibility``): turnout for all
while voting, the live tally for ``TALLY_READERS``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.functions import Count
from tortoise.queryset import QuerySet

from handlers.proposals import rules
from handlers.proposals.lifecycle import get
from handlers.proposals.rules import Status
from handlers.proposals.voting import elector_key
from handlers.refusal import Refused
from handlers.roles import ADMINS, TALLY_READERS, Who
from models.audit import AuditLog, record
from models.proposals import Proposal, Vote
from models.residents import Resident


async def view(proposal: Proposal, who: Who) -> dict[str, Any]:
    """The proposal as this person may see it: turnout for all, the tally for workers."""
    return (await views([proposal], who))[0]


async def views(proposals: list[Proposal], who: Who) -> list[dict[str, Any]]:
    """``view`` of several proposals with two queries for all the open votes among them,
    not two per vote (a page of a list)."""
    voting = [p for p in proposals if p.status == Status.VOTING]
    counts: dict[int, dict[str, int]] = {p.id: {} for p in voting}
    if voting:
        rows = (
            await Vote.filter(proposal_id__in=list(counts))
            .group_by("proposal_id", "choice")
            .annotate(n=Count("id"))
            .values("proposal_id", "choice", "n")
        )
        for row in rows:
            counts[row["proposal_id"]][row["choice"]] = int(row["n"])
    mine = await _own_votes(voting, who.resident)
    return [_view(p, who, counts.get(p.id), mine.get(p.id)) for p in proposals]


async def _own_votes(proposals: list[Proposal], resident: Resident) -> dict[int, str]:
    """The choice this resident's voice (household or self, by each rule) made, per proposal."""
    if resident.household_id is None:
        return {}
    keys = {
        p.id: elector_key(rules.rule_from_mapping(p.rule), resident) for p in proposals if p.rule
    }
    if not keys:
        return {}
    rows = await Vote.filter(
        proposal_id__in=list(keys), elector__key__in=sorted(set(keys.values()))
    ).values("proposal_id", "elector__key", "choice")
    return {
        row["proposal_id"]: row["choice"]
        for row in rows
        if keys.get(row["proposal_id"]) == row["elector__key"]
    }


def _view(
    proposal: Proposal, who: Who, counts: dict[str, int] | None, my_vote: str | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": proposal.id,
        "title": proposal.title,
        "description": proposal.description,
        "category": proposal.category,
        "status": proposal.status,
        "scope": proposal.scope,
        "photos": proposal.photos,
        "estimated_cost": None if proposal.estimated_cost is None else str(proposal.estimated_cost),
        "funding": proposal.funding,
        "mine": proposal.proposer_id == who.id,
        "rejection_reason": proposal.rejection_reason,
        "published_at": _iso(proposal.published_at),
        "voting_opened_at": _iso(proposal.voting_opened_at),
        "voting_ends_at": _iso(proposal.voting_ends_at),
        "eligible": proposal.eligible_count,
        "rating": {
            "count": proposal.rating_count,
            "average": round(proposal.rating_sum / proposal.rating_count, 2)
            if proposal.rating_count
            else None,
        },
    }
    if proposal.status == Status.VOTING:
        counted = counts or {}
        yes, no, abstain = (counted.get(c, 0) for c in ("yes", "no", "abstain"))
        data["turnout"] = yes + no + abstain
        data["my_vote"] = my_vote
        if who.has(TALLY_READERS):
            data["tally"] = {"yes": yes, "no": no, "abstain": abstain}
    if proposal.result is not None:
        data["result"] = proposal.result
    return data


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def open_votes_for(resident: Resident) -> list[Proposal]:
    """Open votes this resident's household (or they themselves) has a voice in."""
    if resident.household_id is None:
        return []
    keys = [f"h{resident.household_id}", f"r{resident.id}"]
    return (
        await Proposal.filter(
            community_id=resident.community_id,
            status=Status.VOTING,
            electors__key__in=keys,
        )
        .distinct()
        .order_by("voting_ends_at", "id")
    )


async def mine(resident: Resident) -> list[Proposal]:
    return await Proposal.filter(proposer_id=resident.id).order_by("-id").limit(20)


async def audit_trail(proposal_id: int, who: Who, page: int) -> QuerySet[AuditLog]:
    """The proposal's audit trail, who voted what included (留档备查), for admins only.

    Each read is itself an entry of the trail (who read it, when, which page), so reading
    the secret of the ballot never goes unrecorded.
    """
    if not who.has(ADMINS):
        raise Refused("proposal.error.forbidden", 403)
    proposal = await get(proposal_id, who.community_id)
    await record(who.name, "proposal.audit_read", "proposal", proposal.id, after={"page": page})
    return AuditLog.filter(entity="proposal", entity_id=str(proposal.id))
