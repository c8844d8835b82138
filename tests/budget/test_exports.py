"""A round's printed records hold the counts the database holds: the result poster (PDF),
the record (.xlsx, managers only) and the year-end report (PDF and .xlsx), on both backends.

The PDFs are read back with poppler's ``pdftotext``: the text a printer gets.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from handlers.budget import money, rounds
from handlers.records.budget_labels import yuan
from handlers.records.workbook import XLSX
from models.budget import BallotVisit, ItemRating, MenuItem, Order, Round, Spending
from models.residents import Resident, Role, RoleAssignment
from tests.budget import factories
from tests.budget.factories import AFTER
from tests.world import World, bearer

R = "/api/v1/budget/rounds"
PHONE, NAME = "13987654321", "点菜隐私人"
OVERRIDE = "两户长期外出，电话联系不上"


@pytest.fixture(autouse=True)
def poppler() -> None:
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("pdftotext is missing: apt-get install poppler-utils")
        pytest.skip("pdftotext is missing (apt-get install poppler-utils)")


def pdf_text(body: bytes) -> str:
    """The PDF's text as laid out, runs of blanks as one space."""
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=body, capture_output=True, check=True, timeout=60
    )
    return re.sub(r"[ \t]+", " ", done.stdout.decode("utf-8"))


def compact(text: str) -> str:
    """Without any blank or line break: a sentence the layout wrapped reads whole again."""
    return re.sub(r"\s+", "", text)


def sheet_rows(book: Any, name: str) -> list[list[Any]]:
    return [list(row) for row in book[name].iter_rows(min_row=2, values_only=True)]


def pairs(book: Any, name: str) -> dict[str, Any]:
    return {row[0]: row[1] for row in sheet_rows(book, name)}


def lock_of(world: World):  # type: ignore[no-untyped-def]
    return world.app_state.store.lock  # type: ignore[attr-defined]


async def counted_round(world: World) -> dict[str, Any]:
    """Twelve households: eight order online, two on paper at the door, one is visited
    with nobody home, one is never reached; an admin closes with a reason; then money."""
    homes = await world.add_households(world.buildings[0], 8)
    homes += await world.add_households(world.buildings[1], 4)
    people = [await world.resident(h) for h in homes]
    for person in people:
        person.name, person.phone = NAME, PHONE
        await person.save(update_fields=["name", "phone"])
    boss, chief = await world.worker(), await world.worker(Role.ADMIN)
    lock = lock_of(world)
    # Fund 100,000: 1 (40,000), 2 (30,000), 3 (50,000), 4 (5,000, which nobody wants).
    round_id = await factories.ordering_round(
        world, boss, ["40000", "30000", "50000", "5000"], lock, fund="100000"
    )
    picks = [[1, 3], [1, 3], [1, 3], [3], [3, 2], [1, 2], [2], [1]]
    for person, chosen in zip(people[:8], picks, strict=True):
        await factories.order(world, person, round_id, chosen)
    await factories.order(world, people[0], round_id, [1, 2])  # the latest counts
    await factories.ballot(world, boss, round_id, homes[8].id, [1, 2])
    await factories.ballot(world, boss, round_id, homes[9].id, [])
    await factories.ballot(world, boss, round_id, homes[10].id, None, outcome="not_home")
    await rounds.advance(await world.who(chief), round_id, AFTER, lock, override=OVERRIDE)
    found = await Round.get(id=round_id)
    assert found.status == "result" and found.result is not None
    funded = sorted(found.result["funded"])
    assert funded, found.result
    who = await world.who(boss)
    first, *others = funded
    for amount, day in (("1200.50", 12), ("800.00", 13)):
        await money.record_spending(
            who,
            round_id,
            first,
            amount=amount,
            spent_on=date(2026, 11, day),
            purpose="材料费",
            now=AFTER,
        )
    for number in others:
        await money.record_spending(
            who,
            round_id,
            number,
            amount="999.99",
            spent_on=date(2026, 11, 14),
            purpose="人工费",
            now=AFTER,
        )
    await money.step(who, round_id, first, "start")
    await money.step(who, round_id, first, "accept")
    for person, stars in zip(people[:3], (5, 4, 4), strict=True):
        await money.rate(await world.who(person), round_id, first, stars)
    return {"id": round_id, "people": people, "boss": boss, "chief": chief, "funded": funded}


async def support_in_db(round_id: int) -> dict[int, int]:
    orders = await Order.filter(round_id=round_id).values_list("items", flat=True)
    numbers = await MenuItem.filter(round_id=round_id).values_list("number", flat=True)
    return {n: sum(1 for items in orders if n in items) for n in numbers}


