"""The instants of a trigger (model/instants.py): the single definition behind sensors and `next_run_at`."""

from __future__ import annotations

import datetime as dt

import pytest

from honeyframe_dagster.model.instants import instants_between, is_instant, next_instant, previous_instant
from honeyframe_dagster.model.triggers import Trigger

UTC = dt.UTC


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def test_interval_instants_sit_on_the_grid_from_the_epoch() -> None:
    hourly = Trigger(interval_seconds=3600)
    created = at(2026, 12, 1, 13, 49, 7)
    assert next_instant(hourly, "UTC", created) == at(2026, 12, 1, 14)
    assert next_instant(hourly, "UTC", at(2026, 12, 1, 14)) == at(2026, 12, 1, 15)  # strictly after
    assert previous_instant(hourly, "UTC", created) == at(2026, 12, 1, 13)
    assert instants_between(hourly, "UTC", created, at(2026, 12, 1, 16)) == [at(2026, 12, 1, h) for h in (14, 15, 16)]
    first_two = instants_between(hourly, "UTC", created, at(2036, 1, 1), limit=2)
    assert first_two == [at(2026, 12, 1, 14), at(2026, 12, 1, 15)]
    assert is_instant(hourly, "UTC", at(2026, 12, 1, 13)) and not is_instant(hourly, "UTC", created)


def test_interval_start_at_shifts_the_grid_and_is_the_first_instant() -> None:
    shifted = Trigger(interval_seconds=3600, start_at=dt.datetime(2026, 1, 1, 0, 15, tzinfo=UTC))
    assert next_instant(shifted, "UTC", at(2026, 12, 1, 13, 49)) == at(2026, 12, 1, 14, 15)
    assert next_instant(shifted, "UTC", at(2025, 6, 1)) == at(2026, 1, 1, 0, 15)
    assert previous_instant(shifted, "UTC", at(2025, 6, 1)) is None


def test_run_at_has_one_instant() -> None:
    once = Trigger(run_at=dt.datetime.fromisoformat("2026-12-24T18:00:00+01:00"))
    assert next_instant(once, "UTC", at(2026, 12, 1)) == at(2026, 12, 24, 17)
    assert next_instant(once, "UTC", at(2026, 12, 24, 17)) is None
    assert previous_instant(once, "UTC", at(2026, 12, 1)) is None
    assert previous_instant(once, "UTC", at(2026, 12, 25)) == at(2026, 12, 24, 17)
    assert instants_between(once, "UTC", at(2026, 1, 1), at(2027, 1, 1)) == [at(2026, 12, 24, 17)]


def test_upstream_has_no_instants() -> None:
    upstream = Trigger.model_validate({"upstream": {"scenario": "a"}})
    assert next_instant(upstream, "UTC", at(2026, 1, 1)) is None
    assert previous_instant(upstream, "UTC", at(2026, 1, 1)) is None


def test_cron_follows_dagsters_dst_rules() -> None:
    daily = Trigger(cron="30 2 * * *")
    # 2026-03-08 02:30 does not exist in New York: Dagster runs it at 03:00 EDT (07:00 UTC).
    days = instants_between(daily, "America/New_York", at(2026, 3, 7, 12), at(2026, 3, 10, 12))
    assert days == [at(2026, 3, 8, 7), at(2026, 3, 9, 6, 30), at(2026, 3, 10, 6, 30)]
    assert is_instant(daily, "America/New_York", at(2026, 3, 8, 7))
    assert previous_instant(daily, "America/New_York", at(2026, 3, 8, 7, 30)) == at(2026, 3, 8, 7)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_instant(Trigger(interval_seconds=60), "UTC", dt.datetime(2026, 1, 1))
