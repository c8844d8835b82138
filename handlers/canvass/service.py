"""入户走访: the service functions behind the chat (WeCom), the API and the console.

A grid worker records for the households of the grids they serve; community workers and
admins for all. An answer at the door is written through the same ``write_voice`` as an
online vote, on the same row lock, so one household keeps one voice whatever the channel.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from handlers.canvass import rules
from handlers.canvass.doors import doors, visit_rows
from handlers.canvass.rules import Counts, Door, VisitError, VisitForm
from handlers.proposals import rules as vote_rules
from handlers.proposals.rules import Coverage, Reach, Status, Unit
from handlers.proposals.voting import Voice, write_voice
from handlers.refusal import Refused
from handlers.roles import CONSOLE, MANAGERS, TALLY_READERS, Who
from models import sql
from models.audit import record
from models.canvass import Dispute, Visit
from models.community import Household
from models.outbox import Notification
from models.proposals import Elector, Proposal
from models.residents import Resident

log = logging.getLogger(__name__)

REASON_MAX = 500


def _require_staff(who: Who) -> None:
    if not who.has(CONSOLE):
        raise Refused("api.error.forbidden", 403)


def serves(who: Who, grid_id: int | None) -> bool:
    """Whether this worker may record for a household of ``grid_id`` (网格, 责任到人)."""
    return who.has(MANAGERS) or (grid_id is not None and grid_id in who.grids)


def _grids(who: Who) -> frozenset[int] | None:
    """The grids whose doors this person sees: all for managers, their own for grid workers."""
    return None if who.has(MANAGERS) else who.grids


async def _voting(proposal_id: int, who: Who) -> Proposal:
    """The vote, if it is this community's and a household vote that has opened."""
    proposal = await Proposal.get_or_none(id=proposal_id, community_id=who.community_id)
    if proposal is None or proposal.status in vote_rules_private():
        raise Refused("proposal.error.not_found", 404, id=proposal_id)
    if proposal.rule is None:
        raise Refused("canvass.error.not_voting", 409)
    if vote_rules.rule_from_mapping(proposal.rule).unit != Unit.HOUSEHOLD:
        raise Refused("canvass.error.not_household_vote", 409)
    return proposal


def vote_rules_private() -> frozenset[str]:
    from handlers.proposals.visibility import PRIVATE

    return frozenset(s.value for s in PRIVATE)


def _counts(c: Counts, tally: bool) -> dict[str, Any]:
    out: dict[str, Any] = {**c.figures(), "reached": c.reached, "reasons": dict(c.reasons)}
    if not tally:
        for choice in ("yes", "no", "abstain"):
            del out[choice]
    return out


async def coverage(who: Who, proposal_id: int) -> dict[str, Any]:
    """Coverage of a vote, live, by grid and by building, for console staff. The choices
    are added only for those who read live tallies; grid workers see their own grids."""
    _require_staff(who)
    proposal = await _voting(proposal_id, who)
    async with in_transaction() as conn:
        found = await doors(conn, proposal.id, _grids(who))
    tally = who.has(TALLY_READERS) or proposal.status != Status.VOTING
    rule = vote_rules.rule_from_mapping(proposal.rule)
    return {
        "proposal_id": proposal.id,
        "status": proposal.status,
        "coverage_rule": str(rule.coverage),
        "total": _counts(rules.count(found), tally),
        "grids": [
            {"grid": name, **_counts(c, tally)}
            for name, c in rules.count_by(found, lambda d: d.grid).items()
        ],
        "buildings": [
            {"building": name, **_counts(c, tally)}
            for name, c in rules.count_by(found, lambda d: d.building).items()
        ],
    }


