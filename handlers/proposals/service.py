"""Proposal and vote operations shared by the chat and the JSON API.

Every change goes through ``rules.transition`` and lands in the audit log in the
same transaction. Errors are ``ProposalError`` with a catalogue message id.
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from handlers.proposals import rules
from handlers.proposals.rules import Category, Outcome, Status, Tally, TransitionError, VoteRule
from handlers.roles import Who, who_of
from models import sql
from models.audit import record
from models.community import Building, Household
from models.outbox import Notification
from models.proposals import Comment, Elector, ProgressUpdate, Proposal, Rating, Vote
from models.residents import Resident, Role

log = logging.getLogger(__name__)
who = who_of  # the chat and the API load a Who once and pass it here

RULES_FILE = Path(__file__).resolve().parents[2] / "config" / "vote_rules.toml"
CHOICES = ("yes", "no", "abstain")
TITLE_MAX = 100
TEXT_MAX = 2000


class ProposalError(Exception):
    """A refusal the resident is told about: ``code`` is a catalogue message id."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@cache
def vote_rules() -> dict[str, VoteRule]:
    """Vote rules per category, as community workers configure them."""
    with RULES_FILE.open("rb") as fh:
        return {str(k): v for k, v in rules.rules_from_config(tomllib.load(fh)).items()}


def _actors(who: Who, proposal: Proposal | None) -> list[str]:
    """The rule-table actors this person may act as, most specific first."""
    out = []
    if proposal is not None and proposal.proposer_id == who.resident.id:  # type: ignore[attr-defined]
        out.append("proposer")
    if Role.ADMIN in who.roles:
        out.append("admin")
    if Role.COMMUNITY_WORKER in who.roles:
        out.append("community_worker")
    return out or ["resident"]


def _transition(proposal: Proposal, action: str, who: Who | None, **kw: Any) -> Status:
    """The next status, trying each hat the person wears; the clearest refusal wins."""
    actors = ["system"] if who is None else _actors(who, proposal)
    error: TransitionError | None = None
    for name in actors:
        try:
            return rules.transition(Status(proposal.status), action, name, **kw)
        except TransitionError as exc:
            if error is None or exc.code != "proposal.error.forbidden":
                error = exc
    assert error is not None
    raise ProposalError(error.code)


# --- scope ---------------------------------------------------------------


def _scope_filter(community_id: int, scope: dict[str, Any]) -> dict[str, Any]:
    kind, ids = scope.get("kind"), list(scope.get("ids") or [])
    base: dict[str, Any] = {"building__community_id": community_id}
    if kind == "grids":
        base["building__grid_id__in"] = ids
    elif kind == "buildings":
        base["building_id__in"] = ids
    return base


async def check_scope(community_id: int, scope: dict[str, Any]) -> dict[str, Any]:
    """A clean scope whose grids or buildings all belong to the community."""
    kind = scope.get("kind")
    if kind == "community":
        return {"kind": "community", "ids": []}
    if kind not in {"grids", "buildings"}:
        raise ProposalError("proposal.error.bad_scope")
    try:
        ids = sorted({int(i) for i in scope.get("ids") or []})
    except (TypeError, ValueError):
        raise ProposalError("proposal.error.bad_scope") from None
    if not ids:
        raise ProposalError("proposal.error.bad_scope")
    if kind == "buildings":
        found = await Building.filter(community_id=community_id, id__in=ids).count()
    else:
        from models.community import Grid

        found = await Grid.filter(community_id=community_id, id__in=ids).count()
    if found != len(ids):
        raise ProposalError("proposal.error.bad_scope")
    return {"kind": kind, "ids": ids}


async def in_scope(proposal: Proposal, household_id: int | None) -> bool:
    if household_id is None:
        return False
    return await Household.filter(
        id=household_id,
        **_scope_filter(proposal.community_id, proposal.scope),  # type: ignore[attr-defined]
    ).exists()


async def suggested_scope(resident: Resident) -> dict[str, Any] | None:
    """The resident's own building: what a proposal from them most often concerns."""
    if resident.household_id is None:  # type: ignore[attr-defined]
        return None
    household = await Household.get(id=resident.household_id)  # type: ignore[attr-defined]
    return {"kind": "buildings", "ids": [household.building_id]}  # type: ignore[attr-defined]


# --- lifecycle -----------------------------------------------------------


def _clean_text(text: str, limit: int, code: str) -> str:
    text = (text or "").strip()
    if not text or len(text) > limit:
        raise ProposalError(code, limit=limit)
    return text


