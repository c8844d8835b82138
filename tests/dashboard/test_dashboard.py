"""The dashboard's figures from known rows, and who may read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from handlers.dashboard import service
from models.complaints import Ticket
from models.notices import Notice
from models.proposals import Elector, Proposal, Vote
from models.residents import Role, RoleAssignment
from models.volunteers import Activity, Shift, SignUp
from tests.world import World, bearer

# Thursday 2026-11-12 20:00 in Shanghai: ISO week 2026-W46, which began Monday 9 November.
NOW = datetime(2026, 11, 12, 12, 0, tzinfo=UTC)
WEEKS = ["2026-W39", "2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44", "2026-W45"]
WEEKS.append("2026-W46")


_numbers = iter(range(100_000))


async def ticket(world: World, department: str, created: datetime, **fields: object) -> Ticket:
    return await Ticket.create(
        number=f"T{next(_numbers):06d}",
        community=world.community,
        text="楼道灯坏了",
        department=department,
        created_at=created,
        **fields,
    )


def test_percentile_interpolates_between_ranks():
    assert service.percentile([4.0], 0.9) == 4.0
    assert service.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert service.percentile([10.0, 1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(7.6)


def test_weeks_are_local_iso_weeks():
    starts = service.week_starts(NOW)
    assert service.week_labels(starts) == WEEKS
    assert starts[0].isoformat() == "2026-09-21T00:00:00+08:00"
    # Sunday 23:30 UTC is already Monday in Shanghai: the new week.
    assert (
        service.week_labels(service.week_starts(datetime(2026, 11, 8, 16, 30, tzinfo=UTC)))[-1]
        == "2026-W46"
    )


async def test_complaints_and_resolve_times(world: World):
    monday = datetime(2026, 11, 8, 16, 0, tzinfo=UTC)  # Monday 9 Nov, 00:00 local
    # This week: property ×3 (one of them on Monday 00:30 local, Sunday in UTC), sanitation ×1.
    await ticket(world, "property", monday + timedelta(minutes=30))
    await ticket(world, "property", NOW - timedelta(hours=1))
    await ticket(world, "sanitation", NOW - timedelta(hours=2))
    # Last week: property ×1; three weeks before: sanitation ×2. Too old: not counted.
    await ticket(world, "property", monday - timedelta(minutes=30))  # Sunday 23:30 local
    await ticket(world, "sanitation", monday - timedelta(weeks=3))
    await ticket(world, "sanitation", monday - timedelta(weeks=3, hours=-5))
    await ticket(world, "property", monday - timedelta(weeks=8))
    # Resolved in the window: property 2h, 4h, 10h, 30h; sanitation 6h (closed after rating).
    for spent in (2, 4, 10, 30):
        start = NOW - timedelta(days=3)
        await ticket(
            world,
            "property",
            start,
            status="resolved",
            resolved_at=start + timedelta(hours=spent),
        )
    start = NOW - timedelta(days=2)
    await ticket(
        world,
        "sanitation",
        start,
        status="closed",
        resolved_at=start + timedelta(hours=6),
        closed_at=start + timedelta(hours=40),
    )
    # A rejection is not a resolution; a resolution before the window is not counted.
    await ticket(
        world, "sanitation", start, status="rejected", closed_at=start + timedelta(hours=1)
    )
    old = NOW - timedelta(weeks=10)
    await ticket(world, "property", old, status="closed", resolved_at=old + timedelta(hours=1))
    # Another community's tickets are never counted.
    other = await world.community.__class__.create(slug="other", name="别的社区")
    await Ticket.create(
        number="TOTHER1",
        community=other,
        text="x",
        department="property",
        created_at=NOW - timedelta(hours=1),
    )

    figures = await service.dashboard(world.community.id, NOW)

    assert figures["weeks"] == WEEKS
    complaints = figures["complaints"]
    assert complaints["weeks"] == WEEKS
    by_department = {d["department"]: d["counts"] for d in complaints["departments"]}
    # The four resolved property tickets were received this week (three days ago), too.
    assert by_department == {
        "property": [0, 0, 0, 0, 0, 0, 1, 6],
        "sanitation": [0, 0, 0, 0, 2, 0, 0, 3],
    }
    assert [d["department"] for d in complaints["departments"]] == ["property", "sanitation"]
    assert complaints["departments"][0]["name"]  # the taxonomy's name
    assert complaints["totals"] == [0, 0, 0, 0, 2, 0, 1, 9]
    assert figures["resolve_times"] == [
        {
            "department": "property",
            "name": complaints["departments"][0]["name"],
            "resolved": 4,
            "median_hours": 7.0,
            "p90_hours": 24.0,  # 10 + (30 - 10) * 0.7
        },
        {
            "department": "sanitation",
            "name": complaints["departments"][1]["name"],
            "resolved": 1,
            "median_hours": 6.0,
            "p90_hours": 6.0,
        },
    ]


async def test_counts_of_what_waits(world: World):
    due_past, due_later = NOW - timedelta(hours=1), NOW + timedelta(hours=5)
    await ticket(world, "property", NOW, status="received")
    await ticket(world, "property", NOW, status="assigned", accept_due_at=due_past)  # late
    await ticket(world, "property", NOW, status="assigned", accept_due_at=due_later)
    await ticket(
        world,
        "property",
        NOW,
        status="in_progress",
        accept_due_at=due_past,
        resolve_due_at=due_past,
    )  # late
    await ticket(world, "property", NOW, status="accepted", resolve_due_at=due_later)
    accepted = NOW - timedelta(hours=2)
    await ticket(
        world,
        "property",
        NOW,
        status="escalated",
        accepted_at=accepted,
        resolve_due_at=due_past,
    )  # late: escalated while in hand, and its resolve time passed
    await ticket(
        world,
        "property",
        NOW,
        status="escalated",
        accepted_at=accepted,
        resolve_due_at=due_later,
    )
    await ticket(world, "property", NOW, status="resolved", resolve_due_at=due_past)
    await ticket(world, "property", NOW, status="closed", resolve_due_at=due_past)
    await ticket(world, "property", NOW, status="rejected")
    scope = {"kind": "community", "ids": []}
    for status in ("submitted", "under_review", "under_review", "published", "draft"):
        await Proposal.create(
            community=world.community,
            title="t",
            description="d",
            category="project",
            status=status,
            scope=scope,
        )
    for status in ("sending", "sending", "done", "draft"):
        await Notice.create(community=world.community, title="t", body="b", status=status)

    figures = await service.dashboard(world.community.id, NOW)

    assert figures["counts"] == {
        "open_tickets": 7,
        "overdue_tickets": 3,
        "proposals_awaiting_review": 3,
        "notices_sending": 2,
    }


async def test_vote_turnout_live_and_closed(world: World):
    homes = await world.add_households(world.buildings[0], 5)
    scope = {"kind": "community", "ids": []}
    live = await Proposal.create(
        community=world.community,
        title="加装电梯",
        description="d",
        category="project",
        status="voting",
        scope=scope,
        voting_opened_at=NOW - timedelta(days=2),
        voting_ends_at=NOW + timedelta(days=5),
        eligible_count=5,
    )
    electors = [
        await Elector.create(proposal=live, key=f"h{h.id}", household=h, area=Decimal(80))
        for h in homes
    ]
    for elector, choice in zip(electors, ("yes", "yes", "no", "abstain"), strict=False):
        await Vote.create(proposal=live, elector=elector, choice=choice)
    closed = await Proposal.create(
        community=world.community,
        title="修缮花坛",
        description="d",
        category="rectification",
        status="approved",
        scope=scope,
        voting_opened_at=NOW - timedelta(days=20),
        voting_ends_at=NOW - timedelta(days=13),
        closed_at=NOW - timedelta(days=13),
        eligible_count=8,
        result={"outcome": "approved", "eligible": 8, "yes": 5, "no": 1, "abstain": 0},
    )
    # Never voted on: not shown.
    await Proposal.create(
        community=world.community,
        title="草稿",
        description="d",
        category="project",
        status="published",
        scope=scope,
    )

    votes = (await service.dashboard(world.community.id, NOW, live_tallies=True))["votes"]

    assert votes == [
        {
            "id": live.id,
            "title": "加装电梯",
            "status": "voting",
            "yes": 2,
            "no": 1,
            "abstain": 1,
            "voted": 4,
            "eligible": 5,
            "turnout": 0.8,
            "outcome": None,
            "voting_ends_at": (NOW + timedelta(days=5)).isoformat(),
        },
        {
            "id": closed.id,
            "title": "修缮花坛",
            "status": "approved",
            "yes": 5,
            "no": 1,
            "abstain": 0,
            "voted": 6,
            "eligible": 8,
            "turnout": 0.75,
            "outcome": "approved",
            "voting_ends_at": (NOW - timedelta(days=13)).isoformat(),
        },
    ]


async def test_volunteer_hours_per_week(world: World):
    volunteers = [await world.resident() for _ in range(3)]
    activity = await Activity.create(community=world.community, title="清洁楼道")

    async def shift(starts: datetime, *served: tuple[str, int | None]) -> None:
        made = await Shift.create(
            activity=activity, starts_at=starts, ends_at=starts + timedelta(hours=3), capacity=5
        )
        for person, (status, minutes) in zip(volunteers, served, strict=False):
            await SignUp.create(
                shift=made, volunteer=person, status=status, minutes=minutes, signed_up_at=starts
            )

    await shift(NOW - timedelta(days=1), ("attended", 90), ("attended", 60), ("no_show", 0))
    await shift(NOW - timedelta(weeks=2), ("attended", 180), ("cancelled", None))
    await shift(NOW - timedelta(weeks=9), ("attended", 120))  # before the window
    await shift(NOW + timedelta(days=1), ("confirmed", None))  # still to come

    hours = (await service.dashboard(world.community.id, NOW))["volunteer_hours"]

    assert hours == [{"week": w, "hours": 0.0, "attended": 0} for w in WEEKS[:5]] + [
        {"week": "2026-W44", "hours": 3.0, "attended": 1},
        {"week": "2026-W45", "hours": 0.0, "attended": 0},
        {"week": "2026-W46", "hours": 2.5, "attended": 2},
    ]


async def test_only_workers_read_it(client, world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    resident = await world.resident(home)
    handler = await world.resident()
    await RoleAssignment.create(
        resident=handler, role=Role.HANDLER, community=world.community, department="property"
    )
    assert (await client.get("/api/v1/dashboard")).status == 401
    for person in (resident, handler):
        refused = await client.get("/api/v1/dashboard", headers=bearer(await world.token(person)))
        assert refused.status == 403
        assert (await refused.json())["error"]["code"] == "api.error.forbidden"
    for role in (Role.COMMUNITY_WORKER, Role.GRID_WORKER, Role.ADMIN):
        worker = await world.worker(role)
        resp = await client.get("/api/v1/dashboard", headers=bearer(await world.token(worker)))
        assert resp.status == 200, await resp.text()
        figures = await resp.json()
        assert len(figures["weeks"]) == 8
        assert figures["counts"]["open_tickets"] == 0
        assert {"key": "property", "name": figures["departments"][0]["name"]} in figures[
            "departments"
        ]


async def test_a_worker_of_another_community_is_refused(client, world: World):
    other = await world.community.__class__.create(slug="elsewhere", name="别处")
    person = await world.resident()
    await RoleAssignment.create(resident=person, role=Role.ADMIN, community=other)
    resp = await client.get("/api/v1/dashboard", headers=bearer(await world.token(person)))
    assert resp.status == 403


async def test_only_tally_readers_see_an_open_votes_tally_on_the_dashboard(client, world: World):
    """The same role set as the proposals API: a grid worker sees the turnout of an open
    vote, never its live 赞成/反对/弃权; the count of a closed vote is public anyway."""
    homes = await world.add_households(world.buildings[0], 3)
    scope = {"kind": "community", "ids": []}
    now = datetime.now(UTC)
    live = await Proposal.create(
        community=world.community,
        title="加装电梯",
        description="d",
        category="project",
        status="voting",
        scope=scope,
        voting_opened_at=now - timedelta(days=1),
        voting_ends_at=now + timedelta(days=5),
        eligible_count=3,
    )
    for home, choice in zip(homes, ("yes", "no"), strict=False):
        elector = await Elector.create(proposal=live, key=f"h{home.id}", household=home)
        await Vote.create(proposal=live, elector=elector, choice=choice)
    closed = await Proposal.create(
        community=world.community,
        title="修缮花坛",
        description="d",
        category="rectification",
        status="approved",
        scope=scope,
        voting_opened_at=now - timedelta(days=20),
        voting_ends_at=now - timedelta(days=13),
        eligible_count=8,
        result={"outcome": "approved", "eligible": 8, "yes": 5, "no": 1, "abstain": 0},
    )
    seen = {}
    for role in (Role.GRID_WORKER, Role.COMMUNITY_WORKER, Role.ADMIN):
        headers = bearer(await world.token(await world.worker(role)))
        figures = await (await client.get("/api/v1/dashboard", headers=headers)).json()
        seen[role] = {v["id"]: v for v in figures["votes"]}
        proposal = await (await client.get(f"/api/v1/proposals/{live.id}", headers=headers)).json()
        shown = seen[role][live.id]
        # The dashboard and the proposals API agree on who reads the live tally.
        assert ("tally" in proposal) == (shown["yes"] is not None), role
        assert (shown["voted"], shown["eligible"], shown["turnout"]) == (2, 3, 0.6667)
        assert (seen[role][closed.id]["yes"], seen[role][closed.id]["outcome"]) == (5, "approved")
    grid = seen[Role.GRID_WORKER][live.id]
    assert (grid["yes"], grid["no"], grid["abstain"]) == (None, None, None)
    for role in (Role.COMMUNITY_WORKER, Role.ADMIN):
        assert (seen[role][live.id]["yes"], seen[role][live.id]["no"]) == (1, 1)
