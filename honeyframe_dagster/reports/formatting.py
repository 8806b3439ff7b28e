"""How values read in a report: one formatting for HTML, PDF and chart labels."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

EMPTY = "—"


def as_number(value: Any) -> float | None:
    """A numeric cell as float (Decimal included); anything else (bool, text, dates) is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def format_value(value: Any) -> str:
    if value is None:
        return EMPTY
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    number = as_number(value)
    if number is None:
        return str(value)
    if isinstance(value, int) or number.is_integer() and abs(number) >= 1:
        return f"{number:,.0f}"
    return f"{number:,.2f}" if abs(number) >= 1 else f"{number:.3g}"


def format_axis(number: float) -> str:
    """Short tick labels: 1.2k, 3.4M."""
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= threshold:
            return f"{number / threshold:.3g}{suffix}"
    return f"{number:.3g}"


def title_case(column: str) -> str:
    return column.replace("_", " ").strip().capitalize()
