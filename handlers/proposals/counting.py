"""Counting a vote once, when it closes, and storing the count with the rule that decided."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from handlers.canvass.chain import fold
from handlers.canvass.doors import doors
from handlers.canvass.rules import Counts, Door, count, count_by
from handlers.proposals import rules
from handlers.proposals.lifecycle import get, move, notify
from handlers.proposals.rules import Outcome, Reach, Status, Tally, Unit, VoteRule
from handlers.refusal import Refused
from handlers.roles import Who
from models import sql
from models.audit import record
from models.canvass import Dispute
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
    proposal_id: int,
    who: Who | None,
    now: datetime,
    lock: Any,
    community_id: int = 0,
    override: str | None = None,
) -> Proposal:
    """Count once and store the count with its inputs.

    A worker may close before the end only when the outcome can no longer change. A
    coverage rule ("all") is not decided while a household is not reached, unless an
    admin closes it with a written ``override`` reason (audited, printed on the result).
    ``lock`` is the store's cross-process lock, so two closers never count twice.
    """
    cid = who.community_id if who is not None else community_id
    reason = (override or "").strip()
    if override is not None and (who is None or not who.is_admin):
        raise Refused("proposal.error.override_forbidden", 403)
    if override is not None and not reason:
        raise Refused("proposal.error.override_reason_required", 400)
    async with lock(f"proposal:{proposal_id}:close", timeout=30.0, blocking_timeout=10.0):
        proposal = await get(proposal_id, cid)
        if proposal.status != Status.VOTING:
            raise Refused("proposal.error.vote_closed", 409)
        rule = rules.rule_from_mapping(proposal.rule)
        async with in_transaction() as conn:
            await Proposal.filter(id=proposal.id).using_db(conn).select_for_update().first()
            found = await doors(conn, proposal.id) if rule.unit == Unit.HOUSEHOLD else []
            reached = count(found)
            missing = rules.not_reached(rule, {Reach.NOT_REACHED: reached.not_reached})
            if missing and not reason:
                raise Refused("proposal.error.coverage_incomplete", 409, missing=missing)
            counted = _without_vacant(rule, await tally(proposal, conn), found)
            early = proposal.voting_ends_at is not None and now < proposal.voting_ends_at
            if early:
                outcome = rules.decided_early(rule, counted)
                if outcome is None:
                    raise Refused("proposal.error.not_decided_yet", 409)
            else:
                outcome = rules.decide(rule, counted)
            result = _result(rule, counted, outcome, early)
            result.update(await _record_of(conn, proposal.id, reached, found))
            if missing:
                result["override"] = {"by": who.name if who else "system", "reason": reason}
                await record(
                    who.name if who else "system",
                    "vote.coverage_override",
                    "proposal",
                    proposal.id,
                    after={"not_reached": missing, "reason": reason},
                    using_db=conn,
                )
            await move(
                proposal, "close_vote", who, conn, outcome=outcome, result=result, closed_at=now
            )
            await notify(proposal, "proposal.voting_closed", "scope", conn, outcome=outcome.value)
            await notify(
                proposal, "proposal.voting_closed", "proposer", conn, outcome=outcome.value
            )
    return proposal


def _without_vacant(rule: VoteRule, counted: Tally, found: list[Door]) -> Tally:
    """The tally with the households found vacant (and answered by nobody) out of the
    denominator, when the rule says so."""
    vacant = [d for d in found if d.vacant]
    eligible = rules.counted_eligible(rule, counted.eligible, len(vacant))
    if eligible == counted.eligible:
        return counted
    area = sum((d.area for d in vacant), Decimal(0))
    return replace(
        counted,
        eligible=eligible,
        eligible_area=None
        if counted.eligible_area is None
        else Decimal(counted.eligible_area) - area,
    )


async def _record_of(
    conn: Any, proposal_id: int, reached: Counts, found: list[Door]
) -> dict[str, Any]:
    """What the poster prints beside the count: how each household was reached, by
    building; the open disputes; and the digest that seals the answers."""
    buildings = count_by(found, lambda d: d.building)
    disputes = (
        await Dispute.filter(proposal_id=proposal_id, resolved_at=None).using_db(conn).count()
    )
    return {
        "coverage": {
            "online": reached.online,
            "in_person": reached.in_person,
            "visited": reached.visited,
            "not_reached": reached.not_reached,
            "vacant_excluded": reached.vacant,
            "reasons": reached.reasons,
        },
        "buildings": [{"building": name, **c.figures()} for name, c in buildings.items()],
        "disputes": disputes,
        "digest": await seal(conn, proposal_id),
    }


async def seal(conn: Any, proposal_id: int) -> str:
    """The vote's digest from the last entry of every household's chain of answers."""
    rows = await sql.run(
        conn,
        "SELECT chain, digest FROM audit_log WHERE entity = $1 AND entity_id = $2"
        " AND chain IS NOT NULL ORDER BY id",
        ["proposal", str(proposal_id)],
    )
    heads = {r["chain"]: r["digest"] for r in rows}
    return fold(proposal_id, heads.items())


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
