"""How values read in a report: one formatting for HTML, PDF, plain text and chart labels.

A card's `format` (or a column's entry in `formats`) says how its numbers read:

- `currency:CODE`: the code's symbol (EUR €, USD $, GBP £, JPY ¥, CHF "CHF ", else "CODE "), thousands
  separators and two decimals (none for JPY): `1234.5` → `€1,234.50`;
- `percent`: the value is a ratio: `0.125` → `12.5%` (one decimal);
- `integer`: rounded, with thousands separators: `1234.5` → `1,235`;
- `decimal:N`: N decimals, with thousands separators.

Rounding is half-up, as people round. Without a format a number keeps the default reading below.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from honeyframe_dagster.model.documents import Card

EMPTY = "—"
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY"})
_COMPACT = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def as_number(value: Any) -> float | None:
    """A numeric cell as float (Decimal included); anything else (bool, text, dates) is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def column_formats(card: Card, columns: Sequence[str]) -> list[str | None]:
    """Each column's format: its entry in `formats` (exact name, else case-insensitive), else the card's."""
    by_name = card.formats or {}
    folded = {name.casefold(): fmt for name, fmt in by_name.items()}
    return [by_name.get(column, folded.get(column.casefold(), card.format)) for column in columns]


def format_value(value: Any, fmt: str | None = None) -> str:
    if value is None:
        return EMPTY
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    number = as_number(value)
    if number is None:
        return str(value)
    if fmt is not None:
        return format_number(value, fmt)
    if isinstance(value, int) or number.is_integer() and abs(number) >= 1:
        return f"{number:,.0f}"
    return f"{number:,.2f}" if abs(number) >= 1 else f"{number:.3g}"


def format_number(value: int | float | Decimal, fmt: str) -> str:
    """`value` in `fmt` (a card format, checked by the model)."""
    kind, _, argument = fmt.partition(":")
    exact = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    if kind == "currency":
        decimals = 0 if argument in ZERO_DECIMAL_CURRENCIES else 2
        return _signed(exact, decimals, CURRENCY_SYMBOLS.get(argument, f"{argument} "))
    if kind == "percent":
        return _signed(exact * 100, 1, "") + "%"
    return _signed(exact, 0 if kind == "integer" else int(argument), "")


def _signed(value: Decimal, decimals: int, prefix: str) -> str:
    """Rounded half-up; the minus sign goes before the currency symbol, and never on a rounded zero."""
    rounded = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    return f"{sign}{prefix}{abs(rounded):,.{decimals}f}"


def format_axis(number: float, fmt: str | None = None) -> str:
    """Short labels for chart ticks and bars: 1.2k, €3.4M, 12.5%."""
    kind, _, argument = (fmt or "").partition(":")
    if kind == "percent":
        return f"{number * 100:.3g}%"
    prefix = CURRENCY_SYMBOLS.get(argument, f"{argument} ") if kind == "currency" else ""
    sign = "-" if number < 0 else ""
    for threshold, suffix in _COMPACT:
        if abs(number) >= threshold:
            return f"{sign}{prefix}{abs(number) / threshold:.3g}{suffix}"
    return f"{sign}{prefix}{abs(number):.3g}"


def heading(column: str) -> str:
    """A column name as people read it: `cancelled_pct` → `Cancelled %`, `order_date` → `Order date`."""
    words = column.replace("_", " ").split()
    if len(words) > 1 and words[-1].casefold() in ("pct", "percent"):
        words[-1] = "%"
    text = " ".join(words)
    return text[:1].upper() + text[1:]
