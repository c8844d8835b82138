"""资金公开: spending per funded project, each project's progress, and the fund's balance,
visible to every resident of the community; the year-end figures of the round.

Spending is written under the project's row lock, so two entries at once cannot both
slip under the budget line; passing the line needs an admin and a written reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from handlers.budget import rules
from handlers.budget.menu import item_of, visible_round
from handlers.budget.rounds import _require, fund_of, get_round, money_in, still_in, tell
from handlers.budget.rules import Phase
from handlers.clock import LOCAL
from handlers.proposals.lifecycle import clean_text
from handlers.refusal import Refused
from handlers.roles import MANAGERS, Who
from models.audit import record
from models.budget import BudgetElector, FundSource, ItemRating, MenuItem, Round, Spending

PURPOSE_MAX = 200
REASON_MAX = 500
RECEIPTS_MAX = 9
SPENDING_PHASES = frozenset({Phase.RESULT, Phase.IMPLEMENTATION})
# A project's way after the result: funded → implementing (实施) → accepted (验收).
STEPS = {"start": ("funded", "implementing"), "accept": ("implementing", "accepted")}
FUNDED = ("funded", "implementing", "accepted")


async def record_spending(
    who: Who,
    round_id: int,
    number: int,
    *,
    amount: Any,
    spent_on: date,
    purpose: str,
    receipts: Iterable[str] = (),
    over_reason: str | None = None,
    now: datetime,
) -> Spending:
    """One spending on a funded project. Beyond its budget line only an admin, with a
    written reason, may record it."""
    _require(who)
    value = money_in(amount)
    purpose = clean_text(purpose, PURPOSE_MAX, "budget.error.bad_purpose")
    media = [str(r) for r in receipts]
    if len(media) > RECEIPTS_MAX:
        raise Refused("budget.error.too_many_photos", 400, max=RECEIPTS_MAX)
    if spent_on > now.astimezone(LOCAL).date():
        raise Refused("budget.error.future_date", 400)
    reason = (over_reason or "").strip() or None
    if reason is not None and len(reason) > REASON_MAX:
        raise Refused("budget.error.reason_too_long", 400, limit=REASON_MAX)
    found = await get_round(round_id, who.community_id)
    if Phase(found.status) not in SPENDING_PHASES:
        raise Refused("budget.error.not_spending", 409)
    async with in_transaction() as conn:
        await still_in(conn, found.id, SPENDING_PHASES, "budget.error.not_spending")
        item = (
            await MenuItem.filter(round_id=found.id, number=number)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if item is None:
            raise Refused("budget.error.no_item", 404, number=number)
        if item.status not in FUNDED or item.budget is None:
            raise Refused("budget.error.not_funded", 409, number=number)
        spent = await _spent(item.id, conn)
        over = rules.over_budget(Decimal(item.budget), spent, value)
        if over:
            if not who.is_admin:
                raise Refused(
                    "budget.error.over_budget_admin", 403, budget=rules.money(Decimal(item.budget))
                )
            if reason is None:
                raise Refused("budget.error.over_budget_reason", 400)
        made = await Spending.create(
            item_id=item.id,
            amount=value,
            spent_on=spent_on,
            purpose=purpose,
            receipts=media,
            recorded_by_id=who.id,
            over_reason=reason if over else None,
            using_db=conn,
        )
        if media:
            from handlers.media import service as media_service

            await media_service.attach(media, who, "spending", made.id, conn=conn)
        await record(
            who.name,
            "budget.spent",
            "budget_round",
            found.id,
            after={
                "number": number,
                "spending": made.id,
                "amount": str(value),
                "over_budget": over,
                **({"reason": reason} if over else {}),
            },
            using_db=conn,
        )
    return made


async def _spent(item_id: int, conn: Any = None) -> Decimal:
    rows = (
        await Spending.filter(item_id=item_id)
        .using_db(conn)
        .annotate(s=Sum("amount"))
        .values_list("s", flat=True)
    )
    return Decimal(rows[0] or 0) if rows else Decimal(0)


async def step(who: Who, round_id: int, number: int, action: str) -> MenuItem:
    """A funded project starts (实施) or passes its acceptance check (验收)."""
    _require(who)
    if action not in STEPS:
        raise Refused("budget.error.bad_step", 400)
    found = await get_round(round_id, who.community_id)
    if Phase(found.status) not in SPENDING_PHASES:
        raise Refused("budget.error.not_spending", 409)
    item = await item_of(found, number)
    before, after = STEPS[action]
    async with in_transaction() as conn:
        await still_in(conn, found.id, SPENDING_PHASES, "budget.error.not_spending")
        moved = await MenuItem.filter(id=item.id, status=before).using_db(conn).update(status=after)
        if not moved:
            raise Refused("budget.error.bad_step", 409)
        item.status = after
        await record(
            who.name,
            f"budget.item_{action}",
            "budget_round",
            found.id,
            before={"number": number, "status": before},
            after={"number": number, "status": after},
            using_db=conn,
        )
        kind = "budget.item_started" if action == "start" else "budget.item_accepted"
        await tell(found, kind, conn, number=number, item=item.title)
    return item


async def rate(who: Who, round_id: int, number: int, stars: int) -> ItemRating:
    """A household's satisfaction with an accepted project (满意度): a re-rating replaces it."""
    resident = who.resident
    if not resident.verified or resident.household_id is None:
        raise Refused("proposal.error.not_verified", 403)
    if not 1 <= stars <= 5:
        raise Refused("proposal.error.bad_stars", 400)
    found = await visible_round(who, round_id)
    item = await item_of(found, number)
    if item.status != "accepted":
        raise Refused("budget.error.not_accepted", 409, number=number)
    if not await BudgetElector.filter(
        round_id=found.id, household_id=resident.household_id
    ).exists():
        raise Refused("budget.error.not_eligible", 403)
    async with in_transaction() as conn:
        # The household's elector row, locked: two members rating at once take turns (a
        # lock on a rating not yet there would lock nothing).
        await (
            BudgetElector.filter(round_id=found.id, household_id=resident.household_id)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        existing = (
            await ItemRating.filter(item_id=item.id, household_id=resident.household_id)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if existing is None:
            made = await ItemRating.create(
                item_id=item.id, household_id=resident.household_id, stars=stars, using_db=conn
            )
        else:
            existing.stars = stars
            await existing.save(using_db=conn)
            made = existing
        await record(
            who.name,
            "budget.rated",
            "budget_round",
            found.id,
            after={"number": number, "stars": stars},
            using_db=conn,
        )
    return made


async def finances(who: Who, round_id: int) -> dict[str, Any]:
    """The fund, its sources, what was spent on each funded project and what is left: for
    every resident of the community. Before the result there is nothing funded yet."""
    found = await visible_round(who, round_id)
    return await figures(found)


async def figures(found: Round) -> dict[str, Any]:
    fund = await fund_of(found.id)
    sources = await FundSource.filter(round_id=found.id).order_by("id")
    items = await MenuItem.filter(round_id=found.id, status__in=list(FUNDED)).order_by("number")
    spent_rows = (
        await Spending.filter(item__round_id=found.id)
        .group_by("item_id")
        .annotate(s=Sum("amount"), n=Count("id"))
        .values("item_id", "s", "n")
    )
    spent = {int(r["item_id"]): Decimal(r["s"] or 0) for r in spent_rows}
    ratings = (
        await ItemRating.filter(item__round_id=found.id)
        .group_by("item_id")
        .annotate(total=Sum("stars"), n=Count("id"))
        .values("item_id", "total", "n")
    )
    # The mean from sum and count: an average of integers comes back an integer on both.
    rated = {
        int(r["item_id"]): (Decimal(int(r["total"] or 0)) / int(r["n"]), int(r["n"]))
        for r in ratings
        if r["n"]
    }
    projects: list[dict[str, Any]] = []
    for item in items:
        budget = Decimal(item.budget or 0)
        used = spent.get(item.id, Decimal(0))
        avg, n = rated.get(item.id, (Decimal(0), 0))
        projects.append(
            {
                "number": item.number,
                "title": item.title,
                "responsible": item.responsible,
                "status": item.status,
                "budget": budget,
                "spent": used,
                "left": budget - used,
                "ratings": n,
                "stars": avg.quantize(Decimal("0.1")) if n else None,
            }
        )
    total_spent = sum((p["spent"] for p in projects), Decimal(0))
    return {
        "round_id": found.id,
        "year": found.year,
        "title": found.title,
        "status": found.status,
        "fund": fund,
        "sources": [{"kind": s.kind, "name": s.name, "amount": Decimal(s.amount)} for s in sources],
        "budgeted": sum((p["budget"] for p in projects), Decimal(0)),
        "spent": total_spent,
        "balance": fund - total_spent,
        "projects": projects,
    }


async def spendings(who: Who, round_id: int, number: int) -> list[dict[str, Any]]:
    """A funded project's spending entries, with their receipts' media ids: public."""
    found = await visible_round(who, round_id)
    item = await item_of(found, number)
    rows = await Spending.filter(item_id=item.id).order_by("spent_on", "id")
    return [
        {
            "id": s.id,
            "amount": Decimal(s.amount),
            "spent_on": s.spent_on,
            "purpose": s.purpose,
            "receipts": list(s.receipts),
            "over_reason": s.over_reason,
        }
        for s in rows
    ]


async def year_report(who: Who, round_id: int) -> dict[str, Any]:
    """The round's year-end figures (资金公开): fund and sources, projects ordered, funded,
    completed, spent, satisfaction. Public, like the balance it adds up."""
    found = await visible_round(who, round_id)
    if found.result is None:
        raise Refused("budget.error.no_result", 409)
    money = await figures(found)
    items = {r["number"]: r for r in found.result.get("items", ())}
    statuses = dict(await MenuItem.filter(round_id=found.id).values_list("number", "status"))
    return {
        **money,
        "result": found.result,
        "ordered": len(items),
        "funded": len(found.result.get("funded", ())),
        "completed": sum(1 for n in items if statuses.get(n) == "accepted"),
        "is_manager": who.has(MANAGERS),
    }
