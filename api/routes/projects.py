"""`/api/scheduler/projects`: projects over REST, written through the same path as `honeyframe apply`."""

from __future__ import annotations

import re

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.deps import AdminDep, DagsterDep, PlannerDep, SessionDep, TokenDep
from api.errors import ApiValidationError
from api.schemas import ProjectCreate, ProjectList, ProjectPublic, ProjectUpdate, problem_responses
from api.sync import sync_dagster
from honeyframe_dagster.model.documents import PROJECT_ID_PATTERN, Project
from honeyframe_dagster.store.tables import ProjectRow
from honeyframe_dagster.store.writes import apply_documents, lock_projects
from honeyframe_dagster.tokens import TokenGrant

router = APIRouter(
    prefix="/api/scheduler/projects", tags=["projects"], responses=problem_responses(401, 403, 404, 422, 503)
)
WRITE_ERRORS = problem_responses(409, 413, 415)
NOT_NULL = ("name", "owner_email")


def project_public(row: ProjectRow) -> ProjectPublic:
    return ProjectPublic(
        id=row.id,
        name=row.name,
        owner_email=row.owner_email,
        timezone=row.timezone,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def project_row(session: Session, token: TokenGrant, project_id: str) -> ProjectRow:
    """403 before 404, so that a project token learns nothing about projects it may not act on."""
    if not token.may_act_on(project_id):
        raise HTTPException(403, f"token '{token.name}' may not act on project '{project_id}'")
    # An id that cannot be a project's names none (and is not sent to the database).
    row = session.get(ProjectRow, project_id) if re.fullmatch(PROJECT_ID_PATTERN, project_id) else None
    if row is None:
        raise HTTPException(404, f"unknown project '{project_id}'")
    return row


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
    dagster: DagsterDep,
    planner: PlannerDep,
    response: Response,
) -> ProjectPublic:
    """Create a project (admin); it gets every `default_enabled` template, as with `honeyframe apply`."""
    lock_projects(session, [body.id])  # so a concurrent create of the same id is seen below, not overwritten
    if session.get(ProjectRow, body.id) is not None:
        raise HTTPException(409, f"project '{body.id}' exists already")
    apply_documents(session, [Project(**body.model_dump())], planner.recipes)
    try:
        session.commit()
    except IntegrityError:  # created by a concurrent request since the check above
        session.rollback()
        raise HTTPException(409, f"project '{body.id}' exists already") from None
    plan = planner.plan(session, body.id)
    # The inherited template instances get their jobs and triggers, RUNNING like any enabled cell.
    changes = [change for scenario_id in sorted(plan.entries) for change in plan.status_changes(scenario_id)]
    sync_dagster(dagster, response, plan.location, changes)
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
    dagster: DagsterDep,
    planner: PlannerDep,
    response: Response,
) -> ProjectPublic:
    """Change name, owner_email or timezone. Cron triggers without their own timezone follow the new one."""
    row = project_row(session, token, project_id)
    fields = {key: getattr(body, key) for key in body.model_fields_set}
    nulls = [key for key in NOT_NULL if key in fields and fields[key] is None]
    if nulls:
        raise ApiValidationError([{"loc": ["body", key], "msg": "may not be null", "input": None} for key in nulls])
    lock_projects(session, [project_id])  # `row` is read again under the lock: no concurrent change is lost
    current = {"id": row.id, "name": row.name, "owner_email": row.owner_email, "timezone": row.timezone}
    apply_documents(session, [Project(**{**current, **fields})], planner.recipes)
    session.commit()
    # Cron triggers carry their timezone, and template steps may render the project's fields: rebuild the location.
    sync_dagster(dagster, response, planner.plan(session, project_id).location)
    session.refresh(row)
    return project_public(row)