async def create(
    who: Who,
    *,
    title: str,
    description: str,
    category: str,
    scope: dict[str, Any] | None = None,
    photos: Iterable[str] = (),
    estimated_cost: Decimal | None = None,
    funding: str | None = None,
    submit: bool = True,
) -> Proposal:
    resident = who.resident
    if not resident.verified and not who.is_manager:
        raise ProposalError("proposal.error.not_verified")
    title = _clean_text(title, TITLE_MAX, "proposal.error.bad_title")
    description = _clean_text(description, TEXT_MAX, "proposal.error.bad_description")
    if category not in {c.value for c in Category}:
        raise ProposalError("proposal.error.bad_category")
    if funding is not None and funding not in {f.value for f in rules.Funding}:
        raise ProposalError("proposal.error.bad_funding")
    if estimated_cost is not None and estimated_cost < 0:
        raise ProposalError("proposal.error.bad_cost")
    if scope is None:
        scope = await suggested_scope(resident) or {"kind": "community"}
    scope = await check_scope(resident.community_id, scope)  # type: ignore[attr-defined]
    async with in_transaction() as conn:
        proposal = await Proposal.create(
            community_id=resident.community_id,  # type: ignore[attr-defined]
            proposer=resident,
            title=title,
            description=description,
            category=category,
            scope=scope,
            photos=[str(p) for p in photos][:9],
            estimated_cost=estimated_cost,
            funding=funding,
            using_db=conn,
        )
        await record(who.name, "proposal.created", "proposal", proposal.id, using_db=conn)
        if submit:
            await _apply(proposal, "submit", who, conn)
    return proposal


async def _apply(
    proposal: Proposal,
    action: str,
    who: Who | None,
    conn: Any,
    *,
    reason: str | None = None,
    outcome: Outcome | None = None,
    publicity_over: bool = False,
    **changes: Any,
) -> Status:
    """One transition: a conditional update, so a concurrent one cannot also apply."""
    before = proposal.status
    after = _transition(
        proposal, action, who, reason=reason, outcome=outcome, publicity_over=publicity_over
    )
    updated = (
        await Proposal.filter(id=proposal.id, status=before)
        .using_db(conn)
        .update(status=after.value, **changes)
    )
    if not updated:
        raise ProposalError("proposal.error.changed_meanwhile")
    proposal.status = after.value
    for field, value in changes.items():
        setattr(proposal, field, value)
    await record(
        "system" if who is None else who.name,
        f"proposal.{action}",
        "proposal",
        proposal.id,
        before={"status": before},
        after={"status": after.value, **({"reason": reason} if reason else {})},
        using_db=conn,
    )
    return after


async def get(proposal_id: int, community_id: int) -> Proposal:
    proposal = await Proposal.get_or_none(id=proposal_id, community_id=community_id)
    if proposal is None:
        raise ProposalError("proposal.error.not_found", id=proposal_id)
    return proposal


async def _notify(proposal: Proposal, kind: str, audience: str, conn: Any, **payload: Any) -> None:
    await Notification.create(
        community_id=proposal.community_id,  # type: ignore[attr-defined]
        kind=kind,
        audience=audience,
        subject="proposal",
        subject_id=proposal.id,
        payload={"title": proposal.title, **payload},
        using_db=conn,
    )


async def act(
    proposal_id: int, who: Who, action: str, now: datetime, reason: str | None = None
) -> Proposal:
    """The worker and proposer actions that need nothing but a status change."""
    if action not in {"submit", "review", "reject", "publish", "withdraw", "start", "complete"}:
        raise ProposalError("proposal.error.illegal_transition")
    proposal = await get(proposal_id, who.resident.community_id)  # type: ignore[attr-defined]
    reason = (reason or "").strip() or None
    changes: dict[str, Any] = {}
    if action == "reject":
        changes["rejection_reason"] = reason
    if action == "publish":
        changes["published_at"] = now
    async with in_transaction() as conn:
        await _apply(proposal, action, who, conn, reason=reason, **changes)
        if action == "reject":
            await _notify(proposal, "proposal.rejected", "proposer", conn, reason=reason)
        elif action == "publish":
            await _notify(proposal, "proposal.published", "scope", conn)
            await _notify(proposal, "proposal.published", "proposer", conn)
        elif action == "complete":
            await _notify(proposal, "proposal.completed", "scope", conn)
    return proposal


