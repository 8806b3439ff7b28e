"""The cron grid a time trigger becomes a schedule on (model/schedule_grid.py): every instant is a tick of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dagster._utils.schedules import cron_string_iterator

from honeyframe_dagster.model.instants import instants_between
from honeyframe_dagster.model.schedule_grid import schedule_grid, trigger_kind
from honeyframe_dagster.model.triggers import Trigger

START = dt.datetime(2026, 3, 27, 0, 0, 7, tzinfo=dt.UTC)  # across Europe's spring-forward night


@pytest.mark.parametrize(
    ("trigger", "cron"),
    [
        ({"cron": "30 2 * * *", "timezone": "Europe/Berlin"}, "30 2 * * *"),
        ({"interval_seconds": 60}, "* * * * *"),
        ({"interval_seconds": 900, "start_at": "2026-01-01T00:05:00Z"}, "5,20,35,50 * * * *"),
        ({"interval_seconds": 3600}, "0 * * * *"),
        (
            {"interval_seconds": 7200, "start_at": "2026-01-01T00:30:00+01:00"},
            "30 " + ",".join(map(str, range(1, 24, 2))) + " * * *",
        ),
        ({"interval_seconds": 5400}, "0,30 * * * *"),  # a superset: 90 min ticks every 30
        ({"interval_seconds": 1920}, "0,4,8,12,16,20,24,28,32,36,40,44,48,52,56 * * * *"),
        ({"interval_seconds": 172800, "start_at": "2026-01-02T06:00:00Z"}, "0 6 * * *"),
        ({"run_at": "2026-03-28T18:00:00+01:00"}, "0 17 28 3 *"),
    ],
)
def test_every_instant_is_a_tick_of_the_grid(trigger: dict[str, Any], cron: str) -> None:
    parsed = Trigger.model_validate(trigger)
    zone = trigger.get("timezone", "UTC")
    grid = schedule_grid(parsed, zone)
    assert grid is not None and grid.cron == cron and trigger_kind(parsed, zone) == "schedule"
    end = START + dt.timedelta(days=3)
    ticks = set()
    for tick in cron_string_iterator(START.timestamp(), grid.cron, grid.timezone):
        if tick.timestamp() > end.timestamp():
            break
        ticks.add(tick.timestamp())
    instants = instants_between(parsed, zone, START, end)
    assert instants and {i.timestamp() for i in instants} <= ticks


@pytest.mark.parametrize(
    "trigger",
    [
        {"interval_seconds": 90},
        {"interval_seconds": 3600, "start_at": "2026-01-01T00:15:30Z"},
        {"run_at": "2026-12-24T18:00:30+01:00"},
        {"upstream": {"scenario": "base"}},
    ],
)
def test_a_grid_finer_than_a_minute_stays_a_sensor(trigger: dict[str, Any]) -> None:
    parsed = Trigger.model_validate(trigger)
    assert schedule_grid(parsed, "UTC") is None and trigger_kind(parsed, "UTC") == "sensor"
