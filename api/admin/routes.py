"""The admin pages: login, the template × project matrix, and a project's schedules."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from markupsafe import escape as markup_escape
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.admin import auth, views
from api.deps import BackendsDep, DagsterDep, PlannerDep, SessionDep
from api.errors import ApiValidationError
from api.routes import runs as run_routes
from api.routes import scenarios as scenario_routes
from api.routes import templates as template_routes
from api.routes.health import heartbeat
from api.schemas import EnableBody, ScenarioUpdate
from api.sync import SYNC_HEADER
from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.reconciler import last_pass
from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow, TemplateRow
from honeyframe_dagster.tokens import TokenGrant, TokenRejected, close_admin_session, open_admin_session

HERE = Path(__file__).parent
router = APIRouter(prefix="/admin", include_in_schema=False)
# Pages run no inline script or style, load nothing from elsewhere, and may not be framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


FRAGMENT_HEADER = "X-Honeyframe-Fragment"


def _when(value: dt.datetime | None) -> str:
    return "—" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _at(value: dt.datetime | None, timezone: str) -> Markup:
    """A time in the project's timezone, the UTC instant on hover: `<time title="... UTC">`."""
    if value is None:
        return Markup("—")
    local = value.astimezone(ZoneInfo(timezone))
    shown = local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or timezone)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(value.isoformat(), _when(value), shown)


def _breakable(value: Any) -> Markup:
    """A value that may wrap after its separators (`_`, `-`, `.`, `/`, `,`, `@`), never in the middle of a word."""
    text = str(markup_escape(_as_text(value)))
    return Markup(re.sub(r"([_\-./,@])", r"\1<wbr>", text))


