"""Opening a vote with its frozen electorate, and casting a household's (or resident's) voice.

``cast_vote`` is the hot path of the product (thousands of votes in the last evening
of a vote), so it speaks plain SQL; everything else here goes through the ORM.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from handlers.canvass.chain import chain_of, genesis, link
from handlers.proposals import rules
from handlers.proposals.lifecycle import get, move, notify
from handlers.proposals.rules import Status, VoteRule
from handlers.proposals.scope import scope_filter
from handlers.proposals.visibility import PUBLIC, may_see
from handlers.refusal import Refused
from handlers.roles import Who
from models import sql
from models.community import Household
from models.outbox import Notification
from models.proposals import Elector, Proposal
from models.residents import Resident, Role

RULES_FILE = Path(__file__).resolve().parents[2] / "config" / "vote_rules.toml"
CHOICES = ("yes", "no", "abstain")


@cache
def vote_rules() -> dict[str, VoteRule]:
    """Vote rules per category, as community workers configure them."""
    with RULES_FILE.open("rb") as fh:
        return {str(k): v for k, v in rules.rules_from_config(tomllib.load(fh)).items()}


def elector_key(rule: VoteRule, resident: Resident) -> str:
    """Whose voice a resident gives under ``rule``: their household's, or their own."""
    if rule.unit == "resident":
        return f"r{resident.id}"
    return f"h{resident.household_id}"


