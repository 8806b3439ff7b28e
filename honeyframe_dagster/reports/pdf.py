"""The same report as a PDF (fpdf2): text stays text, so titles and numbers can be searched and extracted.

Layout: headline numbers as tiles side by side; a card (or a dashboard's title with its first row) starts a
new page only when it would not fit on the current one, so no page is left holding a few lines.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from fpdf import FPDF, FontFace

from honeyframe_dagster.reports.charts import HEIGHT, WIDTH
from honeyframe_dagster.reports.render import CardView, Report, Section, Table, sections

# A Unicode TrueType font when the system has one (Debian's fonts-dejavu); else the PDF core font (Latin-1).
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
TEXT, MUTED, ACCENT, BORDER = (43, 47, 54), (91, 100, 112), (31, 59, 92), (227, 230, 234)
CHART_WIDTH_MM = 180.0
TILE_GAP_MM, TILE_PADDING_MM = 4.0, 3.0


class _ReportPdf(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=15)
        self.report_font = "Helvetica"
        if (FONT_DIR / "DejaVuSans.ttf").exists() and (FONT_DIR / "DejaVuSans-Bold.ttf").exists():
            # The family name the charts' SVG asks for first (charts.FONT).
            self.add_font("DejaVu Sans", "", str(FONT_DIR / "DejaVuSans.ttf"))
            self.add_font("DejaVu Sans", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
            self.report_font = "DejaVu Sans"

    def text_for_font(self, text: str) -> str:
        return text if self.report_font == "DejaVu Sans" else text.encode("latin-1", "replace").decode("latin-1")

    def write_line(
        self, text: str, size: float, bold: bool = False, color: tuple[int, int, int] = TEXT, width: float = 0
    ) -> None:
        self.set_font(self.report_font, "B" if bold else "", size)
        self.set_text_color(*color)
        self.multi_cell(width, size * 0.5, self.text_for_font(text), align="L", new_x="LEFT", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.report_font, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"{self.page_no()}", align="R")


# What draws on the PDF: the real one, or fpdf2's recorder while measuring (same methods).
Canvas = Any


def _keep_together(pdf: _ReportPdf, draw: Callable[[Canvas], None]) -> None:
    """Draw on a new page when it would be split here; what is longer than a page is split anyway."""
    with pdf.offset_rendering() as trial:
        draw(trial)
    if trial.page_break_triggered and pdf.get_y() > pdf.t_margin + 1:
        pdf.add_page()
    draw(pdf)


def _table(pdf: Canvas, data: Table) -> None:
    pdf.set_font(pdf.report_font, "", 9)
    pdf.set_text_color(*TEXT)
    pdf.set_draw_color(*BORDER)
    pdf.set_line_width(0.2)
    with pdf.table(
        text_align=tuple(align.upper() for align in data.aligns),
        headings_style=FontFace(emphasis="BOLD", color=MUTED),
        line_height=5,
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        for row in [data.headings, *data.rows]:
            table.row([pdf.text_for_font(cell) for cell in row])


def _tiles(pdf: Canvas, views: list[CardView]) -> None:
    """Headline tiles side by side, each a bordered box: title, value, caption and notes."""
    pdf.ln(2)
    width = (pdf.epw - TILE_GAP_MM * (len(views) - 1)) / len(views)
    top, bottom = pdf.get_y(), pdf.get_y()
    for index, view in enumerate(views):
        assert view.headline is not None
        x = pdf.l_margin + index * (width + TILE_GAP_MM)
        pdf.set_xy(x + TILE_PADDING_MM, top + TILE_PADDING_MM)
        inner = width - 2 * TILE_PADDING_MM
        pdf.write_line(view.title, 9, color=MUTED, width=inner)
        pdf.set_xy(x + TILE_PADDING_MM, pdf.get_y() + 1)  # not ln(): it would return to the left margin
        pdf.write_line(view.headline.value, 18, bold=True, color=ACCENT, width=inner)
        for line in [view.headline.caption, *view.notes]:
            if line:
                pdf.write_line(line, 8, color=MUTED, width=inner)
        bottom = max(bottom, pdf.get_y() + TILE_PADDING_MM)
    pdf.set_draw_color(*BORDER)
    pdf.set_line_width(0.3)
    for index in range(len(views)):
        pdf.rect(pdf.l_margin + index * (width + TILE_GAP_MM), top, width, bottom - top, round_corners=True)
    pdf.set_xy(pdf.l_margin, bottom + 2)


def _card(pdf: Canvas, view: CardView) -> None:
    pdf.ln(3)
    pdf.write_line(view.title, 12, bold=True)
    pdf.ln(1)
    if view.chart is not None:
        svg = view.chart.svg(pdf.text_for_font).encode()
        pdf.image(io.BytesIO(svg), x=pdf.l_margin, w=CHART_WIDTH_MM, h=CHART_WIDTH_MM * HEIGHT / WIDTH)
    elif view.table is not None:
        _table(pdf, view.table)
    for note in view.notes:
        pdf.write_line(note, 9, color=MUTED)
    pdf.ln(2)


def _row(pdf: Canvas, row: list[CardView]) -> None:
    if row[0].headline is not None:
        _tiles(pdf, row)
    else:
        _card(pdf, row[0])


def _header(pdf: Canvas, section: Section) -> None:
    pdf.ln(4)
    pdf.write_line(section.data.dashboard.title, 16, bold=True)
    pdf.write_line(section.data.period.describe(), 10, color=MUTED)


def _dashboard(pdf: _ReportPdf, section: Section) -> None:
    first, *rest = section.rows or [[]]

    def header_and_first_row(canvas: Canvas) -> None:
        _header(canvas, section)
        if first:
            _row(canvas, first)
        else:
            canvas.write_line("No cards to show.", 10, color=MUTED)

    _keep_together(pdf, header_and_first_row)
    for row in rest:
        _keep_together(pdf, partial(_row, row=row))


def render_pdf(report: Report) -> bytes:
    pdf = _ReportPdf()
    pdf.set_title(pdf.text_for_font(report.title))
    pdf.set_creator("Honeyframe Scheduler")
    pdf.add_page()
    pdf.write_line(report.title, 20, bold=True)
    pdf.write_line(report.byline(), 9, color=MUTED)
    for section in sections(report):
        _dashboard(pdf, section)
    return bytes(pdf.output())
