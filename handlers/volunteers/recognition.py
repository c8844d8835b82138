"""Recognition and records: the month's 最美志愿者, the registration share, the hours
exports (CSV and .xlsx, from one row source)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.functions import Sum

from handlers.i18n import N_
from handlers.records.workbook import table_workbook
from handlers.roles import Who
from handlers.volunteers import rules
from handlers.volunteers.rules import LOCAL, LedgerKind, SignUpStatus
from models.residents import Resident
from models.volunteers import PointsEntry, SignUp, VolunteerProfile


async def leaderboard(viewer: Who, now: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """最美志愿者 of ``viewer``'s community: the month's points earned (not spent) and hours
    served, ranked.

    Others' names come masked (王*明, as posted honour rolls show them) unless the viewer
    manages the community; the viewer's own name is theirs to see. Both doors use this.
    """
    community_id = viewer.community_id
    start, end = rules.month_bounds(now)
    earned = (
        await PointsEntry.filter(
            community_id=community_id,
            at__gte=start,
            at__lt=end,
            kind__in=[LedgerKind.EARNED, LedgerKind.BONUS, LedgerKind.ADJUSTED],
        )
        .group_by("volunteer_id")
        .annotate(total=Sum("points"))
        .values_list("volunteer_id", "total")
    )
    served = (
        await SignUp.filter(
            shift__activity__community_id=community_id,
            shift__starts_at__gte=start,
            shift__starts_at__lt=end,
            status=SignUpStatus.ATTENDED,
        )
        .group_by("volunteer_id")
        .annotate(total=Sum("minutes"))
        .values_list("volunteer_id", "total")
    )
    points = {v: int(t or 0) for v, t in earned}
    minutes = {v: int(t or 0) for v, t in served}
    ranked = rules.leaderboard(
        ((v, points.get(v, 0), minutes.get(v, 0)) for v in set(points) | set(minutes)), limit
    )
    names = dict(
        await Resident.filter(id__in=[s.volunteer for s in ranked]).values_list("id", "name")
    )
    return [
        {
            "rank": s.rank,
            "volunteer": {"id": s.volunteer, "name": _shown(viewer, s.volunteer, names)},
            "points": s.points,
            "hours": round(s.minutes / 60, 2),
        }
        for s in ranked
    ]


def _shown(viewer: Who, volunteer_id: int, names: dict[int, str | None]) -> str | None:
    name = names.get(volunteer_id)
    if viewer.is_manager or volunteer_id == viewer.id:
        return name
    return rules.masked_name(name)


async def registration(community_id: int) -> dict[str, Any]:
    """The share of the community's residents registered as volunteers (网上注册率)."""
    residents = Resident.filter(community_id=community_id, erased_at=None, active=True)
    volunteers = await VolunteerProfile.filter(
        community_id=community_id,
        active=True,
        resident__erased_at=None,
        resident__active=True,
    ).count()
    total = await residents.count()
    verified = await residents.filter(verified=True).count()
    share = rules.registration_share(volunteers, total)
    return {
        "volunteers": volunteers,
        "residents": total,
        "verified_residents": verified,
        "share": None if share is None else round(float(share), 4),
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "date",
    "activity",
    "starts_at",
    "ends_at",
    "volunteer_id",
    "name",
    "status",
    "checked_in_at",
    "checked_out_at",
    "minutes",
    "hours",
    "points",
)


@dataclass(frozen=True)
class HoursRow:
    """One volunteer's place on one shift, as both exports show it."""

    start: datetime  # the shift's start, local time
    end: datetime
    activity: str
    volunteer_id: int
    name: str
    status: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    minutes: int
    points: int


async def hours_rows(community_id: int, since: datetime, until: datetime) -> list[HoursRow]:
    """Attended and missed places of shifts starting in [since, until), for the records.

    The bounds go to the database in UTC: the embedded one compares times as text, and
    a local midnight (``+08:00``) would let the next day's first hours in.
    """
    rows = await (
        SignUp.filter(
            shift__activity__community_id=community_id,
            shift__starts_at__gte=since.astimezone(UTC),
            shift__starts_at__lt=until.astimezone(UTC),
            status__in=[SignUpStatus.ATTENDED, SignUpStatus.NO_SHOW],
        )
        .select_related("shift__activity", "volunteer")
        .order_by("shift__starts_at", "shift_id", "id")
    )
    return [
        HoursRow(
            start=s.shift.starts_at.astimezone(LOCAL),
            end=s.shift.ends_at.astimezone(LOCAL),
            activity=s.shift.activity.title,
            volunteer_id=s.volunteer.id,
            name=s.volunteer.name or "",
            status=s.status,
            checked_in_at=_local(s.checked_in_at),
            checked_out_at=_local(s.checked_out_at),
            minutes=s.minutes or 0,
            points=s.points or 0,
        )
        for s in rows
    ]


async def hours_csv(community_id: int, since: datetime, until: datetime) -> str:
    """The hours as CSV: text cells, times as local ``YYYY-MM-DD HH:MM``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in await hours_rows(community_id, since, until):
        writer.writerow(
            [
                row.start.date().isoformat(),
                _cell(row.activity),
                row.start.strftime("%Y-%m-%d %H:%M"),
                row.end.strftime("%Y-%m-%d %H:%M"),
                row.volunteer_id,
                _cell(row.name),
                row.status,
                _minute_or_blank(row.checked_in_at),
                _minute_or_blank(row.checked_out_at),
                row.minutes,
                f"{row.minutes / 60:.2f}",
                row.points,
            ]
        )
    return out.getvalue()


# The .xlsx headings, one per CSV column, and the places' states, in the worker's words.
XLSX_COLUMNS = (
    N_("records.hours.date"),
    N_("records.hours.activity"),
    N_("records.hours.starts_at"),
    N_("records.hours.ends_at"),
    N_("records.hours.volunteer_id"),
    N_("records.hours.name"),
    N_("records.hours.status"),
    N_("records.hours.checked_in_at"),
    N_("records.hours.checked_out_at"),
    N_("records.hours.minutes"),
    N_("records.hours.hours"),
    N_("records.hours.points"),
)
STATUS_NAMES = {
    SignUpStatus.ATTENDED.value: N_("records.hours.attended"),
    SignUpStatus.NO_SHOW.value: N_("records.hours.no_show"),
}


async def hours_xlsx(
    community_id: int, since: datetime, until: datetime, t: Callable[[str], str]
) -> bytes:
    """The same rows as the CSV in an .xlsx sheet: dates, times and numbers typed, headings
    and states worded by ``t`` (the caller's language)."""
    rows: list[list[object]] = [
        [
            row.start.date(),
            row.activity,
            row.start,
            row.end,
            row.volunteer_id,
            row.name,
            t(STATUS_NAMES[row.status]) if row.status in STATUS_NAMES else row.status,
            row.checked_in_at,
            row.checked_out_at,
            row.minutes,
            round(row.minutes / 60, 2),
            row.points,
        ]
        for row in await hours_rows(community_id, since, until)
    ]
    headers = [t(msgid) for msgid in XLSX_COLUMNS]
    # Writing a long span's sheet is CPU work: off the event loop.
    return await asyncio.to_thread(table_workbook, t("records.hours.title"), headers, rows)


def _cell(text: str) -> str:
    """Text a spreadsheet shows as text: a name typed as ``=HYPERLINK(...)`` is no formula."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _local(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(LOCAL)


def _minute_or_blank(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")