async def open_voting(
    proposal_id: int, who: Who | None, now: datetime, days: int = 7, community_id: int = 0
) -> Proposal:
    """Open the vote and freeze its electorate: later bindings do not move the denominator."""
    cid = who.community_id if who is not None else community_id
    proposal = await get(proposal_id, cid)
    if days < 1 or days > 60:
        raise Refused("proposal.error.bad_duration", 400)
    published = proposal.published_at
    over = published is not None and rules.publicity_ended(published, now, proposal.publicity_days)
    if proposal.status == Status.PUBLISHED and published is not None and not over:
        opens = published + timedelta(days=proposal.publicity_days)
        raise Refused("proposal.error.publicity_not_over", 409, date=opens.date().isoformat())
    rule = vote_rules()[proposal.category]
    scope = scope_filter(cid, proposal.scope)
    if rule.unit == "resident":
        rows = await Resident.filter(
            verified=True, active=True, **{f"household__{k}": v for k, v in scope.items()}
        ).values_list("id", "household_id", "household__floor_area")
        electors = [(f"r{rid}", hid, area) for rid, hid, area in rows]
    else:
        rows = await Household.filter(**scope).values_list("id", "floor_area")
        electors = [(f"h{hid}", hid, area) for hid, area in rows]
    if not electors:
        raise Refused("proposal.error.no_electors", 400)
    area = sum((Decimal(a or 0) for _, _, a in electors), Decimal(0))
    async with in_transaction() as conn:
        await move(
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
        await notify(proposal, "proposal.voting_opened", "scope", conn)
    return proposal


@dataclass(frozen=True)
class VoteOutcome:
    choice: str
    previous: str | None


# The voter, the proposal and the voter's elector (if any) in one read.
_VOICE = (
    "SELECT r.verified, r.household_id, r.community_id, p.status, p.proposer_id, p.rule,"
    " p.voting_ends_at,"
    " e.id AS elector_id, e.key AS elector_key"
    " FROM resident r JOIN proposal p ON p.community_id = r.community_id"
    " LEFT JOIN proposal_elector e ON e.proposal_id = p.id"
    " AND (e.key = 'h' || r.household_id OR e.key = 'r' || r.id)"
    " WHERE r.id = $1 AND r.erased_at IS NULL AND p.id = $2"
)


async def _voice(
    conn: Any, proposal_id: int, resident_id: int, now: datetime, *, lock: bool
) -> tuple[str, int]:
    """The voter's elector key and row id, or the refusal their vote gets now.

    ``lock`` takes the share lock on the proposal that a close waits for (PostgreSQL).
    """
    postgres = conn.capabilities.dialect == "postgres"
    rows = await sql.run(
        conn,
        _VOICE + (" FOR SHARE OF p" if postgres and lock else ""),
        [resident_id, proposal_id],
    )
    if not rows:
        raise Refused("proposal.error.not_found", 404, id=proposal_id)
    head = rows[0]
    if head["status"] not in PUBLIC and not await _may_see(conn, head, resident_id):
        raise Refused("proposal.error.not_found", 404, id=proposal_id)
    if not head["verified"] or head["household_id"] is None:
        raise Refused("proposal.error.not_verified", 403)
    ends = sql.as_datetime(head["voting_ends_at"])
    if head["status"] != Status.VOTING or head["rule"] is None or (ends and now >= ends):
        raise Refused("proposal.error.vote_closed", 409)
    rule = rules.rule_from_mapping(sql.as_json(head["rule"]))
    wanted = f"r{resident_id}" if rule.unit == "resident" else f"h{head['household_id']}"
    elector = next((r for r in rows if r["elector_key"] == wanted), None)
    if elector is None:
        raise Refused("proposal.error.out_of_scope", 403)
    return wanted, int(elector["elector_id"])


async def _may_see(conn: Any, head: dict[str, Any], resident_id: int) -> bool:
    """The visibility rule for a proposal not public: only then are the voter's roles read
    (in the vote's own transaction), never on the hot path of an open vote."""
    found = await sql.run(
        conn,
        "SELECT role FROM role_assignment WHERE resident_id = $1 AND community_id = $2",
        [resident_id, head["community_id"]],
    )
    voter = Resident(id=resident_id, community_id=head["community_id"])
    who = Who(voter, roles=frozenset(Role(row["role"]) for row in found))
    return may_see(head["status"], head["proposer_id"], who)


async def check_voice(proposal_id: int, resident_id: int, now: datetime) -> None:
    """Refuse now what ``cast_vote`` would refuse: the chat asks before the choice."""
    async with in_transaction() as conn:
        await _voice(conn, proposal_id, resident_id, now, lock=False)


async def cast_vote(proposal_id: int, resident_id: int, choice: str, now: datetime) -> VoteOutcome:
    """Record a household's (or resident's) voice: one row per elector, the last one counts.

    Four statements in one transaction: the voter, the proposal and the voter's elector
    in one read, under a share lock that a close waits for; the current vote row, locked;
    the write; the audit entry.
    """
    if choice not in CHOICES:
        raise Refused("proposal.error.bad_choice", 400)
    async with in_transaction() as conn:
        wanted, elector_id = await _voice(conn, proposal_id, resident_id, now, lock=True)
        previous, previous_voter = await write_voice(
            conn,
            Voice(proposal_id, elector_id, wanted, choice, now, f"resident:{resident_id}"),
            resident_id=resident_id,
        )
        if previous is not None and previous != choice and previous_voter != resident_id:
            await _tell_household(conn, proposal_id, wanted, resident_id)
    return VoteOutcome(choice, previous)


@dataclass(frozen=True)
class Voice:
    """One answer to write: whose elector row, which choice, when, and who acts."""

    proposal_id: int
    elector_id: int
    elector: str
    choice: str
    now: datetime
    actor: str
    channel: str = "online"


async def write_voice(
    conn: Any, voice: Voice, *, resident_id: int | None = None, recorded_by: int | None = None
) -> tuple[str | None, int | None]:
    """The elector's one vote row, created or overwritten, and its chained audit entry.

    Returns the previous choice and who made it (both ``None`` for a first vote). An
    answer goes to the audit log whenever it changes the choice or the channel, and
    every answer recorded in person does (each is a worker's statement). Online and in
    person meet here, on the same row lock, so the last to commit is the voice counted.
    """
    postgres = conn.capabilities.dialect == "postgres"
    chain = chain_of(voice.proposal_id, voice.elector)
    after = {
        "elector": voice.elector,
        "choice": voice.choice,
        "channel": voice.channel,
        "at": voice.now.isoformat(),
    }
    if postgres:
        prev = genesis(chain)
        digest = link(prev, voice.actor, "vote.cast", after)
        if await _first_vote_pg(conn, voice, resident_id, recorded_by, chain, prev, digest, after):
            return None, None
    found = await _upsert_vote(conn, postgres, voice, resident_id, recorded_by)
    previous, previous_channel, previous_voter = found
    if (
        previous == voice.choice
        and (previous_channel or "online") == voice.channel
        and voice.channel != "in_person"
    ):
        return previous, previous_voter
    heads = await sql.run(
        conn,
        "SELECT digest FROM audit_log WHERE chain = $1 ORDER BY id DESC LIMIT 1",
        [chain],
    )
    prev = heads[0]["digest"] if heads and heads[0]["digest"] else genesis(chain)
    action = "vote.changed" if previous else "vote.cast"
    # The audit entry written directly: the ORM's model layer costs more than the vote.
    await sql.run(
        conn,
        "INSERT INTO audit_log"
        " (at, actor, action, entity, entity_id, before, after, chain, prev, digest)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [
            sql.db_time(voice.now, postgres),
            voice.actor,
            action,
            "proposal",
            str(voice.proposal_id),
            json.dumps({"elector": voice.elector, "choice": previous, "channel": previous_channel})
            if previous
            else None,
            json.dumps(after),
            chain,
            prev,
            link(prev, voice.actor, action, after),
        ],
    )
    return previous, previous_voter


