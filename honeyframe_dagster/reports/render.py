"""A report as HTML for mail clients (inline styles, table layout, charts as inline SVG) and as plain text."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from typing import Any

from honeyframe_dagster.reports.charts import chart_svg
from honeyframe_dagster.reports.data import CardData, DashboardData
from honeyframe_dagster.reports.formatting import EMPTY, as_number, format_value, title_case

PAGE = "background:#f4f5f7;margin:0;padding:24px 0;font-family:Helvetica,Arial,sans-serif;color:#2b2f36"
BOX = "background:#ffffff;border:1px solid #e3e6ea;border-radius:6px;padding:16px;margin:0 0 16px 0"
CELL = "padding:4px 8px;border-bottom:1px solid #eef0f2;font-size:13px"


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


def metric(data: CardData) -> tuple[str, str]:
    """(caption, value) of a metric card: the first numeric cell of the first row, else its first cell.

    The caption is the column's name, left empty when it only repeats the card's title.
    """
    index = next((i for i, value in enumerate(data.rows[0]) if as_number(value) is not None), 0) if data.rows else 0
    caption = title_case(data.columns[index]) if data.columns else ""
    caption = "" if caption.casefold() == data.card.title.casefold() else caption
    return caption, format_value(data.rows[0][index]) if data.rows else EMPTY


def numeric_columns(data: CardData) -> list[bool]:
    return [any(as_number(row[i]) is not None for row in data.rows) for i in range(len(data.columns))]


def notes(data: CardData) -> list[str]:
    if not data.rows:
        return ["No data for this period."]
    limit = len(data.rows)
    return [f"Showing the first {limit} rows."] if data.truncated else []


def _table(data: CardData) -> str:
    aligns = ["right" if numeric else "left" for numeric in numeric_columns(data)]
    head = "".join(
        f'<th align="{align}" style="{CELL};color:#5b6470;font-weight:bold">{escape(title_case(c))}</th>'
        for align, c in zip(aligns, data.columns, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td align="{align}" style="{CELL}">{escape(format_value(v))}</td>'
            for align, v in zip(aligns, row, strict=True)
        )
        + "</tr>"
        for row in data.rows
    )
    return (
        f'<table role="presentation" cellpadding="0" cellspacing="0" width="100%" '
        f'style="border-collapse:collapse"><tr>{head}</tr>{body}</table>'
    )


def card_html(data: CardData) -> str:
    card = data.card
    parts = [f'<h3 style="margin:0 0 10px 0;font-size:15px">{escape(card.title)}</h3>']
    if card.display == "metric":
        caption, value = metric(data)
        parts.append(f'<div style="font-size:34px;font-weight:bold;color:#1f3b5c">{escape(value)}</div>')
        if caption:
            parts.append(f'<div style="font-size:12px;color:#5b6470">{escape(caption)}</div>')
    elif card.display == "table" and data.rows:
        parts.append(_table(data))
    elif data.rows:
        svg = chart_svg(card.display, data.columns, data.rows)
        parts.append(svg if svg is not None else _table(data))
    parts.extend(f'<p style="margin:8px 0 0 0;font-size:12px;color:#5b6470">{escape(n)}</p>' for n in notes(data))
    return f'<div style="{BOX}">{"".join(parts)}</div>'


def dashboard_html(data: DashboardData) -> str:
    header = (
        f'<h2 style="margin:24px 0 4px 0;font-size:19px">{escape(data.dashboard.title)}</h2>'
        f'<p style="margin:0 0 12px 0;font-size:13px;color:#5b6470">{escape(data.period.describe())}</p>'
    )
    cards = "".join(card_html(card) for card in data.cards) or _paragraph("No cards to show.")
    return header + cards


def _paragraph(text: str) -> str:
    return f'<p style="font-size:13px;color:#5b6470">{escape(text)}</p>'


def _page(report: Report, sections: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(report.title)}</title></head>"
        f'<body style="{PAGE}"><table role="presentation" align="center" width="640" cellpadding="0" '
        'cellspacing="0" style="max-width:640px;width:100%"><tr><td style="padding:0 16px">'
        f'<h1 style="margin:0 0 4px 0;font-size:22px">{escape(report.title)}</h1>'
        f'<p style="margin:0;font-size:12px;color:#5b6470">{escape(report.byline())}</p>'
        f"{sections}</td></tr></table></body></html>"
    )


def render_html(report: Report) -> str:
    sections = "".join(dashboard_html(d) for d in report.dashboards) or _paragraph("This report has no dashboards.")
    return _page(report, sections)


def _cover_lines(report: Report, filename: str) -> list[str]:
    periods = [f"{d.dashboard.title}: {d.period.describe()}" for d in report.dashboards]
    return [*periods, f"The report is attached as {filename}."]


def cover_html(report: Report, filename: str) -> str:
    """The body of a PDF e-mail: which dashboards, for which periods, and the attachment's name."""
    return _page(report, "".join(_paragraph(line) for line in _cover_lines(report, filename)))


def cover_text(report: Report, filename: str) -> str:
    return "\n".join([report.title, report.byline(), "", *_cover_lines(report, filename)]) + "\n"


def card_text(data: CardData) -> list[str]:
    lines = [f"  {data.card.title}"]
    if data.card.display == "metric":
        caption, value = metric(data)
        lines.append(f"    {caption}: {value}" if caption else f"    {value}")
    else:
        lines.extend("    " + " | ".join(format_value(v) for v in row) for row in _text_rows(data))
    lines.extend(f"    ({n})" for n in notes(data))
    return lines


def _text_rows(data: CardData) -> list[tuple[Any, ...]]:
    return [tuple(title_case(c) for c in data.columns), *data.rows] if data.rows else []


def render_text(report: Report) -> str:
    lines = [report.title, report.byline(), ""]
    for dashboard in report.dashboards:
        lines += [f"{dashboard.dashboard.title} — {dashboard.period.describe()}"]
        for card in dashboard.cards:
            lines += card_text(card)
        lines.append("")
    if not report.dashboards:
        lines.append("This report has no dashboards.")
    return "\n".join(lines) + "\n"
