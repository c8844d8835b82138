"""A round from creation through its phases: one phase at a time, each change audited.

Managers create a round (year, fund sources, planned dates, the rule's name) and move it
on. Two moves carry rules of their own: opening ordering freezes the electorate and the
rule (``ordering.open_ordering``), and closing it counts once (``closing.close_ordering``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers.budget import rules
from handlers.budget.rules import Phase, RoundRule, RuleError
from handlers.proposals.lifecycle import clean_text
from handlers.proposals.rules import Funding
from handlers.refusal import Refused
from handlers.roles import CONSOLE, MANAGERS, Who
from models.audit import record
from models.budget import FundSource, MenuItem, Round
from models.outbox import Notification

RULES_FILE = Path(__file__).resolve().parents[2] / "config" / "budget_rules.toml"
TITLE_MAX = 100
SOURCE_NAME_MAX = 100
MONEY_MAX = Decimal("9999999999.99")
SOURCE_KINDS = tuple(f.value for f in Funding)


@cache
def round_rules() -> dict[str, RoundRule]:
    """The named round rules, as community workers configure them."""
    with RULES_FILE.open("rb") as fh:
        return rules.rules_from_config(tomllib.load(fh))


def money_in(value: Any, code: str = "budget.error.bad_amount") -> Decimal:
    """A positive sum to the fen, from a Decimal, an int or a string; never a float."""
    if isinstance(value, bool | float):
        raise Refused(code, 400)
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise Refused(code, 400) from None
    if not amount.is_finite() or amount <= 0 or amount > MONEY_MAX:
        raise Refused(code, 400)
    if amount != amount.quantize(rules.CENT):
        raise Refused(code, 400)
    return amount.quantize(rules.CENT)


@dataclass(frozen=True)
class Source:
    kind: str
    amount: Any
    name: str = ""


def _sources(given: Iterable[Source]) -> list[Source]:
    out = []
    for source in given:
        if source.kind not in SOURCE_KINDS:
            raise Refused("budget.error.bad_source", 400)
        name = " ".join((source.name or "").split())
        if len(name) > SOURCE_NAME_MAX:
            raise Refused("budget.error.bad_source", 400)
        out.append(Source(source.kind, money_in(source.amount), name))
    if not out:
        raise Refused("budget.error.no_sources", 400)
    return out


def _require(who: Who, allowed: Any = MANAGERS) -> None:
    if not who.has(allowed):
        raise Refused("api.error.forbidden", 403)


async def get_round(round_id: int, community_id: int) -> Round:
    found = await Round.get_or_none(id=round_id, community_id=community_id)
    if found is None:
        raise Refused("budget.error.not_found", 404, id=round_id)
    return found


async def fund_of(round_id: int, conn: Any = None) -> Decimal:
    amounts = (
        await FundSource.filter(round_id=round_id).using_db(conn).values_list("amount", flat=True)
    )
    return sum((Decimal(a) for a in amounts), Decimal(0))


async def create_round(
    who: Who,
    *,
    year: int,
    title: str,
    rule_name: str,
    phases: Mapping[str, date],
    sources: Iterable[Source],
) -> Round:
    """A new round in its collection phase (征集). One round per community and year."""
    _require(who)
    if not 2000 <= year <= 2100:
        raise Refused("budget.error.bad_year", 400)
    title = clean_text(title, TITLE_MAX, "budget.error.bad_title")
    if rule_name not in round_rules():
        raise Refused("budget.error.bad_rule", 400)
    try:
        planned = rules.check_plan({Phase(k): v for k, v in phases.items()})
    except (RuleError, ValueError):
        raise Refused("budget.error.bad_phases", 400) from None
    clean = _sources(sources)
    try:
        async with in_transaction() as conn:
            made = await Round.create(
                community_id=who.community_id,
                year=year,
                title=title,
                rule_name=rule_name,
                phases={k: v.isoformat() for k, v in planned.items()},
                using_db=conn,
            )
            await FundSource.bulk_create(
                [
                    FundSource(round_id=made.id, kind=s.kind, name=s.name, amount=s.amount)
                    for s in clean
                ],
                using_db=conn,
            )
            await record(
                who.name,
                "budget.created",
                "budget_round",
                made.id,
                after={"year": year, "rule": rule_name, "fund": str(sum(s.amount for s in clean))},
                using_db=conn,
            )
    except IntegrityError:
        raise Refused("budget.error.round_exists", 409, year=year) from None
    return made


async def still_in(conn: Any, round_id: int, phases: frozenset[Phase], code: str) -> Round:
    """The round's row, locked for this transaction, if it is still in one of ``phases``:
    a change checked against a phase read earlier could otherwise land after a move."""
    found = await Round.filter(id=round_id).using_db(conn).select_for_update().first()
    if found is None or Phase(found.status) not in phases:
        raise Refused(code, 409)
    return found


async def set_sources(who: Who, round_id: int, sources: Iterable[Source]) -> Decimal:
    """Replace the fund's sources, until the menu is published; returns the new fund."""
    _require(who)
    found = await get_round(round_id, who.community_id)
    if Phase(found.status) not in rules.MENU_OPEN:
        raise Refused("budget.error.fund_fixed", 409)
    clean = _sources(sources)
    async with in_transaction() as conn:
        await still_in(conn, found.id, rules.MENU_OPEN, "budget.error.fund_fixed")
        before = await fund_of(found.id, conn)
        await FundSource.filter(round_id=found.id).using_db(conn).delete()
        await FundSource.bulk_create(
            [
                FundSource(round_id=found.id, kind=s.kind, name=s.name, amount=s.amount)
                for s in clean
            ],
            using_db=conn,
        )
        after = sum((s.amount for s in clean), Decimal(0))
        await record(
            who.name,
            "budget.fund_set",
            "budget_round",
            found.id,
            before={"fund": str(before)},
            after={"fund": str(after)},
            using_db=conn,
        )
    return after


