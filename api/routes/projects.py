"""`/api/scheduler/projects`: projects over REST, written through the same path as `honeyframe apply`."""

from __future__ import annotations

from fastapi import Body, HTTPException, Response, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.deps import AdminDep, PlannerDep, ReconcilerDep, SessionDep, TokenDep
from api.errors import translated
from api.routing import Router
from api.schemas import PauseBody, ProjectCreate, ProjectList, ProjectPublic, ProjectUpdate, problem_responses
from api.sync import canceled_header_doc, sync_dagster
from honeyframe_dagster.model.documents import Project
from honeyframe_dagster.reconciler import Change
from honeyframe_dagster.store import service, versions
from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow
from honeyframe_dagster.tokens import TokenGrant

router = Router(
    prefix="/api/scheduler/projects", tags=["projects"], responses=problem_responses(401, 403, 404, 422, 429, 503)
)
WRITE_ERRORS = problem_responses(409, 413, 415)


def project_public(row: ProjectRow) -> ProjectPublic:
    return ProjectPublic.model_validate(row, from_attributes=True)


def project_row(session: Session, token: TokenGrant, project_id: str) -> ProjectRow:
    """403 before 404, so that a project token learns nothing about projects it may not act on."""
    if not token.may_act_on(project_id):
        raise HTTPException(403, f"token '{token.name}' may not act on project '{project_id}'")
    with translated():
        return service.project_row(session, project_id)


@router.get("", response_model=ProjectList)
def list_projects(token: TokenDep, session: SessionDep) -> ProjectList:
    """The projects this token may act on, by id."""
    rows = session.scalars(select(ProjectRow).order_by(ProjectRow.id))
    return ProjectList(items=[project_public(row) for row in rows if token.may_act_on(row.id)])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectPublic, responses=WRITE_ERRORS)
def create_project(
    body: ProjectCreate,
    token: AdminDep,
    session: SessionDep,
    reconciler: ReconcilerDep,
    planner: PlannerDep,
    response: Response,
) -> ProjectPublic:
    """Create a project (admin); it gets every `default_enabled` template, as with `honeyframe apply`."""
    with translated():
        service.create_project(session, Project(**body.model_dump()), planner.recipes)
    try:
        session.commit()
    except IntegrityError:  # created by a concurrent request since the check above
        session.rollback()
        raise HTTPException(409, f"project '{body.id}' exists already") from None
    # The inherited template instances get their jobs and triggers, RUNNING like any enabled cell.
    cells = list(session.scalars(select(ScenarioRow.id).where(ScenarioRow.project_id == body.id)))
    sync_dagster(session, reconciler, response, Change(reload_projects=[body.id], scenarios=cells))
    row = session.get(ProjectRow, body.id)
    assert row is not None
    return project_public(row)


@router.get("/{project_id}", response_model=ProjectPublic)
def get_project(project_id: str, token: TokenDep, session: SessionDep) -> ProjectPublic:
    """One project; a project token reads its own."""
    return project_public(project_row(session, token, project_id))


@router.patch("/{project_id}", response_model=ProjectPublic, responses=WRITE_ERRORS)
def update_project(
    project_id: str,
    body: ProjectUpdate,
    token: TokenDep,
    session: SessionDep,
    reconciler: ReconcilerDep,
    planner: PlannerDep,
    response: Response,
) -> ProjectPublic:
    """Change name, owner_email, timezone or (an admin token only) secrets. Cron triggers without their own timezone
    follow the new one."""
    project_row(session, token, project_id)
    if "secrets" in body.model_fields_set and not token.is_admin:
        raise HTTPException(403, f"token '{token.name}' is not an admin token; only an admin grants secrets")
    with translated():
        row = service.update_project(
            session, project_id, {key: getattr(body, key) for key in body.model_fields_set}, planner.recipes
        )
    session.commit()
    # Cron triggers carry their timezone, and template steps may render the project's fields: the location reloads
    # when a job or trigger changed shape.
    reload = [project_id] if versions.reshaped(session) else []
    sync_dagster(session, reconciler, response, Change(reload_projects=reload))
    session.refresh(row)
    return project_public(row)


@router.post(
    "/{project_id}/pause",
    response_model=ProjectPublic,
    responses=canceled_header_doc(200, "The project, paused"),
)
def pause_project(
    project_id: str,
    token: TokenDep,
    session: SessionDep,
    reconciler: ReconcilerDep,
    response: Response,
    body: PauseBody | None = Body(default=None),  # noqa: B008 - an optional body
) -> ProjectPublic:
    """Pause the project (an admin, or the project's token): every trigger of it stops in Dagster and its queued
    runs are canceled; no scenario's `enabled` changes. Its scenarios show `paused: true` and `next_run_at: null`
    until `POST …/resume`."""
    project_row(session, token, project_id)
    with translated():
        paused = service.pause_project(session, project_id, body.note if body else None)
    session.commit()
    # No reload: every trigger is stopped explicitly, so that resuming starts it explicitly (a fresh cadence).
    change = Change(
        scenarios=paused.scenarios,
        explicit=paused.scenarios,
        stopped=paused.stopped,
        action=f"paused with project '{project_id}'",
    )
    sync_dagster(session, reconciler, response, change)
    session.refresh(paused.row)
    return project_public(paused.row)


@router.post("/{project_id}/resume", response_model=ProjectPublic)
def resume_project(
    project_id: str, token: TokenDep, session: SessionDep, reconciler: ReconcilerDep, response: Response
) -> ProjectPublic:
    """Resume the project: exactly its enabled scenarios' triggers start again, from now (the instants of the
    pause are not caught up)."""
    project_row(session, token, project_id)
    with translated():
        resumed = service.resume_project(session, project_id)
    session.commit()
    sync_dagster(session, reconciler, response, Change(scenarios=resumed.scenarios, explicit=resumed.scenarios))
    session.refresh(resumed.row)
    return project_public(resumed.row)
