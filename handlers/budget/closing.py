"""Closing ordering: counted once, exactly, and stored with its inputs and rule.

Support is the number of households whose latest order holds a project; a project's
minimum support is a share of the eligible households of its scope (less those found
vacant, when the rule leaves them out); the fund pays for projects by support, in order,
while it lasts (``rules.allocate``). The funded projects get their budget line and
enter implementation; the others are marked unfunded. The result keeps the digest that
seals every household's chain of orders.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from handlers.budget import rules
from handlers.budget.doors import counted, doors
from handlers.budget.menu import as_items, listed_items
from handlers.budget.ordering import rule_of
from handlers.budget.rounds import fund_of, get_round, move, tell
from handlers.budget.rules import Phase
from handlers.canvass import rules as canvass
from handlers.canvass.chain import fold
from handlers.proposals.rules import Coverage, Vacant
from handlers.refusal import Refused
from handlers.roles import Who
from models import sql
from models.audit import record
from models.budget import FundSource, MenuItem, Round

log = logging.getLogger(__name__)


async def orders_of(conn: Any, round_id: int) -> dict[int, tuple[int, ...]]:
    """Every household's current order, by household id."""
    rows = await sql.run(
        conn,
        "SELECT e.household_id, o.items FROM budget_order o"
        " JOIN budget_elector e ON e.id = o.elector_id WHERE o.round_id = $1",
        [round_id],
    )
    return {int(r["household_id"]): tuple(sql.as_json(r["items"])) for r in rows}


async def seal(conn: Any, round_id: int) -> str:
    """The round's digest from the last entry of every household's chain of orders."""
    rows = await sql.run(
        conn,
        "SELECT chain, digest FROM audit_log WHERE entity = $1 AND entity_id = $2"
        " AND chain IS NOT NULL ORDER BY id",
        ["budget_round", str(round_id)],
    )
    heads = {r["chain"]: r["digest"] for r in rows}
    return fold(round_id, heads.items())


async def close_ordering(
    round_id: int,
    who: Who | None,
    now: datetime,
    lock: Any,
    community_id: int = 0,
    override: str | None = None,
) -> Round:
    """Count once. Not before ordering's end; a coverage rule waits for every household
    unless an admin closes with a written ``override`` reason (audited, on the result)."""
    cid = who.community_id if who is not None else community_id
    reason = (override or "").strip()
    await get_round(round_id, cid)  # another community's round is not found, first
    if override is not None and (who is None or not who.is_admin):
        raise Refused("proposal.error.override_forbidden", 403)
    if override is not None and not reason:
        raise Refused("proposal.error.override_reason_required", 400)
    async with lock(f"budget:{round_id}:close", timeout=60.0, blocking_timeout=10.0):
        found = await get_round(round_id, cid)
        if found.status != Phase.ORDERING:
            raise Refused("budget.error.not_ordering", 409)
        if found.ordering_ends_at is not None and now < found.ordering_ends_at:
            raise Refused("budget.error.ordering_not_over", 409)
        rule = rule_of(found)
        async with in_transaction() as conn:
            await Round.filter(id=found.id).using_db(conn).select_for_update().first()
            every = await doors(conn, found.id)
            reached = counted(every)
            missing = reached.not_reached if rule.coverage == Coverage.ALL else 0
            if missing and not reason:
                raise Refused("proposal.error.coverage_incomplete", 409, missing=missing)
            result = await count(conn, found, rule, every)
            if missing:
                actor = who.name if who else "system"
                result["override"] = {"by": actor, "reason": reason}
                await record(
                    actor,
                    "budget.coverage_override",
                    "budget_round",
                    found.id,
                    after={"not_reached": missing, "reason": reason},
                    using_db=conn,
                )
            funded = {int(n) for n in result["funded"]}
            for item in await listed_items(found, conn):
                if item.status != "listed":
                    continue
                if item.number in funded:
                    await (
                        MenuItem.filter(id=item.id)
                        .using_db(conn)
                        .update(status="funded", budget=item.cost)
                    )
                else:
                    await MenuItem.filter(id=item.id).using_db(conn).update(status="unfunded")
            await move(found, Phase.RESULT, who, conn, result=result, closed_at=now)
            await tell(found, "budget.result", conn, funded=len(funded))
    return found


async def count(conn: Any, found: Round, rule: rules.RoundRule, every: list[Any]) -> dict[str, Any]:
    """The result: inputs (fund, sources, rule, electorate, coverage), support per item,
    the funded set, and the digest."""
    items = [i for i in await listed_items(found, conn) if i.status == "listed"]
    menu = as_items(items)
    orders = await orders_of(conn, found.id)
    # Only what is still on the menu counts (an order cannot hold anything else).
    support = rules.support_of(tuple(n for n in order if n in menu) for order in orders.values())
    vacant = {d.door.household_id for d in every if d.door.vacant}
    excluded = vacant if rule.vacant == Vacant.EXCLUDE else set()
    eligible = {
        item.number: sum(
            1
            for d in every
            if d.door.household_id not in excluded
            and rules.covers(item.scope, d.building_id, d.door.grid_id)
        )
        for item in items
    }
    fund = await fund_of(found.id, conn)
    allocation = rules.allocate(rule, fund, menu.values(), support, eligible)
    reached = counted(every)
    sources = await FundSource.filter(round_id=found.id).using_db(conn).order_by("id")
    titles = {i.number: i.title for i in items}
    return {
        "fund": str(fund),
        "sources": [{"kind": s.kind, "name": s.name, "amount": str(s.amount)} for s in sources],
        "rule": rules.rule_to_mapping(rule),
        "eligible": len(every),
        "vacant_excluded": len(excluded),
        "orders": len(orders),
        "items": [
            {
                "number": r.item.number,
                "title": titles[r.item.number],
                "cost": str(r.item.cost),
                "support": r.support,
                "eligible": r.eligible,
                "needed": r.needed,
                "standing": r.standing.value,
                "rank": r.rank,
            }
            for r in allocation.ranked
        ],
        "funded": list(allocation.funded),
        "spent": str(allocation.spent),
        "left": str(allocation.left),
        "coverage": {
            "online": reached.online,
            "in_person": reached.in_person,
            "visited": reached.visited,
            "not_reached": reached.not_reached,
            "vacant": reached.vacant,
            "reasons": dict(reached.reasons),
        },
        "buildings": [
            {"building": name, **_reach(c)}
            for name, c in canvass.count_by((d.door for d in every), lambda d: d.building).items()
        ],
        "digest": await seal(conn, found.id),
    }


def _reach(c: canvass.Counts) -> dict[str, int]:
    """How a building's households were reached (an order has no for or against)."""
    figures = c.figures()
    return {k: v for k, v in figures.items() if k not in ("yes", "no", "abstain")}


def standing_of(result: dict[str, Any], number: int) -> str | None:
    for row in result.get("items", ()):
        if row["number"] == number:
            return str(row["standing"])
    return None


async def close_due(now: datetime, lock: Any) -> int:
    """The background job: close every round whose ordering time is up, once."""
    due = await Round.filter(status=Phase.ORDERING, ordering_ends_at__lte=now).values_list(
        "id", "community_id"
    )
    closed = 0
    for round_id, community_id in due:
        try:
            await close_ordering(round_id, None, now, lock, community_id=community_id)
            closed += 1
        except Refused as exc:
            log.info("round %s not closed: %s", round_id, exc.code)
    return closed
