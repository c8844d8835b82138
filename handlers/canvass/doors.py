"""Every eligible household's standing in one vote, read in three queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from handlers.canvass.rules import Door
from handlers.proposals.rules import Reach, reach
from models import sql

_DOORS = (
    "SELECT e.household_id, e.area, h.unit, h.room, b.name AS building, b.grid_id,"
    " g.name AS grid, v.choice, v.channel, v.id AS vote_id"
    " FROM proposal_elector e"
    " JOIN household h ON h.id = e.household_id"
    " JOIN building b ON b.id = h.building_id"
    " LEFT JOIN grid g ON g.id = b.grid_id"
    " LEFT JOIN proposal_vote v ON v.proposal_id = e.proposal_id AND v.elector_id = e.id"
    " WHERE e.proposal_id = $1 AND e.household_id IS NOT NULL"
    " ORDER BY b.name, h.unit, h.room, e.household_id"
)


async def visit_rows(conn: Any, proposal_id: int) -> list[dict[str, Any]]:
    """Every visit of a vote, in the order they were recorded."""
    return await sql.run(
        conn,
        "SELECT id, household_id, outcome, visited_at, worker_id FROM canvass_visit"
        " WHERE proposal_id = $1 ORDER BY id",
        [proposal_id],
    )


async def doors(
    conn: Any,
    proposal_id: int,
    grids: frozenset[int] | None = None,
    visited: list[dict[str, Any]] | None = None,
) -> list[Door]:
    """The households of the frozen electorate (household votes only), optionally of some
    grids, in building, unit, room order; ``visited`` is ``visit_rows`` if already read."""
    rows = await sql.run(conn, _DOORS, [proposal_id])
    if visited is None:
        visited = await visit_rows(conn, proposal_id)
    # Each household's latest visit: later rows overwrite earlier ones.
    visits = {int(r["household_id"]): r for r in visited}
    out = []
    for r in rows:
        if grids is not None and r["grid_id"] not in grids:
            continue
        hid = int(r["household_id"])
        channel = (r["channel"] or "online") if r["vote_id"] is not None else None
        last = visits.get(hid)
        state = reach(channel, last["outcome"] if last else None)
        out.append(
            Door(
                household_id=hid,
                grid_id=r["grid_id"],
                grid=r["grid"] or "",
                building=r["building"],
                unit=r["unit"] or "",
                room=r["room"],
                reach=state,
                choice=r["choice"] if channel else None,
                reason=last["outcome"] if last and state == Reach.VISITED else None,
                area=Decimal(r["area"] or 0),
            )
        )
    return out
