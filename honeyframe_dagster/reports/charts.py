"""Bar and line charts as standalone SVG: inline in the HTML e-mail and drawn into the PDF."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Any

from honeyframe_dagster.reports.formatting import as_number, format_axis, format_value, title_case

WIDTH, HEIGHT = 600, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 44
PALETTE = ("#3b6ea5", "#e07b39", "#5aa469", "#b55d9a")
FONT = 'font-family="Helvetica, Arial, sans-serif"'


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]


@dataclass(frozen=True)
class ChartData:
    labels: list[str]
    series: list[Series]


def chart_data(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> ChartData:
    """First column: the categories or x values; every numeric column after it: one series (at most four)."""
    if len(columns) == 1:
        return ChartData([str(i + 1) for i in range(len(rows))], [_series(columns[0], rows, 0)])
    numeric = [i for i in range(1, len(columns)) if any(as_number(row[i]) is not None for row in rows)]
    labels = [format_value(row[0]) for row in rows]
    return ChartData(labels, [_series(columns[i], rows, i) for i in numeric[: len(PALETTE)]])


def _series(name: str, rows: list[tuple[Any, ...]], index: int) -> Series:
    return Series(title_case(name), [as_number(row[index]) for row in rows])


def nice_scale(low: float, high: float, ticks: int = 4) -> list[float]:
    """Round tick values covering [low, high], zero included."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1
    raw = (high - low) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    values = [first]
    while values[-1] < high - 1e-9 * step:
        values.append(values[-1] + step)
    return values


def _frame(chart: ChartData, scale: list[float], body: list[str], label_every: int, centers: list[float]) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">'
    ]
    for tick in scale:
        y = _y(tick, scale, plot_h)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" fill="#5b6470" text-anchor="end" {FONT}>'
            f"{escape(format_axis(tick))}</text>"
        )
    parts.extend(body)
    max_chars = max(3, int((WIDTH - LEFT - RIGHT) / max(1, len(chart.labels) / label_every) / 6.5))
    for index, (label, x) in enumerate(zip(chart.labels, centers, strict=True)):
        if index % label_every == 0:
            text = label if len(label) <= max_chars else label[: max_chars - 1] + "…"
            # Labels at the plot's edges grow inwards, so that they are not cut off.
            anchor = "start" if x <= LEFT else "end" if x >= WIDTH - RIGHT else "middle"
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" fill="#5b6470" '
                f'text-anchor="{anchor}" {FONT}>{escape(text)}</text>'
            )
    if len(chart.series) > 1:
        x = LEFT
        for color, series in zip(PALETTE, chart.series, strict=False):
            parts.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{color}"/>')
            parts.append(f'<text x="{x + 14}" y="17" font-size="11" fill="#2b2f36" {FONT}>{escape(series.name)}</text>')
            x += 24 + int(6.5 * len(series.name))
    parts.append("</svg>")
    return "".join(parts)


def _y(value: float, scale: list[float], plot_h: float) -> float:
    return TOP + plot_h * (scale[-1] - value) / (scale[-1] - scale[0])


def _bounds(chart: ChartData) -> tuple[float, float]:
    values = [v for s in chart.series for v in s.values if v is not None]
    return (min(values), max(values)) if values else (0.0, 1.0)


def bar_svg(chart: ChartData) -> str:
    scale = nice_scale(*_bounds(chart))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(1, len(chart.labels))
    group = plot_w / count
    bar = group * 0.7 / max(1, len(chart.series))
    zero = _y(0.0, scale, plot_h)
    show_values = count * len(chart.series) <= 12
    body: list[str] = []
    for s_index, (color, series) in enumerate(zip(PALETTE, chart.series, strict=False)):
        for index, value in enumerate(series.values):
            if value is None:
                continue
            x = LEFT + group * index + group * 0.15 + bar * s_index
            top = _y(value, scale, plot_h)
            y, height = min(top, zero), abs(zero - top)
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{color}"/>')
            if show_values:
                body.append(
                    f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" font-size="10" fill="#2b2f36" '
                    f'text-anchor="middle" {FONT}>{escape(format_axis(value))}</text>'
                )
    body.append(f'<line x1="{LEFT}" y1="{zero:.1f}" x2="{WIDTH - RIGHT}" y2="{zero:.1f}" stroke="#8a929c"/>')
    centers = [LEFT + group * (i + 0.5) for i in range(len(chart.labels))]
    return _frame(chart, scale, body, max(1, math.ceil(count / 12)), centers)


def line_svg(chart: ChartData) -> str:
    scale = nice_scale(*_bounds(chart))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = len(chart.labels)
    step = plot_w / max(1, count - 1)
    xs = [LEFT + (step * i if count > 1 else plot_w / 2) for i in range(count)]
    body: list[str] = []
    for color, series in zip(PALETTE, chart.series, strict=False):
        points = [(x, _y(v, scale, plot_h)) for x, v in zip(xs, series.values, strict=True) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        if count <= 40:
            body.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in points)
    return _frame(chart, scale, body, max(1, math.ceil(count / 6)), xs)


def chart_svg(display: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str | None:
    """The card's chart, or None when there is nothing numeric to draw."""
    chart = chart_data(columns, rows)
    if not chart.series or not rows:
        return None
    return bar_svg(chart) if display == "bar" else line_svg(chart)
