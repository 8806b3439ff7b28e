"""Triggers in words for the schedules page: "02:00 every day, Europe/Berlin", "every 15 minutes", "once, …"."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from honeyframe_dagster.model.triggers import Trigger

DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_NUMBER = re.compile(r"^\d{1,2}$")
_STEP = re.compile(r"^\*/(\d{1,2})$")


def _plural(count: int, unit: str) -> str:
    return f"every {unit}" if count == 1 else f"every {count} {unit}s"


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _numbers(field: str, low: int, high: int) -> list[int] | None:
    """`1,15` or `1-5` or `3` as the numbers it names, or None for anything else."""
    values: list[int] = []
    for part in field.split(","):
        first, _, last = part.partition("-")
        if not _NUMBER.match(first) or (last and not _NUMBER.match(last)):
            return None
        start, end = int(first), int(last or first)
        if not low <= start <= end <= high:
            return None
        values.extend(range(start, end + 1))
    return values


def _days(field: str) -> str | None:
    """A day-of-week field in words; "" when it names every day. Day names (MON, sat) read like their numbers."""
    for index, day in enumerate(DAYS):
        field = re.sub(day[:3], str(index), field, flags=re.IGNORECASE)
    days = _numbers(field, 0, 7)
    if days is None:
        return None
    distinct = sorted({day % 7 for day in days})
    if len(distinct) == 7:
        return ""
    if distinct == [1, 2, 3, 4, 5]:
        return "Monday to Friday"
    if distinct == [0, 6]:
        return "Saturdays and Sundays"
    names = [DAYS[day % 7] + "s" for day in days]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def cron_in_words(cron: str) -> str:
    """Common 5-field crons in words; anything else as "cron 'EXPR'"."""
    fields = cron.split()
    if len(fields) != 5:
        return f"cron '{cron}'"
    minute, hour, dom, month, dow = fields
    fallback = f"cron '{cron}'"
    if month != "*":
        return fallback
    if hour == "*" and dom == "*" and dow == "*":
        if minute == "*":
            return "every minute"
        step = _STEP.match(minute)
        if step:
            return _plural(int(step.group(1)), "minute")
        minutes = _numbers(minute, 0, 59)
        return f"every hour at :{minutes[0]:02d}" if minutes and len(minutes) == 1 else fallback
    minutes = _numbers(minute, 0, 59)
    if not minutes or len(minutes) != 1:
        return fallback
    step = _STEP.match(hour)
    if step and dom == "*" and dow == "*":
        return f"{_plural(int(step.group(1)), 'hour')} at :{minutes[0]:02d}"
    hours = _numbers(hour, 0, 23)
    if not hours or len(hours) > 4:
        return fallback
    at = _join([f"{h:02d}:{minutes[0]:02d}" for h in hours])
    if dom == "*" and dow == "*":
        return f"{at} every day"
    if dom == "*":
        days = _days(dow)
        return fallback if days is None else f"{at} on {days}" if days else f"{at} every day"
    if dow == "*":
        dates = _numbers(dom, 1, 31)
        if dates and len(dates) <= 3:
            return f"{at} on the {_join([_ordinal(d) for d in dates])} of every month"
    return fallback


def interval_in_words(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            return _plural(seconds // size, unit)
    return _plural(seconds, "second")


def trigger_in_words(trigger: Trigger, timezone: str | None) -> str:
    """`timezone`: the one the schedule runs in (trigger's, else project's, else the org's); shown for crons."""
    words = _trigger_in_words(trigger, timezone)
    return f"{words}, on calendar {trigger.calendar}" if trigger.calendar is not None else words


def _trigger_in_words(trigger: Trigger, timezone: str | None) -> str:
    if trigger.cron is not None:
        words = cron_in_words(trigger.cron)
        return f"{words}, {timezone}" if timezone else words
    if trigger.interval_seconds is not None:
        return interval_in_words(trigger.interval_seconds)
    if trigger.run_at is not None:
        zone = timezone or "UTC"
        return f"once, {trigger.run_at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}, {zone}"
    assert trigger.upstream is not None
    return f"on success of {trigger.upstream.scenario}"
