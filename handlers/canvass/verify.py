"""Recompute a vote's digest from the database, as ``linli verify-vote N`` does.

Three checks: every entry of every household's chain links to the one before and hashes
to what it says; the heads fold into the digest stored with the result (and printed on
the poster); and each household's counted vote is the answer its chain ends with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.transactions import in_transaction

from handlers.canvass.chain import recheck
from models import sql
from models.proposals import Proposal


@dataclass(frozen=True)
class Verification:
    proposal_id: int
    digest: str
    stored: str | None
    broken: list[int] = field(default_factory=list)  # audit entry ids
    mismatched: list[str] = field(default_factory=list)  # electors whose vote is not their chain's

    @property
    def ok(self) -> bool:
        return self.stored == self.digest and not self.broken and not self.mismatched


async def verify_vote(proposal_id: int) -> Verification | None:
    proposal = await Proposal.get_or_none(id=proposal_id)
    if proposal is None:
        return None
    async with in_transaction() as conn:
        entries = await sql.run(
            conn,
            "SELECT id, actor, action, after, chain, prev, digest FROM audit_log"
            " WHERE entity = $1 AND entity_id = $2 AND chain IS NOT NULL ORDER BY id",
            ["proposal", str(proposal_id)],
        )
        votes = await sql.run(
            conn,
            "SELECT e.key, v.choice FROM proposal_vote v"
            " JOIN proposal_elector e ON e.id = v.elector_id WHERE v.proposal_id = $1",
            [proposal_id],
        )
    for entry in entries:
        entry["after"] = sql.as_json(entry["after"])
    counted = {f"vote:{proposal_id}:{v['key']}": v["choice"] for v in votes}
    digest, broken, chains = recheck(proposal_id, entries, counted, "choice")
    mismatched = [chain.rsplit(":", 1)[1] for chain in chains]
    stored = (proposal.result or {}).get("digest")
    return Verification(proposal_id, digest, stored, broken, mismatched)