async def _tell_household(conn: Any, proposal_id: int, elector: str, changer: int) -> None:
    """Another member changed the household's vote: its other bound residents hear that it
    changed (``proposal.vote_changed``), in the vote's transaction; never which way."""
    if not elector.startswith("h"):
        return  # a resident's own voice: nobody else can change it
    rows = await sql.run(
        conn,
        "SELECT r.id, p.community_id, p.title FROM proposal p"
        " JOIN resident r ON r.community_id = p.community_id"
        " WHERE p.id = $1 AND r.household_id = $2 AND r.id <> $3"
        " AND r.verified = $4 AND r.active = $5 AND r.erased_at IS NULL ORDER BY r.id",
        [proposal_id, int(elector[1:]), changer, True, True],
    )
    for row in rows:
        await Notification.create(
            community_id=row["community_id"],
            kind="proposal.vote_changed",
            audience=f"resident:{row['id']}",
            subject="proposal",
            subject_id=proposal_id,
            payload={"id": proposal_id, "title": row["title"]},
            using_db=conn,
        )


async def _first_vote_pg(
    conn: Any,
    voice: Voice,
    resident_id: int | None,
    recorded_by: int | None,
    chain: str,
    prev: str,
    digest: str,
    after: dict[str, Any],
) -> bool:
    """The common case in one round trip: the elector's first vote and its audit entry.

    False when the elector has voted already; the caller then overwrites under a row lock.
    """
    made = await conn.execute_query_dict(
        "WITH made AS (INSERT INTO proposal_vote"
        " (proposal_id, elector_id, choice, resident_id, updated_at, channel, recorded_by_id)"
        " VALUES ($1, $2, $3, $4, $5, $9, $10)"
        " ON CONFLICT (proposal_id, elector_id) DO NOTHING RETURNING id),"
        " audited AS (INSERT INTO audit_log"
        " (at, actor, action, entity, entity_id, before, after, chain, prev, digest)"
        " SELECT $5, $6, 'vote.cast', 'proposal', $7, NULL, $8, $11, $12, $13"
        " FROM made RETURNING id)"
        " SELECT id FROM made",
        [
            voice.proposal_id,
            voice.elector_id,
            voice.choice,
            resident_id,
            voice.now,
            voice.actor,
            str(voice.proposal_id),
            json.dumps(after),
            voice.channel,
            recorded_by,
            chain,
            prev,
            digest,
        ],
    )
    return bool(made)


async def _upsert_vote(
    conn: Any,
    postgres: bool,
    voice: Voice,
    resident_id: int | None,
    recorded_by: int | None,
) -> tuple[str | None, str | None, int | None]:
    """The elector's one vote row, created or overwritten; returns the previous choice,
    channel and voter (all ``None`` for a first vote).

    Two voters of one household at once: the unique (proposal, elector) key lets one
    insert win; the other finds that row on its second look and overwrites it.
    """
    when = sql.db_time(voice.now, postgres)
    for _ in range(2):
        found = await sql.run(
            conn,
            "SELECT id, choice, channel, resident_id FROM proposal_vote"
            " WHERE proposal_id = $1 AND elector_id = $2" + (" FOR UPDATE" if postgres else ""),
            [voice.proposal_id, voice.elector_id],
        )
        if found:
            row = found[0]
            same = row["choice"] == voice.choice and (row["channel"] or "online") == voice.channel
            if same and voice.channel != "in_person":
                voter = row["resident_id"]
                return row["choice"], row["channel"], None if voter is None else int(voter)
            await sql.run(
                conn,
                "UPDATE proposal_vote SET choice = $1, resident_id = $2, updated_at = $3,"
                " channel = $4, recorded_by_id = $5 WHERE id = $6",
                [voice.choice, resident_id, when, voice.channel, recorded_by, row["id"]],
            )
            voter = row["resident_id"]
            return row["choice"], row["channel"], None if voter is None else int(voter)
        made = await sql.run(
            conn,
            "INSERT INTO proposal_vote"
            " (proposal_id, elector_id, choice, resident_id, updated_at, channel, recorded_by_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (proposal_id, elector_id) DO NOTHING RETURNING id",
            [
                voice.proposal_id,
                voice.elector_id,
                voice.choice,
                resident_id,
                when,
                voice.channel,
                recorded_by,
            ],
        )
        if made:
            return None, None, None
    raise Refused("proposal.error.changed_meanwhile", 409)
