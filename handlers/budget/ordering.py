"""群众点菜: opening ordering, and a household's one order, online or on paper.

One household, one order, the latest counts: an order is one row per household (the
unique key), overwritten under its row lock, every change a chained audit entry. An
order online (chat, mini-program) and a paper menu ballot recorded by a grid worker
meet in ``write_order``, so whichever commits last is the household's order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from handlers.budget import rules
from handlers.budget.menu import as_items, listed_items
from handlers.budget.rounds import fund_of, get_round, move, round_rules, tell
from handlers.budget.rules import OrderError, Phase, RoundRule
from handlers.canvass.chain import genesis, link
from handlers.clock import LOCAL
from handlers.refusal import Refused
from handlers.roles import Who
from models import sql
from models.budget import BudgetElector, MenuItem, Round
from models.community import Household

PICKS_MAX = 200


def chain_of(round_id: int, household_id: int) -> str:
    return f"budget:{round_id}:h{household_id}"


def ends_at(found: Round) -> datetime:
    """Ordering ends when the result phase's planned day starts, Beijing time."""
    day = date.fromisoformat(found.phases[Phase.RESULT])
    return datetime.combine(day, time(0), LOCAL)


async def open_ordering(who: Who | None, found: Round, now: datetime) -> Round:
    """Freeze the electorate (every household of the community) and the round's rule."""
    planned = date.fromisoformat(found.phases[Phase.ORDERING])
    if now.astimezone(LOCAL).date() < planned:
        raise Refused("budget.error.publicity_not_over", 409, date=planned.isoformat())
    ends = ends_at(found)
    if now >= ends:
        raise Refused("budget.error.ordering_too_late", 409)
    listed = await MenuItem.filter(round_id=found.id, status="listed").count()
    if not listed:
        raise Refused("budget.error.empty_menu", 409)
    households = await Household.filter(building__community_id=found.community_id).values_list(
        "id", flat=True
    )
    if not households:
        raise Refused("proposal.error.no_electors", 400)
    rule = round_rules()[found.rule_name]
    async with in_transaction() as conn:
        await move(
            found,
            Phase.ORDERING,
            who,
            conn,
            rule=rules.rule_to_mapping(rule),
            eligible_count=len(households),
            ordering_opened_at=now,
            ordering_ends_at=ends,
        )
        await BudgetElector.bulk_create(
            [BudgetElector(round_id=found.id, household_id=h) for h in households],
            batch_size=1000,
            using_db=conn,
        )
        await tell(found, "budget.ordering_opened", conn, ends=ends.isoformat())
    return found


def rule_of(found: Round) -> RoundRule:
    if found.rule is None:
        return round_rules()[found.rule_name]
    return rules.rule_from_mapping(found.rule)


@dataclass(frozen=True)
class Ballot:
    """What one household may order and has ordered: the chat's and the API's view."""

    round: Round
    rule: RoundRule
    fund: Decimal
    menu: dict[int, rules.Item]
    allowed: frozenset[int]
    picks: tuple[int, ...]
    titles: dict[int, str]
    elector_id: int
    household_id: int

    def left(self, picks: Sequence[int]) -> Decimal | None:
        return rules.remaining(self.rule, self.fund, self.menu, picks)


async def _household(conn: Any, household_id: int) -> tuple[int, int | None]:
    rows = await sql.run(
        conn,
        "SELECT h.building_id, b.grid_id FROM household h JOIN building b ON b.id = h.building_id"
        " WHERE h.id = $1",
        [household_id],
    )
    return int(rows[0]["building_id"]), rows[0]["grid_id"]


async def _ballot(
    conn: Any, found: Round, household_id: int, now: datetime, *, late_ok: bool = False
) -> Ballot:
    """The household's ballot in this round, or the refusal an order gets now."""
    if found.status != Phase.ORDERING or found.rule is None:
        raise Refused("budget.error.not_ordering", 409)
    ends = found.ordering_ends_at
    if ends is not None and now >= ends and not late_ok:
        raise Refused("budget.error.not_ordering", 409)
    elector = (
        await BudgetElector.filter(round_id=found.id, household_id=household_id)
        .using_db(conn)
        .first()
    )
    if elector is None:
        raise Refused("budget.error.not_eligible", 403)
    items = [i for i in await listed_items(found, conn) if i.status == "listed"]
    building, grid = await _household(conn, household_id)
    allowed = frozenset(i.number for i in items if rules.covers(i.scope, building, grid))
    current = await sql.run(
        conn,
        "SELECT items FROM budget_order WHERE round_id = $1 AND elector_id = $2",
        [found.id, elector.id],
    )
    picks = tuple(sql.as_json(current[0]["items"])) if current else ()
    return Ballot(
        round=found,
        rule=rule_of(found),
        fund=await fund_of(found.id, conn),
        menu=as_items(items),
        allowed=allowed,
        picks=picks,
        titles={i.number: i.title for i in items},
        elector_id=elector.id,
        household_id=household_id,
    )


def _voter(who: Who) -> int:
    resident = who.resident
    if not resident.verified or resident.household_id is None:
        raise Refused("proposal.error.not_verified", 403)
    return int(resident.household_id)


