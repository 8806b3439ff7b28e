"""The instants of a time trigger: one definition shared by the factory's schedules and sensors and the API's
`next_run_at`.

Cron instants come from Dagster's own cron iterator (DST rules included: a nonexistent local time runs at the
next existing time, an ambiguous one once), so what we advertise is what the scheduler fires. Interval
instants are `start_at + k × interval_seconds` (k >= 0, start_at default the Unix epoch), one-shot triggers
have the single instant `run_at`, upstream triggers have none. All results are aware datetimes in UTC. Dagster is
imported when a cron's instants are first asked for, not with this module (the model is imported without it).

With a calendar (model/calendars.py, `trigger.calendar`), an instant whose local date the calendar excludes is no
instant: it is never next, never due and never caught up. An excluded day is skipped whole (the iteration starts
again after its local midnight), so a cron every minute costs one step per excluded day, not 1,440.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import islice
from zoneinfo import ZoneInfo

from honeyframe_dagster.model.calendars import Calendar, local_date
from honeyframe_dagster.model.triggers import Trigger

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# A calendar that excludes every instant of a trigger (a Sunday cron on business days) has none: the search stops
# after this many excluded days in a row.
MAX_EXCLUDED_DAYS = 1000
_TICK = dt.timedelta(microseconds=1)


def _aware(when: dt.datetime, name: str) -> dt.datetime:
    if when.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {when.isoformat()!r}")
    return when.astimezone(dt.UTC)


def interval_origin(trigger: Trigger) -> dt.datetime:
    """The first instant of an interval trigger."""
    return (trigger.start_at or EPOCH).astimezone(dt.UTC)


def _ascending(
    trigger: Trigger, timezone: str, after: dt.datetime, calendar: Calendar | None = None
) -> Iterator[dt.datetime]:
    """Every instant strictly after `after` that the calendar allows, oldest first (endless for cron and
    interval, unless the calendar excludes every one)."""
    if calendar is None:
        yield from _every(trigger, timezone, after)
        return
    excluded_in_a_row = 0
    while excluded_in_a_row < MAX_EXCLUDED_DAYS:
        for when in _every(trigger, timezone, after):
            if calendar.allows(when, timezone):
                excluded_in_a_row = 0
                yield when
                continue
            after = _day_end(when, timezone)  # the rest of the excluded day is excluded too
            excluded_in_a_row += 1
            break
        else:
            return


def _day_end(when: dt.datetime, timezone: str) -> dt.datetime:
    """The last microsecond of `when`'s local date (instants after it are on a later date)."""
    following = dt.datetime.combine(local_date(when, timezone) + dt.timedelta(days=1), dt.time(), ZoneInfo(timezone))
    return following.astimezone(dt.UTC) - _TICK


def _day_start(when: dt.datetime, timezone: str) -> dt.datetime:
    return dt.datetime.combine(local_date(when, timezone), dt.time(), ZoneInfo(timezone)).astimezone(dt.UTC)


def _every(trigger: Trigger, timezone: str, after: dt.datetime) -> Iterator[dt.datetime]:
    """Every instant strictly after `after`, oldest first (endless for cron and interval)."""
    if trigger.cron is not None:
        from dagster._utils.schedules import cron_string_iterator

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


def next_instant(
    trigger: Trigger, timezone: str, after: dt.datetime, calendar: Calendar | None = None
) -> dt.datetime | None:
    """The first instant strictly after `after`; None when there is none (a past run_at, upstream)."""
    return next(_ascending(trigger, timezone, _aware(after, "after"), calendar), None)


def upcoming(
    trigger: Trigger, timezone: str, after: dt.datetime, count: int, calendar: Calendar | None = None
) -> list[dt.datetime]:
    """The next `count` instants strictly after `after` (fewer when the trigger ends): the preview, the admin pages."""
    return list(islice(_ascending(trigger, timezone, _aware(after, "after"), calendar), count))


def previous_instant(
    trigger: Trigger, timezone: str, at_or_before: dt.datetime, calendar: Calendar | None = None
) -> dt.datetime | None:
    """The latest instant at or before `at_or_before` that the calendar allows; None when there is none."""
    at_or_before = _aware(at_or_before, "at_or_before")
    for _ in range(MAX_EXCLUDED_DAYS):
        when = _previous(trigger, timezone, at_or_before)
        if when is None or calendar is None or calendar.allows(when, timezone):
            return when
        at_or_before = _day_start(when, timezone) - _TICK
    return None


def _previous(trigger: Trigger, timezone: str, at_or_before: dt.datetime) -> dt.datetime | None:
    if trigger.cron is not None:
        from dagster._utils.schedules import cron_string_iterator

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
    trigger: Trigger,
    timezone: str,
    start: dt.datetime,
    end: dt.datetime,
    limit: int | None = None,
    calendar: Calendar | None = None,
) -> list[dt.datetime]:
    """Instants in (start, end], oldest first; at most `limit` of them (the oldest) when given."""
    # `_ascending` is sorted and endless: stop at the first instant past `end`.
    bounded = _take_until(_ascending(trigger, timezone, _aware(start, "start"), calendar), _aware(end, "end"))
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
    "MAX_EXCLUDED_DAYS",
    "instants_between",
    "interval_origin",
    "is_instant",
    "next_instant",
    "previous_instant",
    "upcoming",
]
