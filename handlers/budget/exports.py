"""A round's printed records, read from the database once: the result poster (公示), the
round's record (留档) and the year-end report (资金公开).

The poster and the report are the community's: every resident of it may have them once
the round has its result. The record, one row per household's order and per call at a
door, is the managers', as a vote's is. Nothing here names a resident: a household is its
building, unit and room, a worker their id.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tortoise.transactions import in_transaction

from handlers.budget import money
from handlers.budget.menu import visible_round
from handlers.budget.rules import Funding, Selection, TieBreak, rule_from_mapping
from handlers.i18n import default_translator
from handlers.proposals.rules import Coverage, Vacant
from handlers.records.budget_data import (
    MoneyRow,
    OrderRow,
    ProjectRow,
    RoundRecord,
    SourceRow,
    SpendingRow,
    VisitRow,
    YearReport,
)
from handlers.refusal import Refused
from handlers.roles import MANAGERS, Who
from models import sql
from models.budget import ItemRating, Round, Spending
from models.community import Community

TIES = {
    TieBreak.CHEAPER: "records.budget.rule.tie_cheaper",
    TieBreak.NUMBER: "records.budget.rule.tie_number",
}
_ORDERS = (
    "SELECT o.id, o.items, o.channel, o.updated_at, o.recorded_by_id, h.unit, h.room,"
    " b.name AS building, g.name AS grid"
    " FROM budget_order o"
    " JOIN budget_elector e ON e.id = o.elector_id"
    " JOIN household h ON h.id = e.household_id"
    " JOIN building b ON b.id = h.building_id"
    " LEFT JOIN grid g ON g.id = b.grid_id"
    " WHERE o.round_id = $1"
    " ORDER BY b.name, h.unit, h.room, o.id"
)
_VISITS = (
    "SELECT v.id, v.visited_at, v.outcome, v.items, v.method, v.media, v.worker_id,"
    " h.unit, h.room, b.name AS building, g.name AS grid"
    " FROM budget_visit v"
    " JOIN household h ON h.id = v.household_id"
    " JOIN building b ON b.id = h.building_id"
    " LEFT JOIN grid g ON g.id = b.grid_id"
    " WHERE v.round_id = $1"
    " ORDER BY v.visited_at, v.id"
)


def _share(text: Any) -> str:
    """A rule's share as residents read it: 10%, or 1/3 when it is not a whole percent."""
    percent = Fraction(str(text)) * 100
    return f"{int(percent)}%" if percent.denominator == 1 else str(Fraction(str(text)))


def rule_words(rule: dict[str, Any], language: str) -> str:
    """The frozen rule as the poster states it: what a household may order, the support a
    project needs, how the fund is shared out, ties, coverage."""
    t = default_translator()
    parsed = rule_from_mapping(rule)
    words = []
    if parsed.selection == Selection.ANY:
        words.append(t(language, "records.budget.rule.any"))
    elif parsed.selection == Selection.FIT:
        words.append(t(language, "records.budget.rule.fit"))
    elif parsed.selection == Selection.MINIMUM:
        words.append(t(language, "records.budget.rule.minimum", share=_share(parsed.share)))
    low, high = parsed.min_projects, parsed.max_projects
    if low and high:
        words.append(t(language, "records.budget.rule.between", min=low, max=high))
    elif high:
        words.append(t(language, "records.budget.rule.at_most", max=high))
    elif low:
        words.append(t(language, "records.budget.rule.at_least", min=low))
    if parsed.min_support:
        share = _share(parsed.min_support)
        words.append(t(language, "records.budget.rule.min_support", share=share))
    else:
        words.append(t(language, "records.budget.rule.no_min_support"))
    if parsed.scoped:
        words.append(t(language, "records.budget.rule.scoped"))
    if parsed.funding == Funding.STOP:
        words.append(t(language, "records.budget.rule.stop"))
    else:
        words.append(t(language, "records.budget.rule.skip"))
    ties = t(language, "records.budget.list_separator").join(
        t(language, TIES[tie]) for tie in parsed.tie_break
    )
    if ties:
        words.append(t(language, "records.budget.rule.ties", ties=ties))
    if parsed.coverage == Coverage.ALL:
        words.append(t(language, "records.budget.rule.coverage_all"))
    if parsed.vacant == Vacant.EXCLUDE and parsed.min_support:
        words.append(t(language, "records.budget.rule.vacant_exclude"))
    return t(language, "records.budget.separator").join(words)


