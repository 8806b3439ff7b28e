"""Dependencies: the store session, the caller's token, the current project, Dagster."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.errors import translated
from api.present import Planner, ProjectPlan
from honeyframe_dagster.dagster_client import DagsterClient
from honeyframe_dagster.model.documents import PROJECT_ID_PATTERN
from honeyframe_dagster.store import service
from honeyframe_dagster.store.tables import ProjectRow
from honeyframe_dagster.tokens import TokenGrant, TokenRejected, verify_token

_bearer = HTTPBearer(auto_error=False, description="A token from `honeyframe token create`.")


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def current_token(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> TokenGrant:
    """The caller's grant; 401 for a missing, unknown, revoked or expired token."""
    try:
        if credentials is None:
            raise TokenRejected("missing or unknown bearer token")
        return verify_token(session, credentials.credentials)
    except TokenRejected as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


TokenDep = Annotated[TokenGrant, Depends(current_token)]


def current_project(
    token: TokenDep,
    session: SessionDep,
    x_project_id: Annotated[str | None, Header(description="The project this request acts on (required).")] = None,
) -> str:
    if not x_project_id:
        raise HTTPException(400, "the X-Project-Id header is missing: send the id of the project this request acts on")
    if not token.may_act_on(x_project_id):
        raise HTTPException(403, f"token '{token.name}' may not act on project '{x_project_id}'")
    # An id that cannot be a project's names none (and is not sent to the database).
    if not re.fullmatch(PROJECT_ID_PATTERN, x_project_id) or session.get(ProjectRow, x_project_id) is None:
        raise HTTPException(404, f"unknown project '{x_project_id}'")
    return x_project_id


ProjectDep = Annotated[str, Depends(current_project)]


def admin_token(token: TokenDep) -> TokenGrant:
    """Templates and the enable matrix are org-wide: only an admin (org-wide) token may change them."""
    if not token.is_admin:
        raise HTTPException(403, f"token '{token.name}' is not an admin token; templates and the matrix are org-wide")
    return token


AdminDep = Annotated[TokenGrant, Depends(admin_token)]


def get_dagster(request: Request) -> DagsterClient | None:
    return request.app.state.dagster


DagsterDep = Annotated[DagsterClient | None, Depends(get_dagster)]


def get_planner(request: Request) -> Planner:
    return request.app.state.planner


PlannerDep = Annotated[Planner, Depends(get_planner)]


@dataclass(frozen=True)
class Backends:
    """What a route that plans or writes scenarios works with: the request's store session, Dagster (None: no
    webserver configured) and the planner."""

    session: Session
    dagster: DagsterClient | None
    planner: Planner

    def plan(self, project_id: str) -> ProjectPlan:
        return self.planner.plan(self.session, project_id)

    def plan_one(self, project_id: str, scenario_id: int) -> ProjectPlan:
        return self.planner.plan_one(self.session, project_id, scenario_id)

    def plan_stored(self, project_id: str, scenario_id: int) -> ProjectPlan:
        """`plan_one` of a scenario the project has; 404 for an unknown id or another project's."""
        with translated():
            service.scenario_row(self.session, project_id, scenario_id)
        return self.plan_one(project_id, scenario_id)


def get_backends(session: SessionDep, dagster: DagsterDep, planner: PlannerDep) -> Backends:
    return Backends(session, dagster, planner)


BackendsDep = Annotated[Backends, Depends(get_backends)]
