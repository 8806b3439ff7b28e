"""Every mutation of the store, for the CLI and the API alike: checks, the project write lock, and the write.

Callers (`honeyframe apply`, the REST routes) open the session, call one function here, commit, and translate its
errors: `Invalid` (the input, field by field: 422 / an error line), `Conflict` (the store's state forbids it: 409),
`NotFound` (404). What follows a commit (reloading code locations, canceling the queued runs of a scenario that went
enabled → disabled) is the caller's; the functions here say which scenarios that concerns.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.model.documents import (
    Calendar,
    Document,
    Matrix,
    Project,
    Scenario,
    Template,
)
from honeyframe_dagster.model.errors import FieldError, InvalidDocument
from honeyframe_dagster.model.identifiers import PROJECT_ID_PATTERN, SLUG_PATTERN
from honeyframe_dagster.model.scenario import Catalog, ScenarioError, ScenarioSpec, resolve, upstream_name
from honeyframe_dagster.model.suggest import did_you_mean, unknown_field_message
from honeyframe_dagster.model.tenancy import TenancyError, written_tables
from honeyframe_dagster.store.catalog import load_catalog, load_scenario_catalog
from honeyframe_dagster.store.ownership import claim_tables, release_unnamed
from honeyframe_dagster.store.quotas import check_room
from honeyframe_dagster.store.tables import BackfillRow, CalendarRow, ProjectRow, ScenarioRow, TemplateRow
from honeyframe_dagster.store.versions import (
    actor_of,
    compile_scenario,
    record_version,
    reshaped,
    set_enabled,
    version_spec,
)
from honeyframe_dagster.store.writes import (
    ApplyError,
    apply_documents,
    calendar_row,
    calendar_users,
    lock_projects,
    projects_of,
    write_scenario_fields,
)

# Fields of a scenario that may be left out of a patch but not set to null.
NOT_NULL_SCENARIO = ("name", "enabled", "trigger", "steps", "recipients")
NOT_NULL_PROJECT = ("name", "owner_email", "secrets")


class WriteRefused(Exception):
    """A write that was not made; nothing of it is kept once the session rolls back."""


class Invalid(WriteRefused):
    """The input is wrong, field by field (`loc` relative to the document written); `index`: which document of
    an `apply` call."""

    def __init__(self, errors: Sequence[FieldError], index: int | None = None, context: str = "") -> None:
        self.errors, self.index, self.context = list(errors), index, context
        super().__init__(str(InvalidDocument(self.errors, context)))


class Conflict(WriteRefused):
    """The store's state forbids the write (a name taken, a scenario others trigger on): 409."""


class NotFound(WriteRefused):
    """What the write names does not exist (or is not the caller's project's): 404."""


@dataclass(frozen=True)
class Stopped:
    """A scenario this write turned from enabled to disabled, or deleted: its queued runs are to be canceled."""

    project_id: str
    scenario_id: int
    name: str


def lookup(body: Any, loc: Sequence[str | int]) -> tuple[bool, Any]:
    """The value at `loc` in the document as given, if it is there."""
    node = body
    for part in loc:
        in_list = isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node)
        in_mapping = isinstance(part, str) and isinstance(node, Mapping) and part in node
        if not (in_list or in_mapping):
            return False, None
        node = node[part]
    return True, node


def invalid(exc: InvalidDocument, body: Any, index: int | None = None) -> Invalid:
    """`exc` said of the document `body`: each error's input is the value written there when the path is in it."""
    errors = []
    for error in exc.errors:
        found, value = lookup(body, error.loc)
        errors.append(FieldError(error.loc, error.msg, value if found else error.input, error.line))
    return Invalid(errors, index, exc.context)


def _validation_errors(exc: ValidationError) -> list[FieldError]:
    return [
        FieldError(
            tuple(e["loc"]), unknown_field_message(e) or str(e["msg"]).removeprefix("Value error, "), e.get("input")
        )
        for e in exc.errors()
    ]


# --- apply (the CLI, and the API writes that are documents) ---------------------------------------------------


