"""Recompute a round's digest from the database, as ``linli verify-round N`` does.

The same three checks as a vote's (``handlers.canvass.verify``): every entry of every
household's chain of orders links and hashes as it says; the heads fold into the digest
stored with the result (printed on the poster); and each household's counted order is
the one its chain ends with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.transactions import in_transaction

from handlers.budget.ordering import chain_of
from handlers.canvass.chain import recheck
from models import sql
from models.budget import Round


@dataclass(frozen=True)
class Verification:
    round_id: int
    digest: str
    stored: str | None
    broken: list[int] = field(default_factory=list)  # audit entry ids
    mismatched: list[int] = field(default_factory=list)  # households

    @property
    def ok(self) -> bool:
        return self.stored == self.digest and not self.broken and not self.mismatched


async def verify_round(round_id: int) -> Verification | None:
    found = await Round.get_or_none(id=round_id)
    if found is None:
        return None
    async with in_transaction() as conn:
        entries = await sql.run(
            conn,
            "SELECT id, actor, action, after, chain, prev, digest FROM audit_log"
            " WHERE entity = $1 AND entity_id = $2 AND chain IS NOT NULL ORDER BY id",
            ["budget_round", str(round_id)],
        )
        orders = await sql.run(
            conn,
            "SELECT e.household_id, o.items FROM budget_order o"
            " JOIN budget_elector e ON e.id = o.elector_id WHERE o.round_id = $1",
            [round_id],
        )
    for entry in entries:
        entry["after"] = sql.as_json(entry["after"])
    counted = {
        chain_of(round_id, int(o["household_id"])): list(sql.as_json(o["items"])) for o in orders
    }
    digest, broken, chains = recheck(round_id, entries, counted, "items")
    mismatched = sorted(int(chain.rsplit(":h", 1)[1]) for chain in chains)
    stored = (found.result or {}).get("digest")
    return Verification(round_id, digest, stored, broken, mismatched)