async def ballot(who: Who, round_id: int, now: datetime) -> Ballot:
    """The caller's household's ballot: what it may order, and its current order."""
    household = _voter(who)
    found = await get_round(round_id, who.community_id)
    async with in_transaction() as conn:
        return await _ballot(conn, found, household, now)


def checked(ballot: Ballot, picks: Sequence[int]) -> tuple[int, ...]:
    """The picks as the rule stores them, or the refusal (400) the rule words."""
    if len(picks) > PICKS_MAX:
        raise Refused("budget.error.too_many", 400, max=PICKS_MAX)
    try:
        return rules.check_order(ballot.rule, ballot.fund, ballot.menu, picks, ballot.allowed)
    except OrderError as exc:
        raise Refused(exc.code, 400, **exc.params) from None


@dataclass(frozen=True)
class Placed:
    items: tuple[int, ...]
    previous: tuple[int, ...] | None
    left: Decimal | None = None  # what the order leaves of the fund, under a rule that counts it


async def place_order(who: Who, round_id: int, picks: Sequence[int], now: datetime) -> Placed:
    """The household's order, online: checked against the rule, then written."""
    household = _voter(who)
    found = await get_round(round_id, who.community_id)
    async with in_transaction() as conn:
        await _share_lock(conn, found.id)
        found = await Round.filter(id=found.id).using_db(conn).get()
        mine = await _ballot(conn, found, household, now)
        items = checked(mine, picks)
        previous = await write_order(conn, found.id, mine, items, now, who.name, resident_id=who.id)
    return Placed(items, previous, mine.left(items))


async def _share_lock(conn: Any, round_id: int) -> None:
    """The share lock on the round that its close waits for (PostgreSQL; SQLite has one
    writer at a time)."""
    if conn.capabilities.dialect == "postgres":
        await sql.run(conn, "SELECT id FROM budget_round WHERE id = $1 FOR SHARE", [round_id])


async def write_order(
    conn: Any,
    round_id: int,
    ballot: Ballot,
    items: tuple[int, ...],
    now: datetime,
    actor: str,
    *,
    resident_id: int | None = None,
    recorded_by: int | None = None,
    channel: str = "online",
) -> tuple[int, ...] | None:
    """The household's one order row, created or overwritten, and its chained audit entry.

    Two members of one household at once: the unique (round, elector) key lets one insert
    win; the other finds that row on its second look and overwrites it, under its lock.
    Returns the order it replaced (None for a first order).
    """
    postgres = conn.capabilities.dialect == "postgres"
    when = sql.db_time(now, postgres)
    previous: tuple[int, ...] | None = None
    for _ in range(2):
        found = await sql.run(
            conn,
            "SELECT id, items, channel FROM budget_order WHERE round_id = $1 AND elector_id = $2"
            + (" FOR UPDATE" if postgres else ""),
            [round_id, ballot.elector_id],
        )
        if found:
            row = found[0]
            previous = tuple(sql.as_json(row["items"]))
            if previous == items and row["channel"] == channel and channel != "in_person":
                return previous
            await sql.run(
                conn,
                "UPDATE budget_order SET items = $1, resident_id = $2, updated_at = $3,"
                " channel = $4, recorded_by_id = $5 WHERE id = $6",
                [json.dumps(list(items)), resident_id, when, channel, recorded_by, row["id"]],
            )
            break
        made = await sql.run(
            conn,
            "INSERT INTO budget_order"
            " (round_id, elector_id, items, resident_id, channel, recorded_by_id, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (round_id, elector_id) DO NOTHING RETURNING id",
            [
                round_id,
                ballot.elector_id,
                json.dumps(list(items)),
                resident_id,
                channel,
                recorded_by,
                when,
            ],
        )
        if made:
            break
    else:
        raise Refused("budget.error.changed_meanwhile", 409)
    chain = chain_of(round_id, ballot.household_id)
    heads = await sql.run(
        conn,
        "SELECT digest FROM audit_log WHERE chain = $1 ORDER BY id DESC LIMIT 1",
        [chain],
    )
    prev = heads[0]["digest"] if heads and heads[0]["digest"] else genesis(chain)
    action = "order.changed" if previous is not None else "order.placed"
    after = {
        "household": ballot.household_id,
        "items": list(items),
        "channel": channel,
        "at": now.isoformat(),
    }
    await sql.run(
        conn,
        "INSERT INTO audit_log"
        " (at, actor, action, entity, entity_id, before, after, chain, prev, digest)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [
            when,
            actor,
            action,
            "budget_round",
            str(round_id),
            None if previous is None else json.dumps({"items": list(previous)}),
            json.dumps(after),
            chain,
            prev,
            link(prev, actor, action, after),
        ],
    )
    return previous


def parse_picks(text: str) -> list[int]:
    """Menu numbers from "1 3 5", "1,3,5" or "1、3、5" (the API takes a list)."""
    out = []
    for part in text.replace(",", " ").replace("，", " ").replace("、", " ").split():
        if not part.isdigit() or len(part) > 6:
            raise Refused("budget.error.unknown_item", 400)
        out.append(int(part))
    return out


def late(found: Round, now: datetime) -> bool:
    return found.ordering_ends_at is not None and now >= found.ordering_ends_at