async def add_progress(proposal_id: int, who: Who, text: str) -> ProgressUpdate:
    proposal = await get(proposal_id, who.resident.community_id)  # type: ignore[attr-defined]
    text = _clean_text(text, TEXT_MAX, "proposal.error.bad_text")
    async with in_transaction() as conn:
        await _apply(proposal, "progress", who, conn)
        update = await ProgressUpdate.create(
            proposal=proposal, author=who.resident, text=text, using_db=conn
        )
        await _notify(proposal, "proposal.progress", "scope", conn, text=text)
    return update


# --- publicity: comments ---------------------------------------------------


async def comment(proposal_id: int, who: Who, text: str) -> Comment:
    proposal = await get(proposal_id, who.resident.community_id)  # type: ignore[attr-defined]
    if proposal.status != Status.PUBLISHED:
        raise ProposalError("proposal.error.not_in_publicity")
    if not who.is_manager:
        if not who.resident.verified:
            raise ProposalError("proposal.error.not_verified")
        if not await in_scope(proposal, who.resident.household_id):  # type: ignore[attr-defined]
            raise ProposalError("proposal.error.out_of_scope")
    text = _clean_text(text, TEXT_MAX, "proposal.error.bad_text")
    async with in_transaction() as conn:
        made = await Comment.create(
            proposal=proposal, resident=who.resident, text=text, using_db=conn
        )
        await record(who.name, "comment.created", "proposal_comment", made.id, using_db=conn)
    return made


async def hide_comment(comment_id: int, who: Who, reason: str) -> Comment:
    if not who.is_manager:
        raise ProposalError("proposal.error.forbidden")
    found = await Comment.get_or_none(
        id=comment_id,
        proposal__community_id=who.resident.community_id,  # type: ignore[attr-defined]
    )
    if found is None:
        raise ProposalError("proposal.error.comment_not_found", id=comment_id)
    reason = _clean_text(reason, TEXT_MAX, "proposal.error.reason_required")
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


# --- voting --------------------------------------------------------------


def _elector_key(rule: VoteRule, resident: Resident) -> str:
    if rule.unit == "resident":
        return f"r{resident.id}"
    return f"h{resident.household_id}"  # type: ignore[attr-defined]


async def open_voting(
    proposal_id: int, who: Who | None, now: datetime, days: int = 7, community_id: int = 0
) -> Proposal:
    """Open the vote and freeze its electorate: later bindings do not move the denominator."""
    cid = who.resident.community_id if who is not None else community_id  # type: ignore[attr-defined]
    proposal = await get(proposal_id, cid)
    if days < 1 or days > 60:
        raise ProposalError("proposal.error.bad_duration")
    over = proposal.published_at is not None and rules.publicity_ended(
        proposal.published_at, now, proposal.publicity_days
    )
    if proposal.status == Status.PUBLISHED and not over:
        opens = proposal.published_at + timedelta(days=proposal.publicity_days)  # type: ignore[operator]
        raise ProposalError("proposal.error.publicity_not_over", date=opens.date().isoformat())
    rule = vote_rules()[proposal.category]
    scope = _scope_filter(cid, proposal.scope)
    if rule.unit == "resident":
        rows = await Resident.filter(
            verified=True, active=True, **{f"household__{k}": v for k, v in scope.items()}
        ).values_list("id", "household_id", "household__floor_area")
        electors = [(f"r{rid}", hid, area) for rid, hid, area in rows]
    else:
        rows = await Household.filter(**scope).values_list("id", "floor_area")
        electors = [(f"h{hid}", hid, area) for hid, area in rows]
    if not electors:
        raise ProposalError("proposal.error.no_electors")
    area = sum((Decimal(a or 0) for _, _, a in electors), Decimal(0))
    async with in_transaction() as conn:
        await _apply(
            proposal,
            "open_vote",
            who,
            conn,
            publicity_over=over,
            voting_opened_at=now,
            voting_ends_at=now + timedelta(days=days),
            rule=rules.rule_to_mapping(rule),
            eligible_count=len(electors),
            eligible_area=area,
        )
        await Elector.bulk_create(
            [
                Elector(proposal_id=proposal.id, key=k, household_id=h, area=Decimal(a or 0))
                for k, h, a in electors
            ],
            batch_size=1000,
            using_db=conn,
        )
        await _notify(proposal, "proposal.voting_opened", "scope", conn)
    return proposal


@dataclass(frozen=True)
class VoteOutcome:
    choice: str
    previous: str | None