def apply(
    session: Session,
    documents: Sequence[Document],
    recipes: Collection[str] | None,
    dbt_built: Collection[str] | None = None,
) -> list[Stopped]:
    """Upsert the documents all or nothing (see `writes.apply_documents`); the scenarios they disabled."""
    lock_projects(session, projects_of(documents))
    enabled_before = set(session.scalars(select(ScenarioRow.id).where(ScenarioRow.enabled.is_(True))))
    try:
        apply_documents(session, documents, recipes, dbt_built)
    except ApplyError as exc:
        raise Invalid(exc.errors, exc.index, exc.context) from None
    release_unnamed(session, projects_of(documents))
    return [
        Stopped(row.project_id, row.id, row.name)
        for row in session.scalars(select(ScenarioRow).where(ScenarioRow.enabled.is_(False)))
        if row.id in enabled_before
    ]


def stated_scenarios(session: Session, documents: Sequence[Document]) -> set[int]:
    """The stored scenarios whose `enabled` the documents state (Scenario and Matrix documents): after the write,
    Dagster's trigger status follows them whatever set it before (honeyframe_dagster/reconciler.py)."""
    found: set[int] = set()
    where: ColumnElement[bool]
    for document in documents:
        if isinstance(document, Scenario):
            where = (ScenarioRow.name == document.name) & ScenarioRow.template_slug.is_(None)
        elif isinstance(document, Matrix):
            where = ScenarioRow.template_slug == document.template
        else:
            continue
        found.update(session.scalars(select(ScenarioRow.id).where(ScenarioRow.project_id == document.project, where)))
    return found


def put_template(session: Session, template: Template, recipes: Collection[str] | None) -> bool:
    """Create or replace a template; every instance is re-checked. True when it is new."""
    lock_projects(session, None)
    created = session.get(TemplateRow, template.slug) is None
    try:
        apply_documents(session, [template], recipes)
    except ScenarioError as exc:
        raise invalid(exc, template.model_dump(mode="json")) from None
    release_unnamed(session, None)
    return created


def create_project(session: Session, project: Project, recipes: Collection[str] | None) -> None:
    """A new project; it gets every `default_enabled` template. Conflict when the id is taken."""
    lock_projects(session, [project.id])  # so a concurrent create of the same id is seen below, not overwritten
    if session.get(ProjectRow, project.id) is not None:
        raise Conflict(f"project '{project.id}' exists already")
    apply_documents(session, [project], recipes)


def update_project(
    session: Session, project_id: str, fields: Mapping[str, Any], recipes: Collection[str] | None
) -> ProjectRow:
    """Change some of a project's fields (None: not allowed for name and owner_email)."""
    row = project_row(session, project_id)
    check_not_null(fields, NOT_NULL_PROJECT)
    lock_projects(session, [project_id])  # `row` is read again under the lock: no concurrent change is lost
    current = {"id": row.id, "name": row.name, "owner_email": row.owner_email, "timezone": row.timezone}
    apply_documents(session, [Project(**{**current, **fields})], recipes)
    return row


def project_row(session: Session, project_id: str) -> ProjectRow:
    # An id that cannot be a project's names none (and is not sent to the database).
    row = session.get(ProjectRow, project_id) if re.fullmatch(PROJECT_ID_PATTERN, project_id) else None
    if row is None:
        raise NotFound(f"unknown project '{project_id}'")
    return row


def check_not_null(fields: Mapping[str, Any], keys: Sequence[str]) -> None:
    nulls = [key for key in keys if key in fields and fields[key] is None]
    if nulls:
        raise Invalid([FieldError((key,), "may not be null", None) for key in nulls])


# --- the enable matrix -----------------------------------------------------------------------------------------


def template_cell(session: Session, slug: str, project_id: str) -> ScenarioRow | None:
    """The project's instance of the template (None: never enabled); NotFound for an unknown template or project."""
    if session.get(TemplateRow, slug) is None:
        raise NotFound(f"unknown template '{slug}'{did_you_mean(slug, session.scalars(select(TemplateRow.slug)))}")
    if session.get(ProjectRow, project_id) is None:
        raise NotFound(f"unknown project '{project_id}'")
    return session.scalar(
        select(ScenarioRow).where(ScenarioRow.project_id == project_id, ScenarioRow.template_slug == slug)
    )


