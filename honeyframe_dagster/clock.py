"""The product's one clock: Dagster's.

Sensors decide what is due from Dagster's clock, and they compare it with times the store wrote (a trigger's
`updated_at` is when it was last enabled). Both must read the same clock, or a test that freezes Dagster's clock
(`dagster._core.test_utils.freeze_time`) sees store times from the real one, and the outcome depends on the hour
the suite runs at. In production the two clocks are the same.

Dagster is imported when the clock is first read, not with this module: the model and the store import it, and a
command that never reads the time (`honeyframe list`) need not pay for Dagster.
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC, from Dagster's clock."""
    from dagster._time import get_current_datetime

    return get_current_datetime()


def from_timestamp(value: float | None) -> dt.datetime | None:
    """A POSIX timestamp (as Dagster stores run, tick and start times) as a timezone-aware UTC datetime."""
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


__all__ = ["from_timestamp", "utcnow"]