async def cast_vote(proposal_id: int, resident_id: int, choice: str, now: datetime) -> VoteOutcome:
    """Record a household's (or resident's) voice: one row per elector, the last one counts.

    The hot path of the product (thousands of votes in the last evening of a vote), so it
    is four statements in one transaction: the voter, the proposal and the voter's elector
    in one read, under a share lock that a close waits for; the current vote row, locked;
    the write; the audit entry.
    """
    if choice not in CHOICES:
        raise ProposalError("proposal.error.bad_choice")
    async with in_transaction() as conn:
        postgres = conn.capabilities.dialect == "postgres"
        rows = await sql.run(
            conn,
            "SELECT r.verified, r.household_id, p.status, p.rule, p.voting_ends_at,"
            " e.id AS elector_id, e.key AS elector_key"
            " FROM resident r JOIN proposal p ON p.community_id = r.community_id"
            " LEFT JOIN proposal_elector e ON e.proposal_id = p.id"
            " AND (e.key = 'h' || r.household_id OR e.key = 'r' || r.id)"
            " WHERE r.id = $1 AND r.erased_at IS NULL AND p.id = $2"
            + (" FOR SHARE OF p" if postgres else ""),
            [resident_id, proposal_id],
        )
        if not rows:
            raise ProposalError("proposal.error.not_found", id=proposal_id)
        head = rows[0]
        if not head["verified"] or head["household_id"] is None:
            raise ProposalError("proposal.error.not_verified")
        ends = sql.as_datetime(head["voting_ends_at"])
        if head["status"] != Status.VOTING or head["rule"] is None or (ends and now >= ends):
            raise ProposalError("proposal.error.vote_closed")
        rule = rules.rule_from_mapping(sql.as_json(head["rule"]))
        wanted = f"r{resident_id}" if rule.unit == "resident" else f"h{head['household_id']}"
        elector = next((r for r in rows if r["elector_key"] == wanted), None)
        if elector is None:
            raise ProposalError("proposal.error.out_of_scope")
        actor = f"resident:{resident_id}"
        after = json.dumps({"elector": wanted, "choice": choice})
        if postgres and await _first_vote_pg(
            conn, proposal_id, elector["elector_id"], resident_id, choice, now, actor, after
        ):
            return VoteOutcome(choice, None)
        previous = await _upsert_vote(
            conn, postgres, proposal_id, elector["elector_id"], resident_id, choice, now
        )
        if previous != choice:
            # The audit entry written directly: the ORM's model layer costs more than the vote.
            await sql.run(
                conn,
                "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [
                    sql.db_time(now, postgres),
                    actor,
                    "vote.changed" if previous else "vote.cast",
                    "proposal",
                    str(proposal_id),
                    json.dumps({"elector": wanted, "choice": previous}) if previous else None,
                    after,
                ],
            )
    return VoteOutcome(choice, previous)


async def _first_vote_pg(
    conn: Any,
    proposal_id: int,
    elector_id: int,
    resident_id: int,
    choice: str,
    now: datetime,
    actor: str,
    after: str,
) -> bool:
    """The common case in one round trip: the elector's first vote and its audit entry.

    False when the elector has voted already; the caller then overwrites under a row lock.
    """
    made = await conn.execute_query_dict(
        "WITH made AS (INSERT INTO proposal_vote"
        " (proposal_id, elector_id, choice, resident_id, updated_at)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (proposal_id, elector_id) DO NOTHING RETURNING id),"
        " audited AS (INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)"
        " SELECT $5, $6, 'vote.cast', 'proposal', $7, NULL, $8 FROM made RETURNING id)"
        " SELECT id FROM made",
        [proposal_id, elector_id, choice, resident_id, now, actor, str(proposal_id), after],
    )
    return bool(made)


