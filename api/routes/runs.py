"""`/api/scheduler/scenarios/{id}/run[s]`: out-of-band runs and run history, both through Dagster."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy.orm import Session

from api.deps import DagsterDep, PlannerDep, ProjectDep, SessionDep
from api.errors import dagster_unavailable
from api.present import partitions_of, run_public, run_tags
from api.scenario_writes import scenario_row
from api.schemas import RunAccepted, RunPage, problem_responses
from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable
from honeyframe_dagster.factory.jobs import scenario_tags
from honeyframe_dagster.factory.triggers import cron_partitions
from honeyframe_dagster.store.tables import ScenarioRow

router = APIRouter(
    prefix="/api/scheduler/scenarios", tags=["runs"], responses=problem_responses(400, 401, 403, 404, 422, 503)
)
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
    responses=problem_responses(409),
)
def run_now(
    request: Request,
    scenario_id: int,
    project_id: ProjectDep,
    session: SessionDep,
    dagster: DagsterDep,
    planner: PlannerDep,
) -> RunAccepted:
    """Launch a run now, whatever the trigger says and also when the scenario is disabled.

    A cron scenario's job is partitioned by its schedule instants: the run is for the latest instant up to now,
    the partition its schedule ran (or would have run) last.
    """
    client = require_dagster(dagster)
    scenario_row(session, project_id, scenario_id)
    plan = planner.plan(session, project_id)
    entry = plan.entries[scenario_id]
    if entry.spec is None:
        raise HTTPException(409, f"scenario {scenario_id} cannot run: {entry.error}")
    tags = {**scenario_tags(entry.spec), TRIGGER_TAG: "manual"}
    if entry.spec.trigger.cron is not None:
        partitions = cron_partitions(entry.spec.trigger.cron, entry.spec.timezone)
        key = partitions.get_last_partition_key()
        if key is not None:
            tags[PARTITION_TAG] = key
    try:
        run_id = launch(client, plan.location, entry.job_name, tags)
    except DagsterUnavailable as exc:
        raise dagster_unavailable(request, "Dagster could not launch the run", exc) from None
    return RunAccepted(run_id=run_id)


def launch(client: DagsterClient, location: str, job_name: str, tags: dict[str, str]) -> str:
    try:
        return client.launch(location, job_name, tags)
    except DagsterUnavailable:
        # The location may not have caught up with the store (an earlier reload failed): reload once, retry.
        client.reload(location)
        return client.launch(location, job_name, tags)


@router.get("/{scenario_id}/runs", response_model=RunPage)
def list_runs(
    request: Request,
    scenario_id: int,
    project_id: ProjectDep,
    session: SessionDep,
    dagster: DagsterDep,
    planner: PlannerDep,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RunPage:
    """Run history, newest first, from Dagster's run storage; keeps answering after the scenario is deleted."""
    client = require_dagster(dagster)
    tags = run_tags(project_id, scenario_id)
    try:
        total = client.run_count(tags)
        if total == 0 and not exists(session, project_id, scenario_id):
            raise HTTPException(404, f"no scenario {scenario_id} in project '{project_id}'")
        records = client.run_records(tags, (page - 1) * page_size, page_size) if total else []
    except DagsterUnavailable as exc:
        raise dagster_unavailable(request, "Dagster's run storage is unavailable", exc) from None
    partitions = None
    if records and exists(session, project_id, scenario_id):
        partitions = partitions_of(planner.plan(session, project_id).entries.get(scenario_id))
    return RunPage(
        items=[run_public(record, partitions) for record in records], page=page, page_size=page_size, total=total
    )


def exists(session: Session, project_id: str, scenario_id: int) -> bool:
    row = session.get(ScenarioRow, scenario_id)
    return row is not None and row.project_id == project_id
