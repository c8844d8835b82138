"""A closed vote as it is posted (公示) and filed (留档): the renderers' input, read from the
database once, so what was printed can always be rebuilt from the same rows."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Any

from tortoise.transactions import in_transaction

from handlers.canvass.doors import doors
from handlers.canvass.rules import Door
from handlers.i18n import default_translator
from handlers.proposals import rules as vote_rules
from handlers.proposals.rules import Reach, Status
from handlers.records.data import AuditRow, BuildingCount, HouseholdRow, VoteRecord
from handlers.refusal import Refused
from handlers.roles import CONSOLE, MANAGERS, Who
from models import sql
from models.canvass import Dispute, Visit
from models.community import Building, Community, Grid
from models.proposals import Proposal
from models.residents import Resident

DISSENT_MAX = 20
DISSENT_CHARS = 200


def _share(text: str) -> str:
    share = Fraction(text)
    percent = share * 100
    return f"{int(percent)}%" if percent.denominator == 1 else str(share)


def rule_words(rule: dict[str, Any], language: str) -> str:
    """The rule as the poster states it: share, of what, reach or exceed, coverage."""
    t = default_translator()
    parsed = vote_rules.rule_from_mapping(rule)
    basis = "eligible" if parsed.basis == vote_rules.Basis.ELIGIBLE else "cast"
    how = "exceed" if parsed.strict else "reach"
    words = [t(language, f"record.rule.{basis}_{how}", share=_share(rule["threshold"]))]
    if parsed.quorum is not None:
        words.append(t(language, "record.rule.quorum", share=_share(rule["quorum"])))
    if parsed.coverage == vote_rules.Coverage.ALL:
        words.append(t(language, "record.rule.coverage_all"))
    return "；".join(words)


async def _scope_words(proposal: Proposal, community: Community) -> str:
    kind, ids = proposal.scope.get("kind"), list(proposal.scope.get("ids") or [])
    if kind == "grids":
        names = await Grid.filter(id__in=ids, community_id=community.id).values_list(
            "name", flat=True
        )
    elif kind == "buildings":
        names = await Building.filter(id__in=ids, community_id=community.id).values_list(
            "name", flat=True
        )
    else:
        return community.name
    return "、".join(sorted(str(n) for n in names)) or community.name


async def closed_vote(who: Who, proposal_id: int, *, full: bool) -> Proposal:
    """A closed vote of the caller's community; the full record (households, respondents,
    the audit trail) only for managers, the poster for all console staff."""
    if not who.has(MANAGERS if full else CONSOLE):
        raise Refused("api.error.forbidden", 403)
    proposal = await Proposal.get_or_none(id=proposal_id, community_id=who.community_id)
    if proposal is None:
        raise Refused("proposal.error.not_found", 404, id=proposal_id)
    if proposal.result is None or proposal.status in (Status.VOTING, Status.PUBLISHED):
        raise Refused("canvass.error.not_closed", 409)
    return proposal


async def vote_record(
    proposal: Proposal, language: str, url: str, *, full: bool = False
) -> VoteRecord:
    t = default_translator()
    community = await Community.get(id=proposal.community_id)
    result: dict[str, Any] = proposal.result or {}
    reached = result.get("coverage") or {}
    async with in_transaction() as conn:
        found = await doors(conn, proposal.id)
        dissent = await _dissent(conn, proposal.id)
    disputes = await Dispute.filter(proposal_id=proposal.id).values_list(
        "household_id", "resolved_at"
    )
    flags = []
    open_disputes = sum(1 for _, resolved in disputes if resolved is None)
    if open_disputes:
        flags.append(t(language, "record.flag.disputes", count=open_disputes))
    if result.get("override"):
        flags.append(t(language, "record.flag.override", reason=result["override"]["reason"]))
    if reached.get("vacant_excluded"):
        flags.append(t(language, "record.flag.vacant", count=reached["vacant_excluded"]))
    return VoteRecord(
        community=community.name,
        proposal_id=proposal.id,
        title=proposal.title,
        scope=await _scope_words(proposal, community),
        rule=rule_words(result.get("rule") or proposal.rule or {}, language),
        language=language,
        eligible=int(result.get("eligible", 0)),
        vacant_excluded=int(reached.get("vacant_excluded", 0)),
        online=int(reached.get("online", 0)),
        in_person=int(reached.get("in_person", 0)),
        visited_no_answer=int(reached.get("visited", 0)),
        not_reached=int(reached.get("not_reached", 0)),
        yes=int(result.get("yes", 0)),
        no=int(result.get("no", 0)),
        abstain=int(result.get("abstain", 0)),
        outcome=str(result.get("outcome", "")),
        closed_at=proposal.closed_at or proposal.updated_at,
        buildings=tuple(
            BuildingCount(
                building=b["building"],
                eligible=b["eligible"],
                online=b["online"],
                in_person=b["in_person"],
                not_reached=b["not_reached"],
                visited_no_answer=b["visited"],
                yes=b["yes"],
                no=b["no"],
                abstain=b["abstain"],
            )
            for b in result.get("buildings", [])
        ),
        dissent=tuple(dissent),
        flags=tuple(flags),
        digest=str(result.get("digest") or ""),
        url=url,
        households=tuple(await _households(proposal.id, found, {h for h, _ in disputes}))
        if full
        else (),
        audit=tuple(await _audit(proposal.id, found)) if full else (),
    )


async def _dissent(conn: Any, proposal_id: int) -> list[str]:
    """What households against said at the door, as the worker noted it: no names."""
    rows = await sql.run(
        conn,
        "SELECT note FROM canvass_visit WHERE proposal_id = $1 AND choice = $2"
        " AND note <> '' ORDER BY id",
        [proposal_id, "no"],
    )
    return [str(r["note"])[:DISSENT_CHARS] for r in rows][:DISSENT_MAX]


async def _households(
    proposal_id: int, found: list[Door], disputed: set[int]
) -> list[HouseholdRow]:
    visits = {v.household_id: v for v in await Visit.filter(proposal_id=proposal_id).order_by("id")}
    votes = await _vote_times(proposal_id)
    workers = dict(
        await Resident.filter(
            id__in=[v["recorded_by_id"] for v in votes.values() if v["recorded_by_id"]]
        ).values_list("id", "name")
    )
    rows = []
    for door in found:
        vote = votes.get(door.household_id)
        visit = visits.get(door.household_id)
        in_person = door.reach == Reach.IN_PERSON and visit is not None
        worker = vote["recorded_by_id"] if vote else None
        rows.append(
            HouseholdRow(
                grid=door.grid,
                building=door.building,
                unit=door.unit,
                room=door.room,
                state=door.reach.value,
                choice=door.choice,
                visit_reason=door.reason,
                answered_at=vote["updated_at"] if vote else None,
                recorded_by=(workers.get(worker) or f"resident:{worker}") if worker else None,
                respondent=visit.respondent if in_person and visit else None,
                method=visit.method if in_person and visit else None,
                disputed=door.household_id in disputed,
            )
        )
    return rows


async def _vote_times(proposal_id: int) -> dict[int, dict[str, Any]]:
    async with in_transaction() as conn:
        rows = await sql.run(
            conn,
            "SELECT e.household_id, v.updated_at, v.recorded_by_id FROM proposal_vote v"
            " JOIN proposal_elector e ON e.id = v.elector_id WHERE v.proposal_id = $1",
            [proposal_id],
        )
    return {
        int(r["household_id"]): {**r, "updated_at": sql.as_datetime(r["updated_at"])}
        for r in rows
        if r["household_id"] is not None
    }


async def _audit(proposal_id: int, found: list[Door]) -> list[AuditRow]:
    labels = {
        f"h{d.household_id}": "-".join(p for p in (d.building, d.unit, d.room) if p) for d in found
    }
    async with in_transaction() as conn:
        rows = await sql.run(
            conn,
            "SELECT at, actor, action, before, after, digest, chain FROM audit_log"
            " WHERE entity = $1 AND entity_id = $2 AND chain IS NOT NULL ORDER BY id",
            ["proposal", str(proposal_id)],
        )
    out = []
    for r in rows:
        before, after = sql.as_json(r["before"]) or {}, sql.as_json(r["after"]) or {}
        at = sql.as_datetime(r["at"])
        out.append(
            AuditRow(
                at=at if isinstance(at, datetime) else datetime.fromisoformat(str(at)),
                actor=str(r["actor"]),
                action=str(r["action"]),
                household=labels.get(str(after.get("elector", "")), str(after.get("elector", ""))),
                before=str(before.get("choice") or ""),
                after=f"{after.get('choice', '')} ({after.get('channel', '')})",
                digest=str(r["digest"]),
            )
        )
    return out
