"""The shapes a chart is laid out as: charts.py makes them, its SVG template and raster.py (PNG) draw them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    color: str
    width: float = 1.0


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    color: str


@dataclass(frozen=True)
class Polyline:
    points: list[tuple[float, float]]
    color: str
    width: float = 2.0


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    radius: float
    color: str


@dataclass(frozen=True)
class Text:
    """Text on its baseline at (x, y); `anchor` is start, middle or end, as in SVG."""

    x: float
    y: float
    text: str
    size: float
    color: str
    anchor: str = "start"


Shape = Line | Rect | Polyline | Dot | Text
