"""Long simulations of trigger sensors with a frozen clock: exact interval instants over 90 days and cron
instants across DST transitions, each fire compared with `next_instant` and with Dagster's own scheduler
iterator. Printed summaries (pytest -s) are quoted in docs/scheduling.md."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    DagsterInstance,
    RepositoryDefinition,
    ScheduleDefinition,
    SensorDefinition,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)
from dagster._utils.schedules import schedule_execution_time_iterator

from honeyframe_dagster.factory.trigger_state import ScheduleHistory
from honeyframe_dagster.model.instants import next_instant
from honeyframe_dagster.model.triggers import Trigger
from tests.scheduling.harness import PAUSED_QUEUE, daemon, evaluate, runs_of, scheduled_for

UTC = dt.UTC
START = dt.datetime(2026, 1, 1, 0, 0, 7, tzinfo=UTC)


@dataclass
class Simulation:
    fired: list[dt.datetime] = field(default_factory=list)
    evaluations: int = 0
    # Fires that differ from the `next_instant` predicted at the evaluation before.
    mispredicted: list[tuple[dt.datetime, dt.datetime | None]] = field(default_factory=list)
    max_delay: dt.timedelta = dt.timedelta(0)


Trigger_ = SensorDefinition | ScheduleDefinition


def location_trigger(name: str, entry: dict) -> tuple[Trigger_, RepositoryDefinition]:
    """The factory's trigger (schedule or sensor) for one scenario and its repository, built the way the test code
    location does."""
    from tests.scheduling.location import build, name_of

    defs = build({name: entry})
    repository = defs.get_repository_def()
    trigger = name_of(name, entry)
    if trigger.endswith("_schedule"):
        return repository.get_schedule_def(trigger), repository
    return repository.get_sensor_def(trigger), repository


def simulate(
    trigger_def: tuple[Trigger_, RepositoryDefinition],
    trigger: Trigger,
    timezone: str,
    start: dt.datetime,
    end: dt.datetime,
    gaps: Iterator[float],
    raw: bool = False,
) -> Simulation:
    """Run the daemon from `start` to `end`, its passes `gaps` seconds apart, Dagster's clock frozen at each.

    A sensor is evaluated at every pass, its cursor carried as the daemon does. A schedule is evaluated at a pass
    only when one of its cron ticks came since the previous pass (at its latest tick, as Dagster's scheduler
    does), with what its previous tick handled (the newest instant it fired, else that tick's time: what
    factory/trigger_state.py reads from Dagster's tick history). `raw`: call the trigger's own function without
    Dagster's per-call wrapper (signature inspection, resources), 3x faster for the long runs."""
    (definition, repository), result, clock, cursor = trigger_def, Simulation(), [start], None
    handled: dt.datetime | None = None
    ticks = None
    if isinstance(definition, ScheduleDefinition):
        cron, zone = str(definition.cron_schedule), definition.execution_timezone or "UTC"
        ticks = schedule_execution_time_iterator(start.timestamp(), cron, zone)
        upcoming = next(ticks)
    predicted = next_instant(trigger, timezone, start)
    history = mock.patch(
        "honeyframe_dagster.factory.triggers.schedule_history",
        side_effect=lambda _: ScheduleHistory(handled, start),
    )
    with mock.patch("dagster._time._mockable_get_current_datetime", side_effect=lambda: clock[0]), history:
        while clock[0] <= end:
            requests: list = []
            if ticks is None:
                context = build_sensor_context(
                    cursor=cursor, last_sensor_start_time=start.timestamp(), repository_def=repository
                )
                data = definition._raw_fn(context) if raw else definition.evaluate_tick(context)  # type: ignore[call-arg,union-attr]
                cursor, requests = data.cursor, data.run_requests or []
            elif upcoming <= clock[0]:
                while upcoming <= clock[0]:
                    tick, upcoming = upcoming, next(ticks)
                context = build_schedule_context(scheduled_execution_time=tick, repository_def=repository)
                data = definition.evaluate_tick(context)  # type: ignore[union-attr]
                requests = list(data.run_requests or [])
                fired = [dt.datetime.fromisoformat(r.tags["honeyframe/scheduled_for"]) for r in requests]
                handled = max(fired, default=tick.astimezone(UTC))
            for request in requests:
                instant = dt.datetime.fromisoformat(request.tags["honeyframe/scheduled_for"])
                if instant != predicted:
                    result.mispredicted.append((instant, predicted))
                result.fired.append(instant)
                result.max_delay = max(result.max_delay, clock[0] - instant)
                predicted = next_instant(trigger, timezone, instant)
            result.evaluations += 1
            clock[0] += dt.timedelta(seconds=next(gaps))
    return result


def drifting_gaps(seed: int, low: float, high: float) -> Iterator[float]:
    """A daemon whose evaluations drift: each gap anywhere in [low, high] seconds (never aligned to the grid)."""
    rng = random.Random(seed)
    while True:
        yield rng.uniform(low, high)


@pytest.mark.parametrize(("seconds", "max_gap"), [(3600, 600), (900, 300)])
def test_ninety_days_of_an_interval_fire_every_instant_exactly_once(seconds: int, max_gap: int) -> None:
    trigger = {"interval_seconds": seconds, "overlap": "allow"}
    trigger_def = location_trigger("every", {"id": 1, "trigger": trigger, "updated_at": START.isoformat()})
    end = START + dt.timedelta(days=90)
    # Evaluations 30 s to max_gap apart (a daemon that drifts and is sometimes busy), never on the grid.
    gaps = drifting_gaps(seconds, 30, max_gap)
    sim = simulate(
        trigger_def, Trigger.model_validate(trigger), "UTC", START, end + dt.timedelta(seconds=max_gap), gaps, raw=True
    )
    step = dt.timedelta(seconds=seconds)
    expected = [dt.datetime(2026, 1, 1, tzinfo=UTC) + k * step for k in range(1, 90 * 86400 // seconds + 1)]
    fired = [f for f in sim.fired if f <= end]
    skipped, repeated = sorted(set(expected) - set(fired)), len(sim.fired) - len(set(sim.fired))
    print(
        f"\n90 days of interval_seconds={seconds}: {sim.evaluations} evaluations 30-{max_gap} s apart, "
        f"{len(fired)} runs from {fired[0].isoformat()} to {fired[-1].isoformat()}, "
        f"skipped {len(skipped)}, repeated {repeated}, next_instant mismatches {len(sim.mispredicted)}, "
        f"fired at most {sim.max_delay.total_seconds():.0f} s after the instant"
    )
    assert fired == expected and not repeated and not sim.mispredicted
    assert sim.max_delay <= dt.timedelta(seconds=max_gap)


@pytest.fixture
def instance(tmp_path) -> Iterator[DagsterInstance]:  # noqa: ANN001
    with instance_for_test(temp_dir=str(tmp_path), overrides=PAUSED_QUEUE) as paused:
        yield paused


def test_hours_of_intervals_through_the_real_daemon(instance: DagsterInstance) -> None:
    scenarios = {
        "hourly": {"id": 1, "trigger": {"interval_seconds": 3600, "overlap": "allow"}},
        "quarter": {"id": 2, "trigger": {"interval_seconds": 900, "overlap": "allow"}},
    }
    start = dt.datetime(2026, 12, 1, 13, 49, 7, tzinfo=UTC)
    for entry in scenarios.values():
        entry["updated_at"] = start.isoformat()
    gaps, now = drifting_gaps(7, 30, 90), start
    with daemon(instance, scenarios) as workspace:
        while now <= start + dt.timedelta(minutes=31):
            evaluate(workspace, now)
            now += dt.timedelta(seconds=next(gaps))
    hourly, quarter = scheduled_for(runs_of(instance, 1)), scheduled_for(runs_of(instance, 2))
    print(
        f"\n31 min through the daemon from 13:49:07: hourly {[h.strftime('%H:%M') for h in hourly]}, "
        f"900 s {[q.strftime('%H:%M') for q in quarter]}"
    )
    assert hourly == [dt.datetime(2026, 12, 1, h, tzinfo=UTC) for h in (14,)]
    assert quarter == [dt.datetime(2026, 12, 1, 14, tzinfo=UTC) + k * dt.timedelta(minutes=15) for k in range(2)]


TRANSITIONS = {
    # zone: (spring forward, fall back), 2026
    "America/New_York": (dt.date(2026, 3, 8), dt.date(2026, 11, 1)),
    "Europe/Berlin": (dt.date(2026, 3, 29), dt.date(2026, 10, 25)),
    "Australia/Sydney": (dt.date(2026, 10, 4), dt.date(2026, 4, 5)),
}


@pytest.mark.parametrize("cron", ["30 2 * * *", "0 * * * *"])
@pytest.mark.parametrize("zone", list(TRANSITIONS))
def test_dst_transitions_fire_what_dagsters_scheduler_fires(zone: str, cron: str) -> None:
    trigger = {"cron": cron, "timezone": zone, "overlap": "allow"}
    for label, day in zip(("spring forward", "fall back"), TRANSITIONS[zone], strict=True):
        start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), UTC)
        end = start + dt.timedelta(days=2)
        entry = {"id": 1, "trigger": trigger, "timezone": zone, "updated_at": start.isoformat()}
        sim = simulate(
            location_trigger("dst", entry),
            Trigger.model_validate(trigger),
            zone,
            start,
            end,
            drifting_gaps(day.toordinal(), 30, 300),
        )
        dagster_ticks = []
        for tick in schedule_execution_time_iterator(start.timestamp(), cron, zone):
            if tick.timestamp() > (sim.fired[-1].timestamp() if sim.fired else end.timestamp()):
                break
            if tick.timestamp() > start.timestamp():
                dagster_ticks.append(tick.astimezone(UTC))
        local = [f.astimezone(ZoneInfo(zone)) for f in sim.fired]
        on_the_day = [f.strftime("%H:%M%z") for f in local if f.date() == day]
        shown = on_the_day if cron.startswith("30") else f"{len(on_the_day)} runs, {on_the_day[0]} .. {on_the_day[-1]}"
        print(
            f"\n{zone} {label} {day} '{cron}': {len(sim.fired)} runs = Dagster's scheduler ticks "
            f"({len(dagster_ticks)}), next_instant mismatches {len(sim.mispredicted)}; on the day: {shown}"
        )
        assert sim.fired == dagster_ticks and not sim.mispredicted
