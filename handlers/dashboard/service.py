"""The figures of the workers' dashboard, for one community over the last weeks.

Rows are read with plain ORM filters and grouped here, in Python: weeks are local
(Asia/Shanghai) ISO weeks, which neither SQLite nor PostgreSQL would compute alike,
and a community's eight weeks of tickets, shifts and votes are a few thousand rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Count

from handlers.complaints import rules as ticket_rules
from handlers.complaints import service as complaints
from handlers.complaints.rules import LOCAL
from handlers.complaints.rules import Status as TicketStatus
from handlers.households.register import natural as natural_key
from handlers.proposals.rules import Status as ProposalStatus
from handlers.volunteers.rules import SignUpStatus
from models.community import Building
from models.complaints import Ticket
from models.notices import Notice
from models.proposals import Proposal, Vote
from models.volunteers import SignUp

WEEKS = 8
VOTES_SHOWN = 10
# Open means someone still has to act; a resolved ticket waits only for the resident.
OPEN_TICKETS = tuple(s.value for s in ticket_rules.OPEN_STATUSES if s is not TicketStatus.RESOLVED)
REVIEW_STATUSES = (ProposalStatus.SUBMITTED.value, ProposalStatus.UNDER_REVIEW.value)


# --- pure helpers ------------------------------------------------------------------


def week_starts(now: datetime, weeks: int = WEEKS) -> list[datetime]:
    """The local Mondays 00:00 of the last ``weeks`` weeks, the current one last."""
    local = now.astimezone(LOCAL)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    # Build each Monday from the date: the zone has no DST today, but never trust that.
    return [
        datetime.combine((monday - timedelta(weeks=weeks - 1 - i)).date(), monday.time(), LOCAL)
        for i in range(weeks)
    ]


def week_labels(starts: Sequence[datetime]) -> list[str]:
    return [ticket_rules.week_of(s) for s in starts]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); ``values`` not empty."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def hours(span: timedelta) -> float:
    return span.total_seconds() / 3600


def satisfaction_by_week(
    rows: Iterable[tuple[datetime, int | None]], labels: Sequence[str]
) -> list[dict[str, Any]]:
    """(received, stars) → per week, the rated tickets and their average stars (满意度).

    A ticket counts in the week it was received, as in the complaints chart and the
    complaints' own weekly stats; a week with nothing rated has a null average, never 0.
    """
    stars: dict[str, list[int]] = {label: [] for label in labels}
    for created_at, given in rows:
        week = stars.get(ticket_rules.week_of(created_at))
        if week is not None and given:
            week.append(given)
    return [
        {
            "week": label,
            "rated": len(given),
            "average": round(sum(given) / len(given), 2) if given else None,
        }
        for label, given in stars.items()
    ]


def complaints_by_building(
    rows: Iterable[tuple[int | None, bool, datetime]],
    labels: Sequence[str],
    buildings: Iterable[tuple[int, str]],
) -> dict[str, Any]:
    """(building, anonymous, received) → tickets per building and week (大数据研判's heatmap).

    Every building of the community has its row, the quiet ones too, in the natural order
    of their names. An anonymous ticket's building is never shown to staff (the ticket
    view hides it), so it counts with the tickets of no known building, in ``unplaced``.
    """
    index = {label: i for i, label in enumerate(labels)}
    named = dict(buildings)
    counts = {building_id: [0] * len(labels) for building_id in named}
    unplaced = [0] * len(labels)
    for building_id, anonymous, created_at in rows:
        slot = index.get(ticket_rules.week_of(created_at))
        if slot is None:
            continue
        if anonymous or building_id not in counts:
            unplaced[slot] += 1
        else:
            counts[building_id][slot] += 1
    ordered = sorted(named.items(), key=lambda kv: (natural_key(kv[1]), kv[0]))
    return {
        "weeks": list(labels),
        "buildings": [
            {"id": building_id, "name": name, "counts": counts[building_id]}
            for building_id, name in ordered
        ],
        "unplaced": unplaced,
    }


def _name(key: str) -> str:
    found = complaints.departments().get(key)
    return found.name if found else key


# --- the figures -------------------------------------------------------------------


async def complaints_by_week(community_id: int, labels: list[str], since: datetime) -> dict:
    rows = await Ticket.filter(community_id=community_id, created_at__gte=since).values_list(
        "department", "created_at"
    )
    index = {label: i for i, label in enumerate(labels)}
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * len(labels))
    for department, created_at in rows:
        slot = index.get(ticket_rules.week_of(created_at))
        if slot is not None:
            counts[department][slot] += 1
    ordered = sorted(counts.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    return {
        "weeks": labels,
        "departments": [
            {"department": key, "name": _name(key), "counts": per_week} for key, per_week in ordered
        ],
        "totals": [sum(c[i] for _, c in ordered) for i in range(len(labels))],
    }


def resolve_times(rows: Iterable[tuple[str, datetime, datetime]]) -> list[dict[str, Any]]:
    """(department, created, resolved) → median and p90 hours per department."""
    spans: dict[str, list[float]] = defaultdict(list)
    for department, created_at, done_at in rows:
        spans[department].append(max(hours(done_at - created_at), 0.0))
    return [
        {
            "department": key,
            "name": _name(key),
            "resolved": len(values),
            "median_hours": round(percentile(values, 0.5), 2),
            "p90_hours": round(percentile(values, 0.9), 2),
        }
        for key, values in sorted(spans.items())
    ]


async def satisfaction_and_buildings(
    community_id: int, labels: list[str], since: datetime
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The tickets received in the window, read once for the satisfaction and the heatmap."""
    rows = await Ticket.filter(community_id=community_id, created_at__gte=since).values_list(
        "created_at", "stars", "building_id", "anonymous"
    )
    buildings = await Building.filter(community_id=community_id).values_list("id", "name")
    return (
        satisfaction_by_week([(created, stars) for created, stars, _, _ in rows], labels),
        complaints_by_building(
            [(building, anonymous, created) for created, _, building, anonymous in rows],
            labels,
            buildings,
        ),
    )


