"""`/api/scheduler/templates`: org-wide templates and the per-project enable matrix."""

from __future__ import annotations

import logging

from dagster._time import get_current_datetime
from fastapi import Body, Response, status
from pydantic import ValidationError
from sqlalchemy import select

from api.deps import AdminDep, Backends, BackendsDep, SessionDep, TokenDep, end_reads
from api.errors import translated
from api.present import latest_runs, scenario_public, trigger_statuses
from api.routing import Router
from api.schemas import EnableBody, MatrixCell, ScenarioPublic, TemplateList, TemplatePublic, problem_responses
from api.sync import canceled_header_doc, sync_dagster
from honeyframe_dagster.model.documents import Template
from honeyframe_dagster.reconciler import Change
from honeyframe_dagster.store import service, versions
from honeyframe_dagster.store.catalog import template_model
from honeyframe_dagster.store.service import stored_parameters
from honeyframe_dagster.store.tables import ScenarioRow, TemplateRow

log = logging.getLogger("honeyframe.api")

router = Router(
    prefix="/api/scheduler/templates", tags=["templates"], responses=problem_responses(401, 403, 404, 422, 429, 503)
)
WRITE_ERRORS = problem_responses(409, 413, 415)


def template_public(row: TemplateRow, cells: list[ScenarioRow]) -> TemplatePublic:
    matrix = [
        MatrixCell(project_id=c.project_id, scenario_id=c.id, enabled=c.enabled, parameters=stored_parameters(c))
        for c in cells
    ]
    # The template's own fields (shallow: its trigger and steps stay models), and the matrix.
    return TemplatePublic.model_validate({**dict(template_model(row)), "matrix": matrix})


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
def put_template(body: Template, token: AdminDep, backends: BackendsDep, response: Response) -> TemplatePublic:
    """Create or replace a template (admin). Every project's instance of it is re-checked; 422 if one breaks."""
    session = backends.session
    with translated():
        created = service.put_template(session, body, backends.planner.recipes)
    session.commit()
    # Only the locations serving a project with an instance of this template have anything to reload.
    cells = list(
        session.execute(
            select(ScenarioRow.id, ScenarioRow.project_id).where(ScenarioRow.template_slug == body.slug)
        ).tuples()
    )
    changed = versions.reshaped(session)
    reload = {project_id for scenario_id, project_id in cells if scenario_id in changed}
    change = Change(reload_projects=reload, scenarios=[i for i, _ in cells])
    sync_dagster(backends.session, backends.reconciler, response, change)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    row = session.get(TemplateRow, body.slug)
    assert row is not None
    return template_public(
        row, list(session.scalars(select(ScenarioRow).where(ScenarioRow.template_slug == body.slug)))
    )


def _cell_response(backends: Backends, written: service.CellWrite, response: Response) -> ScenarioPublic:
    """The cell after the write, committed; its location reloads when its job changed (`written.reload`: created,
    new parameters), else only its trigger's status is set (the write states `enabled`: Dagster follows it)."""
    project_id, cell_id, dagster = written.cell.project_id, written.cell.id, backends.dagster
    backends.session.commit()
    change = Change(
        reload_projects=[project_id] if written.reload else [],
        scenarios=[cell_id],
        explicit=[cell_id],
        stopped=[written.disabled] if written.disabled else [],
    )
    sync_dagster(backends.session, backends.reconciler, response, change)
    plan = backends.plan_one(project_id, cell_id)
    end_reads(backends.session)
    statuses = trigger_statuses(dagster, plan.triggers([cell_id]))
    latest = latest_runs(dagster, project_id, [cell_id]).get(cell_id)
    return scenario_public(plan.entries[cell_id], statuses, get_current_datetime(), latest, plan.paused)


@router.post("/{slug}/enable/{project_id}", response_model=ScenarioPublic, responses=WRITE_ERRORS)
def enable(
    slug: str,
    project_id: str,
    token: AdminDep,
    backends: BackendsDep,
    response: Response,
    body: EnableBody | None = Body(default=None),  # noqa: B008 - an optional body
) -> ScenarioPublic:
    """Enable the template for a project (admin), with parameter values merged over the stored ones."""
    parameters, recipes = body.parameters if body else {}, backends.planner.recipes
    with translated():
        written = service.enable_template(backends.session, slug, project_id, parameters, recipes)
    return _cell_response(backends, written, response)


@router.post(
    "/{slug}/disable/{project_id}",
    response_model=ScenarioPublic,
    responses=canceled_header_doc(200, "The template instance, disabled"),
)
def disable(slug: str, project_id: str, token: AdminDep, backends: BackendsDep, response: Response) -> ScenarioPublic:
    """Disable the template for a project (admin): its trigger stops and its queued runs are canceled
    (`X-Honeyframe-Canceled-Runs`); runs in progress, the job, run history and parameters stay."""
    with translated():
        written = service.disable_template(backends.session, slug, project_id)
    return _cell_response(backends, written, response)