async def counted_round(who: Who, round_id: int, *, full: bool = False) -> Round:
    """A round of the caller's community that has its result; the full record (every
    household's order, every call at a door) only for managers."""
    if full and not who.has(MANAGERS):
        raise Refused("api.error.forbidden", 403)
    found = await visible_round(who, round_id)
    if found.result is None:
        raise Refused("budget.error.no_result", 409)
    return found


def _sources(rows: list[dict[str, Any]]) -> tuple[SourceRow, ...]:
    return tuple(
        SourceRow(str(s["kind"]), str(s.get("name") or ""), Decimal(str(s["amount"]))) for s in rows
    )


def _projects(result: dict[str, Any]) -> tuple[ProjectRow, ...]:
    rows = sorted(result.get("items", ()), key=lambda r: int(r["rank"]))
    return tuple(
        ProjectRow(
            rank=int(r["rank"]),
            number=int(r["number"]),
            title=str(r["title"]),
            cost=Decimal(str(r["cost"])),
            support=int(r["support"]),
            eligible=int(r["eligible"]),
            needed=int(r["needed"]),
            standing=str(r["standing"]),
        )
        for r in rows
    )


async def _community_name(community_id: int) -> str:
    found = await Community.get_or_none(id=community_id)
    return found.name if found is not None else ""


async def round_record(found: Round, language: str, url: str, *, full: bool = False) -> RoundRecord:
    """What the poster (and, ``full``, the record) of a counted round prints."""
    result: dict[str, Any] = found.result or {}
    reached = result.get("coverage") or {}
    rule = result.get("rule") or found.rule or {}
    override = result.get("override") or {}
    orders: tuple[OrderRow, ...] = ()
    visits: tuple[VisitRow, ...] = ()
    if full:
        orders, visits = await _doors(found.id)
    return RoundRecord(
        community=await _community_name(found.community_id),
        round_id=found.id,
        year=found.year,
        title=found.title,
        language=language,
        fund=Decimal(str(result.get("fund", "0"))),
        sources=_sources(list(result.get("sources", ()))),
        rule=rule_words(rule, language),
        rule_terms=tuple((str(k), _term(v)) for k, v in rule.items()),
        eligible=int(result.get("eligible", 0)),
        vacant_excluded=int(result.get("vacant_excluded", 0)),
        orders=int(result.get("orders", 0)),
        online=int(reached.get("online", 0)),
        in_person=int(reached.get("in_person", 0)),
        visited=int(reached.get("visited", 0)),
        not_reached=int(reached.get("not_reached", 0)),
        override=str(override["reason"]) if override.get("reason") else None,
        projects=_projects(result),
        funded_total=Decimal(str(result.get("spent", "0"))),
        left=Decimal(str(result.get("left", "0"))),
        closed_at=found.closed_at or found.created_at,
        digest=str(result.get("digest") or ""),
        url=url,
        order_rows=orders,
        visits=visits,
    )