async def resolved_rows(community_id: int, since: datetime) -> list[tuple[str, datetime, datetime]]:
    """Tickets resolved (or closed without a resolution time) since ``since``; not rejected."""
    rows = (
        await Ticket.filter(community_id=community_id)
        .exclude(status=TicketStatus.REJECTED.value)
        .filter(Q(resolved_at__gte=since) | Q(resolved_at=None, closed_at__gte=since))
        .values_list("department", "created_at", "resolved_at", "closed_at")
    )
    return [(d, created, resolved or closed) for d, created, resolved, closed in rows]


async def vote_turnout(
    community_id: int, limit: int = VOTES_SHOWN, *, live_tallies: bool = False
) -> list[dict[str, Any]]:
    """The latest votes, open or closed: a closed one from its stored count, an open one live.

    An open vote's yes, no and abstain are given only with ``live_tallies`` (the reader holds
    ``TALLY_READERS``, as in the proposals API); without, its turnout only.
    """
    found = (
        await Proposal.filter(community_id=community_id, voting_opened_at__not_isnull=True)
        .order_by("-voting_opened_at", "-id")
        .limit(limit)
    )
    live = [p.id for p in found if p.result is None]
    tallies: dict[int, dict[str, int]] = defaultdict(dict)
    if live:
        for row in (
            await Vote.filter(proposal_id__in=live)
            .group_by("proposal_id", "choice")
            .annotate(n=Count("id"))
            .values("proposal_id", "choice", "n")
        ):
            tallies[row["proposal_id"]][row["choice"]] = int(row["n"])
    out = []
    for proposal in found:
        counted = proposal.result if proposal.result is not None else tallies[proposal.id]
        yes, no, abstain = (int(counted.get(c, 0)) for c in ("yes", "no", "abstain"))
        if proposal.result is not None:
            eligible = int(proposal.result.get("eligible", 0))
        else:
            eligible = int(proposal.eligible_count or 0)
        voted = yes + no + abstain
        shown = live_tallies or proposal.result is not None
        out.append(
            {
                "id": proposal.id,
                "title": proposal.title,
                "status": proposal.status,
                "yes": yes if shown else None,
                "no": no if shown else None,
                "abstain": abstain if shown else None,
                "voted": voted,
                "eligible": eligible,
                "turnout": round(voted / eligible, 4) if eligible else None,
                "outcome": (proposal.result or {}).get("outcome"),
                "voting_ends_at": _iso(proposal.voting_ends_at),
            }
        )
    return out


async def volunteer_hours(
    community_id: int, labels: list[str], since: datetime, now: datetime
) -> list[dict[str, Any]]:
    """Minutes of attended places, by the week their shift started."""
    rows = await SignUp.filter(
        status=SignUpStatus.ATTENDED.value,
        shift__activity__community_id=community_id,
        shift__starts_at__gte=since,
        shift__starts_at__lte=now,
    ).values_list("shift__starts_at", "minutes")
    minutes = dict.fromkeys(labels, 0)
    attended = dict.fromkeys(labels, 0)
    for starts_at, served in rows:
        label = ticket_rules.week_of(starts_at)
        if label in minutes:
            minutes[label] += served or 0
            attended[label] += 1
    return [
        {"week": label, "hours": round(minutes[label] / 60, 2), "attended": attended[label]}
        for label in labels
    ]


async def counts(community_id: int, now: datetime) -> dict[str, int]:
    open_rows = await Ticket.filter(
        community_id=community_id, status__in=list(OPEN_TICKETS)
    ).values_list("status", "accepted_at", "accept_due_at", "resolve_due_at")
    return {
        "open_tickets": len(open_rows),
        "overdue_tickets": sum(
            1
            for status, accepted_at, accept_by, resolve_by in open_rows
            if ticket_rules.late(status, accepted_at, accept_by, resolve_by, now)
        ),
        "proposals_awaiting_review": await Proposal.filter(
            community_id=community_id, status__in=list(REVIEW_STATUSES)
        ).count(),
        "notices_sending": await Notice.filter(community_id=community_id, status="sending").count(),
    }


async def dashboard(
    community_id: int, now: datetime, weeks: int = WEEKS, *, live_tallies: bool = False
) -> dict[str, Any]:
    """The figures; open votes' live tallies only with ``live_tallies`` (``vote_turnout``)."""
    starts = week_starts(now, weeks)
    labels = week_labels(starts)
    since = starts[0]
    satisfaction, by_building = await satisfaction_and_buildings(community_id, labels, since)
    return {
        "generated_at": now.isoformat(),
        "departments": [{"key": d.key, "name": d.name} for d in complaints.departments().values()],
        "weeks": labels,
        "complaints": await complaints_by_week(community_id, labels, since),
        "resolve_times": resolve_times(await resolved_rows(community_id, since)),
        "satisfaction": satisfaction,
        "complaints_by_building": by_building,
        "votes": await vote_turnout(community_id, live_tallies=live_tallies),
        "volunteer_hours": await volunteer_hours(community_id, labels, since, now),
        "counts": await counts(community_id, now),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
