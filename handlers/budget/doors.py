"""The round's door-to-door side: coverage of the electorate and paper menu ballots.

The same rules as a vote's survey (``handlers.canvass.rules``): a household is reached
by an order (online or on paper) or by a visit with its reason; grid workers record for
the grids they serve, managers for all; after ordering ends, a coverage rule still takes
the households not reached yet, and changes nothing already answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from handlers.budget.ordering import _ballot, _share_lock, checked, write_order
from handlers.budget.rounds import get_round
from handlers.budget.rules import Phase
from handlers.canvass import rules as canvass
from handlers.canvass.rules import Counts, Door, VisitError, VisitForm
from handlers.canvass.service import serves, tell_household
from handlers.proposals.rules import Coverage, Reach, reach
from handlers.refusal import Refused
from handlers.roles import CONSOLE, MANAGERS, TALLY_READERS, Who
from models import sql
from models.audit import record
from models.budget import BallotVisit, Round
from models.community import Household
from models.outbox import Notification

_DOORS = (
    "SELECT e.household_id, h.unit, h.room, h.building_id, b.name AS building, b.grid_id,"
    " g.name AS grid, o.channel, o.id AS order_id"
    " FROM budget_elector e"
    " JOIN household h ON h.id = e.household_id"
    " JOIN building b ON b.id = h.building_id"
    " LEFT JOIN grid g ON g.id = b.grid_id"
    " LEFT JOIN budget_order o ON o.round_id = e.round_id AND o.elector_id = e.id"
    " WHERE e.round_id = $1"
    " ORDER BY b.name, h.unit, h.room, e.household_id"
)


@dataclass(frozen=True)
class RoundDoor:
    door: Door
    building_id: int


async def doors(conn: Any, round_id: int, grids: frozenset[int] | None = None) -> list[RoundDoor]:
    """Every household of the frozen electorate and how it was reached."""
    rows = await sql.run(conn, _DOORS, [round_id])
    visited = await sql.run(
        conn,
        "SELECT household_id, outcome FROM budget_visit WHERE round_id = $1 ORDER BY id",
        [round_id],
    )
    last = {int(v["household_id"]): v["outcome"] for v in visited}
    out = []
    for r in rows:
        if grids is not None and r["grid_id"] not in grids:
            continue
        hid = int(r["household_id"])
        channel = r["channel"] if r["order_id"] is not None else None
        state = reach(channel, last.get(hid))
        out.append(
            RoundDoor(
                Door(
                    household_id=hid,
                    grid_id=r["grid_id"],
                    grid=r["grid"] or "",
                    building=r["building"],
                    unit=r["unit"] or "",
                    room=r["room"],
                    reach=state,
                    reason=last.get(hid) if state == Reach.VISITED else None,
                ),
                int(r["building_id"]),
            )
        )
    return out


def _figures(c: Counts) -> dict[str, Any]:
    return {
        "eligible": c.eligible,
        "online": c.online,
        "in_person": c.in_person,
        "visited": c.visited,
        "not_reached": c.not_reached,
        "reached": c.reached,
        "vacant": c.vacant,
        "reasons": dict(c.reasons),
    }


def _grids(who: Who) -> frozenset[int] | None:
    return None if who.has(MANAGERS) else who.grids


async def _ordering_round(who: Who, round_id: int) -> Round:
    if not who.has(CONSOLE):
        raise Refused("api.error.forbidden", 403)
    found = await get_round(round_id, who.community_id)
    if found.rule is None:
        raise Refused("budget.error.not_ordering", 409)
    return found


async def coverage(who: Who, round_id: int) -> dict[str, Any]:
    """Coverage of the round, live, by grid and building; grid workers see their grids."""
    found = await _ordering_round(who, round_id)
    async with in_transaction() as conn:
        found_doors = [d.door for d in await doors(conn, found.id, _grids(who))]
    return {
        "round_id": found.id,
        "status": found.status,
        "coverage_rule": (found.rule or {}).get("coverage", "all"),
        "total": _figures(canvass.count(found_doors)),
        "grids": [
            {"grid": name, **_figures(c)}
            for name, c in canvass.count_by(found_doors, lambda d: d.grid).items()
        ],
        "buildings": [
            {"building": name, **_figures(c)}
            for name, c in canvass.count_by(found_doors, lambda d: d.building).items()
        ],
        "live_support": who.has(TALLY_READERS),
    }


async def to_visit(who: Who, round_id: int) -> list[dict[str, Any]]:
    """The households of the caller's grids still to visit, in building, unit, room order."""
    found = await _ordering_round(who, round_id)
    async with in_transaction() as conn:
        found_doors = await doors(conn, found.id, _grids(who))
    return [
        {
            "household_id": d.door.household_id,
            "grid": d.door.grid,
            "building": d.door.building,
            "unit": d.door.unit,
            "room": d.door.room,
            "state": d.door.reach.value,
        }
        for d in found_doors
        if d.door.reach in (Reach.NOT_REACHED, Reach.VISITED)
    ]


