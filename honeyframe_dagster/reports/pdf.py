"""The same report as a PDF (fpdf2): text stays text, so the card titles can be searched and extracted."""

from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF, FontFace

from honeyframe_dagster.reports.charts import HEIGHT, WIDTH, chart_svg
from honeyframe_dagster.reports.data import CardData, DashboardData
from honeyframe_dagster.reports.formatting import format_value, title_case
from honeyframe_dagster.reports.render import Report, metric, notes, numeric_columns

# A Unicode TrueType font when the system has one (Debian's fonts-dejavu); else the PDF core font (Latin-1).
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
TEXT, MUTED, ACCENT = (43, 47, 54), (91, 100, 112), (31, 59, 92)
CHART_WIDTH_MM = 180.0


class _ReportPdf(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=15)
        self.report_font = "Helvetica"
        if (FONT_DIR / "DejaVuSans.ttf").exists() and (FONT_DIR / "DejaVuSans-Bold.ttf").exists():
            self.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
            self.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
            self.report_font = "DejaVu"

    def text_for_font(self, text: str) -> str:
        return text if self.report_font == "DejaVu" else text.encode("latin-1", "replace").decode("latin-1")

    def write_line(self, text: str, size: float, bold: bool = False, color: tuple[int, int, int] = TEXT) -> None:
        self.set_font(self.report_font, "B" if bold else "", size)
        self.set_text_color(*color)
        self.multi_cell(0, size * 0.5, self.text_for_font(text), align="L", new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.report_font, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"{self.page_no()}", align="R")


def _table(pdf: _ReportPdf, data: CardData) -> None:
    pdf.set_font(pdf.report_font, "", 9)
    pdf.set_text_color(*TEXT)
    aligns = ["RIGHT" if numeric else "LEFT" for numeric in numeric_columns(data)]
    pdf.set_draw_color(227, 230, 234)
    pdf.set_line_width(0.2)
    with pdf.table(
        text_align=tuple(aligns),
        headings_style=FontFace(emphasis="BOLD", color=MUTED),
        line_height=5,
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        table.row([pdf.text_for_font(title_case(c)) for c in data.columns])
        for row in data.rows:
            table.row([pdf.text_for_font(format_value(v)) for v in row])


def _card(pdf: _ReportPdf, data: CardData) -> None:
    card = data.card
    chart = chart_svg(card.display, data.columns, data.rows) if card.display in ("bar", "line") and data.rows else None
    needed = 12 + (CHART_WIDTH_MM * HEIGHT / WIDTH if chart else 20)
    if pdf.will_page_break(needed):
        pdf.add_page()
    pdf.ln(3)
    pdf.write_line(card.title, 12, bold=True)
    pdf.ln(1)
    if card.display == "metric":
        caption, value = metric(data)
        pdf.write_line(value, 24, bold=True, color=ACCENT)
        if caption:
            pdf.write_line(caption, 9, color=MUTED)
    elif chart is not None:
        pdf.image(io.BytesIO(chart.encode()), x=pdf.l_margin, w=CHART_WIDTH_MM)
    elif data.rows:
        _table(pdf, data)
    for note in notes(data):
        pdf.write_line(note, 9, color=MUTED)
    pdf.ln(2)


def _dashboard(pdf: _ReportPdf, data: DashboardData) -> None:
    pdf.ln(4)
    pdf.write_line(data.dashboard.title, 16, bold=True)
    pdf.write_line(data.period.describe(), 10, color=MUTED)
    for card in data.cards:
        _card(pdf, card)
    if not data.cards:
        pdf.write_line("No cards to show.", 10, color=MUTED)


def render_pdf(report: Report) -> bytes:
    pdf = _ReportPdf()
    pdf.set_title(pdf.text_for_font(report.title))
    pdf.set_creator("Honeyframe Scheduler")
    pdf.add_page()
    pdf.write_line(report.title, 20, bold=True)
    pdf.write_line(report.byline(), 9, color=MUTED)
    for index, dashboard in enumerate(report.dashboards):
        if index:
            pdf.add_page()
        _dashboard(pdf, dashboard)
    if not report.dashboards:
        pdf.ln(4)
        pdf.write_line("This report has no dashboards.", 11, color=MUTED)
    return bytes(pdf.output())