async def to_visit(who: Who, proposal_id: int, grid_id: int | None = None) -> list[dict[str, Any]]:
    """The households of the caller's grids still to visit (not reached, or visited without
    an answer), with their earlier visits; in building, unit, room order."""
    _require_staff(who)
    proposal = await _voting(proposal_id, who)
    grids = _grids(who)
    if grid_id is not None:
        if grids is not None and grid_id not in grids:
            raise Refused("canvass.error.outside_grid", 403)
        grids = frozenset({grid_id})
    async with in_transaction() as conn:
        earlier = await visit_rows(conn, proposal.id)
        found = await doors(conn, proposal.id, grids, earlier)
        gap = [d for d in found if d.reach in (Reach.NOT_REACHED, Reach.VISITED)]
    visits: dict[int, list[dict[str, Any]]] = {}
    for row in earlier:
        visits.setdefault(int(row["household_id"]), []).append(
            {
                "outcome": row["outcome"],
                "at": sql.as_datetime(row["visited_at"]),
                "worker_id": row["worker_id"],
            }
        )
    return [
        {
            "household_id": d.household_id,
            "grid": d.grid,
            "building": d.building,
            "unit": d.unit,
            "room": d.room,
            "state": d.reach.value,
            "visits": visits.get(d.household_id, []),
        }
        for d in gap
    ]


@dataclass(frozen=True)
class Recorded:
    visit: Visit
    state: Reach
    previous: str | None


async def record_visit(
    who: Who,
    proposal_id: int,
    household_id: int,
    form: VisitForm,
    now: datetime,
    visited_at: datetime | None = None,
) -> Recorded:
    """Record one visit at one door; an answered one is also the household's voice.

    Refused: outside the worker's grids, a household not in the vote, a closed vote (after
    the end a coverage vote still takes the households not reached yet), a bad form.
    """
    _require_staff(who)
    try:
        form = rules.check_visit(form)
        when = visited_at or now
        proposal = await _voting(proposal_id, who)
        rules.check_visit_time(when, now, proposal.voting_opened_at)
    except VisitError as exc:
        raise Refused(exc.code, 400) from None
    household = await Household.get_or_none(
        id=household_id, building__community_id=who.community_id
    ).prefetch_related("building")
    if household is None:
        raise Refused("canvass.error.no_household", 404)
    if not serves(who, household.building.grid_id):
        raise Refused("canvass.error.outside_grid", 403)
    rule = vote_rules.rule_from_mapping(proposal.rule)
    async with in_transaction() as conn:
        postgres = conn.capabilities.dialect == "postgres"
        head = await sql.run(
            conn,
            "SELECT status, voting_ends_at FROM proposal WHERE id = $1"
            + (" FOR SHARE" if postgres else ""),
            [proposal.id],
        )
        elector = (
            await Elector.filter(proposal_id=proposal.id, key=f"h{household.id}")
            .using_db(conn)
            .first()
        )
        if elector is None:
            raise Refused("canvass.error.not_eligible", 403)
        if head[0]["status"] != Status.VOTING:
            raise Refused("proposal.error.vote_closed", 409)
        ends = sql.as_datetime(head[0]["voting_ends_at"])
        if ends is not None and now >= ends:
            found = [d for d in await doors(conn, proposal.id) if d.household_id == household.id]
            state = found[0].reach if found else Reach.NOT_REACHED
            if not rules.may_record_late(state, rule.coverage == Coverage.ALL):
                raise Refused("proposal.error.vote_closed", 409)
        visit = await Visit.create(
            proposal_id=proposal.id,
            household_id=household.id,
            worker_id=who.id,
            outcome=form.outcome,
            choice=form.choice,
            respondent=form.respondent,
            method=form.method,
            media=list(form.media),
            note=form.note,
            visited_at=when,
            using_db=conn,
        )
        await _attach(form.media, who, visit.id, conn)
        previous = None
        if form.answered and form.choice is not None:
            previous, _ = await write_voice(
                conn,
                Voice(
                    proposal.id, elector.id, elector.key, form.choice, now, who.name, "in_person"
                ),
                recorded_by=who.id,
            )
        # The respondent and the note are personal: the audit keeps what happened, not who.
        await record(
            who.name,
            "visit.recorded",
            "proposal",
            proposal.id,
            after={
                "household": household.id,
                "visit": visit.id,
                "outcome": form.outcome,
                "method": form.method,
                "at": when.isoformat(),
            },
            using_db=conn,
        )
        await _tell_members(conn, proposal, household.id, visit)
    state = Reach.IN_PERSON if form.answered else Reach.VISITED
    return Recorded(visit, state, previous)