async def _upsert_vote(
    conn: Any,
    postgres: bool,
    proposal_id: int,
    elector_id: int,
    resident_id: int,
    choice: str,
    now: datetime,
) -> str | None:
    """The elector's one vote row, created or overwritten; returns the previous choice.

    Two voters of one household at once: the unique (proposal, elector) key lets one
    insert win; the other finds that row on its second look and overwrites it.
    """
    for _ in range(2):
        found = await sql.run(
            conn,
            "SELECT id, choice FROM proposal_vote WHERE proposal_id = $1 AND elector_id = $2"
            + (" FOR UPDATE" if postgres else ""),
            [proposal_id, elector_id],
        )
        if found:
            previous = found[0]["choice"]
            if previous != choice:
                await sql.run(
                    conn,
                    "UPDATE proposal_vote SET choice = $1, resident_id = $2, updated_at = $3"
                    " WHERE id = $4",
                    [choice, resident_id, sql.db_time(now, postgres), found[0]["id"]],
                )
            return previous
        made = await sql.run(
            conn,
            "INSERT INTO proposal_vote (proposal_id, elector_id, choice, resident_id, updated_at)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (proposal_id, elector_id) DO NOTHING RETURNING id",
            [proposal_id, elector_id, choice, resident_id, sql.db_time(now, postgres)],
        )
        if made:
            return None
    raise ProposalError("proposal.error.changed_meanwhile")


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
    cid = who.resident.community_id if who is not None else community_id  # type: ignore[attr-defined]
    async with lock(f"proposal:{proposal_id}:close", timeout=30.0, blocking_timeout=10.0):
        proposal = await get(proposal_id, cid)
        if proposal.status != Status.VOTING:
            raise ProposalError("proposal.error.vote_closed")
        rule = rules.rule_from_mapping(proposal.rule)
        async with in_transaction() as conn:
            await Proposal.filter(id=proposal.id).using_db(conn).select_for_update().first()
            counted = await tally(proposal, conn)
            early = proposal.voting_ends_at is not None and now < proposal.voting_ends_at
            if early:
                outcome = rules.decided_early(rule, counted)
                if outcome is None:
                    raise ProposalError("proposal.error.not_decided_yet")
            else:
                outcome = rules.decide(rule, counted)
            result = _result(rule, counted, outcome, early)
            await _apply(
                proposal, "close_vote", who, conn, outcome=outcome, result=result, closed_at=now
            )
            await _notify(proposal, "proposal.voting_closed", "scope", conn, outcome=outcome.value)
            await _notify(
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
        except ProposalError as exc:
            log.info("proposal %s not closed: %s", proposal_id, exc.code)
    return closed


# --- after the vote --------------------------------------------------------


async def rate(proposal_id: int, who: Who, stars: int, text: str = "") -> Proposal:
    resident = who.resident
    if not 1 <= stars <= 5:
        raise ProposalError("proposal.error.bad_stars")
    if not resident.verified or resident.household_id is None:  # type: ignore[attr-defined]
        raise ProposalError("proposal.error.not_verified")
    proposal = await get(proposal_id, resident.community_id)  # type: ignore[attr-defined]
    if not await in_scope(proposal, resident.household_id):  # type: ignore[attr-defined]
        raise ProposalError("proposal.error.out_of_scope")
    text = (text or "").strip()[:TEXT_MAX]
    async with in_transaction() as conn:
        await Proposal.filter(id=proposal.id).using_db(conn).select_for_update().first()
        fresh = await Proposal.get(id=proposal.id).using_db(conn)
        if fresh.status not in {Status.COMPLETED, Status.RATED}:
            raise ProposalError("proposal.error.not_completed")
        previous = await Rating.get_or_none(
            proposal_id=proposal.id,
            household_id=resident.household_id,  # type: ignore[attr-defined]
        ).using_db(conn)
        if previous is None:
            await Rating.create(
                proposal_id=proposal.id,
                household_id=resident.household_id,  # type: ignore[attr-defined]
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
            await _apply(fresh, "rate", who, conn)
        await record(
            who.name,
            "proposal.rated",
            "proposal",
            proposal.id,
            after={"stars": stars},
            using_db=conn,
        )
    return fresh


# --- what people may see ---------------------------------------------------


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
    if resident.household_id is None:  # type: ignore[attr-defined]
        return {}
    keys = {
        p.id: _elector_key(rules.rule_from_mapping(p.rule), resident) for p in proposals if p.rule
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
        "mine": proposal.proposer_id == who.resident.id,  # type: ignore[attr-defined]
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
        if who.is_manager:
            data["tally"] = {"yes": yes, "no": no, "abstain": abstain}
    if proposal.result is not None:
        data["result"] = proposal.result
    return data


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def open_votes_for(resident: Resident) -> list[Proposal]:
    """Open votes this resident's household (or they themselves) has a voice in."""
    if resident.household_id is None:  # type: ignore[attr-defined]
        return []
    keys = [f"h{resident.household_id}", f"r{resident.id}"]  # type: ignore[attr-defined]
    return (
        await Proposal.filter(
            community_id=resident.community_id,  # type: ignore[attr-defined]
            status=Status.VOTING,
            electors__key__in=keys,
        )
        .distinct()
        .order_by("voting_ends_at", "id")
    )


async def mine(resident: Resident) -> list[Proposal]:
    return await Proposal.filter(proposer_id=resident.id).order_by("-id").limit(20)
