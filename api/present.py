"""Store rows and Dagster runs as API responses."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence

from dagster import TimeWindowPartitionsDefinition
from dagster._core.scheduler.instigation import InstigatorTick, TickStatus
from dagster._core.storage.dagster_run import RunRecord
from dagster._core.storage.tags import (
    BACKFILL_ID_TAG,
    PARTITION_NAME_TAG,
    SCHEDULE_NAME_TAG,
    SCHEDULED_EXECUTION_TIME_TAG,
    SENSOR_NAME_TAG,
)
from pydantic import ValidationError

from api.schemas import DagsterRefs, RunPublic, RunSummary, RunTrigger, ScenarioPublic, TickPublic
from honeyframe_dagster.clock import from_timestamp
from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable, LatestRuns, TriggerRef
from honeyframe_dagster.factory.plan import PlannedScenario
from honeyframe_dagster.factory.triggers import cron_partitions
from honeyframe_dagster.model.instants import next_instant
from honeyframe_dagster.model.scenario import ScenarioRecord, ScenarioSpec
from honeyframe_dagster.model.steps import STEPS_ADAPTER, Step
from honeyframe_dagster.model.tags import BACKFILL_TAG, ENTITY_TAG, PROJECT_TAG, SCENARIO_TAG, SCHEDULED_FOR_TAG
from honeyframe_dagster.model.triggers import Trigger

log = logging.getLogger("honeyframe.api")


def trigger_statuses(client: DagsterClient | None, triggers: Sequence[TriggerRef]) -> dict[str, str]:
    if client is None or not triggers:
        return {}
    try:
        return client.trigger_statuses(triggers)
    except DagsterUnavailable as exc:
        log.warning("trigger statuses unknown: %s", exc)
        return {t.name: "UNKNOWN" for t in triggers}


def latest_runs(client: DagsterClient | None, project_id: str, ids: Sequence[int]) -> dict[int, LatestRuns]:
    """The scenarios' newest runs in one batch; empty (no last run shown) when Dagster cannot be read."""
    if client is None or not ids:
        return {}
    try:
        return client.latest_runs(project_id, ids)
    except DagsterUnavailable as exc:
        log.warning("latest runs unknown: %s", exc)
        return {}


def next_run_at(spec: ScenarioSpec, now: dt.datetime, completed: bool) -> dt.datetime | None:
    """The next instant the trigger fires (model/instants.py, what its schedule or sensor fires: a schedule ticks
    on a grid containing every instant and fires at instants only). `now` comes from Dagster's clock
    (`get_current_datetime`), the one the triggers read, so a frozen test clock reaches both."""
    if not spec.enabled or completed:
        return None
    if spec.trigger.cron is None or spec.calendar is not None:
        return next_instant(spec.trigger, spec.timezone, now, spec.calendar)
    key = (spec.trigger.cron, spec.timezone)
    known = _NEXT_CRON_INSTANTS.get(key)
    if known is None or not known[0] <= now < known[1]:
        upcoming = next_instant(spec.trigger, spec.timezone, now)
        assert upcoming is not None, "a cron has a next instant"
        if len(_NEXT_CRON_INSTANTS) >= 10_000:
            _NEXT_CRON_INSTANTS.clear()
        known = _NEXT_CRON_INSTANTS[key] = (now, upcoming)
    return known[1]


# Dagster's cron iterator (DST-exact) costs ~0.1 ms a call, and a list shows many scenarios of few crons: the next
# instant after `t` stays the next one for any time in [t, instant), so it is kept for that long, by (cron, zone).
_NEXT_CRON_INSTANTS: dict[tuple[str, str], tuple[dt.datetime, dt.datetime]] = {}


def completed(spec: ScenarioSpec, fired: RunRecord | None) -> bool:
    """A one-shot trigger is done once it created the run for its instant (editing `run_at` re-arms it)."""
    if spec.trigger.run_at is None or fired is None:
        return False
    return scheduled_for(fired.dagster_run.tags, None) == spec.trigger.run_at.astimezone(dt.UTC)