async def test_the_poster_holds_each_project_s_support_and_the_funded_total(client, world: World):
    made = await counted_round(world)
    round_id = made["id"]
    found = await Round.get(id=round_id)
    result = found.result or {}
    # Any resident of the community may have it, the one never reached too.
    got = await client.get(
        f"{R}/{round_id}/poster.pdf", headers=await world.headers(made["people"][11])
    )
    assert got.status == 200 and got.content_type == "application/pdf"
    assert f"budget-2026-{round_id}-poster.pdf" in got.headers["Content-Disposition"]
    text = pdf_text(await got.read())
    support = await support_in_db(round_id)
    assert support[4] == 0 and support[1] == 6, support
    standings = {"funded": "立项", "below_support": "支持户数不足", "no_money": "资金不足"}
    items = {i.number: i for i in await MenuItem.filter(round_id=round_id)}
    for row in result["items"]:
        number = row["number"]
        line = (
            rf"{row['rank']} {number} {items[number].title} {re.escape(yuan(items[number].cost))}"
            rf" {support[number]} {row['needed']} {standings[row['standing']]}"
        )
        assert re.search(line, text), (line, text)
    funded = sum((Decimal(items[n].cost) for n in made["funded"]), Decimal(0))
    assert Decimal(result["spent"]) == funded
    left = Decimal("100000") - funded
    assert compact(
        f"立项 {len(made['funded'])} 个，合计 {yuan(funded)} 元，资金结余 {yuan(left)} 元"
    ) in compact(text)
    orders = await Order.filter(round_id=round_id).count()
    assert compact(f"应参与点菜 12 户，其中 {orders} 户提交了点菜") in compact(text)
    online = await Order.filter(round_id=round_id, channel="online").count()
    paper = await Order.filter(round_id=round_id, channel="in_person").count()
    assert (online, paper) == (8, 2)
    assert compact(
        f"线上点菜 {online} 户，纸质点菜单 {paper} 户，已走访未点菜 1 户，未联系到 1 户"
    ) in compact(text)
    for words in (
        "资金总额 100,000.00 元",
        "区级资金（区级民生微实事资金）：100,000.00 元",
        "点菜规则：每户所选项目的合计金额不超过资金总额",
        "10% 以上（含）的住户支持",
        "须入户全覆盖",
        f"理由：{OVERRIDE}",
        result["digest"],
    ):
        assert compact(words) in compact(text), words
    assert compact(f"linli verify-round {round_id}") in compact(text)
    assert NAME not in text and PHONE not in text
    # The same poster in traditional characters, when asked.
    got = await client.get(
        f"{R}/{round_id}/poster.pdf",
        params={"language": "zh_Hant"},
        headers=await world.headers(made["people"][0]),
    )
    assert compact("民生微實事群眾點菜結果公示") in compact(pdf_text(await got.read()))


async def test_the_record_has_one_row_per_order_and_visit_and_no_names(client, world: World):
    made = await counted_round(world)
    round_id = made["id"]
    got = await client.get(f"{R}/{round_id}/record.xlsx", headers=await world.headers(made["boss"]))
    assert got.status == 200 and got.content_type == XLSX
    book = load_workbook(io.BytesIO(await got.read()))
    assert book.sheetnames == ["result", "orders", "visits", "sources", "rule", "summary"]
    cells = [
        str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row
    ]
    for secret in (NAME, PHONE, *(p.openid for p in made["people"])):
        assert not any(secret in c for c in cells), secret
    orders = sheet_rows(book, "orders")
    stored = await Order.filter(round_id=round_id).prefetch_related("elector__household__building")
    assert len(orders) == len(stored) == 10
    expected = sorted(
        (
            o.elector.household.building.name,
            o.elector.household.room,
            "线上点菜" if o.channel == "online" else "纸质点菜单",
            "、".join(str(n) for n in o.items),
        )
        for o in stored
    )
    assert sorted((r[1], r[3], r[4], r[5] or "") for r in orders) == expected
    visits = sheet_rows(book, "visits")
    assert len(visits) == await BallotVisit.filter(round_id=round_id).count() == 3
    assert sorted(r[5] for r in visits) == ["家中无人", "已填写点菜单", "已填写点菜单"]
    assert {r[9] for r in visits} == {made["boss"].id}
    result = sheet_rows(book, "result")
    support = await support_in_db(round_id)
    assert {r[1]: r[4] for r in result} == support
    summary = pairs(book, "summary")
    found = await Round.get(id=round_id)
    assert summary["结果校验码"] == (found.result or {})["digest"]
    assert summary["未全覆盖结束点菜的理由"] == OVERRIDE
    assert summary["资金总额（元）"] == 100000
    assert pairs(book, "rule")["selection"] == "fit"


