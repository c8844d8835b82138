"""The .xlsx exports beside the lists: volunteer hours and the monthly ticket register.

Each holds the rows its sibling shows (the hours CSV, the staff's ticket list) and no
one else's, and nothing a sibling hides.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from openpyxl import load_workbook

from handlers.complaints import service as tickets
from handlers.records.workbook import XLSX
from handlers.volunteers.rules import LOCAL
from models.community import Grid
from models.complaints import Ticket
from models.residents import Role, RoleAssignment
from models.volunteers import SignUp
from tests.complaints.conftest import handler_of
from tests.volunteers.conftest import patrol, volunteer
from tests.world import World

NOV = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def sheet_rows(data: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(data)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


# --- volunteer hours --------------------------------------------------------------------


async def test_hours_xlsx_has_the_csv_s_rows_typed(client, world: World, bearer):
    _, shift = await patrol(world, starts=NOV, now=NOV - timedelta(days=7), title="=HYPERLINK(1)")
    came = await volunteer(world, name="李阿姨")
    missed = await volunteer(world, name="张叔")
    await SignUp.create(
        shift=shift,
        volunteer=came,
        status="attended",
        signed_up_at=NOV - timedelta(days=2),
        checked_in_at=NOV,
        checked_out_at=NOV + timedelta(minutes=95),
        minutes=95,
        points=16,
    )
    await SignUp.create(
        shift=shift, volunteer=missed, status="no_show", signed_up_at=NOV - timedelta(days=1)
    )
    worker = bearer(await world.token(await world.worker()))
    span = {"from": "2026-11-01", "to": "2026-11-30"}
    got = await client.get("/api/v1/volunteers/hours.csv", params=span, headers=worker)
    table = list(csv.reader(io.StringIO((await got.read()).decode("utf-8-sig"))))
    got = await client.get("/api/v1/volunteers/hours.xlsx", params=span, headers=worker)
    assert got.status == 200 and got.content_type == XLSX
    assert "volunteer-hours-2026-11-01-2026-11-30.xlsx" in got.headers["Content-Disposition"]
    rows = sheet_rows(await got.read())
    assert rows[0] == [
        "日期",
        "活动",
        "开始时间",
        "结束时间",
        "志愿者编号",
        "姓名",
        "出勤情况",
        "签到时间",
        "签退时间",
        "时长（分钟）",
        "时长（小时）",
        "积分",
    ]
    assert [r[6] for r in rows[1:]] == ["已出勤", "缺勤"]
    states = {"已出勤": "attended", "缺勤": "no_show"}

    def as_csv(row: list[Any]) -> list[str]:
        """An .xlsx row written the way the CSV writes it."""

        def minute(v: Any) -> str:
            return "" if v is None else v.strftime("%Y-%m-%d %H:%M")

        return [
            row[0].date().isoformat(),
            "'" + row[1] if row[1].startswith("=") else row[1],
            minute(row[2]),
            minute(row[3]),
            str(row[4]),
            row[5],
            states[row[6]],
            minute(row[7]),
            minute(row[8]),
            str(row[9]),
            f"{row[10]:.2f}",
            str(row[11]),
        ]

    assert len(table) == len(rows) == 3
    assert [as_csv(r) for r in rows[1:]] == table[1:]
    assert rows[1][2] == datetime(2026, 11, 10, 10, 0) and rows[1][9:] == [95, 1.58, 16]
    assert rows[1][1] == "=HYPERLINK(1)"  # the title as typed, kept as text


async def test_hours_xlsx_is_for_managers_in_the_caller_s_language(client, world: World, bearer):
    grid_worker = await world.worker(Role.GRID_WORKER)
    resident = await world.resident()
    for person in (grid_worker, resident):
        got = await client.get(
            "/api/v1/volunteers/hours.xlsx", headers=bearer(await world.token(person))
        )
        assert got.status == 403
    admin = await world.worker(Role.ADMIN)
    admin.language = "zh_Hant"
    await admin.save(update_fields=["language"])
    manager = await world.token(admin)
    got = await client.get("/api/v1/volunteers/hours.xlsx", headers=bearer(manager))
    assert sheet_rows(await got.read()) == [
        [
            "日期",
            "活動",
            "開始時間",
            "結束時間",
            "志願者編號",
            "姓名",
            "出勤情況",
            "簽到時間",
            "簽退時間",
            "時長（分鐘）",
            "時長（小時）",
            "積分",
        ]
    ]
    bad = await client.get(
        "/api/v1/volunteers/hours.xlsx",
        params={"from": "2026-11-02", "to": "2026-11-01"},
        headers=bearer(manager),
    )
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "api.error.bad_filter"


async def test_both_hours_exports_end_at_local_midnight(client, world: World, bearer):
    """A shift at 00:30 on 1 December (Beijing) is December's, on either database."""
    late = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    _, shift = await patrol(world, starts=late, now=late - timedelta(days=7))
    person = await volunteer(world, name="甲")
    await SignUp.create(
        shift=shift, volunteer=person, status="no_show", signed_up_at=late - timedelta(days=1)
    )
    worker = bearer(await world.token(await world.worker()))
    for month, expected in (
        ({"from": "2026-11-01", "to": "2026-11-30"}, 0),
        ({"from": "2026-12-01", "to": "2026-12-01"}, 1),
    ):
        got = await client.get("/api/v1/volunteers/hours.csv", params=month, headers=worker)
        assert (await got.read()).decode("utf-8-sig").count("\n") == 1 + expected, month
        got = await client.get("/api/v1/volunteers/hours.xlsx", params=month, headers=worker)
        assert len(sheet_rows(await got.read())) == 1 + expected, month


