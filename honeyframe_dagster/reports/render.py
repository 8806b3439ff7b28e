"""A report as HTML for mail clients (Jinja2 templates under templates/, autoescaped) and as plain text.

Every reading of a card goes through `card_view`, which the PDF uses too: one place decides how a card's
numbers read (its `format`/`formats`), which cards are headline tiles and what notes a card carries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from honeyframe_dagster.reports.charts import WIDTH, Chart, build_chart
from honeyframe_dagster.reports.data import CardData, DashboardData
from honeyframe_dagster.reports.formatting import EMPTY, as_number, column_formats, format_value, heading
from honeyframe_dagster.reports.mail import Attachment
from honeyframe_dagster.reports.templating import environment

TILES_PER_ROW = 3


@dataclass(frozen=True)
class Report:
    title: str
    project: str
    scheduled: dt.datetime
    timezone: str
    viewer: str
    dashboards: list[DashboardData]

    @property
    def card_count(self) -> int:
        return sum(len(d.cards) for d in self.dashboards)

    def byline(self) -> str:
        when = f"{self.scheduled:%Y-%m-%d %H:%M} ({self.timezone})"
        return f"{self.project} · scheduled for {when} · as seen by {self.viewer}"


@dataclass(frozen=True)
class Headline:
    """A metric card's value, formatted; the caption names the column unless it repeats the card's title."""

    value: str
    caption: str


@dataclass(frozen=True)
class Table:
    headings: list[str]
    aligns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class CardView:
    """What one card shows: a headline, a chart or a table, with its notes; all text already formatted."""

    title: str
    headline: Headline | None = None
    chart: Chart | None = None
    table: Table | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    """A dashboard and its cards in rows: consecutive headlines share a row (tiles), other cards have one each."""

    data: DashboardData
    rows: list[list[CardView]]


def metric(data: CardData) -> Headline:
    """The first numeric cell of the first row, else its first cell."""
    if not data.rows:
        return Headline(EMPTY, "")
    index = next((i for i, value in enumerate(data.rows[0]) if as_number(value) is not None), 0)
    caption = heading(data.columns[index])
    fmt = column_formats(data.card, data.columns)[index]
    return Headline(
        format_value(data.rows[0][index], fmt), "" if caption.casefold() == data.card.title.casefold() else caption
    )


def table(data: CardData) -> Table:
    formats = column_formats(data.card, data.columns)
    numeric = [any(as_number(row[i]) is not None for row in data.rows) for i in range(len(data.columns))]
    return Table(
        [heading(column) for column in data.columns],
        ["right" if is_numeric else "left" for is_numeric in numeric],
        [[format_value(value, fmt) for value, fmt in zip(row, formats, strict=True)] for row in data.rows],
    )


def notes(data: CardData) -> list[str]:
    if not data.rows:
        return ["No data for this period."]
    return [f"Showing the first {len(data.rows)} rows."] if data.truncated else []


def card_view(data: CardData) -> CardView:
    card = data.card
    if card.display == "metric":
        return CardView(card.title, headline=metric(data), notes=notes(data))
    if not data.rows:
        return CardView(card.title, notes=notes(data))
    chart = None
    if card.display in ("bar", "line"):
        chart = build_chart(card.display, card.title, data.columns, data.rows, column_formats(card, data.columns))
    # HTML and PDF show the chart, or the table when there is nothing numeric to draw; plain text the table.
    return CardView(card.title, chart=chart, table=table(data), notes=notes(data))


def sections(report: Report) -> list[Section]:
    return [Section(d, rows_of([card_view(c) for c in d.cards])) for d in report.dashboards]


def rows_of(views: Sequence[CardView]) -> list[list[CardView]]:
    rows: list[list[CardView]] = []
    for view in views:
        tile = view.headline is not None
        if tile and rows and rows[-1][-1].headline is not None and len(rows[-1]) < TILES_PER_ROW:
            rows[-1].append(view)
        else:
            rows.append([view])
    return rows


def headline_sections(report: Report) -> list[Section]:
    """Only the headline tiles of each dashboard: the body of a PDF mail."""
    return [Section(s.data, [row for row in s.rows if row[0].headline is not None]) for s in sections(report)]


@dataclass(frozen=True)
class _HtmlCard:
    view: CardView
    svg: Any = None
    cid: str | None = None


def render_html(report: Report, inline_images: bool = False) -> tuple[str, list[Attachment]]:
    """The report as one HTML page, and the images it refers to.

    `inline_images`: charts as PNG parts referenced by Content-ID (what mail clients show); otherwise inline
    SVG, for the archived copy, which needs no other file.
    """
    from markupsafe import Markup

    images: list[Attachment] = []

    def html_card(view: CardView) -> _HtmlCard:
        if view.chart is None:
            return _HtmlCard(view)
        if not inline_images:
            return _HtmlCard(view, svg=Markup(view.chart.svg()))  # noqa: S704 - rendered by an autoescaped template
        name = f"chart-{len(images) + 1}"
        images.append(Attachment(f"{name}.png", view.chart.png(), "image", "png", cid=f"{name}@honeyframe.report"))
        return _HtmlCard(view, cid=images[-1].cid)

    html_sections = [
        {"data": s.data, "rows": [[html_card(view) for view in row] for row in s.rows]} for s in sections(report)
    ]
    html = environment().get_template("report.html.j2").render(report=report, sections=html_sections, chart_width=WIDTH)
    return html, images


def cover_html(report: Report, filename: str) -> str:
    """The body of a PDF e-mail: each dashboard's period and headline numbers, and the attachment's name."""
    html_sections = [
        {"data": s.data, "rows": [[_HtmlCard(view) for view in row] for row in s.rows]}
        for s in headline_sections(report)
    ]
    return (
        environment()
        .get_template("cover.html.j2")
        .render(report=report, sections=html_sections, filename=filename, chart_width=WIDTH)
    )


def _headline_text(view: CardView) -> list[str]:
    assert view.headline is not None
    value = f"{view.headline.value} ({view.headline.caption})" if view.headline.caption else view.headline.value
    return [f"  {view.title}: {value}", *(f"    ({note})" for note in view.notes)]


def _table_text(table: Table) -> list[str]:
    """Columns padded to their widest cell; numbers right-aligned."""
    lines = [table.headings, *table.rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(table.headings))]
    return [
        "    "
        + "  ".join(
            cell.rjust(width) if align == "right" else cell.ljust(width)
            for cell, width, align in zip(line, widths, table.aligns, strict=True)
        ).rstrip()
        for line in lines
    ]


def _card_text(view: CardView) -> list[str]:
    if view.headline is not None:
        return _headline_text(view)
    lines = [f"  {view.title}"]
    if view.table is not None:
        lines.extend(_table_text(view.table))
    lines.extend(f"    ({note})" for note in view.notes)
    return lines


def _text(report: Report, parts: list[Section], footer: list[str]) -> str:
    lines = [report.title, report.byline(), ""]
    for section in parts:
        lines.append(f"{section.data.dashboard.title} — {section.data.period.describe()}")
        for row in section.rows:
            for view in row:
                lines.extend(_card_text(view))
        lines.append("")
    return "\n".join([*lines, *footer]).rstrip("\n") + "\n"


def render_text(report: Report) -> str:
    return _text(report, sections(report), [])


def cover_text(report: Report, filename: str) -> str:
    return _text(report, headline_sections(report), [f"The full report is attached as {filename}."])
