"""What a time trigger's schedule has already handled, read from Dagster's own records (factory/triggers.py).

A schedule has no cursor. At a tick the scheduler daemon hands the code location the tick's id (the last part of
the evaluation's log key); from it:

- the schedule's previous completed tick (SUCCESS or SKIPPED, before this one): every instant up to its time was
  handled (fired, dropped by catch-up, or skipped for overlap), or, when it fired, up to its newest run key (an
  instant: catch-up `all` fires at most 25 per evaluation). A FAILED tick handled nothing: its instants count as
  missed at the next one; neither did a tick skipped because the catch-up sensor was draining a backlog
  (`CATCHING_UP`): what the sensor ran is the backlog's. Re-evaluating a tick reads the same previous tick, so it
  asks for the same runs, and the daemon's run-key check makes that idempotent;
- the schedule's start (the instigator state's `start_timestamp`: the API's startSchedule, or the daemon's first
  sight of a schedule whose default status is RUNNING): instants before it are never due.

A catch-up `all` backlog (more than 25 missed instants) is drained by the location's catch-up sensor between
ticks. Who drains it, and up to where it is known to be handled, is one row per scenario in Dagster's key-value
store (`Backlog`); that row only ever holds progress that Dagster has committed with the runs: the schedule hands
over the start of its batch (its tick records the batch's run keys once the runs exist), and the sensor's own
progress is its cursor (`Progress`), which the sensor daemon stores with the tick's run requests and makes the
sensor's cursor once they are all submitted. A crash between an evaluation and its runs leaves the cursor where it
was: the next evaluation asks for the same runs (same run keys) again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from dagster import DagsterInstance, RunsFilter, ScheduleEvaluationContext, SensorEvaluationContext
from dagster._core.scheduler.instigation import (
    InstigatorStatus,
    InstigatorTick,
    ScheduleInstigatorData,
    SensorInstigatorData,
    TickStatus,
)
from dagster._core.storage.tags import SCHEDULE_NAME_TAG, SCHEDULED_EXECUTION_TIME_TAG, SENSOR_NAME_TAG
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from honeyframe_dagster.clock import from_timestamp, utcnow
from honeyframe_dagster.model.compiled import spec_from_compiled
from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.model.tags import ENTITY_TAG, SCENARIO_TAG, SCHEDULED_FOR_TAG
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ScenarioRow, ScenarioVersionRow

# A backlog the catch-up sensor has not touched for this long is taken as abandoned (sensor stopped or gone): the
# schedule's own ticks take over its draining.
BACKLOG_STALE = dt.timedelta(minutes=5)
# How a schedule's tick that leaves its instants to the catch-up sensor begins its skip reason: such a tick handled
# nothing itself (`schedule_history` looks past it).
CATCHING_UP = "catching up:"
# Ticks read per query when looking past those.
_TICK_PAGE = 50


@dataclass(frozen=True)
class ScheduleHistory:
    """What Dagster knows of a schedule at one of its ticks."""

    handled_until: dt.datetime | None = None
    started_at: dt.datetime | None = None
    # (origin id, selector id) of the schedule, when evaluated by the daemon.
    schedule: tuple[str, str] | None = None


def _instant(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def schedule_history(context: ScheduleEvaluationContext) -> ScheduleHistory:
    """The previous completed tick and the start of the schedule being evaluated; empty outside the daemon (a
    context built by hand has no tick)."""
    tick_id = context.log_key[-1] if context.log_key else None
    if context.instance_ref is None or tick_id is None or not str(tick_id).isdigit():
        return ScheduleHistory()
    instance = context.instance
    tick = instance.schedule_storage.get_tick(int(tick_id)) if instance.schedule_storage else None
    if tick is None or tick.selector_id is None:
        return ScheduleHistory()
    origin, selector = tick.instigator_origin_id, tick.selector_id
    state = instance.get_instigator_state(origin, selector)
    data = state.instigator_data if state is not None else None
    # An explicit start (the API, the reconciler, a user in Dagster's UI) restarts the cadence; the daemon's first
    # sight of a schedule that runs by default does not (the version's `since` says when it was enabled).
    explicit = state is not None and state.status == InstigatorStatus.RUNNING
    started = from_timestamp(data.start_timestamp) if explicit and isinstance(data, ScheduleInstigatorData) else None
    last = _last_handling_tick(instance, origin, selector, tick.timestamp)
    if last is None:
        return ScheduleHistory(None, started, (origin, selector))
    # A tick that fired handled up to its newest run (catch-up `all`: at most 25 of the instants due), one that
    # skipped up to its time.
    fired = fired_until(last) if last.status == TickStatus.SUCCESS else None
    until = fired if fired is not None else from_timestamp(last.timestamp)
    return ScheduleHistory(until, started, (origin, selector))


def _last_handling_tick(instance: DagsterInstance, origin: str, selector: str, before: float) -> InstigatorTick | None:
    """The schedule's newest completed tick before `before` that handled its instants: not one skipped while the
    catch-up sensor drained a backlog (`CATCHING_UP`)."""
    statuses = [TickStatus.SUCCESS, TickStatus.SKIPPED]
    while True:
        page = instance.get_ticks(origin, selector, before=before, limit=_TICK_PAGE, statuses=statuses)
        for tick in page:
            if tick.status != TickStatus.SKIPPED or not (tick.tick_data.skip_reason or "").startswith(CATCHING_UP):
                return tick
        if len(page) < _TICK_PAGE:
            return None
        before = float(page[-1].timestamp)


def fired_until(tick: InstigatorTick) -> dt.datetime | None:
    """The newest instant a schedule's tick made a run for: its run keys (recorded once the runs exist) are
    instants, `<instant>|<entity>` with expand_from (factory/expansion.py)."""
    keys = [key.split("|", 1)[0] for key in tick.tick_data.run_keys or []]
    return max((i for i in (_instant(key) for key in keys) if i is not None), default=None)


def schedule_progress(instance: DagsterInstance, schedule: tuple[str, str] | None) -> dt.datetime | None:
    """The newest instant the schedule's runs covered: that of its newest SUCCESS tick (None: none, or unknown)."""
    if schedule is None:
        return None
    ticks = instance.get_ticks(*schedule, limit=1, statuses=[TickStatus.SUCCESS])
    return fired_until(ticks[0]) if ticks else None