@dataclass(frozen=True)
class BallotForm:
    """A call at the door: a paper menu ballot (its numbers, who filled it in, its photo),
    or the reason there was none."""

    outcome: str
    items: tuple[int, ...] | None = None
    respondent: str = ""
    method: str | None = None
    media: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class BallotRecorded:
    visit: BallotVisit
    state: Reach
    items: tuple[int, ...] | None
    previous: tuple[int, ...] | None


def _check(form: BallotForm) -> VisitForm:
    """The canvass form's rules, with the ballot's numbers standing in for a choice."""
    answered = form.outcome == "answered"
    if not answered and form.items is not None:
        raise Refused("canvass.error.choice_without_answer", 400)
    if answered and form.items is None:
        raise Refused("budget.error.ballot_items_required", 400)
    try:
        return canvass.check_visit(
            VisitForm(
                form.outcome,
                "yes" if answered else None,
                form.respondent,
                form.method,
                tuple(form.media),
                form.note,
            )
        )
    except VisitError as exc:
        raise Refused(exc.code, 400) from None


async def record_ballot(
    who: Who,
    round_id: int,
    household_id: int,
    form: BallotForm,
    now: datetime,
    visited_at: datetime | None = None,
) -> BallotRecorded:
    """Record one call at one door for the round; an answered one is the household's order,
    written through the same ``write_order`` as an order online."""
    if not who.has(CONSOLE):
        raise Refused("api.error.forbidden", 403)
    clean = _check(form)
    when = visited_at or now
    found = await get_round(round_id, who.community_id)
    try:
        canvass.check_visit_time(when, now, found.ordering_opened_at)
    except VisitError as exc:
        raise Refused(exc.code, 400) from None
    household = await Household.get_or_none(
        id=household_id, building__community_id=who.community_id
    ).prefetch_related("building")
    if household is None:
        raise Refused("canvass.error.no_household", 404)
    if not serves(who, household.building.grid_id):
        raise Refused("canvass.error.outside_grid", 403)
    async with in_transaction() as conn:
        await _share_lock(conn, found.id)
        found = await Round.filter(id=found.id).using_db(conn).get()
        if found.status != Phase.ORDERING:
            raise Refused("budget.error.not_ordering", 409)
        ended = found.ordering_ends_at is not None and now >= found.ordering_ends_at
        if ended:
            state = next(
                (
                    d.door.reach
                    for d in await doors(conn, found.id)
                    if d.door.household_id == household.id
                ),
                Reach.NOT_REACHED,
            )
            coverage_all = (found.rule or {}).get("coverage") == Coverage.ALL
            if not canvass.may_record_late(state, coverage_all):
                raise Refused("budget.error.not_ordering", 409)
        mine = await _ballot(conn, found, household.id, now, late_ok=ended)
        items = (
            checked(mine, list(form.items)) if clean.answered and form.items is not None else None
        )
        visit = await BallotVisit.create(
            round_id=found.id,
            household_id=household.id,
            worker_id=who.id,
            outcome=clean.outcome,
            items=list(items) if items is not None else None,
            respondent=clean.respondent,
            method=clean.method,
            media=list(clean.media),
            note=clean.note,
            visited_at=when,
            using_db=conn,
        )
        if clean.media:
            from handlers.media import service as media_service

            await media_service.attach(list(clean.media), who, "ballot", visit.id, conn=conn)
        previous = None
        if items is not None:
            previous = await write_order(
                conn,
                found.id,
                mine,
                items,
                now,
                who.name,
                recorded_by=who.id,
                channel="in_person",
            )
        await record(
            who.name,
            "ballot.recorded",
            "budget_round",
            found.id,
            after={
                "household": household.id,
                "visit": visit.id,
                "outcome": clean.outcome,
                "method": clean.method,
                "at": when.isoformat(),
            },
            using_db=conn,
        )
        await _tell_members(conn, found, household.id, visit)
    state = Reach.IN_PERSON if items is not None else Reach.VISITED
    return BallotRecorded(visit, state, items, previous)


async def _tell_members(conn: Any, found: Round, household_id: int, visit: BallotVisit) -> None:
    kind = "budget.ballot_recorded" if visit.outcome == "answered" else "budget.visit_recorded"
    await tell_household(
        conn,
        household_id,
        Notification(
            community_id=found.community_id,
            kind=kind,
            subject="budget_round",
            subject_id=found.id,
            payload={"id": found.id, "title": found.title, "visit": visit.id},
        ),
    )


def counted(found_doors: Sequence[RoundDoor]) -> Counts:
    return canvass.count(d.door for d in found_doors)