def scenario_public(
    entry: PlannedScenario,
    statuses: dict[str, str],
    now: dt.datetime,
    latest: LatestRuns | None = None,
    paused: bool = False,
    missed: list[dt.datetime] | None = None,
) -> ScenarioPublic:
    """`latest`: the scenario's newest runs (`latest_runs`); None when unknown. `paused`: its project is paused
    (no next run). `missed`: its instants that missed its SLA, newest first (store/sla.py `missed_instants`)."""
    latest = latest or LatestRuns()
    record, spec = entry.record, entry.spec
    trigger: Trigger | None
    owner: str | None
    steps: list[Step]
    shown = spec or entry.stored
    if shown is not None:
        trigger, owner = shown.trigger, shown.owner
    else:
        trigger, owner = _raw_trigger(record), record.owner
    steps = steps_of(entry)
    assert record.created_at is not None and record.updated_at is not None
    done = spec is not None and completed(spec, latest.last_fired)
    return ScenarioPublic(
        id=record.id,
        project_id=record.project_id,
        name=record.name,
        template_slug=record.template_slug,
        trigger=trigger,
        steps=steps,
        enabled=record.enabled,
        owner=owner,
        next_run_at=next_run_at(spec, now, done) if spec is not None and not paused else None,
        last_fired_at=latest.last_fired.create_timestamp.astimezone(dt.UTC) if latest.last_fired else None,
        last_run=run_summary(latest.last, partitions_of(entry)) if latest.last else None,
        completed=done,
        created_at=record.created_at,
        updated_at=record.updated_at,
        dagster=DagsterRefs(
            job_name=entry.job_name,
            trigger_name=entry.trigger_name,
            trigger_status=statuses.get(entry.trigger_name) if entry.trigger_name else None,
        ),
        error=entry.error,
        sla=shown.sla if shown is not None else None,
        sla_missed=missed or [],
        version=record.version,
        pause_note=record.pause_note,
        paused_by=record.paused_by,
        paused_at=record.paused_at,
        paused=paused,
    )


def steps_of(entry: PlannedScenario) -> list[Step]:
    """The steps the API shows: its version's (even one that no longer builds), else what of the stored ones still
    parses."""
    shown = entry.spec or entry.stored
    return list(shown.steps) if shown is not None else _raw_steps(entry.record)


def _raw_trigger(record: ScenarioRecord) -> Trigger | None:
    try:
        return Trigger.model_validate(record.trigger) if record.trigger else None
    except ValidationError:
        return None


def _raw_steps(record: ScenarioRecord) -> list[Step]:
    try:
        return STEPS_ADAPTER.validate_python(record.steps) if record.steps else []
    except ValidationError:
        return []


def run_tags(project_id: str, scenario_id: int) -> dict[str, str]:
    """The tags every run of the scenario carries; the project tag keeps other projects' ids out."""
    return {SCENARIO_TAG: str(scenario_id), PROJECT_TAG: project_id}


def partitions_of(entry: PlannedScenario | None) -> TimeWindowPartitionsDefinition | None:
    if entry is None or entry.spec is None or entry.spec.trigger.cron is None:
        return None
    return cron_partitions(entry.spec.trigger.cron, entry.spec.timezone)


def run_trigger(tags: Mapping[str, str]) -> RunTrigger:
    if BACKFILL_ID_TAG in tags or BACKFILL_TAG in tags:
        return "backfill"
    if SCHEDULE_NAME_TAG in tags:
        return "schedule"
    return "sensor" if SENSOR_NAME_TAG in tags else "manual"


def run_summary(record: RunRecord, partitions: TimeWindowPartitionsDefinition | None) -> RunSummary:
    tags = record.dagster_run.tags
    return RunSummary(
        run_id=record.dagster_run.run_id,
        status=record.dagster_run.status.value,
        trigger=run_trigger(tags),
        scheduled_for=scheduled_for(tags, partitions),
        entity=tags.get(ENTITY_TAG),
    )


def run_public(record: RunRecord, partitions: TimeWindowPartitionsDefinition | None) -> RunPublic:
    """The summary with the run's start and end."""
    return RunPublic(
        **run_summary(record, partitions).model_dump(),
        started_at=from_timestamp(record.start_time),
        ended_at=from_timestamp(record.end_time),
    )


TICK_OUTCOMES = {TickStatus.SUCCESS: "fired", TickStatus.SKIPPED: "skipped", TickStatus.FAILURE: "failed"}


def tick_public(tick: InstigatorTick) -> TickPublic:
    """A tick as the API shows it; a failed evaluation names only the error's class (details are in Dagster's UI,
    since error text may carry internals)."""
    reason = None
    if tick.status == TickStatus.SKIPPED:
        reason = tick.skip_reason
    elif tick.status == TickStatus.FAILURE:
        error = tick.error.cls_name if tick.error is not None else None
        reason = f"evaluation failed ({error or 'unknown error'}); see the tick in Dagster's UI"
    return TickPublic(
        time=dt.datetime.fromtimestamp(tick.timestamp, dt.UTC),
        outcome=TICK_OUTCOMES[tick.status],
        reason=reason,
        run_ids=list(tick.run_ids),
    )


def scheduled_for(tags: Mapping[str, str], partitions: TimeWindowPartitionsDefinition | None) -> dt.datetime | None:
    for tag in (SCHEDULED_FOR_TAG, SCHEDULED_EXECUTION_TIME_TAG):
        if tag in tags:
            return dt.datetime.fromisoformat(tags[tag]).astimezone(dt.UTC)
    key = tags.get(PARTITION_NAME_TAG)
    if key and partitions is not None:
        try:
            return partitions.time_window_for_partition_key(key).start.astimezone(dt.UTC)
        except Exception:  # a key of an earlier cron of this scenario: no instant to report
            return None
    return None
