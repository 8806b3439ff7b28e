"""`/api/scheduler/scenarios/{id}/run[s]` and `/ticks`: out-of-band runs, run history and the trigger's
evaluations, all through Dagster."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from dagster._core.scheduler.instigation import TickStatus
from dagster._time import get_current_datetime
from fastapi import Body, HTTPException, Query, Request, status
from sqlalchemy.orm import Session

from api.deps import BackendsDep, ProjectDep, store_released
from api.errors import ApiValidationError, dagster_unavailable, translated
from api.present import partitions_of, run_public, run_tags, tick_public
from api.routing import Router
from api.schemas import EntityRun, RunAccepted, RunBody, RunPage, TickList, TickOutcome, problem_responses
from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable
from honeyframe_dagster.factory.expansion import Entity, ExpansionError, expand
from honeyframe_dagster.factory.jobs import scenario_tags
from honeyframe_dagster.factory.overlap import entity_serial_tags
from honeyframe_dagster.factory.run_config import run_config
from honeyframe_dagster.factory.triggers import cron_partitions
from honeyframe_dagster.model.entities import EntityRenderError
from honeyframe_dagster.model.instants import is_instant, previous_instant
from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.model.tags import ENTITY_TAG, PARAMETERS_TAG, SCHEDULED_FOR_TAG
from honeyframe_dagster.store import service
from honeyframe_dagster.store.service import is_row_id
from honeyframe_dagster.store.tables import ScenarioRow

router = Router(
    prefix="/api/scheduler/scenarios", tags=["runs"], responses=problem_responses(400, 401, 403, 404, 422, 429, 503)
)
MAX_PAGE = 1_000_000
# Dagster refuses longer tag values.
MAX_TAG_LENGTH = 4000
TRIGGER_TAG = "honeyframe/trigger"
PARTITION_TAG = "dagster/partition"


def require_dagster(client: DagsterClient | None) -> DagsterClient:
    if client is None:
        raise HTTPException(503, "no Dagster webserver configured (HONEYFRAME_DAGSTER_URL)")
    return client


@router.post(
    "/{scenario_id}/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunAccepted,
    responses=problem_responses(409, 413, 415),
)
def run_now(
    request: Request,
    scenario_id: int,
    project_id: ProjectDep,
    backends: BackendsDep,
    body: RunBody | None = Body(default=None),  # noqa: B008 - an optional body
) -> RunAccepted:
    """Launch a run now, whatever the trigger says and also when the scenario is disabled.

    Without a body the run is for now: `scheduled_for` is the current instant and there is no partition, so a
    report covers the period that ends now. `{"scheduled_for": ...}` reruns one past instant of the trigger,
    with that instant's partition (cron) and report period. An out-of-band run is not held back by
    `overlap: skip` (docs/scheduling.md). With `trigger.expand_from` the query runs now and one run is launched
    per row, or only the row whose key is `{"entity": "emea"}`; `runs` lists them.
    """
    plan = backends.plan_stored(project_id, scenario_id)
    entry = plan.entries[scenario_id]
    if entry.spec is None:
        raise HTTPException(409, f"scenario {scenario_id} cannot run: {entry.error}")
    spec = entry.spec
    overrides = body.parameters if body is not None and body.parameters is not None else None
    if overrides is not None:
        with translated():
            spec = service.run_with_parameters(
                backends.session, project_id, scenario_id, overrides, backends.planner.recipes
            )
    now = get_current_datetime()
    if body is None or body.scheduled_for is None:
        instant, partition = now, None
    else:
        instant = past_instant(spec, body.scheduled_for, now)
        partition = partition_key(spec, instant)
    tags = {**scenario_tags(spec), TRIGGER_TAG: "manual", SCHEDULED_FOR_TAG: instant.isoformat()}
    if partition is not None:
        tags[PARTITION_TAG] = partition
    if overrides is not None:
        tags[PARAMETERS_TAG] = json.dumps(overrides, sort_keys=True, separators=(",", ":"))[:MAX_TAG_LENGTH]
    entities = chosen_entities(spec, body.entity if body is not None else None)
    client = require_dagster(backends.dagster)
    launched: list[EntityRun] = []
    location, job_name = plan.location, entry.job_name
    # No connection or store slot is held while Dagster launches (api/deps.py `store_released`).
    with store_released(backends.session):
        try:
            if entities is None:
                run_id = launch(client, location, job_name, tags, run_config(spec))
            for entity in entities or []:
                serial = entity_serial_tags(spec.id, spec.trigger.overlap, entity.key)
                entity_tags = {**tags, ENTITY_TAG: entity.key, **serial}
                config = run_config(spec, entity.row)
                launched.append(
                    EntityRun(entity=entity.key, run_id=launch(client, location, job_name, entity_tags, config))
                )
        except DagsterUnavailable as exc:
            raise dagster_unavailable(request, "Dagster could not launch the run", exc) from None
    if entities is not None:
        run_id = launched[0].run_id
    return RunAccepted(run_id=run_id, runs=launched, scheduled_for=instant, partition=partition, parameters=overrides)


def chosen_entities(spec: ScenarioSpec, wanted: str | None) -> list[Entity] | None:
    """With expand_from, the rows to run now (every one, or the one whose key is `wanted`); None without it.
    422 naming `entity` for an unknown key or a scenario without expand_from; 409 when the query cannot run or
    returns no rows."""

    def refuse(message: str) -> ApiValidationError:
        return ApiValidationError([{"loc": ["body", "entity"], "msg": message, "input": wanted}])

    if spec.trigger.expand_from is None:
        if wanted is not None:
            raise refuse("the scenario's trigger has no expand_from: it has no entities")
        return None
    try:
        found = expand(spec) or []
    except (ExpansionError, EntityRenderError) as exc:
        raise HTTPException(409, f"scenario {spec.id} cannot run: {exc}") from None
    if wanted is not None:
        found = [entity for entity in found if entity.key == wanted]
        if not found:
            raise refuse(f"no row of trigger.expand_from.sql has the key {wanted!r}")
    if not found:
        raise HTTPException(409, f"scenario {spec.id}: expand_from returned no rows, so there is nothing to run")
    return found


def past_instant(spec: ScenarioSpec, requested: dt.datetime, now: dt.datetime) -> dt.datetime:
    """The requested rerun instant in UTC; 422 naming `scheduled_for` unless it is a past instant of the trigger."""
    trigger, timezone = spec.trigger, spec.timezone

    def refuse(message: str) -> ApiValidationError:
        return ApiValidationError([{"loc": ["body", "scheduled_for"], "msg": message, "input": requested.isoformat()}])

    if requested.utcoffset() is None:
        raise refuse("needs a UTC offset (e.g. '2026-11-30T02:00:00+00:00')")
    if trigger.upstream is not None:
        raise refuse("the scenario runs on the success of another scenario: its trigger has no instants to rerun")
    if requested > now:
        raise refuse(f"is in the future (now is {now.isoformat(timespec='seconds')}): only past instants rerun")
    if not is_instant(trigger, timezone, requested):
        before = previous_instant(trigger, timezone, requested)
        hint = f"; the latest instant before it is {before.isoformat()}" if before is not None else ""
        raise refuse(f"is not an instant of the trigger ({trigger.describe(timezone)}){hint}")
    return requested.astimezone(dt.UTC)


def partition_key(spec: ScenarioSpec, instant: dt.datetime) -> str | None:
    """The partition a cron instant's run gets (the window that starts at it); None for other trigger kinds and
    for instants before the partitions start."""
    if spec.trigger.cron is None:
        return None
    partitions = cron_partitions(spec.trigger.cron, spec.timezone)
    if instant < partitions.start:
        return None
    return partitions.get_partition_key_for_timestamp(instant.timestamp())


def launch(client: DagsterClient, location: str, job_name: str, tags: dict[str, str], config: dict[str, Any]) -> str:
    """Launch the job with the run config of the version it runs (factory/run_config.py)."""
    try:
        return client.launch(location, job_name, tags, config)
    except DagsterUnavailable:
        # The location may not have caught up with the store (an earlier reload failed): reload once, retry.
        client.reload(location)
        return client.launch(location, job_name, tags, config)


@router.get("/{scenario_id}/runs", response_model=RunPage)
def list_runs(
    request: Request,
    scenario_id: int,
    project_id: ProjectDep,
    backends: BackendsDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RunPage:
    """Run history, newest first, from Dagster's run storage; keeps answering after the scenario is deleted."""
    if not is_row_id(scenario_id):
        raise HTTPException(404, f"no scenario {scenario_id} in project '{project_id}'")
    client = require_dagster(backends.dagster)
    tags = run_tags(project_id, scenario_id)
    try:
        total = client.run_count(tags)
        if total == 0 and not exists(backends.session, project_id, scenario_id):
            raise HTTPException(404, f"no scenario {scenario_id} in project '{project_id}'")
        records = client.run_records(tags, (page - 1) * page_size, page_size) if total else []
    except DagsterUnavailable as exc:
        raise dagster_unavailable(request, "Dagster's run storage is unavailable", exc) from None
    partitions = None
    if records and exists(backends.session, project_id, scenario_id):
        partitions = partitions_of(backends.plan_one(project_id, scenario_id).entries.get(scenario_id))
    return RunPage(
        items=[run_public(record, partitions) for record in records], page=page, page_size=page_size, total=total
    )


