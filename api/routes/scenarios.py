"""`/api/scheduler/scenarios`: a project's scenarios (its own and its template instances)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from dagster._time import get_current_datetime
from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from api.deps import DagsterDep, PlannerDep, ProjectDep, SessionDep
from api.errors import ApiValidationError, dagster_unavailable
from api.present import (
    ProjectPlan,
    latest_runs,
    partitions_of,
    run_public,
    run_tags,
    scenario_public,
    steps_of,
    trigger_statuses,
)
from api.scenario_writes import name_taken, refuse_if_referenced, scenario_document, scenario_row, write_checked
from api.schemas import ScenarioCreate, ScenarioDetail, ScenarioList, ScenarioPublic, ScenarioUpdate, problem_responses
from api.sync import cancel_queued, canceled_header_doc, sync_dagster
from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable
from honeyframe_dagster.model.steps import STEP_KINDS
from honeyframe_dagster.store.tables import ScenarioRow
from honeyframe_dagster.store.writes import lock_projects

router = APIRouter(
    prefix="/api/scheduler/scenarios",
    tags=["scenarios"],
    responses=problem_responses(400, 401, 403, 404, 422, 503),
)
StepKind = Literal[STEP_KINDS]  # type: ignore[valid-type]
LAST_RUNS = 100
PAGE_SIZE, MAX_PAGE_SIZE = 100, 500
NOT_NULL = ("name", "enabled", "trigger", "steps", "recipients")
WRITE_ERRORS = problem_responses(409, 413, 415)


def present(plan: ProjectPlan, scenario_id: int, client: DagsterClient | None) -> ScenarioPublic:
    statuses = trigger_statuses(client, plan.triggers([scenario_id]))
    entry = plan.entries[scenario_id]
    latest = latest_runs(client, entry.record.project_id, [scenario_id]).get(scenario_id)
    return scenario_public(entry, statuses, get_current_datetime(), latest)


@router.get("", response_model=ScenarioList)
def list_scenarios(
    project_id: ProjectDep,
    session: SessionDep,
    dagster: DagsterDep,
    planner: PlannerDep,
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
    plan = planner.plan(session, project_id)
    entries = [plan.entries[i] for i in sorted(plan.entries)]
    if step_kind is not None:
        entries = [e for e in entries if any(step.kind == step_kind for step in steps_of(e))]
    total = len(entries)
    if page is not None or page_size is not None:
        page, page_size = page or 1, page_size or PAGE_SIZE
        entries = entries[(page - 1) * page_size : page * page_size]
    # Dagster is read for the scenarios shown only, each read in one batch.
    ids = [e.record.id for e in entries]
    statuses = trigger_statuses(dagster, plan.triggers(ids))
    latest = latest_runs(dagster, project_id, ids)
    now = get_current_datetime()
    items = [scenario_public(e, statuses, now, latest.get(e.record.id)) for e in entries]
    return ScenarioList(items=items, total=total, page=page, page_size=page_size)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ScenarioPublic, responses=WRITE_ERRORS)
def create_scenario(
    body: ScenarioCreate,
    project_id: ProjectDep,
    session: SessionDep,
    dagster: DagsterDep,
    planner: PlannerDep,
    response: Response,
) -> ScenarioPublic:
    """Create a scenario; its job and trigger appear in the Dagster code location before this returns."""
    lock_projects(session, [project_id])
    if name_taken(session, project_id, body.name):
        raise HTTPException(409, f"project '{project_id}' has a scenario named '{body.name}' already")
    raw = body.model_dump(mode="json", exclude_none=True)
    document = scenario_document({**raw, "project": project_id})
    row = ScenarioRow(project_id=project_id, name=document.name, template_slug=None, parameters={})
    session.add(row)
    write_checked(session, row, document, planner.recipes, raw)
    session.commit()
    plan = planner.plan_one(session, project_id, row.id)
    sync_dagster(dagster, response, plan.location, plan.status_changes(row.id))
    return present(plan, row.id, dagster)


@router.get("/{scenario_id}", response_model=ScenarioDetail)
def get_scenario(
    request: Request,
    scenario_id: int,
    project_id: ProjectDep,
    session: SessionDep,
    dagster: DagsterDep,
    planner: PlannerDep,
) -> ScenarioDetail:
    """A scenario's config and its last 100 runs, newest first."""
    scenario_row(session, project_id, scenario_id)
    plan = planner.plan_one(session, project_id, scenario_id)
    public = present(plan, scenario_id, dagster)
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
    scenario_id: int,
    body: ScenarioUpdate,
    project_id: ProjectDep,
    session: SessionDep,
    dagster: DagsterDep,
    planner: PlannerDep,
    response: Response,
) -> ScenarioPublic:
    """Change trigger, steps, enabled, name, owner or the e-mail recipients. Template instances: `enabled` only.

    Disabling (enabled true → false) cancels the scenario's queued runs; runs in progress go on."""
    given = body.model_fields_set
    nulls = [key for key in NOT_NULL if key in given and getattr(body, key) is None]
    if nulls:
        raise ApiValidationError([{"loc": ["body", key], "msg": "may not be null", "input": None} for key in nulls])
    # The dump leaves out None values; `owner: null` (back to the project owner) is the one that means something.
    fields = {**({"owner": None} if "owner" in given else {}), **body.model_dump(mode="json", exclude_unset=True)}
    lock_projects(session, [project_id])
    row = scenario_row(session, project_id, scenario_id)
    was_enabled = row.enabled
    if row.template_slug is not None:
        others = sorted(set(fields) - {"enabled"})
        if others:
            raise HTTPException(
                409,
                f"scenario {scenario_id} is an instance of template '{row.template_slug}': its {', '.join(others)} "
                "come(s) from the template; change them with POST /api/scheduler/templates (or its parameters with "
                f"POST /api/scheduler/templates/{row.template_slug}/enable/{project_id}); "
                "only 'enabled' may change here",
            )
    else:
        apply_update(session, row, fields, planner.recipes)
    if "enabled" in fields:
        row.enabled = fields["enabled"]
    session.commit()
    plan = planner.plan_one(session, project_id, scenario_id)
    cancel = cancel_queued(project_id, scenario_id, row.name, "disabled") if was_enabled and not row.enabled else None
    # Enabling or disabling leaves the job as it is: set the trigger's status, reload nothing.
    reload = [] if set(fields) <= {"enabled"} else plan.location
    sync_dagster(dagster, response, reload, plan.status_changes(scenario_id), cancel=cancel)
    return present(plan, scenario_id, dagster)


