"""Spreadsheet files as rows of text, and back: .xlsx (openpyxl) and .csv.

Reading gives ``(row number, cells)`` for every non-blank row, numbered as the
spreadsheet program shows them, each cell as text (Excel's numbers as they display:
101, not 101.0). CSV comes as UTF-8 (with or without a BOM) or as GB18030, which is
what Excel in China saves. Whatever the file, a refusal is a ``Refused`` of the file as
a whole; what its rows mean is ``register``'s business.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from handlers.refusal import Refused

Format = Literal["xlsx", "csv"]
MAX_BYTES = 5 * 1024 * 1024
# What the parts of an .xlsx may unpack to: a 5 MB zip of repeated text is gigabytes.
MAX_UNPACKED = 200 * 1024 * 1024
MAX_COLUMNS = 64
# Formatted but empty rows down to Excel's last row end the sheet long before.
BLANK_RUN = 1000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv"
# Excel takes a CSV cell starting with one of these for a formula; the export puts a
# quote before it and the import takes that quote off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"  # the old binary .xls


def format_of(data: bytes, filename: str) -> Format:
    """By the name's extension, or by the first bytes when the name has none."""
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].lower()
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    if data.startswith(_OLE) or extension == "xls":
        raise Refused("register.file.old_excel", 415)
    if extension == "xlsx" or (not extension and data.startswith(_ZIP)):
        return "xlsx"
    if extension in {"csv", "txt"} or not extension:
        return "csv"
    raise Refused("register.file.unsupported", 415)


def read(data: bytes, filename: str, limit: int) -> list[tuple[int, list[str]]]:
    """The first ``limit`` non-blank rows of the file's first sheet."""
    if len(data) > MAX_BYTES:
        raise Refused("register.file.too_large", 413, megabytes=MAX_BYTES // (1024 * 1024))
    if not data.strip():
        raise Refused("register.file.empty", 400)
    rows = _xlsx_rows(data) if format_of(data, filename) == "xlsx" else _csv_rows(data)
    found: list[tuple[int, list[str]]] = []
    blank = 0
    try:
        for number, values in enumerate(rows, start=1):
            cells = [cell_text(value) for value in list(values)[:MAX_COLUMNS]]
            while cells and not cells[-1]:  # read-only sheets pad every row to max_col
                cells.pop()
            if not any(cells):
                blank += 1
                if blank >= BLANK_RUN:
                    break
                continue
            blank = 0
            found.append((number, cells))
            if len(found) >= limit:
                break
    except Refused:
        raise
    except Exception:  # openpyxl and csv fail in many ways on a broken file: all the same
        raise Refused("register.file.unreadable", 400) from None
    return found


def cell_text(value: Any) -> str:
    """A cell as the text the spreadsheet shows (15 significant digits, as Excel keeps)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def _xlsx_rows(data: bytes) -> Iterator[Sequence[Any]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED:
            raise Refused("register.file.too_large", 413, megabytes=MAX_BYTES // (1024 * 1024))
        with warnings.catch_warnings():
            # "no default style", unsupported extensions: nothing a worker can act on.
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # some programs write a wrong "used range"
    except Refused:
        raise
    except Exception:
        raise Refused("register.file.unreadable", 400) from None
    try:
        yield from sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
    finally:
        book.close()


def _decoded(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise Refused("register.file.unreadable", 400) from None


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    for cells in csv.reader(io.StringIO(_decoded(data), newline="")):
        yield [_unquoted(cell) for cell in cells]


def _unquoted(cell: str) -> str:
    if cell.startswith("'") and cell[1:].startswith(FORMULA_START):
        return cell[1:]
    return cell


def _quoted(cell: str) -> str:
    return f"'{cell}" if cell.startswith(FORMULA_START) else cell


def _csv_value(value: Any) -> str:
    return "" if value is None else _quoted(str(value))


def write(rows: Iterable[Sequence[Any]], fmt: Format, title: str) -> bytes:
    """The rows as a file: text stays text (never a formula), numbers stay numbers."""
    if fmt == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerows([_csv_value(v) for v in row] for row in rows)
        # A byte-order mark, so spreadsheet programs used in community offices read UTF-8.
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    out_bytes = io.BytesIO()
    book.save(out_bytes)
    return out_bytes.getvalue()


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if value is None or isinstance(value, int | float | Decimal):
        return value
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", str(value)))
    cell.data_type = "s"  # "=..." would otherwise be written as a formula
    return cell