# --- the ticket register ----------------------------------------------------------------


async def _ticket(reporter, text: str, at: datetime, **fields: Any) -> Ticket:  # type: ignore[no-untyped-def]
    made = await tickets.intake(
        reporter,
        text,
        at,
        channel=fields.pop("channel", None),
        anonymous=fields.pop("anonymous", False),
    )
    if fields:
        await Ticket.filter(id=made.id).update(**fields)
    return await Ticket.get(id=made.id)


async def _tickets(world: World) -> dict[str, Ticket]:
    """Tickets of November in two grids and departments, and one each just before and
    just after it (Beijing time)."""
    other_grid = await Grid.create(community=world.community, name="第二网格")
    world.buildings[1].grid = other_grid
    await world.buildings[1].save(update_fields=["grid_id"])
    home = (await world.add_households(world.buildings[0], 1))[0]
    away = (await world.add_households(world.buildings[1], 1))[0]
    named = await world.resident(home)
    named.name, named.phone = "王秀英", "13800138000"
    await named.save(update_fields=["name", "phone"])
    other = await world.resident(away)
    other.name = "陈建国"
    await other.save(update_fields=["name"])
    long = "楼道灯坏了，" * 60
    return {
        "long": await _ticket(named, long, NOV, department="property", channel="chat"),
        "anon": await _ticket(
            named,
            "有人在楼道堆放杂物",
            NOV + timedelta(hours=1),
            department="property",
            anonymous=True,
            status="closed",
            closed_at=NOV + timedelta(days=2),
            stars=4,
        ),
        "away": await _ticket(
            other,
            "垃圾桶满了",
            NOV + timedelta(days=3),
            department="sanitation",
            channel="miniprogram",
        ),
        "october": await _ticket(
            named, "十月的事", datetime(2026, 10, 31, 15, 0, tzinfo=UTC), department="property"
        ),  # 23:00 on 31 October in Beijing
        "december": await _ticket(
            named, "十二月的事", datetime(2026, 11, 30, 16, 0, tzinfo=UTC), department="property"
        ),  # 00:00 on 1 December in Beijing
    }


async def _register(client, headers: dict[str, str], month: str = "2026-11") -> list[list[Any]]:  # type: ignore[no-untyped-def]
    got = await client.get(
        "/api/v1/tickets/register.xlsx", params={"month": month}, headers=headers
    )
    assert got.status == 200, await got.text()
    assert got.content_type == XLSX
    assert f"ticket-register-{month}.xlsx" in got.headers["Content-Disposition"]
    return sheet_rows(await got.read())


