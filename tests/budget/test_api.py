"""The round's JSON API: the same service functions as the chat, behind the declared roles.

The app's clock is frozen at ``DURING`` (ordering open) and moved to ``AFTER`` to close.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from models.budget import MenuItem, Order, Round
from models.community import Building, Community, Grid, Household
from models.residents import Resident, Role, RoleAssignment
from tests.budget.factories import AFTER, DURING, PLAN
from tests.proposals import factories as proposals
from tests.world import World, bearer

R = "/api/v1/budget/rounds"
PHASES = {name: day.isoformat() for name, day in PLAN.items()}


def round_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "year": 2026,
        "title": "2026年民生微实事",
        "rule": "fit",
        "phases": PHASES,
        "sources": [
            {"kind": "government", "name": "区级民生微实事资金", "amount": "60000.00"},
            {"kind": "residents", "name": "居民自筹", "amount": 40000},
        ],
    }
    return body | changes


async def call(client, method: str, url: str, headers, body=None) -> tuple[int, Any]:  # type: ignore[no-untyped-def]
    resp = await client.request(method, url, json=body, headers=headers)
    return resp.status, await resp.json()


def refusal(status: int, answer: Any, code: str, expected: int) -> None:
    """The one error shape, with the code the service gave and a message to show."""
    assert status == expected, answer
    assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}, answer
    assert answer["error"]["code"] == code, answer
    assert answer["error"]["message"]


async def grid_worker(world: World, grid: Grid) -> Resident:
    person = await world.resident()
    await RoleAssignment.create(
        resident=person, role=Role.GRID_WORKER, community=world.community, grid=grid
    )
    return person


async def created(client, world: World, boss: Resident, **changes: Any) -> int:  # type: ignore[no-untyped-def]
    status, made = await call(client, "POST", R, await world.headers(boss), round_body(**changes))
    assert status == 201, made
    return int(made["id"])


async def with_menu(client, world: World, boss: Resident, costs: list[str]) -> int:  # type: ignore[no-untyped-def]
    round_id = await created(client, world, boss)
    headers = await world.headers(boss)
    for n, cost in enumerate(costs, start=1):
        status, item = await call(
            client,
            "POST",
            f"{R}/{round_id}/menu",
            headers,
            {"title": f"项目{n}", "cost": cost, "responsible": "社区居委会"},
        )
        assert status == 201, item
    return round_id


async def advance(client, world: World, boss: Resident, round_id: int, times: int = 1) -> dict:  # type: ignore[no-untyped-def]
    headers = await world.headers(boss)
    for _ in range(times):
        status, seen = await call(client, "POST", f"{R}/{round_id}/advance", headers, {})
        assert status == 200, seen
    return seen


async def test_a_round_through_the_api_from_the_menu_to_the_money(client, world: World, app_state):
    app_state.clock = lambda: DURING
    homes = await world.add_households(world.buildings[0], 5)
    people = [await world.resident(h) for h in homes]
    boss = await world.worker()
    chief = await world.worker(Role.ADMIN)
    walker = await grid_worker(world, world.grid)
    mine = bearer(await world.token(people[0]))
    manager = await world.headers(boss)

    round_id = await created(client, world, boss)
    base = f"{R}/{round_id}"
    status, seen = await call(client, "GET", base, mine)
    assert status == 200, seen
    assert (seen["status"], seen["fund"], seen["rule_name"], seen["rule"]) == (
        "collection",
        "100000.00",
        "fit",
        None,
    )
    assert [s["amount"] for s in seen["sources"]] == ["60000.00", "40000.00"]
    assert seen["phases"] == PHASES and seen["has_result"] is False
    listed = await call(client, "GET", R, mine)
    assert [r["id"] for r in listed[1]["items"]] == [round_id]

    # The menu: a reviewed proposal keeps its own title; two departments' projects.
    proposal_id = await proposals.published(world, people[0], boss, category="project")
    status, first = await call(
        client,
        "POST",
        f"{base}/menu",
        manager,
        {"proposal_id": proposal_id, "cost": "40000.00", "responsible": "街道城建科"},
    )
    assert status == 201, first
    assert (first["number"], first["origin"], first["title"]) == (1, "proposal", "3栋门口加装路灯")
    for title, cost in (("楼道扶手", "30000.50"), ("健身器材", 50000)):
        status, made = await call(
            client,
            "POST",
            f"{base}/menu",
            manager,
            {"title": title, "cost": cost, "responsible": "居委会"},
        )
        assert status == 201, made
    assert made["cost"] == "50000.00" and made["budget"] is None
    status, changed = await call(client, "PATCH", f"{base}/menu/3", manager, {"cost": "50000.00"})
    assert status == 200 and changed["cost"] == "50000.00"
    # Residents see the menu once it is published; before that it is the workers' draft.
    status, draft = await call(client, "GET", f"{base}/menu", mine)
    assert status == 200 and (draft["published"], draft["items"]) == (False, [])
    assert len((await call(client, "GET", f"{base}/menu", manager))[1]["items"]) == 3

    assert (await advance(client, world, boss, round_id, 2))["status"] == "publicity"
    status, said = await call(client, "POST", f"{base}/menu/2/comments", mine, {"text": "支持"})
    assert status == 201, said
    neighbour = bearer(await world.token(people[1]))
    status, rude = await call(
        client, "POST", f"{base}/menu/2/comments", neighbour, {"text": "广告"}
    )
    assert status == 201
    status, hidden = await call(
        client, "POST", f"{base}/comments/{rude['id']}/hide", manager, {"reason": "广告"}
    )
    assert status == 200 and hidden == {"id": rude["id"], "hidden": True}
    shown = (await call(client, "GET", f"{base}/menu/2/comments", mine))[1]
    assert [(c["id"], c["mine"]) for c in shown["items"]] == [(said["id"], True)]
    assert shown["total"] == 1
    kept = (await call(client, "GET", f"{base}/menu/2/comments", manager))[1]["items"]
    assert [c["hidden_reason"] for c in kept] == [None, "广告"]

    opened = await advance(client, world, boss, round_id)
    assert opened["status"] == "ordering" and opened["eligible_count"] == 5
    assert opened["rule"]["selection"] == "fit" and opened["rule"]["coverage"] == "all"
    ends = datetime.fromisoformat(opened["ordering_ends_at"])
    assert ends == datetime(2026, 11, 14, 16, 0, tzinfo=UTC)  # 11-15 00:00 in Beijing

    status, ballot = await call(client, "GET", f"{base}/order", mine)
    assert status == 200, ballot
    assert (ballot["items"], ballot["allowed"], ballot["fund"], ballot["left"]) == (
        [],
        [1, 2, 3],
        "100000.00",
        "100000.00",
    )
    assert [i["cost"] for i in ballot["menu"]] == ["40000.00", "30000.50", "50000.00"]
    status, placed = await call(client, "PUT", f"{base}/order", mine, {"items": [3, 1]})
    assert status == 200, placed
    assert placed == {"items": [1, 3], "previous": None, "left": "10000.00"}
    status, again = await call(client, "PUT", f"{base}/order", mine, {"items": [2]})
    assert again == {"items": [2], "previous": [1, 3], "left": "69999.50"}
    status, answer = await call(client, "PUT", f"{base}/order", mine, {"items": [1, 2, 3]})
    refusal(status, answer, "budget.error.over_fund", 400)
    status, answer = await call(client, "PUT", f"{base}/order", mine, {"items": [9]})
    refusal(status, answer, "budget.error.unknown_item", 400)
    for person, picks in ((people[1], [1, 3]), (people[2], [1])):
        status, done = await call(
            client, "PUT", f"{base}/order", bearer(await world.token(person)), {"items": picks}
        )
        assert status == 200, done

    # Door to door: a paper ballot for one household, a visit at another's.
    on_foot = await world.headers(walker)
    status, paper = await call(
        client,
        "POST",
        f"{base}/ballots",
        on_foot,
        {
            "household_id": homes[3].id,
            "outcome": "answered",
            "items": [1, 3],
            "respondent": "户主本人",
            "method": "oral",
        },
    )
    assert status == 201, paper
    assert (paper["state"], paper["items"], paper["previous"]) == ("in_person", [1, 3], None)
    status, away = await call(
        client,
        "POST",
        f"{base}/ballots",
        on_foot,
        {"household_id": homes[4].id, "outcome": "not_home"},
    )
    assert status == 201 and (away["state"], away["items"]) == ("visited", None)
    order = await Order.get(round_id=round_id, elector__household_id=homes[3].id)
    assert (order.items, order.channel, order.recorded_by_id) == ([1, 3], "in_person", walker.id)
    status, covered = await call(client, "GET", f"{base}/coverage", on_foot)
    assert status == 200, covered
    total = covered["total"]
    assert (total["online"], total["in_person"], total["visited"], total["not_reached"]) == (
        3,
        1,
        1,
        0,
    )
    assert covered["buildings"][0]["building"] == world.buildings[0].name
    status, left = await call(client, "GET", f"{base}/doors", on_foot)
    assert [d["household_id"] for d in left["items"]] == [homes[4].id]

    # Nobody sees support while ordering, workers included.
    for headers in (mine, manager):
        for path in ("", "/menu", "/order", "/coverage", "/finances"):
            resp = await client.get(f"{base}{path}", headers=headers)
            if resp.status == 200:
                assert '"support": ' not in json.dumps(await resp.json()).replace(
                    '"support": null', ""
                ), path
    refusal(*await call(client, "GET", f"{base}/result", mine), "budget.error.no_result", 409)

    # Ordering ends; the count runs once.
    app_state.clock = lambda: AFTER
    status, answer = await call(client, "PUT", f"{base}/order", mine, {"items": [1]})
    refusal(status, answer, "budget.error.not_ordering", 409)
    closed = await advance(client, world, boss, round_id)
    assert closed["status"] == "result" and closed["has_result"] is True
    status, result = await call(client, "GET", f"{base}/result", mine)
    assert status == 200, result
    support = {r["number"]: r["support"] for r in result["items"]}
    assert support == {1: 3, 2: 1, 3: 2}
    # 1 (40,000, most support), then 3 (50,000): 10,000 is left, 2 costs 30,000.50.
    assert result["funded"] == [1, 3]
    assert (result["spent"], result["left"], result["eligible"]) == ("90000.00", "10000.00", 5)
    assert {r["number"]: r["standing"] for r in result["items"]}[2] == "no_money"
    assert len(result["digest"]) >= 32 and result["override"] is None
    status, shown_menu = await call(client, "GET", f"{base}/menu", mine)
    assert {i["number"]: (i["support"], i["status"]) for i in shown_menu["items"]} == {
        1: (3, "funded"),
        2: (1, "unfunded"),
        3: (2, "funded"),
    }
    assert shown_menu["items"][0]["budget"] == "40000.00"

    # The money in the open.
    status, spent = await call(
        client,
        "POST",
        f"{base}/menu/1/spending",
        manager,
        {"amount": "1000.50", "spent_on": "2026-11-15", "purpose": "材料费"},
    )
    assert status == 201, spent
    assert (spent["amount"], spent["spent_on"]) == ("1000.50", "2026-11-15")
    status, answer = await call(
        client,
        "POST",
        f"{base}/menu/1/spending",
        manager,
        {"amount": "39000.00", "spent_on": "2026-11-15", "purpose": "超支"},
    )
    refusal(status, answer, "budget.error.over_budget_admin", 403)
    status, over = await call(
        client,
        "POST",
        f"{base}/menu/1/spending",
        await world.headers(chief),
        {
            "amount": "39000.00",
            "spent_on": "2026-11-15",
            "purpose": "超支",
            "over_reason": "材料涨价，经居民代表会议同意",
        },
    )
    assert status == 201 and over["over_reason"] == "材料涨价，经居民代表会议同意"
    status, entries = await call(client, "GET", f"{base}/menu/1/spending", mine)
    assert [e["amount"] for e in entries["items"]] == ["1000.50", "39000.00"]
    status, books = await call(client, "GET", f"{base}/finances", mine)
    assert status == 200, books
    assert (books["fund"], books["budgeted"], books["spent"], books["balance"]) == (
        "100000.00",
        "90000.00",
        "40000.50",
        "59999.50",
    )
    assert [(p["number"], p["left"]) for p in books["projects"]] == [(1, "-0.50"), (3, "50000.00")]

    # Implementation, acceptance, satisfaction.
    for action, state in (("start", "implementing"), ("accept", "accepted")):
        status, item = await call(
            client, "POST", f"{base}/menu/3/step", manager, {"action": action}
        )
        assert status == 200 and item["status"] == state, item
        assert item["support"] == 2
    status, rated = await call(client, "POST", f"{base}/menu/3/rating", mine, {"stars": 5})
    assert status == 200 and rated == {"number": 3, "stars": 5}
    status, answer = await call(client, "POST", f"{base}/menu/1/rating", mine, {"stars": 4})
    refusal(status, answer, "budget.error.not_accepted", 409)
    books = (await call(client, "GET", f"{base}/finances", mine))[1]
    assert [(p["ratings"], p["stars"]) for p in books["projects"]] == [(0, None), (1, 5.0)]


async def test_roles_are_refused_before_anything_is_done(client, world: World, app_state):
    app_state.clock = lambda: DURING
    far_grid = await Grid.create(community=world.community, name="第二网格")
    far_building = await Building.create(community=world.community, grid=far_grid, name="9栋")
    homes = await world.add_households(world.buildings[0], 2)
    far = (await world.add_households(far_building, 1))[0]
    person = await world.resident(homes[0])
    boss = await world.worker()
    resident = bearer(await world.token(person))

    refusal(*await call(client, "POST", R, resident, round_body()), "api.error.forbidden", 403)
    assert await Round.all().count() == 0
    round_id = await with_menu(client, world, boss, ["1000"])
    base = f"{R}/{round_id}"
    await advance(client, world, boss, round_id, 3)
    for path in ("coverage", "doors"):
        refusal(*await call(client, "GET", f"{base}/{path}", resident), "api.error.forbidden", 403)
    ballot = {"household_id": homes[1].id, "outcome": "answered", "items": [1]}
    ballot |= {"respondent": "本人", "method": "oral"}
    refusal(
        *await call(client, "POST", f"{base}/ballots", resident, ballot), "api.error.forbidden", 403
    )
    # A grid worker records for their own grids only.
    walker = await world.headers(await grid_worker(world, far_grid))
    status, answer = await call(client, "POST", f"{base}/ballots", walker, ballot)
    refusal(status, answer, "canvass.error.outside_grid", 403)
    assert not await Order.filter(round_id=round_id).exists()
    status, done = await call(
        client, "POST", f"{base}/ballots", walker, ballot | {"household_id": far.id}
    )
    assert status == 201, done
    doors = (await call(client, "GET", f"{base}/doors", walker))[1]["items"]
    assert doors == []  # its one household is reached
    # A grid worker reads coverage but may not manage the round.
    assert (await call(client, "GET", f"{base}/coverage", walker))[0] == 200
    refusal(*await call(client, "POST", f"{base}/advance", walker, {}), "api.error.forbidden", 403)
    # An unverified resident does not order; a worker is no household.
    stranger = bearer(await world.token(await world.resident()))
    refusal(
        *await call(client, "PUT", f"{base}/order", stranger, {"items": [1]}),
        "proposal.error.not_verified",
        403,
    )
    # Only an admin closes before every household is reached, and with a reason.
    app_state.clock = lambda: AFTER
    status, answer = await call(client, "POST", f"{base}/advance", await world.headers(boss), {})
    refusal(status, answer, "proposal.error.coverage_incomplete", 409)
    status, answer = await call(
        client, "POST", f"{base}/advance", await world.headers(boss), {"override": "已尽力"}
    )
    refusal(status, answer, "proposal.error.override_forbidden", 403)
    chief = await world.headers(await world.worker(Role.ADMIN))
    status, closed = await call(
        client, "POST", f"{base}/advance", chief, {"override": "两户长期外出"}
    )
    assert status == 200 and closed["status"] == "result", closed
    result = (await call(client, "GET", f"{base}/result", resident))[1]
    assert result["override"]["reason"] == "两户长期外出"
    assert result["coverage"]["not_reached"] == 2


async def test_another_communitys_rounds_are_not_found(client, world: World, app_state):
    app_state.clock = lambda: DURING
    await world.add_households(world.buildings[0], 2)
    boss = await world.worker()
    round_id = await with_menu(client, world, boss, ["1000"])
    await advance(client, world, boss, round_id, 3)
    elsewhere = await Community.create(slug="elsewhere", name="别的社区")
    their_home = await Household.create(
        building=await Building.create(community=elsewhere, name="1栋"), unit="1", room="101"
    )
    outsider = await Resident.create(
        community=elsewhere, openid="o_elsewhere", household=their_home, verified=True
    )
    their_boss = await Resident.create(community=elsewhere, openid="o_elsewhere_boss")
    await RoleAssignment.create(resident=their_boss, role=Role.ADMIN, community=elsewhere)
    for person in (outsider, their_boss):
        headers = bearer(await world.token(person))
        for path in ("", "/menu", "/result", "/finances", "/menu/1/comments", "/menu/1/spending"):
            status, answer = await call(client, "GET", f"{R}/{round_id}{path}", headers)
            refusal(status, answer, "budget.error.not_found", 404)
        assert (await call(client, "GET", R, headers))[1]["items"] == []
    mine = bearer(await world.token(outsider))
    for method, body in (("GET", None), ("PUT", {"items": [1]})):
        status, answer = await call(client, method, f"{R}/{round_id}/order", mine, body)
        refusal(status, answer, "budget.error.not_found", 404)
    chief = bearer(await world.token(their_boss))
    for method, path, body in (
        ("GET", "/coverage", None),
        ("POST", "/advance", {}),
        ("POST", "/menu/1/withdraw", {"reason": "不要了"}),
        ("PUT", "/sources", {"sources": [{"kind": "street", "amount": "1.00"}]}),
    ):
        status, answer = await call(client, method, f"{R}/{round_id}{path}", chief, body)
        refusal(status, answer, "budget.error.not_found", 404)
    for path in ("/x", "/0", "/1234567890"):
        refusal(*await call(client, "GET", f"{R}{path}", chief), "budget.error.not_found", 404)
    assert (await Round.get(id=round_id)).status == "ordering"


async def test_money_in_a_body_is_exact_text_or_whole_yuan_never_a_float(
    client, world: World, app_state
):
    app_state.clock = lambda: DURING
    boss = await world.worker()
    manager = await world.headers(boss)
    floats = round_body(sources=[{"kind": "government", "amount": 100000.5}])
    refusal(*await call(client, "POST", R, manager, floats), "api.error.bad_field", 400)
    integral_float = round_body(sources=[{"kind": "government", "amount": 100000.0}])
    refusal(*await call(client, "POST", R, manager, integral_float), "api.error.bad_field", 400)
    for amount, code in (
        ("0", "budget.error.bad_amount"),
        ("0.00", "budget.error.bad_amount"),
        ("12,345.60", "api.error.bad_field"),
        ("12345.601", "api.error.bad_field"),
        ("1e5", "api.error.bad_field"),
        (" 100", "api.error.bad_field"),
        (True, "api.error.bad_field"),
    ):
        body = round_body(sources=[{"kind": "government", "amount": amount}])
        refusal(*await call(client, "POST", R, manager, body), code, 400)
    assert await Round.all().count() == 0
    round_id = await created(client, world, boss)
    base = f"{R}/{round_id}"
    for cost in (12345.6, 12345.0, "-5", ""):
        body = {"title": "路灯", "cost": cost, "responsible": "居委会"}
        refusal(
            *await call(client, "POST", f"{base}/menu", manager, body), "api.error.bad_field", 400
        )
    assert not await MenuItem.filter(round_id=round_id).exists()
    body = {"sources": [{"kind": "street", "amount": "0.01"}, {"kind": "donation", "amount": 7}]}
    status, seen = await call(client, "PUT", f"{base}/sources", manager, body)
    assert status == 200 and seen["fund"] == "7.01", seen
    assert [(s["kind"], s["amount"]) for s in seen["sources"]] == [
        ("street", "0.01"),
        ("donation", "7.00"),
    ]
    assert (await call(client, "GET", base, manager))[1]["fund"] == "7.01"
    refusal(
        *await call(client, "POST", R, manager, round_body(rule="nosuch")),
        "budget.error.bad_rule",
        400,
    )
    assert Decimal((await call(client, "GET", base, manager))[1]["fund"]) == Decimal("7.01")


async def test_the_menu_is_fixed_once_published_and_comments_wait_for_publicity(
    client, world: World, app_state
):
    app_state.clock = lambda: DURING
    home = (await world.add_households(world.buildings[0], 1))[0]
    resident = bearer(await world.token(await world.resident(home)))
    boss = await world.worker()
    manager = await world.headers(boss)
    round_id = await with_menu(client, world, boss, ["1000", "2000"])
    base = f"{R}/{round_id}"
    status, answer = await call(client, "POST", f"{base}/menu/1/comments", resident, {"text": "好"})
    refusal(status, answer, "budget.error.not_publicity", 409)
    status, gone = await call(
        client, "POST", f"{base}/menu/2/withdraw", manager, {"reason": "重复"}
    )
    assert status == 200 and gone["status"] == "withdrawn"
    refusal(
        *await call(client, "PATCH", f"{base}/menu/2", manager, {"title": "新"}),
        "budget.error.item_withdrawn",
        409,
    )
    refusal(
        *await call(client, "PATCH", f"{base}/menu/7", manager, {}), "budget.error.no_item", 404
    )
    refusal(
        *await call(client, "GET", f"{base}/menu/x/comments", manager), "budget.error.no_item", 404
    )
    await advance(client, world, boss, round_id, 2)
    status, answer = await call(
        client,
        "POST",
        f"{base}/menu",
        manager,
        {"title": "晚了", "cost": "1", "responsible": "居委会"},
    )
    refusal(status, answer, "budget.error.menu_fixed", 409)
    refusal(
        *await call(
            client,
            "PUT",
            f"{base}/sources",
            manager,
            {"sources": [{"kind": "street", "amount": "9"}]},
        ),
        "budget.error.fund_fixed",
        409,
    )
    menu = (await call(client, "GET", f"{base}/menu", resident))[1]
    assert menu["published"] is True and [i["number"] for i in menu["items"]] == [1]
    refusal(
        *await call(client, "GET", f"{base}/coverage", manager), "budget.error.not_ordering", 409
    )
    refusal(*await call(client, "GET", f"{base}/order", resident), "budget.error.not_ordering", 409)
