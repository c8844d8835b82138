"""Records kept for inspection (留档备查) as .xlsx: a vote's full record, and plain tables.

Cells keep their types (numbers, Excel date-times in the community's local time), so a
worker can sort and sum in the office's spreadsheet program. Whatever residents typed is
written as text and never becomes a formula; characters XML cannot hold are dropped.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from handlers.clock import LOCAL
from handlers.i18n import N_, default_translator, language_of
from handlers.records.data import HouseholdRow, VoteRecord
from handlers.records.labels import CHOICES, COLUMNS, FIGURES, METHODS, OUTCOMES, REASONS, STATES

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
HEADING = Font(bold=True)
HEADING_FILL = PatternFill("solid", fgColor="E6EBF0")
MAX_WIDTH = 60
# Excel's own limits on a sheet's name.
SHEET_NAME_MAX = 31
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")

HOUSEHOLD_COLUMNS = (
    N_("records.household.grid"),
    N_("records.household.building"),
    N_("records.household.unit"),
    N_("records.household.room"),
    N_("records.household.state"),
    N_("records.household.choice"),
    N_("records.household.visit_reason"),
    N_("records.household.answered_at"),
    N_("records.household.recorded_by"),
    N_("records.household.respondent"),
    N_("records.household.method"),
    N_("records.household.disputed"),
)
AUDIT_COLUMNS = (
    N_("records.audit.at"),
    N_("records.audit.actor"),
    N_("records.audit.action"),
    N_("records.audit.household"),
    N_("records.audit.before"),
    N_("records.audit.after"),
    N_("records.audit.digest"),
)


def table_workbook(title: str, headers: list[str], rows: list[list[object]]) -> bytes:
    """One sheet called ``title``: a bold header row, then ``rows`` with their types kept."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = sheet_name(title)
    _fill(sheet, headers, rows)
    return _saved(book)


def vote_workbook(record: VoteRecord) -> bytes:
    """A closed vote's record: sheets "households" (one row each), "summary" (the counts,
    the decision, the digest, by building) and "audit" (the trail)."""
    language = language_of(record.language)
    translate = default_translator()

    def t(msgid: str, **params: Any) -> str:
        return translate(language, msgid, **params)

    def label(names: dict[str, str], key: str | None) -> str | None:
        return t(names[key]) if key in names else key

    book = Workbook()
    households = book.active
    assert households is not None
    households.title = "households"
    _fill(
        households,
        [t(msgid) for msgid in HOUSEHOLD_COLUMNS],
        [_household(row, label, t) for row in record.households],
    )
    _fill(book.create_sheet("summary"), [t("records.field.item"), t("records.field.value")], [])
    _summary(book["summary"], record, t)
    _fill(
        book.create_sheet("audit"),
        [t(msgid) for msgid in AUDIT_COLUMNS],
        [[a.at, a.actor, a.action, a.household, a.before, a.after, a.digest] for a in record.audit],
    )
    return _saved(book)


def _household(
    row: HouseholdRow,
    label: Callable[[dict[str, str], str | None], str | None],
    t: Callable[..., str],
) -> list[object]:
    return [
        row.grid,
        row.building,
        row.unit,
        row.room,
        label(STATES, row.state),
        label(CHOICES, row.choice),
        label(REASONS, row.visit_reason),
        row.answered_at,
        row.recorded_by,
        row.respondent,
        label(METHODS, row.method),
        t("common.yes") if row.disputed else None,
    ]


def _summary(sheet: Worksheet, record: VoteRecord, t: Callable[..., str]) -> None:
    """Item and value pairs, then the by-building table, the dissent and the flags."""
    outcome = t(OUTCOMES.get(record.outcome, OUTCOMES["not_approved"]))
    pairs: list[list[object]] = [
        [t("records.field.community"), record.community],
        [t("records.field.proposal"), record.proposal_id],
        [t("records.field.title"), record.title],
        [t("records.field.scope"), record.scope],
        [t("records.field.rule"), record.rule],
        [t("records.column.eligible"), record.eligible],
        [t("records.field.vacant"), record.vacant_excluded],
        [t("records.column.online"), record.online],
        [t("records.column.in_person"), record.in_person],
        [t("records.column.visited_no_answer"), record.visited_no_answer],
        [t("records.column.not_reached"), record.not_reached],
        [t("records.column.yes"), record.yes],
        [t("records.column.no"), record.no],
        [t("records.column.abstain"), record.abstain],
        [t("records.field.outcome"), outcome],
        [t("records.field.closed_at"), record.closed_at],
        [t("records.field.digest"), record.digest],
        [t("records.field.url"), record.url],
    ]
    pairs += [[t("records.field.dissent"), line] for line in record.dissent]
    pairs += [[t("records.field.flags"), line] for line in record.flags]
    row = 2  # under the header row
    for values in pairs:
        _write(sheet, row, values)
        row += 1
    if record.buildings:
        _write(sheet, row + 1, [t(msgid) for msgid in COLUMNS], heading=True)
        for number, b in enumerate(record.buildings, start=row + 2):
            _write(sheet, number, [b.building, *(getattr(b, name) for name in FIGURES)])
    _widen(sheet)


def _fill(sheet: Worksheet, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """The header row (kept in view when scrolling) and ``rows`` under it."""
    _write(sheet, 1, headers, heading=True)
    for number, values in enumerate(rows, start=2):
        _write(sheet, number, values)
    sheet.freeze_panes = "A2"
    _widen(sheet)


def _write(sheet: Worksheet, row: int, values: Sequence[object], heading: bool = False) -> None:
    """One row of cells, typed and formatted as ``_value`` says."""
    for column, value in enumerate(values, start=1):
        cell = sheet.cell(row=row, column=column, value=_value(value))
        if isinstance(cell.value, datetime):
            cell.number_format = DATETIME_FORMAT
        elif isinstance(cell.value, date):
            cell.number_format = DATE_FORMAT
        elif isinstance(cell.value, str):
            cell.data_type = "s"  # "=1+1" typed by a resident stays text, never a formula
        if heading:
            cell.font, cell.fill = HEADING, HEADING_FILL


def _value(value: object) -> object:
    """What a cell holds: local wall-clock date-times (Excel has no time zones), text
    without the control characters XML refuses, numbers and blanks as they are."""
    if isinstance(value, datetime):
        return value.astimezone(LOCAL).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if value is None or isinstance(value, int | float | date):
        return value
    return str(value)


def _widen(sheet: Worksheet) -> None:
    """Columns as wide as their longest text (a CJK character counts twice)."""
    widths: dict[int, int] = {}
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            text = str(cell.value)
            if isinstance(cell.value, datetime):
                text = "2026-01-01 00:00"
            width = sum(2 if ord(ch) > 0x2E7F else 1 for ch in text) + 2
            widths[cell.column] = max(widths.get(cell.column, 0), min(width, MAX_WIDTH))
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = width


def sheet_name(title: str) -> str:
    """A name Excel accepts: none of ``[]:*?/\\``, at most 31 characters, not blank."""
    cleaned = SHEET_NAME_BAD.sub(" ", ILLEGAL_CHARACTERS_RE.sub("", title)).strip()
    return cleaned[:SHEET_NAME_MAX] or "Sheet1"


def _saved(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
