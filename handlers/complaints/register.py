"""诉求登记台账: the tickets received in one month, one row each, as .xlsx for the records.

The register holds exactly the tickets the caller lists as staff, and no more of each
than the staff view shows: never a phone or an openid; for an anonymous ticket neither
the reporter nor the grid and building it was routed by.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from handlers.clock import LOCAL
from handlers.complaints.chat import DEPARTMENT_NAMES, STATUS_NAMES
from handlers.complaints.service import staff_tickets
from handlers.i18n import N_
from handlers.records.workbook import table_workbook
from handlers.roles import Who
from models.complaints import Ticket

SUMMARY_MAX = 200
COLUMNS = (
    N_("records.tickets.number"),
    N_("records.tickets.received_at"),
    N_("records.tickets.channel"),
    N_("records.tickets.department"),
    N_("records.tickets.grid"),
    N_("records.tickets.building"),
    N_("records.tickets.summary"),
    N_("records.tickets.status"),
    N_("records.tickets.deadline"),
    N_("records.tickets.closed_at"),
    N_("records.tickets.rating"),
    N_("records.tickets.reporter"),
)
CHANNELS = {"chat": N_("records.channel.chat"), "miniprogram": N_("records.channel.miniprogram")}


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The local calendar month as [start, end) instants, in UTC: the embedded database
    compares times as text, so a bound must be written in the zone the rows are."""
    start = datetime(year, month, 1, tzinfo=LOCAL)
    after = (year + 1, 1) if month == 12 else (year, month + 1)
    return start.astimezone(UTC), datetime(*after, 1, tzinfo=LOCAL).astimezone(UTC)


def summary(text: str) -> str:
    """The report's text on one line, at most ``SUMMARY_MAX`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_MAX else flat[: SUMMARY_MAX - 1] + "…"


async def register_rows(
    who: Who, since: datetime, until: datetime, t: Callable[[str], str]
) -> list[list[object]]:
    """The tickets ``who`` may list that were received in [since, until), oldest first."""
    tickets = await (
        staff_tickets(who)
        .filter(created_at__gte=since, created_at__lt=until)
        .select_related("grid", "building", "reporter")
        .order_by("created_at", "id")
    )
    return [_row(ticket, t) for ticket in tickets]


def _row(ticket: Ticket, t: Callable[[str], str]) -> list[object]:
    hidden = ticket.anonymous  # as in the staff view: no reporter, no grid, no building
    reporter = None if hidden or ticket.reporter is None else ticket.reporter.name
    channel = CHANNELS.get(str(ticket.routing.get("channel", "")))
    return [
        ticket.number,
        ticket.created_at,
        t(channel) if channel else None,
        t(DEPARTMENT_NAMES.get(ticket.department, DEPARTMENT_NAMES["other"])),
        None if hidden or ticket.grid is None else ticket.grid.name,
        None if hidden or ticket.building is None else ticket.building.name,
        summary(ticket.text),
        t(STATUS_NAMES[ticket.status]) if ticket.status in STATUS_NAMES else ticket.status,
        ticket.resolve_due_at,
        ticket.closed_at,
        ticket.stars,
        reporter,
    ]


async def register_xlsx(who: Who, year: int, month: int, t: Callable[..., str]) -> bytes:
    """The month's register as an .xlsx sheet, worded by ``t`` (the caller's language)."""
    since, until = month_bounds(year, month)
    rows = await register_rows(who, since, until, t)
    title = t("records.tickets.title", month=f"{year:04d}-{month:02d}")
    headers = [t(msgid) for msgid in COLUMNS]
    return await asyncio.to_thread(table_workbook, title, headers, rows)
