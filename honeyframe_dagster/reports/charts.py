"""Bar and line charts, laid out once as shapes, then written as SVG (archived HTML, PDF) or PNG (e-mail).

Mail clients differ: Gmail and desktop Outlook show no inline SVG, so mails carry PNGs (see `raster.py`);
the PDF and the archived HTML keep the SVG, which stays sharp and searchable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from honeyframe_dagster.reports.formatting import as_number, format_axis, format_value, heading
from honeyframe_dagster.reports.shapes import Dot, Line, Polyline, Rect, Shape, Text

WIDTH, HEIGHT = 600, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 44
PALETTE = ("#3b6ea5", "#e07b39", "#5aa469", "#b55d9a")
GRID, AXIS, MUTED, INK = "#e3e6ea", "#8a929c", "#5b6470", "#2b2f36"
# DejaVu Sans first: the PDF registers it under that name (fpdf2 draws SVG text with the PDF's fonts).
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]
    fmt: str | None = None


@dataclass(frozen=True)
class ChartData:
    labels: list[str]
    series: list[Series]

    @property
    def fmt(self) -> str | None:
        """The format of the value axis: the series' format when they all share one."""
        formats = {s.fmt for s in self.series}
        return formats.pop() if len(formats) == 1 else None


@dataclass
class Chart:
    """A laid-out chart: shapes in a WIDTH × HEIGHT box, and a one-line description for alt text."""

    description: str
    shapes: list[Shape] = field(default_factory=list)

    def svg(self, text: Callable[[str], str] = str) -> str:
        """The chart as SVG (templates/chart.svg.j2). `text` adapts each label to the fonts at hand (the PDF's
        Latin-1 core font, when that is all)."""
        from honeyframe_dagster.reports.templating import environment

        return (
            environment()
            .get_template("chart.svg.j2")
            .render(
                width=WIDTH,
                height=HEIGHT,
                description=self.description,
                shapes=[(type(shape).__name__, shape) for shape in self.shapes],
                text=text,
                font=FONT,
            )
        )

    def png(self) -> bytes:
        from honeyframe_dagster.reports.raster import rasterize

        return rasterize(self.shapes, WIDTH, HEIGHT)


def chart_data(columns: Sequence[str], rows: list[tuple[Any, ...]], formats: Sequence[str | None]) -> ChartData:
    """First column: the categories or x values; every numeric column after it: one series (at most four)."""
    if len(columns) == 1:
        return ChartData([str(i + 1) for i in range(len(rows))], [_series(columns, rows, formats, 0)])
    numeric = [i for i in range(1, len(columns)) if any(as_number(row[i]) is not None for row in rows)]
    labels = [format_value(row[0], formats[0]) for row in rows]
    return ChartData(labels, [_series(columns, rows, formats, i) for i in numeric[: len(PALETTE)]])


def _series(columns: Sequence[str], rows: list[tuple[Any, ...]], formats: Sequence[str | None], index: int) -> Series:
    return Series(heading(columns[index]), [as_number(row[index]) for row in rows], formats[index])


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


def _frame(chart: ChartData, scale: list[float], label_every: int, centers: list[float]) -> list[Shape]:
    """Grid, value ticks, category labels and the legend around a plot."""
    shapes: list[Shape] = []
    for tick in scale:
        y = _y(tick, scale)
        shapes.append(Line(LEFT, y, WIDTH - RIGHT, y, GRID))
        shapes.append(Text(LEFT - 6, y + 4, format_axis(tick, chart.fmt), 11, MUTED, "end"))
    max_chars = max(3, int((WIDTH - LEFT - RIGHT) / max(1, len(chart.labels) / label_every) / 6.5))
    for index, (label, x) in enumerate(zip(chart.labels, centers, strict=True)):
        if index % label_every == 0:
            text = label if len(label) <= max_chars else label[: max_chars - 1] + "…"
            # Labels at the plot's edges grow inwards, so that they are not cut off.
            anchor = "start" if x <= LEFT else "end" if x >= WIDTH - RIGHT else "middle"
            shapes.append(Text(x, HEIGHT - BOTTOM + 16, text, 11, MUTED, anchor))
    if len(chart.series) > 1:
        x = float(LEFT)
        for color, series in zip(PALETTE, chart.series, strict=False):
            shapes.append(Rect(x, 8, 10, 10, color))
            shapes.append(Text(x + 14, 17, series.name, 11, INK))
            x += 24 + int(6.5 * len(series.name))
    return shapes


def _y(value: float, scale: list[float]) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (scale[-1] - value) / (scale[-1] - scale[0])


def _bounds(chart: ChartData) -> tuple[float, float]:
    values = [v for s in chart.series for v in s.values if v is not None]
    return (min(values), max(values)) if values else (0.0, 1.0)


def bar_chart(chart: ChartData, description: str) -> Chart:
    scale = nice_scale(*_bounds(chart))
    count = max(1, len(chart.labels))
    group = (WIDTH - LEFT - RIGHT) / count
    bar = group * 0.7 / max(1, len(chart.series))
    zero = _y(0.0, scale)
    show_values = count * len(chart.series) <= 12
    centers = [LEFT + group * (i + 0.5) for i in range(len(chart.labels))]
    shapes = _frame(chart, scale, max(1, math.ceil(count / 12)), centers)
    for s_index, (color, series) in enumerate(zip(PALETTE, chart.series, strict=False)):
        for index, value in enumerate(series.values):
            if value is None:
                continue
            x = LEFT + group * index + group * 0.15 + bar * s_index
            top = _y(value, scale)
            y = min(top, zero)
            shapes.append(Rect(x, y, bar, abs(zero - top), color))
            if show_values:
                shapes.append(Text(x + bar / 2, y - 4, format_axis(value, series.fmt), 10, INK, "middle"))
    shapes.append(Line(LEFT, zero, WIDTH - RIGHT, zero, AXIS))
    return Chart(description, shapes)


def line_chart(chart: ChartData, description: str) -> Chart:
    scale = nice_scale(*_bounds(chart))
    count = len(chart.labels)
    step = (WIDTH - LEFT - RIGHT) / max(1, count - 1)
    xs = [LEFT + (step * i if count > 1 else (WIDTH - LEFT - RIGHT) / 2) for i in range(count)]
    shapes = _frame(chart, scale, max(1, math.ceil(count / 6)), xs)
    for color, series in zip(PALETTE, chart.series, strict=False):
        points = [(x, _y(v, scale)) for x, v in zip(xs, series.values, strict=True) if v is not None]
        if len(points) > 1:
            shapes.append(Polyline(points, color))
        if count <= 40:
            shapes.extend(Dot(x, y, 2.5, color) for x, y in points)
    return Chart(description, shapes)


def build_chart(
    display: str, title: str, columns: Sequence[str], rows: list[tuple[Any, ...]], formats: Sequence[str | None]
) -> Chart | None:
    """The card's chart, or None when there is nothing numeric to draw."""
    chart = chart_data(columns, rows, formats)
    if not chart.series or not rows:
        return None
    description = f"{title}: {display} chart of {', '.join(s.name for s in chart.series)} by {heading(columns[0])}"
    return bar_chart(chart, description) if display == "bar" else line_chart(chart, description)
