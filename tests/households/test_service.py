"""The register against the database: dry run, apply (all or nothing), re-import, round trip."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handlers.households import service
from handlers.refusal import Refused
from models.audit import AuditLog
from models.community import Building, Grid, Household
from tests.households.files import HEADER, csv_bytes, xlsx
from tests.world import World

FILE = [
    ["住户台账（2026 年 11 月）"],
    HEADER,
    ["第一网格", "1栋", "1单元", "101", "85.5", "张三", "138 1234 5678"],
    ["第一网格", "1栋", "1单元", "102", "90", "", ""],
    ["第二网格", "3栋", "", "1", "", "李四", "0755-12345678"],
]


async def _state() -> list[tuple[object, ...]]:
    return [
        (h.building.name, h.unit, h.room, h.floor_area, h.head_name, h.head_phone)
        for h in await Household.all().prefetch_related("building").order_by("id")
    ]


@pytest.fixture
async def second_grid(world: World) -> Grid:
    return await Grid.create(community=world.community, name="第二网格")


async def test_the_dry_run_reports_every_row_and_writes_nothing(world: World, second_grid):
    before = await _state()
    plan = await service.plan_import(world.community.id, xlsx(FILE), "台账.xlsx")
    assert [(line.row, line.action, line.place) for line in plan.lines] == [
        (3, "create", "1栋 1单元 101"),
        (4, "create", "1栋 1单元 102"),
        (5, "create", "3栋 1"),
    ]
    assert plan.new_buildings == (("3栋", "第二网格"),)
    assert not plan.applied
    assert await _state() == before
    assert not await Building.filter(name="3栋").exists()
    assert await AuditLog.filter(entity="household").count() == 0


async def test_the_apply_writes_it_all_and_a_second_import_changes_nothing(
    world: World, second_grid
):
    kept = (await world.add_households(world.buildings[1], 1))[0]
    plan = await service.apply_import(None, world.community.id, xlsx(FILE), "台账.xlsx")
    assert plan.applied and plan.counts["create"] == 3 and plan.not_in_file == 1
    assert await _state() == [
        ("2栋", "1", "0000", Decimal("80.00"), None, None),
        ("1栋", "1单元", "101", Decimal("85.50"), "张三", "13812345678"),
        ("1栋", "1单元", "102", Decimal("90.00"), None, None),
        ("3栋", "", "1", None, "李四", "0755-12345678"),
    ]
    assert (await Building.get(name="3栋")).grid_id == second_grid.id
    entries = await AuditLog.filter(entity="household").order_by("id")
    assert [(e.actor, e.action) for e in entries] == [("cli", "household.imported")] * 3
    assert entries[0].after == {
        "building": "1栋",
        "unit": "1单元",
        "room": "101",
        "floor_area": "85.50",
        "head_name": "set",
        "phone": "set",
    }
    written = " ".join(str((e.before, e.after)) for e in await AuditLog.all())
    assert "1381234" not in written and "张三" not in written and "12345678" not in written
    assert (
        await AuditLog.filter(
            action="building.created", entity_id=str((await Building.get(name="3栋")).id)
        ).count()
        == 1
    )

    again = await service.apply_import(None, world.community.id, xlsx(FILE), "台账.xlsx")
    assert again.counts == {
        "create": 0,
        "change": 0,
        "unchanged": 3,
        "refuse": 0,
        "not_in_file": 1,
    }
    assert await AuditLog.filter(entity="household").count() == 3
    assert await Household.filter(id=kept.id).exists()


async def test_a_change_is_written_and_audited_without_the_phone(world: World):
    home = (await world.add_households(world.buildings[0], 1, area="80"))[0]
    home.head_name, home.head_phone = "李四", "13900000000"
    await home.save()
    who = await world.who(await world.worker())
    data = csv_bytes([HEADER, ["", "1栋", "1", "0000", "80.5", "", "13812345678"]], "gbk")
    plan = await service.apply_import(who, world.community.id, data, "台账.csv")
    [line] = plan.lines
    assert [(c.field, c.old, c.new) for c in line.changes] == [
        ("area", "80.00", "80.50"),
        ("phone", "139****0000", "138****5678"),
    ]
    await home.refresh_from_db()
    assert (home.floor_area, home.head_name, home.head_phone) == (
        Decimal("80.50"),
        "李四",
        "13812345678",
    )
    [entry] = await AuditLog.filter(action="household.changed")
    assert (entry.actor, entry.entity_id) == (who.name, str(home.id))
    assert entry.before == {"floor_area": "80.00"}
    assert entry.after == {"floor_area": "80.50", "phone": "changed"}


async def test_one_refused_row_and_nothing_is_written(world: World, second_grid):
    bad = [*FILE, ["第一网格", "1栋", "1单元", "103", "-3", "", ""]]
    before = await _state()
    with pytest.raises(service.NotApplied) as caught:
        await service.apply_import(None, world.community.id, xlsx(bad), "台账.xlsx")
    assert (caught.value.code, caught.value.status) == ("register.error.has_refusals", 422)
    assert caught.value.params == {"count": 1}
    assert caught.value.plan.count("create") == 3 and not caught.value.plan.applied
    assert await _state() == before
    assert not await Building.filter(name="3栋").exists()
    assert await AuditLog.all().count() == 0


@pytest.mark.parametrize(("fmt", "name"), [("xlsx", "台账.xlsx"), ("csv", "台账.csv")])
async def test_an_export_imported_again_changes_nothing(world: World, second_grid, fmt, name):
    await service.apply_import(None, world.community.id, xlsx(FILE), "in.xlsx")
    await world.add_households(world.buildings[1], 2, area="66.6")
    gridless = await Building.create(community=world.community, name="10栋")
    await Household.create(building=gridless, unit="", room="=1+1", head_name="@王五")
    data = await service.export_register(world.community.id, fmt)
    plan = await service.plan_import(world.community.id, data, name)
    assert [line.action for line in plan.lines] == ["unchanged"] * 6
    assert plan.not_in_file == 0
    assert [line.place for line in plan.lines] == [
        "1栋 1单元 101",
        "1栋 1单元 102",
        "2栋 1 0000",
        "2栋 1 0001",
        "3栋 1",
        "10栋 =1+1",
    ]


async def test_the_export_orders_by_grid_and_holds_the_registers_values(world: World, second_grid):
    await service.apply_import(None, world.community.id, xlsx(FILE), "in.xlsx")
    data = await service.export_register(world.community.id, "csv")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines == [
        ",".join(HEADER),
        "第一网格,1栋,1单元,101,85.50,张三,13812345678",
        "第一网格,1栋,1单元,102,90.00,,",
        "第二网格,3栋,,1,,李四,0755-12345678",
    ]


async def test_an_unknown_community_is_refused(world: World):
    with pytest.raises(Refused) as caught:
        await service.community_of("nowhere")
    assert (caught.value.code, caught.value.status) == ("register.error.no_community", 404)
    assert await service.community_of("test") == world.community.id
