"""`/api/scheduler/templates`: org-wide templates and the per-project enable matrix."""

from __future__ import annotations

import logging
import re
from typing import Any

from dagster._time import get_current_datetime
from fastapi import APIRouter, Body, HTTPException, Response, status
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import AdminDep, DagsterDep, PlannerDep, SessionDep, TokenDep
from api.errors import ApiValidationError, error_item
from api.present import Planner, latest_runs, scenario_public, trigger_statuses
from api.schemas import EnableBody, MatrixCell, ScenarioPublic, TemplateList, TemplatePublic, problem_responses
from api.sync import CancelQueued, cancel_queued, canceled_header_doc, sync_dagster
from honeyframe_dagster.model.documents import PROJECT_ID_PATTERN, SLUG_PATTERN, Matrix, Template
from honeyframe_dagster.store.catalog import template_model
from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow, TemplateRow
from honeyframe_dagster.store.writes import ApplyError, apply_documents, lock_projects

log = logging.getLogger("honeyframe.api")

_LIST_ITEM = re.compile(r"parameter '(?P<name>[A-Za-z_][A-Za-z0-9_]*)\[(?P<index>\d+)\]'")
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


def stored_parameters(cell: ScenarioRow) -> dict[str, Any]:
    """A cell's parameter values; a corrupt stored value reads as none (the cell's scenario shows the error)."""
    return dict(cell.parameters) if isinstance(cell.parameters, dict) else {}


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
    lock_projects(session, None)
    created = session.get(TemplateRow, body.slug) is None
    raw = body.model_dump(mode="json")
    try:
        apply_documents(session, [body], planner.recipes)
    except ApplyError as exc:
        raise ApiValidationError([error_item(str(exc), raw)]) from None
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


def _lock_cell(session: Session, slug: str, project_id: str) -> None:
    """Take the project's write lock; a path that cannot be a slug or a project id names nothing (and is not sent
    to the database, where a NUL in it was a 500 on Postgres)."""
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise HTTPException(404, f"unknown template '{slug}'")
    if not re.fullmatch(PROJECT_ID_PATTERN, project_id):
        raise HTTPException(404, f"unknown project '{project_id}'")
    lock_projects(session, [project_id])


def _cell_context(session: Session, slug: str, project_id: str) -> ScenarioRow | None:
    if session.get(TemplateRow, slug) is None:
        raise HTTPException(404, f"unknown template '{slug}'")
    if session.get(ProjectRow, project_id) is None:
        raise HTTPException(404, f"unknown project '{project_id}'")
    return session.scalar(
        select(ScenarioRow).where(ScenarioRow.project_id == project_id, ScenarioRow.template_slug == slug)
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
    _lock_cell(session, slug, project_id)
    cell = _cell_context(session, slug, project_id)
    parameters = {**(stored_parameters(cell) if cell else {}), **(body.parameters if body else {})}
    reload = cell is None or parameters != stored_parameters(cell)
    try:
        apply_documents(
            session, [Matrix(template=slug, project=project_id, enabled=True, parameters=parameters)], planner.recipes
        )
    except ApplyError as exc:
        raise ApiValidationError([_parameter_error(str(exc), parameters)]) from None
    session.commit()
    cell = _cell_context(session, slug, project_id)
    assert cell is not None
    return _cell_response(session, project_id, cell.id, dagster, planner, response, reload=reload)


def _parameter_error(message: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Errors in the rendered steps (e.g. an unknown recipe) point at the parameter that supplied the value;
    an error in one item of a list parameter (`parameter 'recipients[1]'`) points at that item."""
    item = error_item(message, {"parameters": parameters})
    listed = _LIST_ITEM.search(item["msg"])
    if listed:
        name, index = listed.group("name"), int(listed.group("index"))
        values = parameters.get(name)
        value = values[index] if isinstance(values, list) and index < len(values) else None
        return {**item, "loc": ["body", "parameters", name, index], "input": value}
    if item["loc"][1:2] != ["parameters"]:
        for name, value in parameters.items():
            if value == item["input"]:
                return {**item, "loc": ["body", "parameters", name]}
    return item


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
    _lock_cell(session, slug, project_id)
    cell = _cell_context(session, slug, project_id)
    if cell is None:
        raise HTTPException(404, f"template '{slug}' is not instantiated for project '{project_id}'")
    cancel = cancel_queued(project_id, cell.id, cell.name, "disabled") if cell.enabled else None
    cell.enabled = False
    session.commit()
    return _cell_response(session, project_id, cell.id, dagster, planner, response, cancel, reload=False)
