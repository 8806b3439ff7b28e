"""`/api/scheduler/scenarios`: a project's scenarios (its own and its template instances)."""

from __future__ import annotations

from typing import Annotated, Literal

from dagster._time import get_current_datetime
from fastapi import HTTPException, Query, Request, Response, status
from sqlalchemy.orm import Session

from api.deps import BackendsDep, ProjectDep, end_reads
from api.errors import dagster_unavailable, translated
from api.present import (
    latest_runs,
    partitions_of,
    run_public,
    run_tags,
    scenario_public,
    steps_of,
    trigger_statuses,
)
from api.routing import Router
from api.schemas import (
    ScenarioCreate,
    ScenarioDetail,
    ScenarioList,
    ScenarioPublic,
    ScenarioUpdate,
    VersionDetail,
    VersionList,
    VersionSummary,
    problem_responses,
)
from api.sync import canceled_header_doc, sync_dagster
from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable
from honeyframe_dagster.factory.planner import ProjectPlan
from honeyframe_dagster.model.steps import STEP_KINDS
from honeyframe_dagster.reconciler import Change
from honeyframe_dagster.store import service, versions
from honeyframe_dagster.store.service import is_row_id
from honeyframe_dagster.store.sla import missed_instants

router = Router(
    prefix="/api/scheduler/scenarios",
    tags=["scenarios"],
    responses=problem_responses(400, 401, 403, 404, 422, 429, 503),
)
StepKind = Literal[STEP_KINDS]  # type: ignore[valid-type]
LAST_RUNS = 100
PAGE_SIZE, MAX_PAGE_SIZE = 100, 500
WRITE_ERRORS = problem_responses(409, 413, 415)


def present(plan: ProjectPlan, scenario_id: int, client: DagsterClient | None, session: Session) -> ScenarioPublic:
    """The scenario as the API shows it; the store is read first, then Dagster (api/deps.py `end_reads`)."""
    missed = missed_instants(session, [scenario_id]).get(scenario_id)
    end_reads(session)
    statuses = trigger_statuses(client, plan.triggers([scenario_id]))
    entry = plan.entries[scenario_id]
    latest = latest_runs(client, entry.record.project_id, [scenario_id]).get(scenario_id)
    return scenario_public(entry, statuses, get_current_datetime(), latest, plan.paused, missed)


@router.get("", response_model=ScenarioList)
def list_scenarios(
    project_id: ProjectDep,
    backends: BackendsDep,
    step_kind: Annotated[StepKind | None, Query(description="Keep scenarios with a step of this kind.")] = None,
    page: Annotated[
        int | None, Query(ge=1, description="A page of the list (ordered by id); without page or page_size: all.")
    ] = None,
    page_size: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Scenarios per page (default {PAGE_SIZE}).")
    ] = None,
) -> ScenarioList:
    """The scenarios of the current project, own and template instances, ordered by id: every one, or one page
    (`page`, `page_size`); `total` counts them all (after `step_kind`)."""
    plan = backends.plan(project_id)
    entries = [plan.entries[i] for i in sorted(plan.entries)]
    if step_kind is not None:
        entries = [e for e in entries if any(step.kind == step_kind for step in steps_of(e))]
    total = len(entries)
    if page is not None or page_size is not None:
        page, page_size = page or 1, page_size or PAGE_SIZE
        entries = entries[(page - 1) * page_size : page * page_size]
    # Dagster is read for the scenarios shown only, each read in one batch, once the store's reads are done.
    ids = [e.record.id for e in entries]
    missed = missed_instants(backends.session, ids)
    end_reads(backends.session)
    statuses = trigger_statuses(backends.dagster, plan.triggers(ids))
    latest = latest_runs(backends.dagster, project_id, ids)
    now = get_current_datetime()
    items = [
        scenario_public(e, statuses, now, latest.get(e.record.id), plan.paused, missed.get(e.record.id))
        for e in entries
    ]
    return ScenarioList(items=items, total=total, page=page, page_size=page_size)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ScenarioPublic, responses=WRITE_ERRORS)
def create_scenario(
    body: ScenarioCreate, project_id: ProjectDep, backends: BackendsDep, response: Response
) -> ScenarioPublic:
    """Create a scenario; its job and trigger appear in the Dagster code location before this returns."""
    with translated():
        row = service.create_scenario(
            backends.session, project_id, body.model_dump(mode="json", exclude_none=True), backends.planner.recipes
        )
    scenario_id = row.id
    backends.session.commit()
    change = Change(reload_projects=[project_id], scenarios=[scenario_id], explicit=[scenario_id])
    sync_dagster(backends.session, backends.reconciler, response, change)
    return present(backends.plan_one(project_id, scenario_id), scenario_id, backends.dagster, backends.session)


