"""Which instants of a time trigger fire at one evaluation of its schedule or sensor: the catch-up policy as a pure
function.

The trigger knows the last instant it handled (a sensor's cursor; a schedule's previous tick:
factory/trigger_state.py). Instants after that and up to now are due;
one evaluated more than `ON_TIME` late was missed (the daemon was down or far behind) and the trigger's
`catchup` decides about it: `none` drops it (unless it is within the trigger's `misfire_grace_seconds`, which
replaces `ON_TIME` under `none`), `latest` runs only the most recent missed one (and only when no instant is on
time), `all` runs every one, oldest first, `MAX_CATCHUP_RUNS` per evaluation.

A calendar's excluded instants (model/calendars.py) are no instants: they are neither due nor missed; an evaluation
that comes at one says so (`Due.excluded`: the reason names the calendar and, for a holiday, its name).

Instants from before the trigger was enabled (its `since`) are never due: enabling resumes the cadence, it does not
replay it.

`now` is the evaluation's own time as Dagster gives it (a schedule tick's scheduled time, a sensor tick's
evaluation time), never the code server's clock: the same tick decides the same however late it is evaluated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from honeyframe_dagster.model.calendars import Calendar
from honeyframe_dagster.model.instants import instants_between, previous_instant
from honeyframe_dagster.model.triggers import Trigger

# An instant the sensor sees later than this after it is missed, not merely caught by a slow evaluation.
ON_TIME = dt.timedelta(seconds=120)
MAX_CATCHUP_RUNS = 25


@dataclass(frozen=True)
class Due:
    """What one evaluation does: fire these instants (oldest first), then remember `handled_until`."""

    fire: list[dt.datetime]
    handled_until: dt.datetime
    # The newest missed instant the catch-up policy dropped (for the tick's reason), if any.
    dropped_until: dt.datetime | None = None
    # Missed instants among `fire`: they are queued behind each other, never skipped for overlap.
    catching_up: bool = False
    # Why on-time instants of this evaluation did not fire: the calendar excludes their date (None: none did).
    excluded: str | None = None


def due_instants(
    trigger: Trigger, timezone: str, since: dt.datetime, now: dt.datetime, calendar: Calendar | None = None
) -> Due:
    """The instants in (since, now] that fire now, per `trigger.catchup`; instants the calendar excludes never."""
    if now <= since:
        return Due([], since)
    late_before = now - (dt.timedelta(seconds=trigger.misfire_grace_seconds) if trigger.catchup == "none" else ON_TIME)
    excluded = _excluded(trigger, timezone, max(since, late_before), now, calendar)
    if trigger.catchup == "all":
        fire = instants_between(trigger, timezone, since, now, limit=MAX_CATCHUP_RUNS, calendar=calendar)
        catching_up = bool(fire) and fire[0] <= late_before
        return Due(fire, fire[-1] if fire else now, catching_up=catching_up, excluded=excluded)
    on_time = instants_between(trigger, timezone, max(since, late_before), now, calendar=calendar)
    latest_missed = previous_instant(trigger, timezone, min(late_before, now), calendar)
    if latest_missed is not None and latest_missed <= since:
        latest_missed = None
    if latest_missed is None or on_time:
        return Due(on_time, now, dropped_until=latest_missed, excluded=excluded)
    if trigger.catchup == "latest":
        older = previous_instant(trigger, timezone, latest_missed - dt.timedelta(microseconds=1), calendar)
        dropped = older if older is not None and older > since else None
        return Due([latest_missed], now, dropped_until=dropped, catching_up=True, excluded=excluded)
    return Due([], now, dropped_until=latest_missed, excluded=excluded)


def _excluded(
    trigger: Trigger, timezone: str, since: dt.datetime, now: dt.datetime, calendar: Calendar | None
) -> str | None:
    """Why the on-time instants in (since, now] that the calendar excludes do not fire (None: there are none)."""
    if calendar is None:
        return None
    reasons = []
    for instant in instants_between(trigger, timezone, since, now, limit=MAX_CATCHUP_RUNS):
        reason = calendar.skip_reason(instant, timezone)
        if reason is not None:
            reasons.append(f"{instant.isoformat()} ({reason})")
    return f"skipped {', '.join(reasons)}" if reasons else None


__all__ = ["MAX_CATCHUP_RUNS", "ON_TIME", "Due", "due_instants"]