async def move(found: Round, to: Phase, who: Who | None, conn: Any, **changes: Any) -> None:
    """One phase on, as a conditional update: a concurrent move cannot also apply."""
    before = Phase(found.status)
    if rules.next_phase(before) != to:
        raise Refused("budget.error.bad_phase", 409)
    updated = (
        await Round.filter(id=found.id, status=before.value)
        .using_db(conn)
        .update(status=to.value, **changes)
    )
    if not updated:
        raise Refused("budget.error.changed_meanwhile", 409)
    found.status = to.value
    for key, value in changes.items():
        setattr(found, key, value)
    await record(
        "system" if who is None else who.name,
        f"budget.{to.value}",
        "budget_round",
        found.id,
        before={"status": before.value},
        after={"status": to.value},
        using_db=conn,
    )


async def tell(
    found: Round, kind: str, conn: Any, audience: str = "community", **payload: Any
) -> None:
    """A notification for the outbox, in the transaction of the change it tells of."""
    await Notification.create(
        community_id=found.community_id,
        kind=kind,
        audience=audience,
        subject="budget_round",
        subject_id=found.id,
        payload={"id": found.id, "title": found.title, **payload},
        using_db=conn,
    )


TOLD = {Phase.PUBLICITY: "budget.menu_published", Phase.IMPLEMENTATION: "budget.implementation"}


async def advance(
    who: Who, round_id: int, now: datetime, lock: Any, override: str | None = None
) -> Round:
    """The round's next phase. Publicity needs a menu; ordering opens no earlier than its
    planned day (the menu's publicity lasts); ordering closes with the count."""
    from handlers.budget.closing import close_ordering
    from handlers.budget.ordering import open_ordering

    _require(who)
    found = await get_round(round_id, who.community_id)
    phase = Phase(found.status)
    if phase == Phase.PUBLICITY:
        return await open_ordering(who, found, now)
    if phase == Phase.ORDERING:
        return await close_ordering(found.id, who, now, lock, override=override)
    to = rules.next_phase(phase)
    if to is None:
        raise Refused("budget.error.bad_phase", 409)
    if to == Phase.PUBLICITY:
        listed = await MenuItem.filter(round_id=found.id, status="listed").count()
        if not listed:
            raise Refused("budget.error.empty_menu", 409)
    async with in_transaction() as conn:
        await move(found, to, who, conn)
        if to in TOLD:
            await tell(found, TOLD[to], conn)
    return found


def phase_of(found: Round) -> Phase:
    return Phase(found.status)


def staff(who: Who) -> bool:
    return who.has(CONSOLE)


async def rounds(who: Who) -> list[Round]:
    """The community's rounds, newest year first."""
    return await Round.filter(community_id=who.community_id).order_by("-year")