def _lock_cell(session: Session, slug: str, project_id: str) -> ScenarioRow | None:
    """Take the project's write lock; a path that cannot be a slug or a project id names nothing (and is not sent
    to the database, where a NUL in it was a 500 on Postgres)."""
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise NotFound(f"unknown template '{slug}'")
    if not re.fullmatch(PROJECT_ID_PATTERN, project_id):
        raise NotFound(f"unknown project '{project_id}'")
    lock_projects(session, [project_id])
    return template_cell(session, slug, project_id)


def stored_parameters(cell: ScenarioRow | None) -> dict[str, Any]:
    """A cell's parameter values; a corrupt stored value reads as none (the cell's scenario shows the error)."""
    return dict(cell.parameters) if cell is not None and isinstance(cell.parameters, dict) else {}


@dataclass(frozen=True)
class CellWrite:
    cell: ScenarioRow
    # The cell's job or trigger changed shape (created, a parameter that reshapes it): its location reloads;
    # otherwise only its trigger's status is set (store/versions.py `reshaped`).
    reload: bool
    disabled: Stopped | None = None


def enable_template(
    session: Session, slug: str, project_id: str, parameters: Mapping[str, Any], recipes: Collection[str] | None
) -> CellWrite:
    """Enable the template for the project, `parameters` merged over the stored values."""
    cell = _lock_cell(session, slug, project_id)
    if cell is None:
        check_room(session, project_id, Invalid)
    merged = {**stored_parameters(cell), **parameters}
    try:
        apply_documents(session, [Matrix(template=slug, project=project_id, enabled=True, parameters=merged)], recipes)
    except ScenarioError as exc:
        errors = invalid(exc, {"parameters": merged}).errors
        raise Invalid([_parameter_error(error, merged) for error in errors]) from None
    cell = template_cell(session, slug, project_id)
    assert cell is not None
    release_unnamed(session, [project_id])
    # A new job, or a new shape of it (a parameter that only changes a recipient or a dashboard list changes nothing
    # Dagster holds: the runs carry the new version's config).
    return CellWrite(cell, cell.id in reshaped(session))


def _parameter_error(error: FieldError, parameters: Mapping[str, Any]) -> FieldError:
    """An error in the rendered steps that names no parameter points at the parameter whose value it is."""
    if error.loc[:1] != ("parameters",):
        for name, value in parameters.items():
            if value == error.input:
                return FieldError(("parameters", name), error.msg, error.input)
    return error


def disable_template(session: Session, slug: str, project_id: str) -> CellWrite:
    """Disable the project's instance of the template; its job, run history and parameters stay."""
    cell = _lock_cell(session, slug, project_id)
    if cell is None:
        raise NotFound(f"template '{slug}' is not instantiated for project '{project_id}'")
    disabled = Stopped(project_id, cell.id, cell.name) if cell.enabled else None
    set_enabled(session, cell, False)
    return CellWrite(cell, False, disabled)


# --- a project's own scenarios ---------------------------------------------------------------------------------


# scenarios.id is an `INTEGER` column: int4 on Postgres, so no row has a larger id on either store.
ROW_ID_MAX = 2**31 - 1


def is_row_id(scenario_id: int) -> bool:
    """Ids are positive and within the id column's range (`INTEGER`: 32 bits on Postgres); anything else names no
    row, and would overflow the database ("integer out of range" on Postgres for 2^31 … 2^63−1)."""
    return 1 <= scenario_id <= ROW_ID_MAX


def scenario_row(session: Session, project_id: str, scenario_id: int) -> ScenarioRow:
    """The scenario; NotFound also for another project's scenario, so ids do not leak."""
    row = session.get(ScenarioRow, scenario_id) if is_row_id(scenario_id) else None
    if row is None or row.project_id != project_id:
        raise NotFound(f"no scenario {scenario_id} in project '{project_id}'")
    return row


def _check_name_free(session: Session, project_id: str, name: str) -> None:
    statement = select(ScenarioRow.id).where(
        ScenarioRow.project_id == project_id, ScenarioRow.name == name, ScenarioRow.template_slug.is_(None)
    )
    if session.scalar(statement) is not None:
        raise Conflict(f"project '{project_id}' has a scenario named '{name}' already")


