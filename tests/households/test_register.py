"""The register's rules, without a database: every value form, every refusal, the plan."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handlers.households import register as r
from handlers.households.register import Home, Listed, Register
from handlers.refusal import Refused

HEADER = ["网格", "楼栋", "单元", "房号", "面积", "户主", "电话"]
GRIDS = frozenset({"第一网格", "第二网格"})


def rows(*data: list[str], header: list[str] | None = None) -> list[tuple[int, list[str]]]:
    """A header on row 1 and the data from row 2, as ``sheets.read`` gives them."""
    return [(1, header or HEADER), *((n, cells) for n, cells in enumerate(data, start=2))]


def register(**homes: Home) -> Register:
    return Register(
        grids=GRIDS,
        buildings={"1栋": "第一网格", "2栋": "第二网格", "9栋": None},
        homes={tuple(key.split("/")): home for key, home in homes.items()},  # type: ignore[misc]
    )


def one(plan: r.Plan) -> r.Line:
    [line] = plan.lines
    return line


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("19912345678", "19912345678"),
        ("0755-12345678", "0755-12345678"),
        ("0755 1234 5678", "0755-12345678"),
        ("075512345678", "0755-12345678"),
        ("(0755)12345678", "0755-12345678"),
        ("010-62345678", "010-62345678"),
        ("02162345678", "021-62345678"),
        ("0571-8765432", "0571-8765432"),
        ("12345678", "12345678"),
        ("6234567", "6234567"),
    ],
)
def test_phone_forms_that_are_phones(raw, stored):
    assert r.phone(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "1381234567",  # ten digits
        "138123456789",  # twelve
        "12812345678",  # no mobile starts 12
        "23812345678",
        "0755-123",
        "0012345678",
        "123456",
        "电话",
        "138abc45678",
        "",
    ],
)
def test_phone_forms_that_are_not(raw):
    with pytest.raises(ValueError):
        r.phone(raw)


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("13812345678", "138****5678"),
        ("0755-12345678", "0755-****5678"),
        ("62345678", "****5678"),
        ("123", "****"),
        (None, None),
    ],
)
def test_a_report_masks_phones(number, shown):
    assert r.masked(number) == shown


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("85", "85.00"),
        ("85.5", "85.50"),
        ("85.50", "85.50"),
        ("85.500", "85.50"),
        (" 85.5㎡", "85.50"),
        ("85.5 平方米", "85.50"),
        ("85.5m²", "85.50"),
        ("0.01", "0.01"),
        ("999999.99", "999999.99"),
    ],
)
def test_area_forms_that_are_areas(raw, stored):
    assert r.area(raw) == Decimal(stored)
    assert str(r.area(raw)) == stored


@pytest.mark.parametrize(
    "raw", ["0", "-5", "0.00", "abc", "85.555", "1000000", "NaN", "Infinity", "1,234", "八十"]
)
def test_area_forms_that_are_not(raw):
    with pytest.raises(ValueError):
        r.area(raw)


def test_headers_in_either_language_and_any_order():
    english = ["Phone", "ROOM", "head name", "Building", "extra", "area", "Grid", "unit"]
    plan = r.plan(
        rows(
            ["13812345678", "101", "张三", "1栋", "ignored", "85.5", "第一网格", "1"],
            header=english,
        ),
        Register(grids=GRIDS, buildings={"1栋": "第一网格"}),
    )
    line = one(plan)
    assert (line.action, line.building, line.unit, line.room) == ("create", "1栋", "1", "101")
    assert line.entry == r.Entry(
        "第一网格", "1栋", "1", "101", Decimal("85.50"), "张三", "13812345678"
    )


def test_a_title_row_may_stand_above_the_header():
    data = [(1, ["幸福里社区住户台账"]), (3, ["楼栋", "房号"]), (4, ["1栋", "101"])]
    plan = r.plan(data, register())
    assert [(line.row, line.action) for line in plan.lines] == [(4, "create")]


# --- the file refused as a whole -------------------------------------------------------------


def refusal(data: list[tuple[int, list[str]]]) -> tuple[str, int, dict[str, object]]:
    with pytest.raises(Refused) as caught:
        r.plan(data, register())
    return caught.value.code, caught.value.status, caught.value.params


def test_files_refused_as_a_whole():
    assert refusal([]) == ("register.file.empty", 400, {})
    assert refusal([(1, HEADER)]) == ("register.file.empty", 400, {})
    assert refusal([(1, ["姓名", "地址"]), (2, ["张三", "x"])]) == (
        "register.file.no_header",
        400,
        {},
    )
    assert refusal(rows(["1栋"], header=["楼栋", "面积"])) == (
        "register.file.missing_column",
        400,
        {"column": "房号"},
    )
    assert refusal(rows(["1"], header=["building", "房号", "room"])) == (
        "register.file.duplicate_column",
        400,
        {"column": "room"},
    )
    many = [(1, ["楼栋", "房号"])] + [(n, ["1栋", str(n)]) for n in range(2, r.MAX_ROWS + 3)]
    assert refusal(many) == ("register.file.too_many_rows", 422, {"limit": r.MAX_ROWS})
    assert len(r.plan(many[:-1], register()).lines) == r.MAX_ROWS


# --- each row's refusal ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "reason", "params"),
    [
        (["第一网格", "", "1", "101", "", "", ""], r.MISSING_BUILDING, {}),
        (["第一网格", "1栋", "1", " ", "", "", ""], r.MISSING_ROOM, {}),
        (["第一网格", "1栋", "1", "101", "八十", "", ""], r.BAD_AREA, {}),
        (["第一网格", "1栋", "1", "101", "85.555", "", ""], r.BAD_AREA, {}),
        (["第一网格", "1栋", "1", "101", "", "", "12345"], r.BAD_PHONE, {}),
        (["第一网格", "1栋", "1", "1" * 17, "", "", ""], r.BAD_TEXT, {"column": "房号"}),
        (["第一网格", "1栋", "1", "101", "", "张\x00三", ""], r.BAD_TEXT, {"column": "户主"}),
        (["第九网格", "1栋", "1", "101", "", "", ""], r.UNKNOWN_GRID, {"grid": "第九网格"}),
        (["第九网格", "5栋", "1", "101", "", "", ""], r.UNKNOWN_GRID, {"grid": "第九网格"}),
        (
            ["第二网格", "1栋", "1", "101", "", "", ""],
            r.OTHER_GRID,
            {"building": "1栋", "grid": "第一网格"},
        ),
        (["第一网格", "9栋", "1", "101", "", "", ""], r.NO_GRID, {"building": "9栋"}),
    ],
)
def test_each_reason_a_row_is_refused(cells, reason, params):
    line = one(r.plan(rows(cells), register()))
    assert (line.action, line.reason, dict(line.params)) == ("refuse", reason, params)
    assert line.entry is None


def test_a_room_twice_in_the_file_refuses_the_second():
    plan = r.plan(
        rows(["", "1栋", "1", "101"], ["", "1栋", "1", "102"], ["", " 1栋", "1", "101 "]),
        register(),
    )
    assert [(line.action, line.reason) for line in plan.lines] == [
        ("create", None),
        ("create", None),
        ("refuse", r.DUPLICATE_ROOM),
    ]
    assert plan.lines[2].params == {"first": 2}
    assert plan.refused and plan.count("refuse") == 1


def test_a_new_building_goes_under_the_first_grid_its_rows_name():
    plan = r.plan(
        rows(
            ["", "5栋", "1", "101"],
            ["第二网格", "5栋", "1", "102"],
            ["第一网格", "5栋", "1", "103"],
            ["", "6栋", "", "1"],
        ),
        register(),
    )
    assert [line.action for line in plan.lines] == ["create", "create", "refuse", "create"]
    assert plan.lines[2].params == {"building": "5栋", "grid": "第二网格"}
    assert plan.new_buildings == (("5栋", "第二网格"), ("6栋", None))


def test_a_building_whose_rows_are_all_refused_is_not_created():
    plan = r.plan(rows(["", "5栋", "1", "101", "abc"]), register())
    assert plan.new_buildings == () and plan.refused


# --- create, change, unchanged ---------------------------------------------------------------


HOME = Home(7, Decimal("80.00"), "李四", "13900000000")


def test_a_change_names_each_field_old_and_new_with_phones_masked():
    line = one(
        r.plan(
            rows(["第一网格", "1栋", "1", "101", "85.5", "张三", "13812345678"]),
            register(**{"1栋/1/101": HOME}),
        )
    )
    assert line.action == "change" and line.home_id == 7
    assert line.changes == (
        r.Change("area", "80.00", "85.50"),
        r.Change("head_name", "李四", "张三"),
        r.Change("phone", "139****0000", "138****5678"),
    )
    assert "13812345678" not in repr(line) and "13900000000" not in repr(line)


def test_the_same_values_in_other_forms_are_unchanged():
    line = one(
        r.plan(
            rows(["第一网格", "1栋", "1", "101", "80", " 李四 ", "139 0000 0000"]),
            register(**{"1栋/1/101": HOME}),
        )
    )
    assert (line.action, line.changes) == ("unchanged", ())


def test_a_blank_cell_or_a_missing_column_keeps_the_registers_value():
    blank = one(r.plan(rows(["", "1栋", "1", "101", "", "", ""]), register(**{"1栋/1/101": HOME})))
    assert blank.action == "unchanged"
    only_area = one(
        r.plan(
            rows(["1栋", "1", "101", "90"], header=["楼栋", "单元", "房号", "面积"]),
            register(**{"1栋/1/101": HOME}),
        )
    )
    assert only_area.changes == (r.Change("area", "80.00", "90.00"),)
    assert only_area.entry is not None and only_area.entry.phone is None


def test_households_the_file_leaves_out_are_counted():
    plan = r.plan(
        rows(["", "1栋", "1", "101"], ["", "2栋", "", "1"]),
        register(**{"1栋/1/101": HOME, "1栋/1/102": HOME, "2栋//2": HOME}),
    )
    assert plan.not_in_file == 2
    assert plan.counts == {
        "create": 1,
        "change": 0,
        "unchanged": 1,
        "refuse": 0,
        "not_in_file": 2,
    }
    assert not plan.refused and not plan.applied and plan.done().applied


# --- the export ------------------------------------------------------------------------------


def test_the_export_is_ordered_by_grid_building_unit_and_room_naturally():
    def home(grid: str | None, building: str, unit: str, room: str) -> Listed:
        return Listed(grid, building, unit, room, Decimal("80.00"), None, None)

    listed = [
        home(None, "1栋", "", "1"),
        home("第二网格", "2栋", "1", "101"),
        home("第一网格", "10栋", "1", "101"),
        home("第一网格", "2栋", "2", "101"),
        home("第一网格", "2栋", "1", "1001"),
        home("第一网格", "2栋", "1", "201"),
    ]
    table = r.export_rows(listed)
    assert table[0] == HEADER
    assert [row[:4] for row in table[1:]] == [
        ["第一网格", "2栋", "1", "201"],
        ["第一网格", "2栋", "1", "1001"],
        ["第一网格", "2栋", "2", "101"],
        ["第一网格", "10栋", "1", "101"],
        ["第二网格", "2栋", "1", "101"],
        ["", "1栋", "", "1"],
    ]
    assert table[1][4:] == [Decimal("80.00"), "", ""]
