"""Counting a vote once, when it closes, and storing the count with the rule that decided."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from handlers.proposals import rules
from handlers.proposals.lifecycle import get, move, notify
from handlers.proposals.rules import Outcome, Status, Tally, VoteRule
from handlers.refusal import Refused
from handlers.roles import Who
from models.proposals import Proposal, Vote

log = logging.getLogger(__name__)


async def tally(proposal: Proposal, conn: Any = None) -> Tally:
    rows = (
        await Vote.filter(proposal_id=proposal.id)
        .using_db(conn)
        .group_by("choice")
        .annotate(n=Count("id"), area=Sum("elector__area"))
        .values("choice", "n", "area")
    )
    counts = {r["choice"]: (int(r["n"]), Decimal(r["area"] or 0)) for r in rows}

    def n(choice: str) -> int:
        return counts.get(choice, (0, Decimal(0)))[0]

    def a(choice: str) -> Decimal:
        return counts.get(choice, (0, Decimal(0)))[1]

    return Tally(
        eligible=proposal.eligible_count or 0,
        yes=n("yes"),
        no=n("no"),
        abstain=n("abstain"),
        eligible_area=Decimal(proposal.eligible_area or 0),
        yes_area=a("yes"),
        no_area=a("no"),
        abstain_area=a("abstain"),
    )


def _result(rule: VoteRule, counted: Tally, outcome: Outcome, early: bool) -> dict[str, Any]:
    return {
        "outcome": outcome.value,
        "eligible": counted.eligible,
        "yes": counted.yes,
        "no": counted.no,
        "abstain": counted.abstain,
        "eligible_area": str(counted.eligible_area),
        "yes_area": str(counted.yes_area),
        "no_area": str(counted.no_area),
        "rule": rules.rule_to_mapping(rule),
        "early": early,
    }


async def close_voting(
    proposal_id: int, who: Who | None, now: datetime, lock: Any, community_id: int = 0
) -> Proposal:
    """Count once and store the count with its inputs.

    A worker may close before the end only when the outcome can no longer change.
    ``lock`` is the store's cross-process lock, so two closers never count twice.
    """
    cid = who.community_id if who is not None else community_id
    async with lock(f"proposal:{proposal_id}:close", timeout=30.0, blocking_timeout=10.0):
        proposal = await get(proposal_id, cid)
        if proposal.status != Status.VOTING:
            raise Refused("proposal.error.vote_closed", 409)
        rule = rules.rule_from_mapping(proposal.rule)
        async with in_transaction() as conn:
            await Proposal.filter(id=proposal.id).using_db(conn).select_for_update().first()
            counted = await tally(proposal, conn)
            early = proposal.voting_ends_at is not None and now < proposal.voting_ends_at
            if early:
                outcome = rules.decided_early(rule, counted)
                if outcome is None:
                    raise Refused("proposal.error.not_decided_yet", 409)
            else:
                outcome = rules.decide(rule, counted)
            result = _result(rule, counted, outcome, early)
            await move(
                proposal, "close_vote", who, conn, outcome=outcome, result=result, closed_at=now
            )
            await notify(proposal, "proposal.voting_closed", "scope", conn, outcome=outcome.value)
            await notify(
                proposal, "proposal.voting_closed", "proposer", conn, outcome=outcome.value
            )
    return proposal


async def close_due(now: datetime, lock: Any) -> int:
    """The background job: close every vote whose time is up, once, on any process."""
    due = await Proposal.filter(status=Status.VOTING, voting_ends_at__lte=now).values_list(
        "id", "community_id"
    )
    closed = 0
    for proposal_id, community_id in due:
        try:
            await close_voting(proposal_id, None, now, lock, community_id=community_id)
            closed += 1
        except Refused as exc:
            log.info("proposal %s not closed: %s", proposal_id, exc.code)
    return closed