def apply_update(session: SessionDep, row: ScenarioRow, fields: dict[str, Any], recipes: frozenset[str]) -> None:
    name = fields.get("name", row.name)
    if name != row.name:
        if name_taken(session, row.project_id, name):
            raise HTTPException(409, f"project '{row.project_id}' has a scenario named '{name}' already")
        refuse_if_referenced(session, row.project_id, row.name, "rename")
    steps = fields.get("steps", row.steps)
    if "recipients" in fields:
        reports = [step for step in steps if isinstance(step, dict) and step.get("kind") == "send_email_report"]
        if not reports:
            raise ApiValidationError(
                [
                    {
                        "loc": ["body", "recipients"],
                        "msg": "the scenario has no send_email_report step",
                        "input": fields["recipients"],
                    }
                ]
            )
        steps = [{**s, "recipients": fields["recipients"]} if s in reports else s for s in steps]
    merged = {
        "project": row.project_id,
        "name": name,
        "enabled": fields.get("enabled", row.enabled),
        "owner": fields.get("owner", row.owner),
        "trigger": fields.get("trigger", row.trigger),
        "steps": steps,
    }
    write_checked(session, row, scenario_document(merged), recipes, merged)


@router.delete(
    "/{scenario_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**problem_responses(409), **canceled_header_doc(204, "Deleted")},
)
def delete_scenario(
    scenario_id: int, project_id: ProjectDep, session: SessionDep, dagster: DagsterDep, planner: PlannerDep
) -> Response:
    """Remove the scenario and its job; its queued runs are canceled, the others stay in Dagster and in
    `GET .../runs`."""
    lock_projects(session, [project_id])
    row = scenario_row(session, project_id, scenario_id)
    if row.template_slug is None:
        refuse_if_referenced(session, project_id, row.name, "delete")
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    plan = planner.plan_one(session, project_id, scenario_id)
    cancel = cancel_queued(project_id, scenario_id, row.name, "deleted")
    session.delete(row)
    session.commit()
    sync_dagster(dagster, response, plan.location, stop_first=plan.triggers([scenario_id]), cancel=cancel)
    return response