async def test_the_record_is_the_managers_only(client, world: World):
    made = await counted_round(world)
    url = f"{R}/{made['id']}/record.xlsx"
    walker = await world.resident()
    await RoleAssignment.create(
        resident=walker, role=Role.GRID_WORKER, community=world.community, grid=world.grid
    )
    for person in (made["people"][0], walker):
        got = await client.get(url, headers=await world.headers(person))
        assert got.status == 403
        assert (await got.json())["error"]["code"] == "api.error.forbidden"
    assert (await client.get(url, headers=await world.headers(made["chief"]))).status == 200
    assert (await client.get(url)).status == 401


async def test_the_report_adds_up_the_spending_rows(client, world: World):
    made = await counted_round(world)
    round_id = made["id"]
    world.app_state.clock = lambda: AFTER  # type: ignore[attr-defined]
    resident = await world.headers(made["people"][5])
    rows = await Spending.filter(item__round_id=round_id).prefetch_related("item")
    spent = sum((Decimal(s.amount) for s in rows), Decimal(0))
    assert len(rows) == 1 + len(made["funded"])
    got = await client.get(f"{R}/{round_id}/report.pdf", headers=resident)
    assert got.status == 200 and got.content_type == "application/pdf"
    text = pdf_text(await got.read())
    items = {i.number: i for i in await MenuItem.filter(round_id=round_id)}
    budgeted = sum((Decimal(items[n].cost) for n in made["funded"]), Decimal(0))
    balance = yuan(Decimal("100000") - spent)
    totals = f"预算合计 {yuan(budgeted)} 元，已支出 {yuan(spent)} 元，资金结余 {balance} 元"
    assert compact(totals) in compact(text)
    assert compact(f"参与点菜项目 4 个，立项 {len(made['funded'])} 个，已验收 1 个") in compact(
        text
    )
    assert compact("居民满意度 4.3 分（满分 5 分，3 户评价）") in compact(text)
    assert compact("4.3 分（3 户）") in compact(text)  # the accepted project's own
    assert compact("制表日期：2026-11-15") in compact(text)
    for number in made["funded"]:
        used = sum((Decimal(s.amount) for s in rows if s.item.number == number), Decimal(0))
        line = (
            rf"{number} {items[number].title} \S+ {re.escape(yuan(items[number].cost))}"
            rf" {re.escape(yuan(used))}"
        )
        assert re.search(line, text), (line, text)
    assert NAME not in text and PHONE not in text

    got = await client.get(f"{R}/{round_id}/report.xlsx", headers=resident)
    assert got.status == 200 and got.content_type == XLSX
    book = load_workbook(io.BytesIO(await got.read()))
    assert book.sheetnames == ["summary", "sources", "menu", "projects", "spending"]
    summary = pairs(book, "summary")
    assert Decimal(str(summary["已支出（元）"])) == spent
    assert Decimal(str(summary["资金结余（元）"])) == Decimal("100000") - spent
    assert (summary["参与点菜项目数"], summary["已验收项目数"]) == (4, 1)
    ratings = await ItemRating.filter(item__round_id=round_id).values_list("stars", flat=True)
    assert summary["评价户数"] == len(ratings) == 3
    entries = sheet_rows(book, "spending")
    assert len(entries) == len(rows)
    assert sum((Decimal(str(r[3])) for r in entries), Decimal(0)) == spent
    projects = {r[0]: r for r in sheet_rows(book, "projects")}
    assert set(projects) == set(made["funded"])
    for number, row in projects.items():
        used = sum((Decimal(str(s.amount)) for s in rows if s.item.number == number), Decimal(0))
        assert Decimal(str(row[5])) == used
    first = projects[made["funded"][0]]
    assert first[3] == "已验收"
    assert (Decimal(str(first[7])), first[8]) == (Decimal("4.3"), 3)  # (5 + 4 + 4) / 3
    menu = {r[1]: r[4] for r in sheet_rows(book, "menu")}
    assert menu == await support_in_db(round_id)


async def test_nothing_is_printed_before_the_result(client, world: World):
    homes = await world.add_households(world.buildings[0], 2)
    person: Resident = await world.resident(homes[0])
    boss = await world.worker()
    round_id = await factories.ordering_round(world, boss, ["1000"], lock_of(world))
    await factories.order(world, person, round_id, [1])
    for path, who in (
        ("poster.pdf", person),
        ("report.pdf", person),
        ("report.xlsx", person),
        ("record.xlsx", boss),
    ):
        got = await client.get(f"{R}/{round_id}/{path}", headers=await world.headers(who))
        assert got.status == 409, path
        assert (await got.json())["error"]["code"] == "budget.error.no_result"
    got = await client.get(f"{R}/{round_id}/record.xlsx", headers=bearer(await world.token(person)))
    assert got.status == 403
    got = await client.get(f"{R}/999999/poster.pdf", headers=await world.headers(person))
    assert got.status == 404
