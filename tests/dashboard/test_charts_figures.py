"""The dashboard's chart figures added for the ECharts page: satisfaction per week and the
building × week heatmap (大数据研判), as pure functions and through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.complaints import service as complaints
from handlers.dashboard import service
from models.community import Building
from models.complaints import Ticket
from tests.world import World, bearer

# Thursday 2026-11-12 20:00 in Shanghai: ISO week 2026-W46.
NOW = datetime(2026, 11, 12, 12, 0, tzinfo=UTC)
LABELS = service.week_labels(service.week_starts(NOW))
THIS_WEEK = NOW - timedelta(hours=1)
LAST_WEEK = NOW - timedelta(weeks=1)
MONDAY = datetime(2026, 11, 8, 16, 0, tzinfo=UTC)  # Monday 9 Nov, 00:00 local


# --- pure --------------------------------------------------------------------------------


def test_buildings_sort_by_their_number_not_their_text():
    names = ["10栋", "2栋", "1栋", "A座", "2栋东"]
    assert sorted(names, key=service.natural_key) == ["1栋", "2栋", "2栋东", "10栋", "A座"]


def test_satisfaction_averages_the_stars_of_each_weeks_rated_tickets():
    rows = [
        (THIS_WEEK, 5),
        (THIS_WEEK, 4),
        (THIS_WEEK, None),  # not rated: neither counted nor a zero
        (THIS_WEEK, 2),
        (LAST_WEEK, 1),
        (NOW - timedelta(weeks=9), 5),  # before the window
    ]
    weeks = service.satisfaction_by_week(rows, LABELS)
    assert [w["week"] for w in weeks] == LABELS
    assert weeks[-1] == {"week": "2026-W46", "rated": 3, "average": 3.67}
    assert weeks[-2] == {"week": "2026-W45", "rated": 1, "average": 1.0}
    assert weeks[0] == {"week": "2026-W39", "rated": 0, "average": None}


def test_satisfaction_counts_a_ticket_in_the_local_week_it_came():
    # Monday 00:30 in Shanghai is still Sunday in UTC: the new week.
    weeks = service.satisfaction_by_week([(MONDAY + timedelta(minutes=30), 4)], LABELS)
    assert (weeks[-1]["rated"], weeks[-2]["rated"]) == (1, 0)


def test_heatmap_has_every_building_and_hides_anonymous_ones():
    rows = [
        (2, False, THIS_WEEK),
        (2, False, THIS_WEEK),
        (1, False, LAST_WEEK),
        (2, True, THIS_WEEK),  # anonymous: its building is never shown
        (None, False, THIS_WEEK),  # a reporter with no household
        (99, False, THIS_WEEK),  # a building no longer known
        (1, False, NOW - timedelta(weeks=8)),  # before the window
    ]
    heat = service.complaints_by_building(rows, LABELS, [(2, "10栋"), (1, "2栋"), (3, "3栋")])
    assert heat["weeks"] == LABELS
    assert [(b["id"], b["name"]) for b in heat["buildings"]] == [
        (1, "2栋"),
        (3, "3栋"),
        (2, "10栋"),
    ]
    by_name = {b["name"]: b["counts"] for b in heat["buildings"]}
    assert by_name["10栋"] == [0] * 7 + [2]
    assert by_name["2栋"] == [0] * 6 + [1, 0]
    assert by_name["3栋"] == [0] * 8
    assert heat["unplaced"] == [0] * 7 + [3]


def test_heatmap_of_a_community_without_buildings():
    heat = service.complaints_by_building([(None, False, THIS_WEEK)], LABELS, [])
    assert heat["buildings"] == []
    assert heat["unplaced"][-1] == 1


# --- from the database, through the API --------------------------------------------------


async def test_the_api_gives_satisfaction_and_the_heatmap_from_the_tickets(client, world: World):
    """Tickets made by intake (the building comes from the reporter's household), rated by
    their reporters; the figures are the database's, for this community only."""
    now = datetime.now(UTC)
    # Every step in the current local week, even a minute after Monday 00:00.
    start = max(now - timedelta(minutes=30), service.week_starts(now)[-1])

    def at(step: int) -> datetime:
        return start + (now - start) * step / 10

    one, two = world.buildings
    three = await Building.create(community=world.community, grid=world.grid, name="10栋")
    home_one = (await world.add_households(one, 1))[0]
    home_two = (await world.add_households(two, 1))[0]
    alice, bob = await world.resident(home_one), await world.resident(home_two)
    staff = await world.who(await world.worker())
    made = [
        await complaints.intake(alice, "楼道灯不亮", at(0)),
        await complaints.intake(alice, "小区垃圾没人清运", at(1)),
        await complaints.intake(bob, "楼下水管漏水", at(2)),
    ]
    await complaints.intake(bob, "有人在楼道堆放杂物", at(3), anonymous=True)
    for ticket, stars in zip(made, (5, 2), strict=False):
        await complaints.act(staff, ticket.id, "accept", at(4))
        await complaints.act(staff, ticket.id, "resolve", at(5), note="好了")
        reporter = alice if ticket.reporter_id == alice.id else bob
        await complaints.rate(reporter, ticket.number, stars, "", at(6))
    other = await world.community.__class__.create(slug="other", name="别的社区")
    await Ticket.create(
        number="TOTHER9", community=other, text="x", department="property", created_at=now
    )

    worker = await world.worker()
    resp = await client.get("/api/v1/dashboard", headers=bearer(await world.token(worker)))
    assert resp.status == 200, await resp.text()
    figures = await resp.json()

    stars = await Ticket.filter(
        community_id=world.community.id, stars__not_isnull=True
    ).values_list("stars", flat=True)
    assert sorted(stars) == [2, 5]
    this_week = figures["satisfaction"][-1]
    assert this_week == {"week": figures["weeks"][-1], "rated": 2, "average": 3.5}
    assert all(w["average"] is None for w in figures["satisfaction"][:-1])

    heat = figures["complaints_by_building"]
    assert heat["weeks"] == figures["weeks"]
    assert [b["name"] for b in heat["buildings"]] == ["1栋", "2栋", "10栋"]
    assert [b["id"] for b in heat["buildings"]] == [one.id, two.id, three.id]
    assert [b["counts"][-1] for b in heat["buildings"]] == [2, 1, 0]
    assert heat["unplaced"][-1] == 1  # bob's anonymous ticket, not counted on 2栋
    assert sum(map(sum, (b["counts"] for b in heat["buildings"]))) + sum(heat["unplaced"]) == (
        await Ticket.filter(community_id=world.community.id).count()
    )
