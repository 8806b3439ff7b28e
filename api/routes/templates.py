"""`/api/scheduler/templates`: org-wide templates and the per-project enable matrix."""

from __future__ import annotations

import logging

from dagster._time import get_current_datetime
from fastapi import APIRouter, Body, Response, status
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import AdminDep, DagsterDep, PlannerDep, SessionDep, TokenDep
from api.errors import translated
from api.present import Planner, latest_runs, scenario_public, trigger_statuses
from api.schemas import EnableBody, MatrixCell, ScenarioPublic, TemplateList, TemplatePublic, problem_responses
from api.sync import CancelQueued, cancel_queued, canceled_header_doc, sync_dagster
from honeyframe_dagster.model.documents import Template
from honeyframe_dagster.store import service
from honeyframe_dagster.store.catalog import template_model
from honeyframe_dagster.store.service import stored_parameters
from honeyframe_dagster.store.tables import ScenarioRow, TemplateRow

log = logging.getLogger("honeyframe.api")

router = APIRouter(
    prefix="/api/scheduler/templates", tags=["templates"], responses=problem_responses(401, 403, 404, 422, 503)
)
WRITE_ERRORS = problem_responses(409, 413, 415)


def template_public(row: TemplateRow, cells: list[ScenarioRow]) -> TemplatePublic:
    template = template_model(row)
    return TemplatePublic(
        slug=template.slug,
        display_name=template.display_name,
        default_enabled=template.default_enabled,
        parameters=template.parameters,
        trigger=template.trigger,
        steps=template.steps,
        matrix=[
            MatrixCell(project_id=c.project_id, scenario_id=c.id, enabled=c.enabled, parameters=stored_parameters(c))
            for c in cells
        ],
    )


@router.get("", response_model=TemplateList)
def list_templates(token: TokenDep, session: SessionDep) -> TemplateList:
    """Every template, with the matrix cells of the projects this token may act on."""
    cells: dict[str, list[ScenarioRow]] = {}
    statement = select(ScenarioRow).where(ScenarioRow.template_slug.is_not(None)).order_by(ScenarioRow.project_id)
    for cell in session.scalars(statement):
        if token.may_act_on(cell.project_id):
            cells.setdefault(str(cell.template_slug), []).append(cell)
    items = []
    for row in session.scalars(select(TemplateRow).order_by(TemplateRow.slug)):
        try:
            items.append(template_public(row, cells.get(row.slug, [])))
        except ValidationError as exc:
            # A hand-edited template that no longer validates: its instances show the error; the list goes on.
            log.error("stored template '%s' is invalid and is not listed: %s", row.slug, exc)
    return TemplateList(items=items)


@router.post(
    "",
    response_model=TemplatePublic,
    responses={201: {"description": "Created", "model": TemplatePublic}, **WRITE_ERRORS},
)
def put_template(
    body: Template, token: AdminDep, session: SessionDep, dagster: DagsterDep, planner: PlannerDep, response: Response
) -> TemplatePublic:
    """Create or replace a template (admin). Every project's instance of it is re-checked; 422 if one breaks."""
    with translated():
        created = service.put_template(session, body, planner.recipes)
    session.commit()
    # Only the locations serving a project with an instance of this template have anything to reload.
    holders = session.scalars(select(ScenarioRow.project_id).where(ScenarioRow.template_slug == body.slug))
    sync_dagster(dagster, response, planner.locations_of(holders))
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    row = session.get(TemplateRow, body.slug)
    assert row is not None
    return template_public(
        row, list(session.scalars(select(ScenarioRow).where(ScenarioRow.template_slug == body.slug)))
    )


def _cell_response(
    session: Session,
    project_id: str,
    cell_id: int,
    dagster: DagsterDep,
    planner: Planner,
    response: Response,
    cancel: CancelQueued | None = None,
    *,
    reload: bool,
) -> ScenarioPublic:
    """`reload`: the cell's job changed (created, new parameters); otherwise only its trigger's status is set."""
    plan = planner.plan_one(session, project_id, cell_id)
    sync_dagster(dagster, response, plan.location if reload else [], plan.status_changes(cell_id), cancel=cancel)
    statuses = trigger_statuses(dagster, plan.triggers([cell_id]))
    latest = latest_runs(dagster, project_id, [cell_id]).get(cell_id)
    return scenario_public(plan.entries[cell_id], statuses, get_current_datetime(), latest)


@router.post("/{slug}/enable/{project_id}", response_model=ScenarioPublic, responses=WRITE_ERRORS)
def enable(
    slug: str,
    project_id: str,
    token: AdminDep,
    session: SessionDep,
    dagster: DagsterDep,
    planner: PlannerDep,
    response: Response,
    body: EnableBody | None = Body(default=None),  # noqa: B008 - an optional body
) -> ScenarioPublic:
    """Enable the template for a project (admin), with parameter values merged over the stored ones."""
    with translated():
        written = service.enable_template(session, slug, project_id, body.parameters if body else {}, planner.recipes)
    session.commit()
    return _cell_response(session, project_id, written.cell.id, dagster, planner, response, reload=written.reload)


@router.post(
    "/{slug}/disable/{project_id}",
    response_model=ScenarioPublic,
    responses=canceled_header_doc(200, "The template instance, disabled"),
)
def disable(
    slug: str,
    project_id: str,
    token: AdminDep,
    session: SessionDep,
    dagster: DagsterDep,
    planner: PlannerDep,
    response: Response,
) -> ScenarioPublic:
    """Disable the template for a project (admin): its trigger stops and its queued runs are canceled
    (`X-Honeyframe-Canceled-Runs`); runs in progress, the job, run history and parameters stay."""
    with translated():
        written = service.disable_template(session, slug, project_id)
    cancel = cancel_queued(written.disabled, "disabled") if written.disabled else None
    session.commit()
    return _cell_response(session, project_id, written.cell.id, dagster, planner, response, cancel, reload=False)
