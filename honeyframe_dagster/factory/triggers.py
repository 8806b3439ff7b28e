"""A scenario's trigger as a Dagster schedule or sensor; its status follows the store's `enabled`."""

import datetime as dt
from collections.abc import Iterator
from functools import cache

from dagster import (
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    JobDefinition,
    RunRequest,
    RunStatusSensorContext,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    TimeWindowPartitionsDefinition,
    build_schedule_from_partitioned_job,
    run_status_sensor,
    sensor,
)

from honeyframe_dagster.model.triggers import Trigger

# Partitions (one per schedule instant) reach back to here, so backfills can cover any past instant since.
PARTITIONS_START = dt.datetime(2025, 1, 1)
SCHEDULED_FOR_TAG = "honeyframe/scheduled_for"


@cache
def cron_partitions(cron: str, timezone: str) -> TimeWindowPartitionsDefinition:
    """One partition per schedule instant, keyed by that instant (end_offset=1: the tick's own window)."""
    minute, hour = cron.split()[:2]
    once_a_day = minute.isdigit() and hour.isdigit()
    return TimeWindowPartitionsDefinition(
        cron_schedule=cron,
        timezone=timezone,
        start=PARTITIONS_START,
        fmt="%Y-%m-%d" if once_a_day else "%Y-%m-%d-%H:%M",
        end_offset=1,
    )


def build_trigger(
    trigger: Trigger, job: JobDefinition, name: str, enabled: bool, upstream_job: JobDefinition | None
) -> ScheduleDefinition | SensorDefinition:
    if trigger.cron is not None:
        status = DefaultScheduleStatus.RUNNING if enabled else DefaultScheduleStatus.STOPPED
        return build_schedule_from_partitioned_job(job, name=name, default_status=status)
    sensor_status = DefaultSensorStatus.RUNNING if enabled else DefaultSensorStatus.STOPPED
    if trigger.interval_seconds is not None:
        return interval_sensor(job, name, trigger.interval_seconds, sensor_status)
    assert upstream_job is not None, "an upstream trigger needs its upstream job"
    return upstream_sensor(job, name, upstream_job, sensor_status)


def interval_sensor(job: JobDefinition, name: str, seconds: int, status: DefaultSensorStatus) -> SensorDefinition:
    @sensor(name=name, job=job, minimum_interval_seconds=seconds, default_status=status)
    def _interval(context: SensorEvaluationContext) -> Iterator[RunRequest]:
        # One run per interval bucket: the run key makes a repeated evaluation in the same bucket a no-op.
        now = dt.datetime.now(dt.UTC).timestamp()
        bucket = int(now // seconds) * seconds
        scheduled = dt.datetime.fromtimestamp(bucket, dt.UTC).isoformat()
        yield RunRequest(run_key=str(bucket), tags={SCHEDULED_FOR_TAG: scheduled})

    return _interval


def upstream_sensor(
    job: JobDefinition, name: str, upstream_job: JobDefinition, status: DefaultSensorStatus
) -> SensorDefinition:
    @run_status_sensor(
        name=name,
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[upstream_job],
        request_job=job,
        default_status=status,
    )
    def _on_upstream_success(context: RunStatusSensorContext) -> RunRequest:
        return RunRequest(
            run_key=context.dagster_run.run_id, tags={"honeyframe/upstream_run_id": context.dagster_run.run_id}
        )

    return _on_upstream_success
