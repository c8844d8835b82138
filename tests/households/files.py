"""Spreadsheets as a community office makes them: .xlsx by openpyxl, .csv in UTF-8 or GBK."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook, load_workbook

HEADER = ["网格", "楼栋", "单元", "房号", "面积", "户主", "电话"]


def xlsx(rows: Sequence[Sequence[Any]], title: str = "Sheet1") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: Sequence[Sequence[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_rows(data: bytes) -> list[list[Any]]:
    """What a spreadsheet program shows of a file's first sheet."""
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]
