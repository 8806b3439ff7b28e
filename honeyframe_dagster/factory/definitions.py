"""Catalog → `dagster.Definitions`: a job and a trigger (schedule or sensor) for every buildable scenario, and the
location's catch-up sensor when a schedule needs it (factory/triggers.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dagster import Definitions, JobDefinition, ScheduleDefinition, SensorDefinition

from honeyframe_dagster.factory.jobs import build_job
from honeyframe_dagster.factory.plan import PlannedScenario
from honeyframe_dagster.factory.resources import location_resources
from honeyframe_dagster.factory.sla import sla_sensor
from honeyframe_dagster.factory.triggers import build_trigger, catchup_sensor
from honeyframe_dagster.model.scenario import ScenarioSpec

# Jobs built by an earlier load, by name, with the spec each was built from.
BuiltJobs = Mapping[str, tuple[ScenarioSpec, JobDefinition]]


def build_jobs_and_triggers(
    planned: Sequence[PlannedScenario], earlier: BuiltJobs | None = None
) -> tuple[list[JobDefinition], list[SensorDefinition | ScheduleDefinition]]:
    """A job and a trigger per buildable scenario. A job of `earlier` whose spec is equal is taken as it is (a job
    is a function of its spec and name): Dagster keeps a job's snapshot on the object, so a reload in place
    (services/code_server.py) snapshots the changed jobs only."""
    jobs: dict[int, JobDefinition] = {}
    built = [entry for entry in planned if entry.spec is not None]
    for entry in built:
        assert entry.spec is not None
        kept = (earlier or {}).get(entry.job_name)
        jobs[entry.record.id] = (
            kept[1] if kept is not None and kept[0] == entry.spec else build_job(entry.spec, entry.job_name)
        )
    by_name = {(e.record.project_id, e.record.name): e.record.id for e in built}
    triggers: list[SensorDefinition | ScheduleDefinition] = []
    scheduled = []
    for entry in built:
        assert entry.spec is not None and entry.trigger_name is not None
        upstream = entry.spec.trigger.upstream
        upstream_job = jobs[by_name[(entry.record.project_id, upstream.scenario)]] if upstream else None
        trigger = build_trigger(entry.spec, jobs[entry.record.id], entry.trigger_name, upstream_job)
        triggers.append(trigger)
        if isinstance(trigger, ScheduleDefinition):
            scheduled.append((entry.spec, jobs[entry.record.id]))
    drain = catchup_sensor(scheduled)
    sla = sla_sensor([entry.spec for entry in built if entry.spec is not None])
    return list(jobs.values()), [*triggers, *(sensor for sensor in (drain, sla) if sensor is not None)]


def build_definitions(planned: Sequence[PlannedScenario], earlier: BuiltJobs | None = None) -> Definitions:
    """Jobs and triggers of a shard (the dbt assets, datasets and heartbeat are the warehouse location's:
    honeyframe_dagster/warehouse_definitions.py); jobs of `earlier` are reused as build_jobs_and_triggers says."""
    jobs, triggers = build_jobs_and_triggers(planned, earlier)
    return Definitions(
        jobs=jobs,
        schedules=[t for t in triggers if isinstance(t, ScheduleDefinition)],
        sensors=[t for t in triggers if isinstance(t, SensorDefinition)],
        resources=location_resources(),
    )
