"""A dashboard time filter as a concrete period, computed from the run's scheduled time (never the wall clock)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from honeyframe_dagster.model.steps import TimeRange

DAY = dt.timedelta(days=1)
# English month names whatever the process locale: reports read the same on every machine.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Period:
    """`[start, end)` as wall-clock times of the scenario's timezone (what card SQL compares dates with)."""

    start: dt.datetime
    end: dt.datetime
    label: str

    def describe(self) -> str:
        """The filter's name and its days: "Last week, 23–29 Nov 2026", "Yesterday, 30 Nov 2026".

        A period starting at midnight reads as the days it touches (its end is exclusive); any other reads
        with its times.
        """
        name = "Custom period" if self.label == "explicit" else self.label.replace("_", " ").capitalize()
        if self.start.time() != dt.time():
            return f"{name}, {_day(self.start.date())} {self.start:%H:%M} – {_day(self.end.date())} {self.end:%H:%M}"
        last = (self.end - DAY).date() if self.end.time() == dt.time() else self.end.date()
        return f"{name}, {day_range(self.start.date(), max(last, self.start.date()))}"

    def bind_values(self) -> dict[str, dt.datetime]:
        return {"start": self.start, "end": self.end}


def _day(day: dt.date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def day_range(first: dt.date, last: dt.date) -> str:
    """`first`..`last` inclusive, naming each month and year once: 23–29 Nov 2026, 28 Nov – 4 Dec 2026."""
    if first == last:
        return _day(first)
    if first.year != last.year:
        return f"{_day(first)} – {_day(last)}"
    if first.month != last.month:
        return f"{first.day} {MONTHS[first.month - 1]} – {_day(last)}"
    return f"{first.day}–{_day(last)}"


def _month_start(day: dt.date, months_back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def relative_period(name: str, reference: dt.datetime) -> Period:
    """A named relative filter around `reference` (naive wall-clock time). Weeks start on Monday.

    Whole-day filters end at the reference day's midnight; `*_to_date` filters end at the reference time.
    """
    today = reference.date()
    monday = today - dt.timedelta(days=today.weekday())
    spans: dict[str, tuple[dt.date | dt.datetime, dt.date | dt.datetime]] = {
        "today": (today, today + DAY),
        "yesterday": (today - DAY, today),
        "last_7_days": (today - 7 * DAY, today),
        "last_30_days": (today - 30 * DAY, today),
        "last_week": (monday - 7 * DAY, monday),
        "last_month": (_month_start(today, 1), _month_start(today)),
        "week_to_date": (monday, reference),
        "month_to_date": (_month_start(today), reference),
        "year_to_date": (dt.date(today.year, 1, 1), reference),
    }
    if name not in spans:
        raise ValueError(f"time_filter: unknown relative filter {name!r} (expected one of {', '.join(spans)})")
    start, end = (v if isinstance(v, dt.datetime) else _midnight(v) for v in spans[name])
    return Period(start, end, name)


def resolve_period(time_filter: str | TimeRange, scheduled: dt.datetime, timezone: str) -> Period:
    """The period of `time_filter` for a run scheduled at `scheduled` (aware), in the scenario's timezone."""
    zone = ZoneInfo(timezone)
    if isinstance(time_filter, TimeRange):
        start, end = (_wall_clock(value, zone) for value in (time_filter.start, time_filter.end))
        return Period(start, end, "explicit")
    return relative_period(time_filter, _wall_clock(scheduled, zone))


def _wall_clock(value: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """An aware time converted to the zone's wall clock; a naive one is taken as already there."""
    return value if value.tzinfo is None else value.astimezone(zone).replace(tzinfo=None)
