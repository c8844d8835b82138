"""A 民生微实事 round in print: the result poster (点菜结果公示) for the compound's entrances,
and the year-end report (资金公开) of what the fund paid for.

The poster says what a household needs to check the result for itself: the fund and where
it comes from, the rule, how every household was reached, each project's support against
the support it needed and why it was or was not funded, what is left, and the digest. The
report adds up the year: what was ordered, funded, completed and spent, and how residents
rated it. The same A4 page, fonts and QR code as a vote's poster (``records.poster``);
pure: the same record gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from handlers.clock import LOCAL
from handlers.i18n import default_translator, language_of
from handlers.records.budget_data import ProjectRow, RoundRecord, SourceRow, YearReport
from handlers.records.budget_labels import (
    PHASES,
    PROJECT_COLUMNS,
    SOURCES,
    STANDINGS,
    STATUSES,
    yuan,
)
from handlers.records.fonts import cjk_face
from handlers.records.poster import (
    BOLD,
    FONT,
    GREY,
    LINE,
    MARGIN,
    MONO,
    QR_SIZE,
    SHADE,
    _Poster,
    draw_qr,
)

HEADINGS = FontFace(emphasis="BOLD", fill_color=SHADE)
# 180 mm between the margins: rank, number, title, cost, support, needed, standing.
PROJECT_WIDTHS = (12, 12, 62, 28, 20, 20, 26)
# number, title, status, budget, spent, left, satisfaction.
MONEY_WIDTHS = (10, 42, 18, 26, 26, 26, 32)

Translate = Callable[..., str]


class _Page(_Poster):
    """The vote poster's page; ``wrap`` is how its lines break: between characters in
    Chinese, which has no spaces to break at, between words in English."""

    def __init__(self, footer_text: str, wrap: WrapMode) -> None:
        super().__init__(footer_text)
        self.wrap = wrap


def _paragraph(pdf: FPDF, text: str, size: float = 11, style: str = "", align: str = "L") -> None:
    pdf.set_font(FONT, style, size)
    pdf.multi_cell(
        0, LINE, text, align=align, wrapmode=_wrap(pdf), new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )


def _wrap(pdf: FPDF) -> WrapMode:
    return getattr(pdf, "wrap", WrapMode.CHAR)


def _section(pdf: FPDF, title: str, note: str = "") -> None:
    pdf.ln(3)
    if pdf.will_page_break(LINE * 3):
        pdf.add_page()
    _paragraph(pdf, title, size=13, style="B")
    if note:
        pdf.set_text_color(*GREY)
        _paragraph(pdf, note, size=9)
        pdf.set_text_color(0, 0, 0)


def _lines(pdf: FPDF, lines: tuple[str, ...]) -> None:
    for line in lines:
        _paragraph(pdf, f"• {line}", size=10.5)


def _document(language: str, subject: str, made: datetime) -> tuple[FPDF, Translate]:
    """An A4 page in ``language`` with the fonts embedded, and the translator for it."""
    translate = default_translator()

    def t(msgid: str, **params: Any) -> str:
        return translate(language, msgid, **params)

    wrap = WrapMode.WORD if language == "en" else WrapMode.CHAR
    pdf = _Page(t("records.poster.page", page="{page}", pages="{nb}"), wrap)
    for style, face in (("", cjk_face(language)), ("B", cjk_face(language, bold=True))):
        pdf.add_font(FONT, style, face.path, collection_font_number=face.index)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_creation_date(made)  # no clock: the same record, the same bytes
    pdf.set_subject(subject)
    pdf.set_creator("Linli")
    pdf.set_lang({"zh_Hant": "zh-Hant", "en": "en"}.get(language, "zh-Hans"))
    pdf.add_page()
    return pdf, t


def round_poster(record: RoundRecord) -> bytes:
    """The result poster of a counted round as PDF bytes (A4, Chinese embedded).

    Raises ``RuntimeError`` with the install hint when the system has no Noto CJK.
    """
    language = language_of(record.language)
    pdf, t = _document(language, record.title, record.closed_at)
    heading = t("records.budget.poster.heading")
    pdf.set_title(heading)
    _heading(pdf, record.community, heading, record.title, record.year, t)
    _fund(pdf, record.fund, record.sources, t)
    _paragraph(pdf, t("records.budget.poster.rule", rule=record.rule))
    _reach(pdf, record, t)
    _projects(pdf, record.projects, t)
    _shaded(
        pdf,
        t(
            "records.budget.poster.funded",
            count=sum(1 for p in record.projects if p.standing == "funded"),
            total=yuan(record.funded_total),
            left=yuan(record.left),
        ),
    )
    closed = record.closed_at.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")
    _paragraph(pdf, t("records.budget.poster.closed", closed=closed), align="C")
    _section(pdf, t("records.poster.flags"))
    flags = []
    if record.override:
        flags.append(t("records.budget.poster.override", reason=record.override))
    if record.vacant_excluded:
        flags.append(t("records.budget.poster.vacant", count=record.vacant_excluded))
    _lines(pdf, tuple(flags) or (t("records.budget.poster.no_flags"),))
    _verification(pdf, record, t)
    return bytes(pdf.output())


def report_poster(report: YearReport) -> bytes:
    """The year-end report (资金公开) as PDF bytes (A4, Chinese embedded)."""
    language = language_of(report.language)
    pdf, t = _document(language, report.title, report.made_at)
    heading = t("records.budget.report.heading")
    pdf.set_title(heading)
    _heading(pdf, report.community, heading, report.title, report.year, t)
    phase = t(PHASES[report.status]) if report.status in PHASES else report.status
    _paragraph(pdf, t("records.budget.report.phase", phase=phase))
    _fund(pdf, report.fund, report.sources, t)
    counts = t(
        "records.budget.report.counts",
        ordered=report.ordered,
        funded=report.funded,
        completed=report.completed,
    )
    _paragraph(pdf, counts, size=13, style="B")
    _section(pdf, t("records.budget.report.menu"))
    _project_table(pdf, report.menu, t)
    _section(pdf, t("records.budget.report.projects"))
    if report.projects:
        _money_table(pdf, report, t)
    else:
        _paragraph(pdf, t("records.budget.report.none_funded"))
    pdf.ln(2)
    _shaded(
        pdf,
        t(
            "records.budget.report.totals",
            budgeted=yuan(report.budgeted),
            spent=yuan(report.spent),
            balance=yuan(report.balance),
        ),
    )
    if report.ratings:
        stars = f"{report.stars:.1f}" if report.stars is not None else "-"
        text = t("records.budget.report.satisfaction", stars=stars, count=report.ratings)
    else:
        text = t("records.budget.report.no_ratings")
    _paragraph(pdf, text, size=12, style="B", align="C")
    made = report.made_at.astimezone(LOCAL).strftime("%Y-%m-%d")
    pdf.ln(2)
    _paragraph(pdf, t("records.budget.report.made", date=made), size=10, align="R")
    return bytes(pdf.output())


def _heading(pdf: FPDF, community: str, heading: str, title: str, year: int, t: Translate) -> None:
    pdf.set_text_color(*GREY)
    _paragraph(pdf, community, size=10, align="C")
    pdf.set_text_color(0, 0, 0)
    _paragraph(pdf, heading, size=20, style="B", align="C")
    pdf.ln(2)
    _paragraph(pdf, t("records.budget.poster.title", title=title, year=year), 14, "B")
    pdf.ln(1)


def source_words(source: SourceRow, t: Translate) -> str:
    """One source of the fund: its kind, its name when it says more, its amount."""
    kind = t(SOURCES[source.kind]) if source.kind in SOURCES else source.kind
    amount = yuan(source.amount)
    if source.name and source.name != kind:
        return t("records.budget.poster.source_named", kind=kind, name=source.name, amount=amount)
    return t("records.budget.poster.source", kind=kind, amount=amount)


def _fund(pdf: FPDF, fund: Any, sources: tuple[SourceRow, ...], t: Translate) -> None:
    _paragraph(pdf, t("records.budget.poster.fund", fund=yuan(fund)), size=13, style="B")
    _lines(pdf, tuple(source_words(s, t) for s in sources))


def _reach(pdf: FPDF, record: RoundRecord, t: Translate) -> None:
    text = t("records.budget.poster.eligible", eligible=record.eligible, orders=record.orders)
    _paragraph(pdf, text)
    reached = t(
        "records.budget.poster.reached",
        online=record.online,
        in_person=record.in_person,
        visited=record.visited,
        not_reached=record.not_reached,
    )
    _paragraph(pdf, reached)


def _projects(pdf: FPDF, projects: tuple[ProjectRow, ...], t: Translate) -> None:
    _section(pdf, t("records.budget.poster.projects"), t("records.budget.poster.projects_note"))
    _project_table(pdf, projects, t)
    pdf.ln(2)


def _project_table(pdf: FPDF, projects: tuple[ProjectRow, ...], t: Translate) -> None:
    """The result's table, by rank; the headings repeat on each page."""
    if not projects:
        _paragraph(pdf, t("records.budget.poster.no_projects"))
        return
    pdf.set_font(FONT, "", 10)
    with pdf.table(
        col_widths=PROJECT_WIDTHS,
        text_align=("RIGHT", "RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "CENTER"),
        line_height=6,
        headings_style=HEADINGS,
        wrapmode=_wrap(pdf),
    ) as table:
        table.row([t(msgid) for msgid in PROJECT_COLUMNS])
        for p in projects:
            standing = t(STANDINGS[p.standing]) if p.standing in STANDINGS else p.standing
            cells = [str(p.rank), str(p.number), p.title, yuan(p.cost), str(p.support)]
            cells += [str(p.needed), standing]
            table.row(cells, style=BOLD if p.standing == "funded" else None)


def _money_table(pdf: FPDF, report: YearReport, t: Translate) -> None:
    pdf.set_font(FONT, "", 10)
    with pdf.table(
        col_widths=MONEY_WIDTHS,
        text_align=("RIGHT", "LEFT", "CENTER", "RIGHT", "RIGHT", "RIGHT", "CENTER"),
        line_height=6,
        headings_style=HEADINGS,
        wrapmode=_wrap(pdf),
    ) as table:
        table.row(
            [
                t("records.budget.column.number"),
                t("records.budget.column.title"),
                t("records.budget.column.status"),
                t("records.budget.column.budget"),
                t("records.budget.column.spent"),
                t("records.budget.column.left"),
                t("records.budget.column.satisfaction"),
            ]
        )
        for p in report.projects:
            status = t(STATUSES[p.status]) if p.status in STATUSES else p.status
            rated = (
                t("records.budget.report.rated", stars=f"{p.stars:.1f}", count=p.ratings)
                if p.stars is not None and p.ratings
                else "-"
            )
            table.row(
                [
                    str(p.number),
                    p.title,
                    status,
                    yuan(p.budget),
                    yuan(p.spent),
                    yuan(p.left),
                    rated,
                ]
            )
        table.row(
            [
                "",
                t("records.poster.total"),
                "",
                yuan(report.budgeted),
                yuan(report.spent),
                yuan(report.budgeted - report.spent),
                "",
            ],
            style=BOLD,
        )


def _shaded(pdf: FPDF, text: str) -> None:
    pdf.set_fill_color(*SHADE)
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(
        0,
        9,
        text,
        align="C",
        fill=True,
        wrapmode=_wrap(pdf),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def _verification(pdf: FPDF, record: RoundRecord, t: Translate) -> None:
    """The digest beside the QR code, kept together on one page."""
    pdf.ln(3)
    if pdf.will_page_break(QR_SIZE + 14):
        pdf.add_page()
    top = pdf.get_y()
    _paragraph(pdf, t("records.poster.verify"), size=13, style="B")
    width = pdf.epw - QR_SIZE - 6
    pdf.set_font(FONT, "", 10)
    text = t("records.budget.poster.digest")
    pdf.multi_cell(width, LINE, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(MONO, "", 9)
    pdf.multi_cell(width, 4.5, record.digest, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN)
    pdf.ln(1)
    pdf.set_font(FONT, "", 9.5)
    hint = t("records.budget.poster.verify_hint", id=record.round_id)
    pdf.multi_cell(width, 5, hint, wrapmode=_wrap(pdf), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    text_bottom = pdf.get_y()
    left = pdf.w - MARGIN - QR_SIZE
    draw_qr(pdf, record.url, left, top, QR_SIZE)
    pdf.set_xy(left - 4, top + QR_SIZE + 1)
    pdf.set_font(FONT, "", 8)
    pdf.cell(QR_SIZE + 8, 4, t("records.budget.poster.qr"), align="C")
    pdf.set_y(max(text_bottom, top + QR_SIZE + 6))
