"""The instants of a time trigger: one definition shared by the factory's schedules and sensors and the API's
`next_run_at`.

Cron instants come from Dagster's own cron iterator (DST rules included: a nonexistent local time runs at the
next existing time, an ambiguous one once), so what we advertise is what the scheduler fires. Interval
instants are `start_at + k × interval_seconds` (k >= 0, start_at default the Unix epoch), one-shot triggers
have the single instant `run_at`, upstream triggers have none. All results are aware datetimes in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import islice

from dagster._utils.schedules import cron_string_iterator

from honeyframe_dagster.model.triggers import Trigger

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _aware(when: dt.datetime, name: str) -> dt.datetime:
    if when.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {when.isoformat()!r}")
    return when.astimezone(dt.UTC)


def interval_origin(trigger: Trigger) -> dt.datetime:
    """The first instant of an interval trigger."""
    return (trigger.start_at or EPOCH).astimezone(dt.UTC)


def _ascending(trigger: Trigger, timezone: str, after: dt.datetime) -> Iterator[dt.datetime]:
    """Every instant strictly after `after`, oldest first (endless for cron and interval)."""
    if trigger.cron is not None:
        for when in cron_string_iterator(after.timestamp(), trigger.cron, timezone):
            if when.timestamp() > after.timestamp():
                yield when.astimezone(dt.UTC)
    elif trigger.interval_seconds is not None:
        origin, step = interval_origin(trigger), dt.timedelta(seconds=trigger.interval_seconds)
        k = 0 if after < origin else (after - origin) // step + 1
        while True:
            yield origin + k * step
            k += 1
    elif trigger.run_at is not None and after < trigger.run_at:
        yield trigger.run_at.astimezone(dt.UTC)


def next_instant(trigger: Trigger, timezone: str, after: dt.datetime) -> dt.datetime | None:
    """The first instant strictly after `after`; None when there is none (a past run_at, upstream)."""
    return next(_ascending(trigger, timezone, _aware(after, "after")), None)


def previous_instant(trigger: Trigger, timezone: str, at_or_before: dt.datetime) -> dt.datetime | None:
    """The latest instant at or before `at_or_before`; None when there is none."""
    at_or_before = _aware(at_or_before, "at_or_before")
    if trigger.cron is not None:
        for when in cron_string_iterator(at_or_before.timestamp(), trigger.cron, timezone, ascending=False):
            if when.timestamp() <= at_or_before.timestamp():
                return when.astimezone(dt.UTC)
    if trigger.interval_seconds is not None:
        origin, step = interval_origin(trigger), dt.timedelta(seconds=trigger.interval_seconds)
        return None if at_or_before < origin else origin + ((at_or_before - origin) // step) * step
    if trigger.run_at is not None and trigger.run_at <= at_or_before:
        return trigger.run_at.astimezone(dt.UTC)
    return None


def instants_between(
    trigger: Trigger, timezone: str, start: dt.datetime, end: dt.datetime, limit: int | None = None
) -> list[dt.datetime]:
    """Instants in (start, end], oldest first; at most `limit` of them (the oldest) when given."""
    # `_ascending` is sorted and endless: stop at the first instant past `end`.
    bounded = _take_until(_ascending(trigger, timezone, _aware(start, "start")), _aware(end, "end"))
    return list(islice(bounded, limit))


def _take_until(instants: Iterator[dt.datetime], end: dt.datetime) -> Iterator[dt.datetime]:
    for when in instants:
        if when > end:
            return
        yield when


def is_instant(trigger: Trigger, timezone: str, when: dt.datetime) -> bool:
    """Whether `when` is one of the trigger's instants (e.g. a rerun of a past instant)."""
    return previous_instant(trigger, timezone, when) == _aware(when, "when")


__all__ = [
    "EPOCH",
    "instants_between",
    "interval_origin",
    "is_instant",
    "next_instant",
    "previous_instant",
]