def dependents(catalog: Catalog, project_id: str, name: str) -> list[str]:
    """Scenarios of the project whose upstream trigger names `name`."""
    return sorted(
        r.name
        for r in catalog.scenarios
        if r.project_id == project_id and r.name != name and upstream_name(r, catalog) == name
    )


def _refuse_if_referenced(session: Session, project_id: str, name: str, action: str) -> None:
    found = dependents(load_catalog(session, [project_id]), project_id, name)
    if found:
        raise Conflict(
            f"cannot {action} scenario '{name}': {', '.join(found)} trigger(s) on its success (trigger.upstream)"
        )


def scenario_document(raw: Mapping[str, Any]) -> Scenario:
    """The Scenario document `raw` (with `project`) as every write validates it; Invalid field by field."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise Invalid(_validation_errors(exc)) from None


def _write_checked(
    session: Session,
    row: ScenarioRow,
    raw: Mapping[str, Any],
    recipes: Collection[str] | None,
    document: Scenario | None = None,
    references: bool = True,
) -> None:
    """Write the scenario `raw` (`document`: already validated) into the row, resolve it against the store and
    claim the warehouse tables it writes; Invalid (nothing kept) if it does not resolve or a table belongs to
    another project."""
    document = document or scenario_document(raw)
    row.name = document.name
    try:
        write_scenario_fields(row, document, actor_of(session))
        session.flush()
        catalog = load_scenario_catalog(session, row.id)
        record = next(r for r in catalog.scenarios if r.id == row.id)
        spec = resolve(record, catalog, recipes, references)
        claim_tables(session, row.project_id, written_tables(spec.steps, row.project_id, catalog))
    except (ScenarioError, TenancyError) as exc:
        raise invalid(exc, raw) from None
    if references:
        record_version(session, row, spec)
    else:  # what it names may come later: until then it does not compile, and says why
        compile_scenario(session, row, catalog, recipes)


def create_scenario(
    session: Session,
    project_id: str,
    fields: Mapping[str, Any],
    recipes: Collection[str] | None,
    *,
    references: bool = True,
    source: tuple[str, str] | None = None,
) -> ScenarioRow:
    """A new scenario of the project from its fields (without `project`). Conflict when the name is taken.

    For the legacy migration only: `references=False`, the datasets, dashboards and agents its steps name need
    not exist yet (the scenario shows as broken until they are applied; every other check holds); `source`, the
    legacy (table, id) it comes from."""
    lock_projects(session, [project_id])
    raw = {**fields, "project": project_id}
    if isinstance(fields.get("name"), str):
        _check_name_free(session, project_id, fields["name"])
    check_room(session, project_id, Invalid)
    document = scenario_document(raw)
    row = ScenarioRow(project_id=project_id, name=document.name, template_slug=None, parameters={})
    row.source_table, row.source_id = source or (None, None)
    session.add(row)
    _write_checked(session, row, raw, recipes, document, references)
    return row


@dataclass(frozen=True)
class ScenarioWrite:
    row: ScenarioRow
    disabled: Stopped | None


def update_scenario(
    session: Session, project_id: str, scenario_id: int, fields: Mapping[str, Any], recipes: Collection[str] | None
) -> ScenarioWrite:
    """Change some fields of a scenario (`recipients`: of its send_email_report steps). A template instance's
    `enabled` only."""
    check_not_null(fields, NOT_NULL_SCENARIO)
    lock_projects(session, [project_id])
    row = scenario_row(session, project_id, scenario_id)
    was_enabled = row.enabled
    note = fields.get("pause_note")
    if "pause_note" in fields and fields.get("enabled", row.enabled) is not False:
        message = 'a pause note goes with pausing: send it with "enabled": false (or to a disabled scenario)'
        raise Invalid([FieldError(("pause_note",), message, note)])
    fields = {key: value for key, value in fields.items() if key != "pause_note"}
    if row.template_slug is not None:
        others = sorted(set(fields) - {"enabled"})
        if others:
            raise Conflict(
                f"scenario {scenario_id} is an instance of template '{row.template_slug}': its {', '.join(others)} "
                "come(s) from the template; change them with POST /api/scheduler/templates (or its parameters with "
                f"POST /api/scheduler/templates/{row.template_slug}/enable/{project_id}); "
                "only 'enabled' may change here",
            )
    else:
        _update_own(session, row, fields, recipes)
    if "enabled" in fields:
        set_enabled(session, row, fields["enabled"], note=note)
    if note is not None and not row.enabled:
        row.pause_note = note
    session.flush()
    release_unnamed(session, [project_id])
    disabled = Stopped(project_id, row.id, row.name) if was_enabled and not row.enabled else None
    return ScenarioWrite(row, disabled)


def _update_own(session: Session, row: ScenarioRow, fields: Mapping[str, Any], recipes: Collection[str] | None) -> None:
    name = fields.get("name", row.name)
    if name != row.name:
        _check_name_free(session, row.project_id, name)
        _refuse_if_referenced(session, row.project_id, row.name, "rename")
    steps = fields.get("steps", row.steps)
    if "recipients" in fields:
        reports = [step for step in steps if isinstance(step, dict) and step.get("kind") == "send_email_report"]
        if not reports:
            raise Invalid(
                [FieldError(("recipients",), "the scenario has no send_email_report step", fields["recipients"])]
            )
        steps = [{**s, "recipients": fields["recipients"]} if s in reports else s for s in steps]
    merged = {
        "project": row.project_id,
        "name": name,
        "enabled": fields.get("enabled", row.enabled),
        "owner": fields.get("owner", row.owner),
        "trigger": fields.get("trigger", row.trigger),
        "steps": steps,
        "sla": fields.get("sla", row.sla),
    }
    _write_checked(session, row, merged, recipes)


def deletable_scenario(session: Session, project_id: str, scenario_id: int) -> ScenarioRow:
    """The scenario, locked for deletion; Conflict when others trigger on its success."""
    lock_projects(session, [project_id])
    row = scenario_row(session, project_id, scenario_id)
    if row.template_slug is None:
        _refuse_if_referenced(session, project_id, row.name, "delete")
    return row


def delete_scenario(session: Session, row: ScenarioRow) -> Stopped:
    """Delete a row from `deletable_scenario`; its queued runs are to be canceled."""
    deleted = Stopped(row.project_id, row.id, row.name)
    session.delete(row)
    session.flush()
    release_unnamed(session, [deleted.project_id])
    return deleted


# --- calendars ---------------------------------------------------------------------------------------------------


def calendar_of(session: Session, project_id: str | None, calendar_id: str) -> CalendarRow:
    names_one = re.fullmatch(SLUG_PATTERN, calendar_id) and (
        project_id is None or re.fullmatch(PROJECT_ID_PATTERN, project_id)
    )
    row = calendar_row(session, project_id, calendar_id) if names_one else None
    if row is None:
        where = f"project '{project_id}'" if project_id is not None else "the org"
        raise NotFound(f"{where} has no calendar '{calendar_id}'")
    return row


@dataclass(frozen=True)
class CalendarWrite:
    created: bool
    # The scenarios whose trigger names the calendar: compiled again (new versions), their locations reload.
    scenarios: list[int]
    projects: set[str]


def put_calendar(
    session: Session, calendar: Calendar, recipes: Collection[str] | None, must_exist: bool | None = None
) -> CalendarWrite:
    """Create or replace a calendar (`must_exist`: True to replace only, False to create only); the scenarios that
    name it are compiled again, so their next versions skip what it now excludes."""
    lock_projects(session, None if calendar.project is None else [calendar.project])
    if calendar.project is not None:
        project_row(session, calendar.project)
    exists = calendar_row(session, calendar.project, calendar.id) is not None
    if must_exist is False and exists:
        raise Conflict(f"calendar '{calendar.id}' exists already")
    if must_exist and not exists:
        calendar_of(session, calendar.project, calendar.id)
    try:
        apply_documents(session, [calendar], recipes)
    except ApplyError as exc:
        raise Invalid(exc.errors, None, exc.context) from None
    users = calendar_users(load_catalog(session, _scope(calendar.project)), calendar.project, calendar.id)
    return CalendarWrite(not exists, [r.id for r in users], {r.project_id for r in users})


def _scope(project_id: str | None) -> list[str] | None:
    return None if project_id is None else [project_id]


def delete_calendar(session: Session, project_id: str | None, calendar_id: str) -> None:
    """Delete a calendar; Conflict while a trigger names it."""
    lock_projects(session, _scope(project_id))
    row = calendar_of(session, project_id, calendar_id)
    users = calendar_users(load_catalog(session, _scope(project_id)), project_id, calendar_id)
    if users:
        named = ", ".join(f"'{r.name}' of project '{r.project_id}'" for r in users[:20])
        raise Conflict(f"cannot delete calendar '{calendar_id}': the trigger of {named} names it (trigger.calendar)")
    session.delete(row)
    session.flush()


# --- pausing a project -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectPause:
    row: ProjectRow
    # Every scenario of the project: their triggers' status follows (stopped while paused, else `enabled`).
    scenarios: list[int]
    # Enabled scenarios that pausing stops: their queued runs are canceled.
    stopped: list[Stopped]


def pause_project(session: Session, project_id: str, note: str | None) -> ProjectPause:
    """Pause the project: its triggers stop (the reconciler's desired status), no scenario's `enabled` changes."""
    lock_projects(session, [project_id])
    row = project_row(session, project_id)
    if row.paused_at is None:
        row.paused_at, row.paused_by = utcnow(), actor_of(session)
    row.pause_note = note
    scenarios = list(session.scalars(select(ScenarioRow).where(ScenarioRow.project_id == project_id)))
    stopped = [Stopped(project_id, s.id, s.name) for s in scenarios if s.enabled]
    session.flush()
    return ProjectPause(row, [s.id for s in scenarios], stopped)


def resume_project(session: Session, project_id: str) -> ProjectPause:
    """Resume the project: exactly its enabled scenarios' triggers start again (from now: nothing is caught up)."""
    lock_projects(session, [project_id])
    row = project_row(session, project_id)
    row.paused_at, row.paused_by, row.pause_note = None, None, None
    ids = list(session.scalars(select(ScenarioRow.id).where(ScenarioRow.project_id == project_id)))
    session.flush()
    return ProjectPause(row, ids, [])


# --- backfills ---------------------------------------------------------------------------------------------------


def record_backfill(
    session: Session,
    row: ScenarioRow,
    version: int,
    bounds: tuple[dt.datetime, dt.datetime],
    instants: Sequence[dt.datetime],
) -> BackfillRow:
    """A backfill of these instants of the scenario's version, before its runs are launched."""
    backfill = BackfillRow(
        id=uuid.uuid4().hex[:16],
        scenario_id=row.id,
        project_id=row.project_id,
        version=version,
        range_from=bounds[0],
        range_to=bounds[1],
        instants=[instant.isoformat() for instant in instants],
        launched=0,
        created_at=utcnow(),
        created_by=actor_of(session),
    )
    session.add(backfill)
    session.flush()
    return backfill


# --- run now with parameter overrides ----------------------------------------------------------------------------


def run_with_parameters(
    session: Session, project_id: str, scenario_id: int, parameters: Mapping[str, Any], recipes: Collection[str] | None
) -> ScenarioSpec:
    """The scenario's current version with these parameter values over its stored ones, resolved and checked as
    enabling the template with them would be (Invalid naming the parameter); for one run's config, never stored."""
    row = scenario_row(session, project_id, scenario_id)
    if row.template_slug is None:
        message = "only a template instance has parameters; this scenario is the project's own"
        raise Invalid([FieldError(("parameters",), message, dict(parameters))])
    current = version_spec(session, scenario_id, None)
    if current is None:
        raise Conflict(f"scenario {scenario_id} has no version to run: {row.compile_error or 'not compiled'}")
    catalog = load_scenario_catalog(session, scenario_id)
    merged = {**stored_parameters(row), **parameters}
    catalog.scenarios = [replace(r, parameters=merged) if r.id == scenario_id else r for r in catalog.scenarios]
    record = next(r for r in catalog.scenarios if r.id == scenario_id)
    try:
        spec = resolve(record, catalog, recipes)
    except (ScenarioError, TenancyError) as exc:
        errors = invalid(exc, {"parameters": merged}).errors
        raise Invalid([_parameter_error(error, merged) for error in errors]) from None
    return replace(spec, record=current.record, version=current.version, since=current.since)