async def _attach(media: Sequence[str], who: Who, visit_id: int, conn: Any) -> None:
    """The signed form's photos become the visit's: only the worker's own uploads."""
    if not media:
        return
    from handlers.media import service as media_service

    await media_service.attach(list(media), who, "visit", visit_id, conn=conn)


async def _tell_members(conn: Any, proposal: Proposal, household_id: int, visit: Visit) -> None:
    kind = "canvass.answer_recorded" if visit.outcome == "answered" else "canvass.visit_recorded"
    await tell_household(
        conn,
        household_id,
        Notification(
            community_id=proposal.community_id,
            kind=kind,
            subject="proposal",
            subject_id=proposal.id,
            payload={"id": proposal.id, "title": proposal.title, "visit": visit.id},
        ),
    )


async def tell_household(conn: Any, household_id: int, note: Notification) -> None:
    """Every bound resident of the household hears that something was recorded at its door
    (``note``, one copy each), in the same transaction, so an answer nobody in the household
    gave gets noticed. A vote's visits and a round's paper ballots both tell this way."""
    members = (
        await Resident.filter(household_id=household_id, verified=True, active=True, erased_at=None)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    for member in members:
        await Notification.create(
            community_id=note.community_id,
            kind=note.kind,
            audience=f"resident:{member}",
            subject=note.subject,
            subject_id=note.subject_id,
            payload=note.payload,
            using_db=conn,
        )


async def dispute(resident: Resident, proposal_id: int, reason: str, now: datetime) -> Dispute:
    """A bound resident says the answer recorded at their door is not the household's: the
    dispute is flagged for the community workers and shown on the result. Their own vote
    online still counts as the latest answer; the dispute keeps the record honest."""
    reason = " ".join(reason.split())
    if len(reason) > REASON_MAX:
        raise Refused("canvass.error.too_long", 400)
    if not resident.verified or resident.household_id is None:
        raise Refused("proposal.error.not_verified", 403)
    proposal = await Proposal.get_or_none(id=proposal_id, community_id=resident.community_id)
    if proposal is None or proposal.status in vote_rules_private():
        raise Refused("proposal.error.not_found", 404, id=proposal_id)
    ends = proposal.voting_ends_at
    if proposal.status != Status.VOTING or (ends is not None and now >= ends):
        raise Refused("proposal.error.vote_closed", 409)
    visit = (
        await Visit.filter(proposal_id=proposal.id, household_id=resident.household_id)
        .order_by("-id")
        .first()
    )
    if visit is None:
        raise Refused("canvass.error.nothing_to_dispute", 409)
    async with in_transaction() as conn:
        made = await Dispute.create(
            proposal_id=proposal.id,
            household_id=resident.household_id,
            resident_id=resident.id,
            visit_id=visit.id,
            reason=reason,
            using_db=conn,
        )
        await record(
            f"resident:{resident.id}",
            "visit.disputed",
            "proposal",
            proposal.id,
            after={"household": resident.household_id, "visit": visit.id, "dispute": made.id},
            using_db=conn,
        )
        await Notification.create(
            community_id=proposal.community_id,
            kind="canvass.disputed",
            audience="community_workers",
            subject="proposal",
            subject_id=proposal.id,
            payload={"id": proposal.id, "title": proposal.title, "dispute": made.id},
            using_db=conn,
        )
    return made


async def disputes(who: Who, proposal_id: int) -> list[dict[str, Any]]:
    """The disputes of a vote, for managers: which door, which visit, the reason, resolved."""
    if not who.has(MANAGERS):
        raise Refused("api.error.forbidden", 403)
    proposal = await _voting(proposal_id, who)
    rows = (
        await Dispute.filter(proposal_id=proposal.id)
        .order_by("id")
        .values("id", "household_id", "visit_id", "reason", "created_at", "resolved_at")
    )
    return list(rows)


def door_label(door: Door) -> str:
    return "-".join(part for part in (door.building, door.unit, door.room) if part)