async def test_the_register_holds_the_month_s_tickets_as_staff_see_them(client, world, bearer):
    made = await _tickets(world)
    manager = bearer(await world.token(await world.worker()))
    rows = await _register(client, manager)
    assert rows[0] == [
        "编号",
        "登记时间",
        "来源渠道",
        "承办部门",
        "网格",
        "楼栋",
        "诉求内容",
        "办理状态",
        "办结时限",
        "办结时间",
        "满意度（星）",
        "反映人",
    ]
    long, anon, away = made["long"], made["anon"], made["away"]
    assert [r[0] for r in rows[1:]] == [long.number, anon.number, away.number]
    first = rows[1]
    assert first[1] == datetime(2026, 11, 10, 10, 0)
    assert first[2:6] == ["公众号消息", "物业服务", "第一网格", "1栋"]
    assert first[7] == "已派单，待受理"
    assert len(first[6]) == 200 and first[6].endswith("…") and first[6].startswith("楼道灯坏了")
    assert first[8] == long.resolve_due_at.astimezone(LOCAL).replace(tzinfo=None)
    assert first[9] is None and first[10] is None and first[11] == "王秀英"
    # Anonymous: no reporter, nor the grid and building it was routed by.
    assert rows[2][4:6] == [None, None] and rows[2][11] is None
    assert rows[2][7] == "已完结" and rows[2][10] == 4
    assert rows[2][9] == datetime(2026, 11, 12, 10, 0)
    assert rows[2][2] is None  # a door not recorded is left blank
    assert rows[3][2:6] == ["小程序", "环境卫生", "第二网格", "2栋"]
    assert rows[3][11] == "陈建国"
    everything = repr(rows)
    assert "13800138000" not in everything and "o_p_" not in everything
    # The staff list shows the same tickets (and more months).
    listed = await (
        await client.get("/api/v1/complaints", params={"per_page": 100}, headers=manager)
    ).json()
    november = sorted(
        (
            i
            for i in listed["items"]
            if datetime.fromisoformat(i["created_at"]).astimezone(LOCAL).month == 11
        ),
        key=lambda i: i["created_at"],
    )
    assert [i["number"] for i in november] == [r[0] for r in rows[1:]]
    assert [i["status"] for i in november][1] == "closed"


async def test_each_role_gets_the_tickets_it_lists(client, world: World, bearer):
    made = await _tickets(world)
    handler = bearer(await world.token(await handler_of(world, "sanitation")))
    assert [r[0] for r in (await _register(client, handler))[1:]] == [made["away"].number]
    grid_worker = await world.worker(Role.GRID_WORKER)
    await RoleAssignment.filter(resident_id=grid_worker.id).update(grid_id=world.grid.id)
    own_grid = bearer(await world.token(grid_worker))
    numbers = [r[0] for r in (await _register(client, own_grid))[1:]]
    # The anonymous ticket is theirs (routed to their grid) though the sheet hides its grid.
    assert numbers == [made["long"].number, made["anon"].number]
    for listed_as in (handler, own_grid):
        listed = await (await client.get("/api/v1/complaints", headers=listed_as)).json()
        listed_nov = {i["number"] for i in listed["items"]} - {
            made["october"].number,
            made["december"].number,
        }
        assert listed_nov == set(r[0] for r in (await _register(client, listed_as))[1:])
    resident = bearer(await world.token(await world.resident()))
    got = await client.get("/api/v1/tickets/register.xlsx", headers=resident)
    assert got.status == 403
    october = await _register(client, bearer(await world.token(await world.worker())), "2026-10")
    assert [r[0] for r in october[1:]] == [made["october"].number]


async def test_a_bad_month_is_refused(client, world: World, bearer):
    manager = bearer(await world.token(await world.worker()))
    for month in ("2026-13", "2026-1", "26-11", "2026-11-01", "十一月"):
        got = await client.get(
            "/api/v1/tickets/register.xlsx", params={"month": month}, headers=manager
        )
        assert got.status == 400, month
        error = (await got.json())["error"]
        assert error["code"] == "api.error.bad_filter" and "month" in error["message"]
    # A month without tickets is an empty register, not a refusal.
    empty = await _register(client, manager, "2027-01")
    assert len(empty) == 1 and empty[0][0] == "编号"
