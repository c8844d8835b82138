"""The vote's .xlsx record and the plain tables: what opens in the office is what was given."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from handlers.records.workbook import table_workbook, vote_workbook
from tests.records.sample import CLOSED, DIGEST, households, vote_record


def opened(data: bytes):  # type: ignore[no-untyped-def]
    return load_workbook(io.BytesIO(data))


def values(sheet) -> list[list[object]]:  # type: ignore[no-untyped-def]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_households_sheet_has_one_row_per_household_in_words_and_local_time():
    record = vote_record()
    book = opened(vote_workbook(record))
    assert book.sheetnames == ["households", "summary", "audit"]
    rows = values(book["households"])
    assert rows[0] == [
        "网格",
        "楼栋",
        "单元",
        "房号",
        "参与情况",
        "表决意见",
        "未表态原因",
        "表决时间",
        "登记人",
        "表决人",
        "表决方式",
        "有异议",
    ]
    assert len(rows) == 1 + len(record.households) == 9
    assert rows[1] == [
        "第一网格",
        "1号楼",
        "1",
        "101",
        "线上表决",
        "赞成",
        None,
        datetime(2026, 11, 30, 18, 0),  # 10:00 UTC, as the office's clock shows it
        None,
        None,
        "书面表决票",
        None,
    ]
    second, third, eighth = rows[2], rows[3], rows[8]
    assert second[4:7] == ["入户表决", "反对", None] and second[8:11] == [
        "网格员小王",
        "户主",
        "口头表决，登记人代录",
    ]
    assert third[4:8] == ["已走访未表态", None, "家中无人", None]
    assert eighth[4] == "未联系到" and eighth[11] == "是"  # the disputed one
    cell = book["households"]["H2"]
    assert cell.is_date and cell.number_format == "yyyy-mm-dd hh:mm"


def test_the_summary_holds_the_counts_the_decision_the_digest_and_the_buildings():
    book = opened(vote_workbook(vote_record()))
    rows = values(book["summary"])
    pairs = {row[0]: row[1] for row in rows if row and row[0] is not None}
    assert pairs["议题编号"] == 12 and pairs["议题"] == "3号楼加装电梯"
    counts = [pairs[k] for k in ("应参与户数", "线上表决", "入户表决", "走访未表态", "未联系到")]
    assert counts == [120, 61, 37, 13, 9]
    assert [pairs["赞成"], pairs["反对"], pairs["弃权"], pairs["空置不计入户数"]] == [73, 19, 6, 4]
    assert pairs["表决结果"] == "通过" and pairs["结果校验码"] == DIGEST
    assert pairs["截止时间"] == datetime(2026, 11, 30, 18, 0)
    assert [r[1] for r in rows if r[0] == "少数意见"] == [
        "担心施工期间噪音影响老人休息",
        "低层住户希望分摊比例再议",
    ]
    heading = next(i for i, r in enumerate(rows) if r[0] == "楼栋")
    assert rows[heading + 1] == ["3号楼", 70, 40, 20, 4, 6, 44, 11, 5]
    assert rows[heading + 2] == ["5号楼", 50, 21, 17, 9, 3, 29, 8, 1]


def test_the_audit_sheet_and_traditional_headings():
    book = opened(vote_workbook(vote_record(language="zh_Hant")))
    assert values(book["households"])[0][:5] == ["網格", "樓棟", "單元", "房號", "參與情況"]
    audit = values(book["audit"])
    assert audit[0] == ["時間", "操作人", "操作", "戶", "修改前", "修改後", "校驗值"]
    assert audit[2] == [
        datetime(2026, 11, 30, 18, 0),
        "社区工作者",
        "vote.closed",
        None,
        "voting",
        "approved",
        DIGEST,
    ]
    assert values(book["summary"])[15][1] == "通過"


def test_twelve_hundred_households_all_arrive():
    record = vote_record(households=households(1200))
    rows = values(opened(vote_workbook(record))["households"])[1:]
    assert len(rows) == 1200
    assert [r[4] for r in rows].count("未联系到") == 300
    assert [(r[1], r[3]) for r in rows[-2:]] == [("30号楼", "139"), ("30号楼", "140")]


def test_a_table_keeps_types_and_never_runs_what_a_resident_typed():
    book = opened(
        table_workbook(
            "诉求/台账:[2026-11]",
            ["编号", "时间", "日期", "内容", "星"],
            [
                ["T1", CLOSED, date(2026, 11, 3), '=HYPERLINK("http://x","点我")', 5],
                ["T2", None, None, "坏了\x01\x0b两次", None],
            ],
        )
    )
    assert book.sheetnames == ["诉求 台账  2026-11"]
    sheet = book.active
    assert values(sheet) == [
        ["编号", "时间", "日期", "内容", "星"],
        [
            "T1",
            datetime(2026, 11, 30, 18, 0),
            datetime(2026, 11, 3),
            '=HYPERLINK("http://x","点我")',
            5,
        ],
        ["T2", None, None, "坏了两次", None],
    ]
    assert sheet["D2"].data_type == "s"  # text, not a formula
    assert sheet["C2"].number_format == "yyyy-mm-dd" and sheet["B2"].is_date
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"


def test_naive_times_are_taken_as_given():
    sheet = opened(table_workbook("t", ["at"], [[datetime(2026, 1, 1, 8, 0)]])).active
    assert sheet["A2"].value == datetime(2026, 1, 1, 8, 0)
    aware = opened(table_workbook("t", ["at"], [[datetime(2026, 1, 1, 0, 0, tzinfo=UTC)]]))
    assert aware.active["A2"].value == datetime(2026, 1, 1, 8, 0)