@dataclass(frozen=True)
class SensorClock:
    """A sensor tick's own time as the daemon recorded it, and when the sensor was last started explicitly."""

    now: dt.datetime
    started: dt.datetime | None
    # The sensor's (origin id, selector id), when evaluated by the daemon.
    instigator: tuple[str, str] | None = None


def sensor_clock(context: SensorEvaluationContext) -> SensorClock:
    """The tick's time: its timestamp, which the daemon records with its clock before it asks the code location
    (the tick's id is the last part of the evaluation's log key); out of the daemon (a hand-built context),
    Dagster's clock here. The start counts when it was explicit (the API, the reconciler, Dagster's UI: status
    RUNNING), not the daemon's first sight of a sensor that runs by default (the version's `since` says when it
    was enabled)."""
    tick_id = context.log_key[-1] if context.log_key else None
    if context.instance_ref is None or tick_id is None or not str(tick_id).isdigit():
        return SensorClock(utcnow(), from_timestamp(context.last_sensor_start_time))
    instance = context.instance
    tick = instance.schedule_storage.get_tick(int(tick_id)) if instance.schedule_storage is not None else None
    if tick is None:
        return SensorClock(utcnow(), from_timestamp(context.last_sensor_start_time))
    state = instance.get_instigator_state(tick.instigator_origin_id, tick.selector_id) if tick.selector_id else None
    explicit = state is not None and state.status == InstigatorStatus.RUNNING
    started = from_timestamp(context.last_sensor_start_time) if explicit else None
    instigator = (tick.instigator_origin_id, tick.selector_id) if tick.selector_id else None
    return SensorClock(from_timestamp(tick.timestamp) or utcnow(), started, instigator)


