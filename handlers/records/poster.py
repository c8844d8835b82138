"""The vote's result poster (公示): one printable A4 PDF for the compound's entrances.

It shows what a household needs to check the count for itself: who could vote, how
each was reached, what they answered (overall and by building), the decision, the
minority's opinions (既尊重多数人意愿，又保护少数人合法权益), what was disputed or
overridden, and the final digest with how to verify it. Every label comes from the
catalogues; the font is the system's Noto Sans CJK, embedded (subset), so the poster
prints the same anywhere. Pure: the same record gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import segno
from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from handlers.clock import LOCAL
from handlers.i18n import default_translator, language_of
from handlers.records.data import BuildingCount, VoteRecord
from handlers.records.fonts import cjk_face
from handlers.records.labels import COLUMNS, FIGURES, OUTCOMES

FONT = "noto"
MONO = "Courier"  # a PDF standard font: the digest's hex needs no embedding
MARGIN = 15.0
LINE = 6.5
QR_SIZE = 32.0
GREY = (90, 90, 90)
SHADE = (235, 238, 242)
BOLD = FontFace(emphasis="BOLD")


class _Poster(FPDF):
    """An A4 page with the page numbers in the footer, worded in the record's language."""

    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.footer_text.replace("{page}", str(self.page_no())), align="C")


def vote_poster(record: VoteRecord) -> bytes:
    """The poster of a closed vote as PDF bytes (A4, Chinese embedded).

    Raises ``RuntimeError`` with the install hint when the system has no Noto CJK.
    """
    language = language_of(record.language)
    translate = default_translator()

    def t(msgid: str, **params: Any) -> str:
        return translate(language, msgid, **params)

    pdf = _Poster(t("records.poster.page", page="{page}", pages="{nb}"))
    for style, face in (("", cjk_face(language)), ("B", cjk_face(language, bold=True))):
        pdf.add_font(FONT, style, face.path, collection_font_number=face.index)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_creation_date(record.closed_at)  # no clock: the same record, the same bytes
    pdf.set_title(t("records.poster.heading"))
    pdf.set_subject(record.title)
    pdf.set_creator("Linli")
    pdf.set_lang("zh-Hant" if language == "zh_Hant" else "zh-Hans")
    pdf.add_page()

    _heading(pdf, record, t)
    _counts(pdf, record, t)
    _decision(pdf, record, t)
    _buildings(pdf, record.buildings, t)
    _section(pdf, t("records.poster.dissent"), t("records.poster.dissent_note"))
    _lines(pdf, record.dissent or (t("records.poster.no_dissent"),))
    _section(pdf, t("records.poster.flags"))
    _lines(pdf, record.flags or (t("records.poster.no_flags"),))
    _verification(pdf, record, t)
    return bytes(pdf.output())


def _paragraph(pdf: FPDF, text: str, size: float = 11, style: str = "", align: str = "L") -> None:
    pdf.set_font(FONT, style, size)
    # Chinese has no spaces to break at: lines wrap between characters.
    pdf.multi_cell(
        0, LINE, text, align=align, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )


def _heading(pdf: FPDF, record: VoteRecord, t: Callable[..., str]) -> None:
    pdf.set_text_color(*GREY)
    _paragraph(pdf, record.community, size=10, align="C")
    pdf.set_text_color(0, 0, 0)
    _paragraph(pdf, t("records.poster.heading"), size=20, style="B", align="C")
    pdf.ln(2)
    _paragraph(pdf, t("records.poster.title", id=record.proposal_id, title=record.title), 14, "B")
    pdf.ln(1)
    _paragraph(pdf, t("records.poster.scope", scope=record.scope))
    _paragraph(pdf, t("records.poster.rule", rule=record.rule))


def _counts(pdf: FPDF, record: VoteRecord, t: Callable[..., str]) -> None:
    eligible = t("records.poster.eligible", eligible=record.eligible)
    if record.vacant_excluded:
        eligible += t("records.poster.vacant", vacant=record.vacant_excluded)
    _paragraph(pdf, eligible)
    reached = t(
        "records.poster.reached",
        online=record.online,
        in_person=record.in_person,
        visited=record.visited_no_answer,
        not_reached=record.not_reached,
    )
    _paragraph(pdf, reached)
    answers = t("records.poster.answers", yes=record.yes, no=record.no, abstain=record.abstain)
    _paragraph(pdf, answers, size=13, style="B")


def _decision(pdf: FPDF, record: VoteRecord, t: Callable[..., str]) -> None:
    pdf.ln(2)
    outcome = t(OUTCOMES.get(record.outcome, OUTCOMES["not_approved"]))
    closed = record.closed_at.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")
    pdf.set_fill_color(*SHADE)
    pdf.set_font(FONT, "B", 14)
    text = t("records.poster.decision", outcome=outcome, closed=closed)
    pdf.multi_cell(
        0,
        9,
        text,
        align="C",
        fill=True,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


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


def _buildings(pdf: FPDF, buildings: tuple[BuildingCount, ...], t: Callable[..., str]) -> None:
    """Every building's figures and their sum; the headings repeat on each page."""
    if not buildings:
        return
    _section(pdf, t("records.poster.buildings"))
    pdf.set_font(FONT, "", 9.5)
    total = [sum(getattr(b, name) for b in buildings) for name in FIGURES]
    rows = [[b.building, *(str(getattr(b, name)) for name in FIGURES)] for b in buildings]
    with pdf.table(
        col_widths=(28, 14, 12, 12, 16, 14, 12, 12, 12),
        text_align=("LEFT", *("RIGHT",) * len(FIGURES)),
        line_height=5.5,
        headings_style=FontFace(emphasis="BOLD", fill_color=SHADE),
        wrapmode=WrapMode.CHAR,
    ) as table:
        table.row([t(msgid) for msgid in COLUMNS])
        for cells in rows:
            table.row(cells)
        table.row([t("records.poster.total"), *(str(n) for n in total)], style=BOLD)


def _verification(pdf: FPDF, record: VoteRecord, t: Callable[..., str]) -> None:
    """The digest beside the QR code, kept together on one page."""
    pdf.ln(3)
    if pdf.will_page_break(QR_SIZE + 14):
        pdf.add_page()
    top = pdf.get_y()
    _paragraph(pdf, t("records.poster.verify"), size=13, style="B")
    width = pdf.epw - QR_SIZE - 6
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(width, LINE, t("records.poster.digest"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(MONO, "", 9)
    pdf.multi_cell(width, 4.5, record.digest, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN)
    pdf.ln(1)
    pdf.set_font(FONT, "", 9.5)
    hint = t("records.poster.verify_hint", id=record.proposal_id)
    pdf.multi_cell(width, 5, hint, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    text_bottom = pdf.get_y()
    left = pdf.w - MARGIN - QR_SIZE
    draw_qr(pdf, record.url, left, top, QR_SIZE)
    pdf.set_xy(left - 4, top + QR_SIZE + 1)
    pdf.set_font(FONT, "", 8)
    pdf.cell(QR_SIZE + 8, 4, t("records.poster.qr"), align="C")
    pdf.set_y(max(text_bottom, top + QR_SIZE + 6))


def draw_qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    """The link as a QR code in vector squares (sharp at any print size), quiet zone
    included in ``size``; each row's dark runs drawn as one rectangle."""
    code = segno.make(url, error="m", micro=False)
    matrix = [list(row) for row in code.matrix]
    border = 2
    module = size / (len(matrix) + 2 * border)
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(
                x + (border + start) * module,
                y + (border + r) * module,
                (c - start) * module + 0.01,  # a hair wider: no seams between runs
                module + 0.01,
                style="F",
            )
