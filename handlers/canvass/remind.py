"""Reminders that target the gap: the households of a vote that have not answered yet.

A manager's click messages the bound residents of those households ("投票 N 赞成" is
all it takes) and tells each grid's workers how many doors are left there today. At
most once per household, vote and day (Beijing date): the reminder rows' unique key
decides, inside the click's transaction, so two clicks at once send one reminder.
Households nobody is bound to are counted for their grid (they need a visit) but have
no one to message. What goes out is a ``Notification``: the notices relay words it in
each recipient's language and delivers it like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from handlers.canvass.doors import doors
from handlers.canvass.rules import Door
from handlers.canvass.service import _voting
from handlers.clock import LOCAL
from handlers.proposals.rules import Reach, Status
from handlers.refusal import Refused
from handlers.roles import MANAGERS, Who
from models import sql
from models.audit import record
from models.outbox import Notification
from models.proposals import Proposal
from models.residents import Resident

log = logging.getLogger(__name__)

REMIND = "canvass.remind"  # to the residents of households that have not answered
TO_VISIT = "canvass.to_visit"  # to a grid's workers: the doors left there today
GAP = (Reach.NOT_REACHED, Reach.VISITED)
# Rows per INSERT: four parameters each, well inside SQLite's and PostgreSQL's limits.
INSERT_BATCH = 500


def local_day(now: datetime) -> str:
    """The Beijing date of ``now``: what "once a day" counts by."""
    return now.astimezone(LOCAL).date().isoformat()


@dataclass(frozen=True)
class GridGap:
    grid_id: int | None
    grid: str
    to_visit: int


def by_grid(gap: Iterable[Door]) -> list[GridGap]:
    """The unanswered households per grid, by grid name (households of no grid last)."""
    counts: dict[int | None, GridGap] = {}
    for door in gap:
        seen = counts.get(door.grid_id)
        counts[door.grid_id] = GridGap(door.grid_id, door.grid, (seen.to_visit if seen else 0) + 1)
    return sorted(counts.values(), key=lambda g: (g.grid_id is None, g.grid, g.grid_id or 0))


async def _mark(
    conn: Any, proposal_id: int, households: Sequence[int], day: str, now: datetime
) -> set[int]:
    """Insert today's reminder rows; the households whose row is new (not already there
    from an earlier click, this one's or a concurrent one's). In id order, so two clicks
    at once wait on each other instead of deadlocking."""
    postgres = conn.capabilities.dialect == "postgres"
    at = sql.db_time(now, postgres)
    fresh: set[int] = set()
    ordered = sorted(households)
    for start in range(0, len(ordered), INSERT_BATCH):
        chunk = ordered[start : start + INSERT_BATCH]
        values = ", ".join(
            f"(${4 * i + 1}, ${4 * i + 2}, ${4 * i + 3}, ${4 * i + 4})" for i in range(len(chunk))
        )
        params: list[Any] = []
        for household_id in chunk:
            params += [proposal_id, household_id, day, at]
        rows = await sql.run(
            conn,
            "INSERT INTO canvass_reminder (proposal_id, household_id, day, sent_at)"
            f" VALUES {values}"
            " ON CONFLICT (proposal_id, household_id, day) DO NOTHING RETURNING household_id",
            params,
        )
        fresh.update(int(r["household_id"]) for r in rows)
    return fresh


async def _members(conn: Any, households: Sequence[int]) -> list[tuple[int, int]]:
    """The bound residents of these households and their household, in resident order."""
    if not households:
        return []
    found = (
        await Resident.filter(
            household_id__in=list(households), verified=True, active=True, erased_at=None
        )
        .using_db(conn)
        .order_by("id")
        .values_list("id", "household_id")
    )
    return [(int(resident_id), int(household_id)) for resident_id, household_id in found]


def _payload(proposal: Proposal) -> dict[str, Any]:
    ends = proposal.voting_ends_at
    return {"id": proposal.id, "title": proposal.title, "ends": ends.isoformat() if ends else ""}


async def remind_gap(who: Who, proposal_id: int, now: datetime) -> dict[str, Any]:
    """Remind today's unanswered households of an open vote, once a day each.

    Returns the households and residents messaged now, the unanswered households
    skipped because they were reminded today already, and each grid's doors to visit.
    """
    if not who.has(MANAGERS):
        raise Refused("api.error.forbidden", 403)
    proposal = await _voting(proposal_id, who)
    ends = proposal.voting_ends_at
    if proposal.status != Status.VOTING or (ends is not None and now >= ends):
        raise Refused("proposal.error.vote_closed", 409)
    day = local_day(now)
    async with in_transaction() as conn:
        gap = [d for d in await doors(conn, proposal.id) if d.reach in GAP]
        fresh = await _mark(conn, proposal.id, [d.household_id for d in gap], day, now)
        bound = await _members(conn, sorted(fresh))
        members = [resident_id for resident_id, _ in bound]
        households = len({household_id for _, household_id in bound})
        grids = by_grid(gap)
        if members:
            await Notification.create(
                community_id=proposal.community_id,
                kind=REMIND,
                audience="residents",
                subject="proposal",
                subject_id=proposal.id,
                payload={**_payload(proposal), "residents": members},
                using_db=conn,
            )
        touched = {d.grid_id for d in gap if d.household_id in fresh}
        for grid in grids:
            if grid.grid_id not in touched:
                continue  # its workers heard of these doors today already
            await Notification.create(
                community_id=proposal.community_id,
                kind=TO_VISIT,
                audience=f"grid:{grid.grid_id}" if grid.grid_id else "community_workers",
                subject="proposal",
                subject_id=proposal.id,
                payload={**_payload(proposal), "grid": grid.grid, "to_visit": grid.to_visit},
                using_db=conn,
            )
        if fresh:
            await record(
                who.name,
                "canvass.reminded",
                "proposal",
                proposal.id,
                after={"day": day, "households": households, "residents": len(members)},
                using_db=conn,
            )
    log.info(
        "gap reminder for proposal %s: %d households, %d residents, %d skipped today",
        proposal.id,
        households,
        len(members),
        len(gap) - len(fresh),
    )
    return {
        "households": households,
        "residents": len(members),
        "skipped_today": len(gap) - len(fresh),
        "grids": [{"grid_id": g.grid_id, "grid": g.grid, "to_visit": g.to_visit} for g in grids],
    }