def launch_spec(spec: ScenarioSpec) -> ScenarioSpec:
    """The version a run launched now does: the store's current one when its job and trigger have the shape of the
    loaded one (an edit of recipients, a parameter, a query or a toggle reloads no location: the run carries the
    new config), else the loaded one, whose job this is until the location reloads. A store that cannot be read
    leaves the loaded one."""
    if spec.version == 0:
        return spec
    try:
        with Session(get_engine(get_settings().store_url)) as session:
            current = session.scalar(select(ScenarioRow.version).where(ScenarioRow.id == spec.id))
            if current is None or current == spec.version:
                return spec
            rows = session.scalars(
                select(ScenarioVersionRow).where(
                    ScenarioVersionRow.scenario_id == spec.id,
                    ScenarioVersionRow.version.in_([spec.version, current]),
                )
            )
            by_number = {row.version: row for row in rows}
            newest, loaded = by_number.get(current), by_number.get(spec.version)
            if newest is None or loaded is None or newest.shape_hash != loaded.shape_hash:
                return spec
            record = replace(spec.record, version=newest.version, spec_hash=newest.spec_hash)
            return spec_from_compiled(record, newest.spec)
    except (SQLAlchemyError, ValidationError, KeyError, ValueError):
        return spec


@dataclass(frozen=True)
class Backlog:
    """A catch-up `all` trigger's missed instants being run 25 at a time, as Dagster's key-value store holds it:
    known handled up to `until` (never beyond what committed records show: see the module's docstring); `open`
    while the catch-up sensor is to drain it; `at`: when it was last written."""

    until: dt.datetime
    open: bool
    at: dt.datetime
    # The schedule's instigator (origin id, selector id): the catch-up sensor stops when the schedule is stopped.
    schedule: tuple[str, str] | None = None
    # Written by the catch-up sensor (`at` is its evaluation time); a schedule writes its tick's scheduled time,
    # which the sensor's clock is not compared with: it takes the backlog over first, then drains it at its pace.
    by_sensor: bool = False
    # The catch-up sensor's instigator (origin id, selector id): whose committed cursor holds its progress.
    sensor: tuple[str, str] | None = None

    def active(self, now: dt.datetime) -> bool:
        return self.open and now - self.at < BACKLOG_STALE

    def dump(self) -> str:
        data = {"until": self.until.isoformat(), "open": self.open, "at": self.at.isoformat()}
        schedule = list(self.schedule) if self.schedule else None
        sensor = list(self.sensor) if self.sensor else None
        return json.dumps({**data, "schedule": schedule, "by_sensor": self.by_sensor, "sensor": sensor})


def backlog_key(scenario_id: int) -> str:
    return f"honeyframe/catchup/{scenario_id}"


def _pair(value: object) -> tuple[str, str] | None:
    return (str(value[0]), str(value[1])) if isinstance(value, list) and len(value) == 2 else None


def read_backlogs(instance: DagsterInstance, scenario_ids: Iterable[int]) -> dict[int, Backlog]:
    """The stored backlogs of these scenarios (one query per 500)."""
    ids = list(scenario_ids)
    found: dict[int, Backlog] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        values = instance.run_storage.get_cursor_values({backlog_key(i) for i in chunk})
        for scenario_id in chunk:
            raw = values.get(backlog_key(scenario_id))
            if not raw:
                continue
            data = json.loads(raw)
            until, at = _instant(data.get("until")), _instant(data.get("at"))
            if until is not None and at is not None:
                found[scenario_id] = Backlog(
                    until,
                    bool(data.get("open")),
                    at,
                    _pair(data.get("schedule")),
                    bool(data.get("by_sensor")),
                    _pair(data.get("sensor")),
                )
    return found


def write_backlogs(instance: DagsterInstance, backlogs: Mapping[int, Backlog]) -> None:
    if backlogs:
        instance.run_storage.set_cursor_values({backlog_key(i): b.dump() for i, b in backlogs.items()})


