"""Recognition and records: the month's 最美志愿者, the registration share, the hours CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from tortoise.functions import Sum

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


async def hours_csv(community_id: int, since: datetime, until: datetime) -> str:
    """Attended and missed places of shifts starting in [since, until), for the records."""
    rows = await (
        SignUp.filter(
            shift__activity__community_id=community_id,
            shift__starts_at__gte=since,
            shift__starts_at__lt=until,
            status__in=[SignUpStatus.ATTENDED, SignUpStatus.NO_SHOW],
        )
        .select_related("shift__activity", "volunteer")
        .order_by("shift__starts_at", "shift_id", "id")
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for s in rows:
        start = s.shift.starts_at.astimezone(LOCAL)
        minutes = s.minutes or 0
        writer.writerow(
            [
                start.date().isoformat(),
                _cell(s.shift.activity.title),
                start.strftime("%Y-%m-%d %H:%M"),
                s.shift.ends_at.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M"),
                s.volunteer.id,
                _cell(s.volunteer.name or ""),
                s.status,
                _local_or_blank(s.checked_in_at),
                _local_or_blank(s.checked_out_at),
                minutes,
                f"{minutes / 60:.2f}",
                s.points or 0,
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """Text a spreadsheet shows as text: a name typed as ``=HYPERLINK(...)`` is no formula."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _local_or_blank(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")
