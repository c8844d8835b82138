"""Spreadsheet files as rows of text: .xlsx and .csv (UTF-8, with a BOM, GBK), and back."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from handlers.households import sheets
from handlers.refusal import Refused
from tests.households.files import HEADER, csv_bytes, xlsx

ROWS = [HEADER, ["第一网格", "1栋", "1单元", "101", "85.5", "张三", "13812345678"]]


def read(data: bytes, filename: str, limit: int = 100) -> list[tuple[int, list[str]]]:
    return sheets.read(data, filename, limit)


def test_xlsx_cells_read_as_the_spreadsheet_shows_them():
    data = xlsx(
        [
            ["幸福里社区住户台账"],
            [],
            HEADER,
            ["第一网格", "1栋", 1, 101, 85.5, "张三", 13812345678],
            [None, None, None, None, None],
            ["", "2栋", "", "0101", 89.10000000000001, None, "0755-12345678"],
        ]
    )
    assert read(data, "台账.xlsx") == [
        (1, ["幸福里社区住户台账"]),
        (3, HEADER),
        (4, ["第一网格", "1栋", "1", "101", "85.5", "张三", "13812345678"]),
        (6, ["", "2栋", "", "0101", "89.1", "", "0755-12345678"]),
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_the_encodings_offices_save(encoding):
    assert read(csv_bytes(ROWS, encoding), "台账.CSV") == [(1, HEADER), (2, ROWS[1])]


def test_reading_stops_at_the_limit():
    data = csv_bytes([HEADER] + [["", "1栋", "", str(n)] for n in range(50)])
    assert len(read(data, "a.csv", limit=10)) == 10


def test_a_long_run_of_blank_rows_ends_the_sheet():
    data = csv_bytes([HEADER] + [[""]] * sheets.BLANK_RUN + [["", "1栋", "", "1"]])
    assert read(data, "a.csv") == [(1, HEADER)]


@pytest.mark.parametrize(
    ("data", "filename", "code", "status"),
    [
        (b"", "a.xlsx", "register.file.empty", 400),
        (b" \r\n", "a.csv", "register.file.empty", 400),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100,
            "a.xls",
            "register.file.old_excel",
            415,
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "", "register.file.old_excel", 415),
        (b"%PDF-1.4", "a.pdf", "register.file.unsupported", 415),
        (b"not a zip at all", "a.xlsx", "register.file.unreadable", 400),
        (b"PK\x03\x04 broken", "", "register.file.unreadable", 400),
        (b"\xff\xfe\x00\xd8" * 10, "a.csv", "register.file.unreadable", 400),
        (b"a" * (sheets.MAX_BYTES + 1), "a.csv", "register.file.too_large", 413),
    ],
)
def test_files_that_are_no_register(data, filename, code, status):
    with pytest.raises(Refused) as caught:
        read(data, filename)
    assert (caught.value.code, caught.value.status) == (code, status)


def test_a_zip_that_unpacks_to_too_much_is_refused_before_it_is_read(monkeypatch):
    monkeypatch.setattr(sheets, "MAX_UNPACKED", 10_000)  # 200 MB of zeros take a second
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"0" * (sheets.MAX_UNPACKED + 1))
    assert len(out.getvalue()) < 1000
    with pytest.raises(Refused) as caught:
        read(out.getvalue(), "bomb.xlsx")
    assert caught.value.code == "register.file.too_large"


def test_a_zip_that_is_no_workbook_is_unreadable():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(Refused) as caught:
        read(out.getvalue(), "a.xlsx")
    assert caught.value.code == "register.file.unreadable"


def test_without_a_name_the_first_bytes_tell_the_format():
    assert sheets.format_of(xlsx(ROWS), "") == "xlsx"
    assert sheets.format_of(csv_bytes(ROWS), "") == "csv"
    assert sheets.format_of(b"x", "C:\\Users\\worker\\台账.xlsx") == "xlsx"


TRICKY = [
    HEADER,
    ["", "1栋", "", "=1+1", Decimal("85.50"), "@张三", "-1层"],
    ["", "2栋", "", "1", None, "", ""],
]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_what_is_written_reads_back_the_same_and_text_never_becomes_a_formula(fmt):
    data = sheets.write(TRICKY, fmt, "台账")
    assert read(data, f"out.{fmt}") == [
        (1, HEADER),
        (2, ["", "1栋", "", "=1+1", "85.5" if fmt == "xlsx" else "85.50", "@张三", "-1层"]),
        (3, ["", "2栋", "", "1"]),
    ]
    if fmt == "xlsx":
        book = load_workbook(io.BytesIO(data))  # formulas as written, not computed
        sheet = book["台账"]
        assert sheet["D2"].data_type == "s" and sheet["D2"].value == "=1+1"
        assert sheet["E2"].data_type == "n" and sheet["E2"].value == 85.5
    else:
        assert data.startswith(b"\xef\xbb\xbf")
        assert "'=1+1" in data.decode("utf-8-sig")