def _ago(value: dt.datetime) -> str:
    seconds = max(0, int((utcnow() - value).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    return f"{seconds // 60} min ago" if seconds < 7200 else f"{seconds // 3600} h ago"


def _as_text(value: Any) -> str:
    """A parameter value in a cell or an input: lists comma-separated, nothing for no value."""
    if value is None:
        return ""
    return ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(when=_when, ago=_ago, as_text=_as_text, at=_at, breakable=_breakable)
pages = Jinja2Templates(env=_env)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    response = pages.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def page_context(request: Request, session: Session, grant: TokenGrant) -> dict[str, Any]:
    """What every logged-in page shows: the operations tile, the navigation and the CSRF token."""
    sid = auth.session_id(request)
    assert sid is not None
    settings = request.app.state.settings
    return {
        "grant": grant,
        "csrf": auth.csrf_for(sid),
        "heartbeat": heartbeat(session, settings.health_window_seconds),
        "out_of_sync": last_pass(session)[0],
        "nav_projects": views.visible_projects(session, grant),
    }


def landing(session: Session, grant: TokenGrant) -> str:
    if grant.is_admin:
        return "/admin/templates"
    projects = views.visible_projects(session, grant)
    return f"/admin/projects/{projects[0].id}/schedules" if projects else "/admin/login"


@router.get("", response_class=RedirectResponse)
def home(request: Request, session: SessionDep) -> RedirectResponse:
    return RedirectResponse(landing(session, auth.page_grant(request, session)), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next_path: Annotated[str | None, Query(alias="next")] = None) -> HTMLResponse:
    return login_form(request, auth.safe_next(next_path), None, 200)


def login_form(request: Request, next_path: str | None, error: str | None, status_code: int) -> HTMLResponse:
    csrf = auth.new_login_csrf()
    response = render(request, "login.html", {"csrf": csrf, "next": next_path, "error": error}, status_code)
    auth.set_cookie(request, response, auth.LOGIN_CSRF_COOKIE, csrf)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: SessionDep) -> Response:
    form = await auth.read_form(request)
    # Double submit: the form's value must match the cookie set with the form, so no other site can log you in.
    auth.check_csrf(request.cookies.get(auth.LOGIN_CSRF_COOKIE, ""), form.get("csrf"))
    next_path = auth.safe_next(form.get("next"))
    # HONEYFRAME_ADMIN_LOGINS_PER_MINUTE failed logins from one address: every login from it waits (api/limits.py).
    failures, client = request.app.state.login_limits, auth.client_address(request)
    wait = failures.retry_after(client)
    if wait is not None:
        message = f"Too many failed logins from this address: try again in {wait} s."
        refused = login_form(request, next_path, message, 429)
        refused.headers["Retry-After"] = str(wait)
        return refused
    token = form.get("token", "").strip()
    try:
        if not token:
            raise TokenRejected("no token")
        sid, grant = open_admin_session(session, token)
    except TokenRejected:
        failures.hit(client)
        return login_form(request, next_path, "That token is unknown, expired or revoked.", 401)
    previous = auth.session_id(request)
    if previous is not None:
        close_admin_session(session, previous)  # this browser's earlier login ends here
    session.commit()
    response = RedirectResponse(next_path or landing(session, grant), status_code=303)
    auth.set_cookie(request, response, auth.SESSION_COOKIE, sid)
    auth.clear_cookie(request, response, auth.LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> RedirectResponse:
    """Ends the session in the store (not only the cookie): a copy of the cookie stops working too."""
    auth.session_csrf(request, await auth.read_form(request))
    sid = auth.session_id(request)
    assert sid is not None  # session_csrf refuses a request without one
    close_admin_session(session, sid)
    session.commit()
    response = RedirectResponse("/admin/login", status_code=303)
    auth.clear_cookie(request, response, auth.SESSION_COOKIE)
    return response


def admin_grant(request: Request, session: Session) -> TokenGrant:
    grant = auth.page_grant(request, session)
    if not grant.is_admin:
        raise auth.PageError(403, f"token '{grant.name}' is not an admin token: the template matrix is for admins")
    return grant


@router.get("/templates", response_class=HTMLResponse)
def matrix_page(request: Request, session: SessionDep, dagster: DagsterDep, planner: PlannerDep) -> HTMLResponse:
    grant = admin_grant(request, session)
    projects, lines = views.matrix(session, grant, planner, dagster, request.app.state.settings.default_timezone)
    context = {**page_context(request, session, grant), "projects": projects, "lines": lines}
    return render(request, "matrix.html", context)


async def json_body(request: Request) -> Any:
    """The request's JSON, read here so that the CSRF check comes before any look at the body."""
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return _NOT_JSON


_NOT_JSON = object()


@router.post("/templates/{slug}/{project_id}/{action}", response_class=HTMLResponse)
def toggle(
    request: Request,
    slug: str,
    project_id: str,
    action: str,
    backends: BackendsDep,
    raw: Annotated[Any, Depends(json_body)],
) -> HTMLResponse:
    """Enable or disable one cell through the REST API's own handlers; answers with the cell, re-rendered."""
    session = backends.session
    auth.session_csrf(request)
    grant = admin_grant(request, session)
    if action not in ("enable", "disable"):
        raise auth.PageError(404, f"unknown action '{action}'")
    if session.get(TemplateRow, slug) is None or session.get(ProjectRow, project_id) is None:
        raise auth.PageError(404, f"no template '{slug}' or project '{project_id}'")
    try:
        body = None if raw is None else EnableBody.model_validate(raw)
    except ValidationError:
        raise auth.PageError(400, 'expected a JSON body {"parameters": {NAME: VALUE, ...}}') from None
    outcome = Response()
    message, problems, status_code = None, [], 200
    try:
        if action == "enable":
            template_routes.enable(slug, project_id, grant, backends, outcome, body)
        else:
            template_routes.disable(slug, project_id, grant, backends, outcome)
    except ApiValidationError as exc:
        session.rollback()
        problems, status_code = [_problem(item) for item in exc.errors], 422
        message = "Not enabled: " + (
            "one value needs a change." if len(problems) == 1 else "these values need changes."
        )
    except HTTPException as exc:
        session.rollback()
        message, status_code = str(exc.detail), exc.status_code
    if outcome.headers.get(SYNC_HEADER) == "failed":
        message = "Saved, but Dagster has not caught up yet (see the API's log)."
    default_timezone = request.app.state.settings.default_timezone
    line, cell = views.one_cell(session, backends.planner, backends.dagster, slug, project_id, default_timezone)
    if status_code != 200 and body is not None:
        cell.typed = body.parameters  # the form shows what was typed, not the stored values
    context = {"line": line, "cell": cell, "message": message, "problems": problems}
    response = render(request, "cell.html", context, status_code)
    response.headers[FRAGMENT_HEADER] = "cell"
    return response


def _problem(item: dict[str, Any]) -> str:
    """One refusal in words: which value (`dashboards`, item 2) and what is wrong with it, without the paths of
    the template's steps the value fills (`steps[1].dashboard_ids: `)."""
    loc = [part for part in item.get("loc", []) if part not in ("body", "parameters")]
    msg = re.sub(r"^(steps\[\d+\][\w.\[\]]*: )+", "", str(item["msg"]))
    msg = re.sub(r" \(parameter '[^']*'\)$", "", msg)
    if not loc:
        return msg[:1].upper() + msg[1:]
    name = str(loc[0])
    items = [part for part in loc[1:] if isinstance(part, int)]
    where = f"{name} (item {items[0] + 1})" if items else name
    return f"{where}: {msg}"


@router.get("/projects/{project_id}/schedules", response_class=HTMLResponse)
def schedules_page(
    request: Request, project_id: str, session: SessionDep, dagster: DagsterDep, planner: PlannerDep
) -> HTMLResponse:
    grant = auth.page_grant(request, session)
    if not grant.may_act_on(project_id):
        raise auth.PageError(403, f"token '{grant.name}' may not act on project '{project_id}'")
    project = session.get(ProjectRow, project_id)
    if project is None:
        raise auth.PageError(404, f"unknown project '{project_id}'")
    settings = request.app.state.settings
    lines = views.schedule_lines(
        session, project, planner, dagster, settings.dagster_webserver_url, settings.default_timezone
    )
    context = {
        **page_context(request, session, grant),
        "project": project,
        "lines": lines,
        "default_timezone": settings.default_timezone,
        "timezone": views.project_timezone(project, settings.default_timezone),
    }
    return render(request, "schedules.html", context)


SCENARIO_ACTIONS = ("run", "enable", "disable")


@router.post("/projects/{project_id}/scenarios/{scenario_id}/{action}", response_class=HTMLResponse)
def scenario_action(
    request: Request, project_id: str, scenario_id: int, action: str, backends: BackendsDep
) -> HTMLResponse:
    """Run now, enable or disable one scenario through the REST API's own handlers (`POST .../run`, `PATCH` with
    `enabled`); answers with the scenario's row, re-rendered, and what happened."""
    session = backends.session
    auth.session_csrf(request)
    grant = auth.page_grant(request, session)
    if action not in SCENARIO_ACTIONS:
        raise auth.PageError(404, f"unknown action '{action}'")
    if not grant.may_act_on(project_id):
        raise auth.PageError(403, f"token '{grant.name}' may not act on project '{project_id}'")
    project = session.get(ProjectRow, project_id)
    row = session.get(ScenarioRow, scenario_id)
    if project is None or row is None or row.project_id != project_id:
        raise auth.PageError(404, f"no scenario {scenario_id} in project '{project_id}'")
    outcome = Response()
    status_code = 200
    try:
        if action == "run":
            accepted = run_routes.run_now(request, scenario_id, project_id, backends, None)
            message = f"Run {accepted.run_id[:8]} launched."
        else:
            update = ScenarioUpdate.model_validate({"enabled": action == "enable"})
            scenario_routes.update_scenario(scenario_id, update, project_id, backends, outcome)
            message = "Enabled." if action == "enable" else "Disabled."
    except ApiValidationError as exc:
        session.rollback()
        message, status_code = "; ".join(_problem(item) for item in exc.errors), 422
    except HTTPException as exc:
        session.rollback()
        message, status_code = str(exc.detail), exc.status_code
    if outcome.headers.get(SYNC_HEADER) == "failed":
        message = "Saved, but Dagster has not caught up yet (see the API's log)."
    settings = request.app.state.settings
    lines = views.schedule_lines(
        session,
        project,
        backends.planner,
        backends.dagster,
        settings.dagster_webserver_url,
        settings.default_timezone,
        only=scenario_id,
    )
    timezone = views.project_timezone(project, settings.default_timezone)
    context = {"line": lines[0], "timezone": timezone, "message": message, "project": project}
    response = render(request, "schedule_row.html", context, status_code)
    response.headers[FRAGMENT_HEADER] = "row"
    return response


async def on_page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, auth.PageError)
    if exc.status_code == 401 and request.method == "GET":
        return RedirectResponse(f"/admin/login?{urlencode({'next': request.url.path})}", status_code=303)
    response = render(request, "error.html", {"status": exc.status_code, "message": exc.message}, exc.status_code)
    response.headers.update(exc.headers)
    return response
