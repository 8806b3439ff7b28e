"""`/api/scheduler/calendars`: calendars, org-wide (an admin token) or a project's own (a token of that project).

A calendar's scope is its `project` (absent: org-wide). `GET`/`DELETE …/{id}` name the scope with `X-Project-Id`
(absent: the org's calendar). A write compiles the scenarios whose trigger names the calendar into new versions and
reloads their code locations, so what they fire follows it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, HTTPException, Response, status
from sqlalchemy import select

from api.deps import Backends, BackendsDep, SessionDep, TokenDep
from api.errors import ApiValidationError, translated
from api.routing import Router
from api.schemas import CalendarList, CalendarPublic, problem_responses
from api.sync import sync_dagster
from honeyframe_dagster.model.calendars import Calendar
from honeyframe_dagster.reconciler import Change
from honeyframe_dagster.store import service
from honeyframe_dagster.store.tables import CalendarRow
from honeyframe_dagster.tokens import TokenGrant

router = Router(
    prefix="/api/scheduler/calendars", tags=["calendars"], responses=problem_responses(401, 403, 404, 422, 429, 503)
)
WRITE_ERRORS = problem_responses(409, 413, 415)
ScopeHeader = Annotated[
    str | None, Header(description="The project whose calendar this is; absent: the org-wide calendar.")
]


def calendar_public(row: CalendarRow) -> CalendarPublic:
    calendar = Calendar.model_validate(row.document)
    return CalendarPublic(**calendar.model_dump(exclude={"kind"}), created_at=row.created_at, updated_at=row.updated_at)


def check_scope(token: TokenGrant, project_id: str | None) -> None:
    """An org-wide calendar is an admin's; a project's, a token that may act on the project (403 before 404)."""
    if project_id is None and not token.is_admin:
        raise HTTPException(403, f"token '{token.name}' is not an admin token; org-wide calendars are an admin's")
    if project_id is not None and not token.may_act_on(project_id):
        raise HTTPException(403, f"token '{token.name}' may not act on project '{project_id}'")


@router.get("", response_model=CalendarList)
def list_calendars(token: TokenDep, session: SessionDep) -> CalendarList:
    """The org's calendars, then those of the projects this token may act on (by project and id)."""
    order = (CalendarRow.project_id.is_not(None), CalendarRow.project_id, CalendarRow.id)
    rows = session.scalars(select(CalendarRow).order_by(*order))
    visible = [row for row in rows if row.project_id is None or token.may_act_on(row.project_id)]
    return CalendarList(items=[calendar_public(row) for row in visible])


def _written(backends: Backends, calendar: Calendar, written: service.CalendarWrite, response: Response) -> None:
    backends.session.commit()
    change = Change(reload_projects=written.projects, scenarios=written.scenarios)
    sync_dagster(backends.session, backends.reconciler, response, change)


def _public(backends: Backends, calendar: Calendar) -> CalendarPublic:
    with translated():
        return calendar_public(service.calendar_of(backends.session, calendar.project, calendar.id))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CalendarPublic, responses=WRITE_ERRORS)
def create_calendar(body: Calendar, token: TokenDep, backends: BackendsDep, response: Response) -> CalendarPublic:
    """Create a calendar: org-wide without `project` (admin), else the project's own. 409 if the id is taken."""
    check_scope(token, body.project)
    with translated():
        written = service.put_calendar(backends.session, body, backends.planner.recipes, must_exist=False)
    _written(backends, body, written, response)
    return _public(backends, body)


@router.get("/{calendar_id}", response_model=CalendarPublic)
def get_calendar(
    calendar_id: str, token: TokenDep, session: SessionDep, x_project_id: ScopeHeader = None
) -> CalendarPublic:
    """One calendar: the project's (`X-Project-Id`) or the org's."""
    if x_project_id is not None and not token.may_act_on(x_project_id):
        raise HTTPException(403, f"token '{token.name}' may not act on project '{x_project_id}'")
    with translated():
        return calendar_public(service.calendar_of(session, x_project_id, calendar_id))


@router.put("/{calendar_id}", response_model=CalendarPublic, responses=WRITE_ERRORS)
def replace_calendar(
    calendar_id: str, body: Calendar, token: TokenDep, backends: BackendsDep, response: Response
) -> CalendarPublic:
    """Replace a calendar (its scope is the body's `project`). The scenarios whose trigger names it get new
    versions at once: what they fire, `next_run_at` and the preview follow it."""
    if body.id != calendar_id:
        message = f"the calendar's id must be the one in the path ('{calendar_id}')"
        raise ApiValidationError([{"loc": ["body", "id"], "msg": message, "input": body.id}])
    check_scope(token, body.project)
    with translated():
        written = service.put_calendar(backends.session, body, backends.planner.recipes, must_exist=True)
    _written(backends, body, written, response)
    return _public(backends, body)


@router.delete("/{calendar_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(409))
def delete_calendar(
    calendar_id: str, token: TokenDep, session: SessionDep, x_project_id: ScopeHeader = None
) -> Response:
    """Delete a calendar: the project's (`X-Project-Id`) or the org's. 409 while a trigger names it."""
    check_scope(token, x_project_id)
    with translated():
        service.delete_calendar(session, x_project_id, calendar_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