@dataclass(frozen=True)
class Progress:
    """How far the catch-up sensor got with one scenario's backlog: its runs cover the instants up to `until`
    (asked for by the tick that wrote it; Dagster hands the cursor on only once they are all submitted); `open`:
    instants up to that evaluation's time remain."""

    until: dt.datetime
    open: bool


def read_progress(cursor: str | None) -> dict[int, Progress]:
    """The catch-up sensor's cursor: its progress per scenario (empty for none, or one it cannot read)."""
    try:
        data = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    found: dict[int, Progress] = {}
    for key, value in data.items() if isinstance(data, dict) else ():
        until = _instant(value.get("until")) if isinstance(value, dict) and str(key).isdigit() else None
        if until is not None:
            found[int(key)] = Progress(until, bool(value.get("open")))
    return found


def dump_progress(progress: Mapping[int, Progress]) -> str:
    return json.dumps({str(i): {"until": p.until.isoformat(), "open": p.open} for i, p in sorted(progress.items())})


def confirmed_until(instance: DagsterInstance, scenario_id: int, backlog: Backlog | None) -> dt.datetime | None:
    """Up to where a scenario's backlog is handled by what Dagster has committed: the row's `until` or, for one
    the catch-up sensor drains, its committed cursor (ahead of the row by the batch the row was written with)."""
    if backlog is None:
        return None
    state = instance.get_instigator_state(*backlog.sensor) if backlog.by_sensor and backlog.sensor else None
    data = state.instigator_data if state is not None else None
    progress = read_progress(data.cursor if isinstance(data, SensorInstigatorData) else None).get(scenario_id)
    return max(backlog.until, progress.until) if progress is not None else backlog.until


def schedule_running(instance: DagsterInstance, schedule: tuple[str, str] | None, default: bool) -> bool:
    """Whether the schedule is running: its stored status, else its code default."""
    state = instance.get_instigator_state(*schedule) if schedule is not None else None
    if state is None or state.status == InstigatorStatus.DECLARED_IN_CODE:
        return default
    return state.status == InstigatorStatus.RUNNING


def fired_pairs(
    instance: DagsterInstance, scenario_id: int, instants: list[dt.datetime], tick: tuple[str, str] | None = None
) -> set[tuple[dt.datetime, str | None]]:
    """Which of these instants already have a run made by the scenario's trigger (its schedule or sensor, or the
    catch-up sensor): Dagster's run keys dedupe within one instigator only. `tick`: (schedule name, scheduled
    time) of the tick being evaluated, whose own runs do not count (the daemon resumes an interrupted tick by
    submitting the runs it already created). Each with its run's entity (`honeyframe/entity`; None without
    expand_from)."""
    if not instants:
        return set()
    by_text = {i.isoformat(): i for i in instants}
    runs = instance.get_runs(RunsFilter(tags={SCENARIO_TAG: str(scenario_id), SCHEDULED_FOR_TAG: list(by_text)}))
    found = set()
    for run in runs:
        tags = run.tags
        if SCHEDULE_NAME_TAG not in tags and SENSOR_NAME_TAG not in tags:
            continue  # an out-of-band run (API rerun of an instant) is not the trigger's
        if tick is not None and (tags.get(SCHEDULE_NAME_TAG), tags.get(SCHEDULED_EXECUTION_TIME_TAG)) == tick:
            continue
        if tags.get(SCHEDULED_FOR_TAG) in by_text:
            found.add((by_text[tags[SCHEDULED_FOR_TAG]], tags.get(ENTITY_TAG)))
    return found


__all__ = [
    "BACKLOG_STALE",
    "CATCHING_UP",
    "Backlog",
    "Progress",
    "ScheduleHistory",
    "SensorClock",
    "confirmed_until",
    "dump_progress",
    "fired_pairs",
    "fired_until",
    "launch_spec",
    "read_backlogs",
    "read_progress",
    "schedule_history",
    "schedule_progress",
    "schedule_running",
    "sensor_clock",
    "write_backlogs",
]