@router.get("/{scenario_id}", response_model=ScenarioDetail)
def get_scenario(request: Request, scenario_id: int, project_id: ProjectDep, backends: BackendsDep) -> ScenarioDetail:
    """A scenario's config and its last 100 runs, newest first."""
    plan = backends.plan_stored(project_id, scenario_id)
    dagster = backends.dagster
    public = present(plan, scenario_id, dagster, backends.session)
    runs = []
    if dagster is not None:
        try:
            records = dagster.run_records(run_tags(project_id, scenario_id), 0, LAST_RUNS)
        except DagsterUnavailable as exc:
            raise dagster_unavailable(request, "Dagster's run storage is unavailable", exc) from None
        partitions = partitions_of(plan.entries[scenario_id])
        runs = [run_public(record, partitions) for record in records]
    return ScenarioDetail(**public.model_dump(), runs=runs)


@router.patch(
    "/{scenario_id}",
    response_model=ScenarioPublic,
    responses={**WRITE_ERRORS, **canceled_header_doc(200, "The scenario as stored")},
)
def update_scenario(
    scenario_id: int, body: ScenarioUpdate, project_id: ProjectDep, backends: BackendsDep, response: Response
) -> ScenarioPublic:
    """Change trigger, steps, enabled, name, owner or the e-mail recipients. Template instances: `enabled` only.

    Disabling (enabled true → false) cancels the scenario's queued runs; runs in progress go on."""
    given = body.model_fields_set
    # The dump leaves out None values: given nulls are kept (`owner: null` means the project owner; others: 422).
    fields = {key: None for key in given} | body.model_dump(mode="json", exclude_unset=True)
    with translated():
        written = service.update_scenario(backends.session, project_id, scenario_id, fields, backends.planner.recipes)
    backends.session.commit()
    # Only a new shape of the job or trigger reloads (an edit of recipients, a query, a toggle does not: runs carry
    # their version's config). A write that does not state `enabled` keeps what Dagster's UI set
    # (honeyframe_dagster/reconciler.py).
    change = Change(
        reload_projects=[project_id] if scenario_id in versions.reshaped(backends.session) else [],
        scenarios=[scenario_id],
        explicit=[scenario_id] if "enabled" in fields else [],
        stopped=[written.disabled] if written.disabled else [],
    )
    sync_dagster(backends.session, backends.reconciler, response, change)
    return present(backends.plan_one(project_id, scenario_id), scenario_id, backends.dagster, backends.session)


@router.delete(
    "/{scenario_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**problem_responses(409), **canceled_header_doc(204, "Deleted")},
)
def delete_scenario(scenario_id: int, project_id: ProjectDep, backends: BackendsDep) -> Response:
    """Remove the scenario and its job; its queued runs are canceled, the others stay in Dagster and in
    `GET .../runs`."""
    with translated():
        row = service.deletable_scenario(backends.session, project_id, scenario_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    triggers = backends.plan_one(project_id, scenario_id).triggers([scenario_id])
    deleted = service.delete_scenario(backends.session, row)
    backends.session.commit()
    change = Change(reload_projects=[project_id], stopped=[deleted], deleted=triggers, action="deleted")
    sync_dagster(backends.session, backends.reconciler, response, change)
    return response


@router.get("/{scenario_id}/versions", response_model=VersionList)
def list_versions(
    scenario_id: int,
    project_id: ProjectDep,
    backends: BackendsDep,
    page: Annotated[int | None, Query(ge=1, description="A page of the versions, newest first; default all.")] = None,
    page_size: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Versions per page (default {PAGE_SIZE}).")
    ] = None,
) -> VersionList:
    """The scenario's versions, newest first: when each was written, by whom, and the fields it changed."""
    with translated():
        service.scenario_row(backends.session, project_id, scenario_id)
    total = versions.version_count(backends.session, scenario_id)
    offset, limit = 0, None
    if page is not None or page_size is not None:
        page, page_size = page or 1, page_size or PAGE_SIZE
        offset, limit = (page - 1) * page_size, page_size
    items = [
        VersionSummary(version=v.version, created_at=v.created_at, created_by=v.created_by, changes=v.changes)
        for v in versions.list_versions(backends.session, scenario_id, offset, limit)
    ]
    return VersionList(items=items, total=total, page=page, page_size=page_size)


@router.get("/{scenario_id}/versions/{version}", response_model=VersionDetail)
def get_version(scenario_id: int, version: int, project_id: ProjectDep, backends: BackendsDep) -> VersionDetail:
    """One version of the scenario as it was resolved when written (templates rendered, timezone decided): what a
    run launched with it does."""
    with translated():
        service.scenario_row(backends.session, project_id, scenario_id)
    stored = versions.get_version(backends.session, scenario_id, version) if is_row_id(version) else None
    if stored is None:
        raise HTTPException(404, f"scenario {scenario_id} has no version {version}")
    spec = stored.spec
    return VersionDetail(
        version=stored.version,
        created_at=stored.created_at,
        created_by=stored.created_by,
        changes=list(stored.changes or []),
        id=scenario_id,
        project_id=project_id,
        name=spec["name"],
        template_slug=spec.get("template"),
        parameters=spec.get("parameters") or {},
        enabled=spec["enabled"],
        trigger=spec["trigger"],
        timezone=spec["timezone"],
        steps=spec["steps"],
        owner=spec["owner"],
    )
