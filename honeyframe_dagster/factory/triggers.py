"""A scenario's trigger as a Dagster sensor; its status follows the store's `enabled`.

Every time trigger (cron, interval, run_at) is one sensor that walks the trigger's instants (model/instants.py)
with a cursor: the last instant it handled. Dagster's scheduler cannot do what we need in 1.13: a schedule
without a partition set runs only the latest missed tick after downtime (docs/scheduling.md), and it has no
place for an overlap decision that terminates runs. A sensor evaluated every `EVALUATION_SECONDS` fires each
instant within that period of it, with the instant as run key (never twice), its own `scheduled_for` tag and,
for cron, the instant's partition.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    JobDefinition,
    RunRequest,
    RunStatusSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    TimeWindowPartitionsDefinition,
    run_status_sensor,
    sensor,
)
from dagster._time import get_current_datetime

from honeyframe_dagster.factory.overlap import active_runs, cancel_previous, describe
from honeyframe_dagster.model.catchup import Due, due_instants
from honeyframe_dagster.model.instants import next_instant
from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.model.tags import SCHEDULED_FOR_TAG
from honeyframe_dagster.model.triggers import Overlap

# Partitions (one per cron instant) reach back to here, so backfills can cover any past instant since.
PARTITIONS_START = dt.datetime(2025, 1, 1)
UPSTREAM_RUN_TAG = "honeyframe/upstream_run_id"
# How often the daemon evaluates a time trigger: an instant fires at most this long (plus the daemon's own
# loop) after it comes.
EVALUATION_SECONDS = 30


@cache
def cron_partitions(cron: str, timezone: str) -> TimeWindowPartitionsDefinition:
    """One partition per cron instant, keyed by that instant (end_offset=1: the instant's own window)."""
    minute, hour = cron.split()[:2]
    once_a_day = minute.isdigit() and hour.isdigit()
    return TimeWindowPartitionsDefinition(
        cron_schedule=cron,
        timezone=timezone,
        start=PARTITIONS_START,
        fmt="%Y-%m-%d" if once_a_day else "%Y-%m-%d-%H:%M",
        end_offset=1,
    )


def partition_key(spec: ScenarioSpec, instant: dt.datetime) -> str | None:
    """The partition of a cron instant (the window that starts at it); None for other kinds."""
    if spec.trigger.cron is None:
        return None
    return cron_partitions(spec.trigger.cron, spec.timezone).get_partition_key_for_timestamp(instant.timestamp())


def build_trigger(
    spec: ScenarioSpec, job: JobDefinition, name: str, upstream_job: JobDefinition | None
) -> SensorDefinition:
    status = DefaultSensorStatus.RUNNING if spec.enabled else DefaultSensorStatus.STOPPED
    if spec.trigger.kind == "upstream":
        assert upstream_job is not None, "an upstream trigger needs its upstream job"
        return upstream_sensor(spec, job, name, upstream_job, status)
    return time_sensor(spec, job, name, status)


def _utc(timestamp: float | None) -> dt.datetime | None:
    return None if timestamp is None else dt.datetime.fromtimestamp(timestamp, dt.UTC)


def enabled_since(spec: ScenarioSpec, context: SensorEvaluationContext, now: dt.datetime) -> dt.datetime | None:
    """When the trigger last (re)started: instants before it are never due. Dagster records starts through
    the API (`start_sensor`) and the daemon's first evaluation; a default-status flip after an edit shows in
    the record's `updated_at`. A time later than the sensor's own clock is not trusted (another host's clock
    ahead of the daemon's, or a test's frozen clock): it would hold back every instant until the clock caught up."""
    updated = spec.record.updated_at
    if updated is not None and updated.tzinfo is None:
        updated = updated.replace(tzinfo=dt.UTC)
    known = [t for t in (_utc(context.last_sensor_start_time), updated) if t is not None and t <= now]
    return max(known, default=None)


def handled_until(spec: ScenarioSpec, context: SensorEvaluationContext, now: dt.datetime) -> dt.datetime:
    cursor = dt.datetime.fromisoformat(context.cursor) if context.cursor else None
    known = [t for t in (cursor, enabled_since(spec, context, now)) if t is not None]
    return max(known, default=now)


def time_sensor(spec: ScenarioSpec, job: JobDefinition, name: str, status: DefaultSensorStatus) -> SensorDefinition:
    @sensor(
        name=name,
        job=job,
        minimum_interval_seconds=EVALUATION_SECONDS,
        default_status=status,
        description=f"{spec.trigger.describe(spec.timezone)}; catchup {spec.trigger.catchup}, "
        f"overlap {spec.trigger.overlap}",
    )
    def _time_trigger(context: SensorEvaluationContext) -> SensorResult:
        # Dagster's clock, not datetime.now(): frozen-time tests drive this through the daemon's iterations.
        now = get_current_datetime()
        due = due_instants(spec.trigger, spec.timezone, handled_until(spec, context, now), now)
        cursor = due.handled_until.isoformat()
        if not due.fire:
            return SensorResult(skip_reason=_nothing_due(spec, due, now), cursor=cursor)
        if not due.catching_up:
            held = _overlap(context, spec.id, spec.trigger.overlap)
            if held is not None:
                return SensorResult(skip_reason=f"skipped {_iso(due.fire)}: {held}", cursor=cursor)
        requests = [_request(spec, instant) for instant in due.fire]
        return SensorResult(run_requests=requests, cursor=cursor)

    return _time_trigger


def _iso(instants: list[dt.datetime]) -> str:
    return ", ".join(i.isoformat() for i in instants)


def _nothing_due(spec: ScenarioSpec, due: Due, now: dt.datetime) -> str:
    """The tick's reason: what was dropped, else when the next instant comes."""
    if due.dropped_until is not None:
        return f"missed instants up to {due.dropped_until.isoformat()} not run (catchup: {spec.trigger.catchup})"
    upcoming = next_instant(spec.trigger, spec.timezone, now)
    return f"next instant {upcoming.isoformat()}" if upcoming else "no instant left (one-shot trigger)"


def _request(spec: ScenarioSpec, instant: dt.datetime) -> RunRequest:
    return RunRequest(
        run_key=instant.isoformat(),
        tags={SCHEDULED_FOR_TAG: instant.isoformat()},
        partition_key=partition_key(spec, instant),
    )


def _overlap(
    context: SensorEvaluationContext | RunStatusSensorContext, scenario_id: int, policy: Overlap
) -> str | None:
    """Apply the overlap policy to the scenario's active runs; a reason when the new run must not start."""
    if policy in ("allow", "queue"):
        return None  # queue: the run queue holds the new run until the previous ends (factory/overlap.py)
    runs = active_runs(context.instance, scenario_id)
    if not runs:
        return None
    if policy == "skip":
        return f"run {describe(runs)} of this scenario is still queued or in progress (overlap: skip)"
    canceled = cancel_previous(context.instance, runs)
    context.log.info("overlap cancel_previous: canceling %s", ", ".join(canceled) or "nothing")
    return None


def upstream_sensor(
    spec: ScenarioSpec, job: JobDefinition, name: str, upstream_job: JobDefinition, status: DefaultSensorStatus
) -> SensorDefinition:
    @run_status_sensor(
        name=name,
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[upstream_job],
        request_job=job,
        default_status=status,
    )
    def _on_upstream_success(context: RunStatusSensorContext) -> RunRequest | SkipReason:
        upstream_run = context.dagster_run.run_id
        held = _overlap(context, spec.id, spec.trigger.overlap)
        if held is not None:
            return SkipReason(f"skipped the success of upstream run {upstream_run}: {held}")
        return RunRequest(run_key=upstream_run, tags={UPSTREAM_RUN_TAG: upstream_run})

    return _on_upstream_success