def _term(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def _doors(round_id: int) -> tuple[tuple[OrderRow, ...], tuple[VisitRow, ...]]:
    """Every household's current order and every call at a door, by building, unit, room."""
    async with in_transaction() as conn:
        orders = await sql.run(conn, _ORDERS, [round_id])
        visits = await sql.run(conn, _VISITS, [round_id])
    return (
        tuple(
            OrderRow(
                grid=str(r["grid"] or ""),
                building=str(r["building"]),
                unit=str(r["unit"] or ""),
                room=str(r["room"]),
                channel=str(r["channel"]),
                items=tuple(int(n) for n in sql.as_json(r["items"]) or ()),
                updated_at=sql.as_datetime(r["updated_at"]),
                recorded_by=int(r["recorded_by_id"]) if r["recorded_by_id"] is not None else None,
            )
            for r in orders
        ),
        tuple(
            VisitRow(
                grid=str(r["grid"] or ""),
                building=str(r["building"]),
                unit=str(r["unit"] or ""),
                room=str(r["room"]),
                visited_at=sql.as_datetime(r["visited_at"]),
                outcome=str(r["outcome"]),
                items=(
                    None
                    if sql.as_json(r["items"]) is None
                    else tuple(int(n) for n in sql.as_json(r["items"]))
                ),
                method=r["method"],
                photos=len(sql.as_json(r["media"]) or ()),
                worker=int(r["worker_id"]) if r["worker_id"] is not None else None,
            )
            for r in visits
        ),
    )


def _mean(stars: list[int]) -> Decimal | None:
    """The mean rating to one place, exact: ``money.figures`` averages with ``Avg`` over
    the integer ``stars``, which Tortoise hands back as a whole number (4 for 4.33)."""
    return (Decimal(sum(stars)) / len(stars)).quantize(Decimal("0.1")) if stars else None


async def year_report(
    who: Who, round_id: int, language: str, url: str, now: datetime
) -> YearReport:
    """The year-end report (资金公开) as of ``now``: public to the community, like the
    balance it adds up (409 budget.error.no_result before the result)."""
    figures = await money.year_report(who, round_id)
    result: dict[str, Any] = figures["result"]
    rows = (
        await Spending.filter(item__round_id=round_id, item__round__community_id=who.community_id)
        .order_by("spent_on", "id")
        .values(
            "item__number",
            "item__title",
            "spent_on",
            "amount",
            "purpose",
            "receipts",
            "over_reason",
        )
    )
    rated = await ItemRating.filter(
        item__round_id=round_id, item__round__community_id=who.community_id
    ).values_list("item__number", "stars")
    by_item: dict[int, list[int]] = {}
    for number, given in rated:
        by_item.setdefault(int(number), []).append(int(given))
    stars = [given for given_all in by_item.values() for given in given_all]
    return YearReport(
        community=await _community_name(who.community_id),
        round_id=int(figures["round_id"]),
        year=int(figures["year"]),
        title=str(figures["title"]),
        language=language,
        status=str(figures["status"]),
        fund=Decimal(figures["fund"]),
        sources=tuple(
            SourceRow(str(s["kind"]), str(s["name"] or ""), Decimal(s["amount"]))
            for s in figures["sources"]
        ),
        ordered=int(figures["ordered"]),
        funded=int(figures["funded"]),
        completed=int(figures["completed"]),
        menu=_projects(result),
        projects=tuple(
            MoneyRow(
                number=int(p["number"]),
                title=str(p["title"]),
                responsible=str(p["responsible"]),
                status=str(p["status"]),
                budget=Decimal(p["budget"]),
                spent=Decimal(p["spent"]),
                left=Decimal(p["left"]),
                stars=_mean(by_item.get(int(p["number"]), [])),
                ratings=len(by_item.get(int(p["number"]), [])),
            )
            for p in figures["projects"]
        ),
        budgeted=Decimal(figures["budgeted"]),
        spent=Decimal(figures["spent"]),
        balance=Decimal(figures["balance"]),
        stars=_mean(stars),
        ratings=len(stars),
        spendings=tuple(
            SpendingRow(
                number=int(r["item__number"]),
                title=str(r["item__title"]),
                spent_on=r["spent_on"],
                amount=Decimal(str(r["amount"])),
                purpose=str(r["purpose"]),
                receipts=len(r["receipts"] or ()),
                over_reason=r["over_reason"],
            )
            for r in rows
        ),
        made_at=now,
        url=url,
    )
