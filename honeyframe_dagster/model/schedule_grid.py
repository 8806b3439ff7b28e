"""The cron grid a time trigger's instants fall on: what lets its trigger be a Dagster schedule.

Dagster's scheduler daemon computes a schedule's next tick from its cron string and asks the code location only
when a tick is due, so a schedule costs nothing between its instants; a sensor is evaluated every 30 s whatever
(docs/scheduling.md). A trigger becomes a schedule when a cron's ticks contain every one of its instants:

- `cron`: itself, in the trigger's timezone (the instants are that cron's ticks: model/instants.py);
- `interval_seconds`: instants `start_at + k × interval` repeat every day on a grid of g = gcd(interval, 86400)
  seconds offset by start_at; when g is whole minutes and start_at on a minute, the coarsest UTC cron containing
  that grid (exact for 60 s, 300 s, 900 s, hourly, daily, …; a superset for e.g. 90 minutes, whose extra ticks
  fire nothing);
- `run_at` on a whole minute: its minute, hour, day and month in UTC (it ticks yearly; only its own year's tick
  is the instant).

None otherwise (a grid finer than a minute): such a trigger stays a sensor. Which ticks are real instants is
always decided by the instants themselves (model/catchup.py), never by the grid.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from honeyframe_dagster.model.instants import interval_origin
from honeyframe_dagster.model.naming import TriggerKind
from honeyframe_dagster.model.triggers import Trigger

DAY_SECONDS = 86400


@dataclass(frozen=True)
class Grid:
    """A cron (5 fields) and the timezone Dagster's scheduler reads it in."""

    cron: str
    timezone: str


def schedule_grid(trigger: Trigger, timezone: str) -> Grid | None:
    """The coarsest cron grid containing every instant of the trigger; None when there is none (stay a sensor)."""
    if trigger.cron is not None:
        return Grid(trigger.cron, timezone)
    if trigger.interval_seconds is not None:
        return _interval_grid(trigger.interval_seconds, interval_origin(trigger))
    if trigger.run_at is not None:
        at = trigger.run_at.astimezone(dt.UTC)
        if at.second or at.microsecond:
            return None
        return Grid(f"{at.minute} {at.hour} {at.day} {at.month} *", "UTC")
    return None


def trigger_kind(trigger: Trigger, timezone: str) -> TriggerKind:
    """A schedule when the instants fall on a cron grid; a sensor otherwise (and for upstream triggers)."""
    return "schedule" if schedule_grid(trigger, timezone) is not None else "sensor"


def _interval_grid(seconds: int, origin: dt.datetime) -> Grid | None:
    step = math.gcd(seconds, DAY_SECONDS)
    offset = int((origin - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()) % DAY_SECONDS
    if step % 60 or offset % 60 or origin.microsecond:
        return None
    offset %= step  # seconds into the day of the first grid point
    if step % 3600 == 0:
        hours = step // 3600
        minute, first_hour = (offset % 3600) // 60, offset // 3600
        return Grid(f"{minute} {_every(first_hour, hours, 24)} * * *", "UTC")
    minutes = step // 60
    # Every hour alike: a step that divides the hour lists its minutes; one that does not (e.g. 32, 90) falls back
    # to the finest step both share with the hour, a superset whose extra ticks fire nothing.
    per_hour = math.gcd(minutes, 60)
    first = (offset // 60) % per_hour
    return Grid(f"{_every(first, per_hour, 60)} * * * *", "UTC")


def _every(first: int, step: int, bound: int) -> str:
    """`first, first+step, …` below `bound` as a cron field."""
    if step == 1:
        return "*"
    return ",".join(str(v) for v in range(first, bound, step))


__all__ = ["Grid", "schedule_grid", "trigger_kind"]