TICK_STATUSES: dict[TickOutcome, TickStatus] = {
    "fired": TickStatus.SUCCESS,
    "skipped": TickStatus.SKIPPED,
    "failed": TickStatus.FAILURE,
}


@router.get("/{scenario_id}/ticks", response_model=TickList)
def list_ticks(
    request: Request,
    scenario_id: int,
    project_id: ProjectDep,
    backends: BackendsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    outcome: Annotated[TickOutcome | None, Query(description="Only evaluations with this outcome.")] = None,
) -> TickList:
    """Recent evaluations of the scenario's trigger, newest first, from Dagster's tick history: when, whether it
    fired, skipped (and why: overlap, catch-up, nothing due) or failed, and the runs it created."""
    trigger = backends.plan_stored(project_id, scenario_id).trigger(scenario_id)
    client = require_dagster(backends.dagster)
    if trigger is None:  # a broken scenario has no trigger in Dagster
        return TickList(items=[])
    statuses = [TICK_STATUSES[outcome]] if outcome else list(TICK_STATUSES.values())
    try:
        ticks = client.ticks(trigger, limit, statuses)
    except DagsterUnavailable as exc:
        raise dagster_unavailable(request, "Dagster's tick history is unavailable", exc) from None
    return TickList(items=[tick_public(tick) for tick in ticks])


def exists(session: Session, project_id: str, scenario_id: int) -> bool:
    row = session.get(ScenarioRow, scenario_id) if is_row_id(scenario_id) else None
    return row is not None and row.project_id == project_id
