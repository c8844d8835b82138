"""A 民生微实事 round's records as .xlsx: the round's record kept for inspection (留档) and
the year-end report (资金公开).

As the vote's record (``records.workbook``): typed cells (money as numbers to the fen,
local date-times), headings frozen in view, whatever was typed kept as text. A household
is its building, unit and room; a worker is their id; no names, no phones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from handlers.i18n import N_, default_translator, language_of
from handlers.records.budget_data import ProjectRow, RoundRecord, SourceRow, YearReport
from handlers.records.budget_labels import (
    CHANNELS,
    METHODS,
    OUTCOMES,
    PHASES,
    SOURCES,
    STANDINGS,
    STATUSES,
    items_text,
)
from handlers.records.workbook import _fill, _saved, _widen, _write

MONEY_FORMAT = "#,##0.00"
Translate = Callable[..., str]

RESULT_COLUMNS = (
    N_("records.budget.column.rank"),
    N_("records.budget.column.number"),
    N_("records.budget.column.title"),
    N_("records.budget.column.cost"),
    N_("records.budget.column.support"),
    N_("records.budget.column.eligible"),
    N_("records.budget.column.needed"),
    N_("records.budget.column.standing"),
)
ORDER_COLUMNS = (
    N_("records.household.grid"),
    N_("records.household.building"),
    N_("records.household.unit"),
    N_("records.household.room"),
    N_("records.budget.column.channel"),
    N_("records.budget.column.items"),
    N_("records.budget.column.ordered_at"),
    N_("records.budget.column.recorded_by"),
)
VISIT_COLUMNS = (
    N_("records.household.grid"),
    N_("records.household.building"),
    N_("records.household.unit"),
    N_("records.household.room"),
    N_("records.budget.column.visited_at"),
    N_("records.budget.column.outcome"),
    N_("records.budget.column.items"),
    N_("records.budget.column.method"),
    N_("records.budget.column.photos"),
    N_("records.budget.column.worker"),
)
SOURCE_COLUMNS = (
    N_("records.budget.column.source"),
    N_("records.budget.column.source_name"),
    N_("records.budget.column.amount"),
)
MONEY_COLUMNS = (
    N_("records.budget.column.number"),
    N_("records.budget.column.title"),
    N_("records.budget.column.responsible"),
    N_("records.budget.column.status"),
    N_("records.budget.column.budget"),
    N_("records.budget.column.spent"),
    N_("records.budget.column.left"),
    N_("records.budget.column.stars"),
    N_("records.budget.column.ratings"),
)
SPENDING_COLUMNS = (
    N_("records.budget.column.number"),
    N_("records.budget.column.title"),
    N_("records.budget.column.spent_on"),
    N_("records.budget.column.amount"),
    N_("records.budget.column.purpose"),
    N_("records.budget.column.receipts"),
    N_("records.budget.column.over_reason"),
)


def _translator(language: str) -> Translate:
    translate = default_translator()

    def t(msgid: str, **params: Any) -> str:
        return translate(language, msgid, **params)

    return t


def _label(t: Translate, names: dict[str, str], key: str | None) -> str | None:
    return t(names[key]) if key in names else key


def _number(value: Decimal | None) -> float | None:
    """Money as a spreadsheet number (to the fen; the format shows the two places)."""
    return None if value is None else float(value)


def _sheet(
    book: Workbook,
    name: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    money: Sequence[int] = (),
) -> Worksheet:
    """A sheet after the first; ``money`` are the 1-based columns that hold sums."""
    sheet = book.create_sheet(name)
    _fill(sheet, headers, rows)
    for column in money:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = MONEY_FORMAT
    return sheet


def _empty() -> Workbook:
    """A workbook without its default sheet: ``_sheet`` adds each, in order."""
    book = Workbook()
    first = book.active
    assert first is not None  # a new workbook always has its first sheet
    book.remove(first)
    return book


def _projects(rows: Sequence[ProjectRow], t: Translate) -> list[list[object]]:
    return [
        [
            p.rank,
            p.number,
            p.title,
            _number(p.cost),
            p.support,
            p.eligible,
            p.needed,
            _label(t, STANDINGS, p.standing),
        ]
        for p in rows
    ]


def _sources(rows: Sequence[SourceRow], t: Translate) -> list[list[object]]:
    return [[_label(t, SOURCES, s.kind), s.name, _number(s.amount)] for s in rows]


def _pairs(sheet: Worksheet, pairs: Sequence[Sequence[object]]) -> None:
    """Item and value rows under the header; a sum of money is a number shown to the fen."""
    for row, (name, value) in enumerate(pairs, start=2):
        if isinstance(value, Decimal):
            _write(sheet, row, [name, _number(value)])
            sheet.cell(row=row, column=2).number_format = MONEY_FORMAT
        else:
            _write(sheet, row, [name, value])
    _widen(sheet)


def round_workbook(record: RoundRecord) -> bytes:
    """A counted round's record: sheets "result" (the projects by rank), "orders" (one row
    per household's current order), "visits" (every call at a door), "sources", "rule" and
    "summary" (the counts, the override, the digest)."""
    t = _translator(language_of(record.language))
    book = _empty()
    _sheet(book, "result", [t(m) for m in RESULT_COLUMNS], _projects(record.projects, t), (4,))
    _sheet(
        book,
        "orders",
        [t(m) for m in ORDER_COLUMNS],
        [
            [
                o.grid,
                o.building,
                o.unit,
                o.room,
                _label(t, CHANNELS, o.channel),
                items_text(o.items, t("records.budget.list_separator")),
                o.updated_at,
                o.recorded_by,
            ]
            for o in record.order_rows
        ],
    )
    _sheet(
        book,
        "visits",
        [t(m) for m in VISIT_COLUMNS],
        [
            [
                v.grid,
                v.building,
                v.unit,
                v.room,
                v.visited_at,
                _label(t, OUTCOMES, v.outcome),
                items_text(v.items, t("records.budget.list_separator"))
                if v.items is not None
                else None,
                _label(t, METHODS, v.method),
                v.photos,
                v.worker,
            ]
            for v in record.visits
        ],
    )
    _sheet(book, "sources", [t(m) for m in SOURCE_COLUMNS], _sources(record.sources, t), (3,))
    rule = _sheet(book, "rule", [t("records.field.item"), t("records.field.value")], [])
    _pairs(rule, [[t("records.budget.field.rule"), record.rule], *record.rule_terms])
    summary = _sheet(book, "summary", [t("records.field.item"), t("records.field.value")], [])
    _pairs(
        summary,
        [
            [t("records.field.community"), record.community],
            [t("records.budget.field.round"), record.round_id],
            [t("records.budget.field.year"), record.year],
            [t("records.budget.field.title"), record.title],
            [t("records.budget.field.fund"), record.fund],
            [t("records.budget.field.eligible"), record.eligible],
            [t("records.field.vacant"), record.vacant_excluded],
            [t("records.budget.field.orders"), record.orders],
            [t("records.budget.channel.online"), record.online],
            [t("records.budget.channel.in_person"), record.in_person],
            [t("records.budget.field.visited"), record.visited],
            [t("records.column.not_reached"), record.not_reached],
            [t("records.budget.field.funded_total"), record.funded_total],
            [t("records.budget.field.left"), record.left],
            [t("records.budget.field.override"), record.override],
            [t("records.budget.field.closed_at"), record.closed_at],
            [t("records.field.digest"), record.digest],
            [t("records.budget.field.url"), record.url],
        ],
    )
    return _saved(book)


def report_workbook(report: YearReport) -> bytes:
    """The year-end report: sheets "summary", "sources", "menu" (what was ordered, with
    support), "projects" (each funded project's money and rating) and "spending"."""
    t = _translator(language_of(report.language))
    book = _empty()
    summary = _sheet(book, "summary", [t("records.field.item"), t("records.field.value")], [])
    _pairs(
        summary,
        [
            [t("records.field.community"), report.community],
            [t("records.budget.field.round"), report.round_id],
            [t("records.budget.field.year"), report.year],
            [t("records.budget.field.title"), report.title],
            [t("records.budget.field.phase"), _label(t, PHASES, report.status)],
            [t("records.budget.field.fund"), report.fund],
            [t("records.budget.field.ordered"), report.ordered],
            [t("records.budget.field.funded"), report.funded],
            [t("records.budget.field.completed"), report.completed],
            [t("records.budget.field.budgeted"), report.budgeted],
            [t("records.budget.field.spent"), report.spent],
            [t("records.budget.field.balance"), report.balance],
            [t("records.budget.column.stars"), _number(report.stars)],
            [t("records.budget.column.ratings"), report.ratings],
            [t("records.budget.field.made_at"), report.made_at],
        ],
    )
    _sheet(book, "sources", [t(m) for m in SOURCE_COLUMNS], _sources(report.sources, t), (3,))
    _sheet(book, "menu", [t(m) for m in RESULT_COLUMNS], _projects(report.menu, t), (4,))
    _sheet(
        book,
        "projects",
        [t(m) for m in MONEY_COLUMNS],
        [
            [
                p.number,
                p.title,
                p.responsible,
                _label(t, STATUSES, p.status),
                _number(p.budget),
                _number(p.spent),
                _number(p.left),
                _number(p.stars),
                p.ratings,
            ]
            for p in report.projects
        ],
        (5, 6, 7),
    )
    _sheet(
        book,
        "spending",
        [t(m) for m in SPENDING_COLUMNS],
        [
            [
                s.number,
                s.title,
                s.spent_on,
                _number(s.amount),
                s.purpose,
                s.receipts,
                s.over_reason,
            ]
            for s in report.spendings
        ],
        (4,),
    )
    return _saved(book)
