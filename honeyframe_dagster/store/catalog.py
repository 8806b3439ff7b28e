"""Reading the store into plain model objects."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Collection
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Text, cast, func, literal, select, true, union_all
from sqlalchemy.orm import Session

from honeyframe_dagster.model.calendars import Calendar
from honeyframe_dagster.model.documents import Agent, Dashboard, Dataset, Project, Template
from honeyframe_dagster.model.naming import assign_job_names, in_shard, project_identifier
from honeyframe_dagster.model.scenario import Catalog, ScenarioError, ScenarioRecord, render_scenario, upstream_name
from honeyframe_dagster.settings import Settings, get_settings
from honeyframe_dagster.store.tables import (
    AgentRow,
    CalendarRow,
    DashboardRow,
    DatasetRow,
    ProjectObjectRow,
    ProjectRow,
    ScenarioRow,
    ScenarioVersionRow,
    TemplateRow,
    WarehouseTableRow,
)

log = logging.getLogger("honeyframe.store")


def project_model(row: ProjectRow) -> Project:
    secrets = [name for name in row.secrets if isinstance(name, str)] if isinstance(row.secrets, list) else []
    return Project.model_construct(
        id=row.id, name=row.name, owner_email=row.owner_email, timezone=row.timezone, secrets=secrets
    )


def template_model(row: TemplateRow) -> Template:
    # Documents were validated on the way in; a re-validation here guards against hand edits.
    return Template.model_validate(row.document)


# Each kind of project object: the Catalog attribute that holds them, its table, its document model.
PROJECT_OBJECTS: tuple[tuple[str, type[ProjectObjectRow], type[Dataset | Dashboard | Agent]], ...] = (
    ("datasets", DatasetRow, Dataset),
    ("dashboards", DashboardRow, Dashboard),
    ("agents", AgentRow, Agent),
)
# A scenario row's columns read as they are, and those read as text and decoded one row at a time: a row written
# behind the write path's back (a hand edit, an older release) that does not decode is that scenario's error.
PLAIN_FIELDS = (
    "id",
    "project_id",
    "name",
    "enabled",
    "template_slug",
    "owner",
    "version",
    "compile_error",
    "pause_note",
    "paused_by",
)
TIME_FIELDS = ("created_at", "updated_at")
JSON_FIELDS = ("parameters", "trigger", "steps", "sla")
# What a timestamp that does not decode reads as (with the scenario's error saying so).
UNREADABLE_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def scenario_records(session: Session, where: Any, light: bool = False) -> list[ScenarioRecord]:
    """Plain records of the scenarios `where` selects, ordered by id, with their current version's hash.
    `light`: without the raw parameters, trigger and steps (a read that shows compiled versions needs none)."""
    json_fields = () if light else JSON_FIELDS
    current = (ScenarioVersionRow.scenario_id == ScenarioRow.id) & (ScenarioVersionRow.version == ScenarioRow.version)
    as_text = [cast(getattr(ScenarioRow, name), Text).label(name) for name in (*TIME_FIELDS, "paused_at", *json_fields)]
    statement = (
        select(*[getattr(ScenarioRow, name) for name in PLAIN_FIELDS], *as_text, ScenarioVersionRow.spec_hash)
        .outerjoin(ScenarioVersionRow, current)
        .where(where)
        .order_by(ScenarioRow.id)
    )
    records = []
    for row in session.execute(statement):
        fields: dict[str, Any] = {name: getattr(row, name) for name in PLAIN_FIELDS}
        unreadable = []
        for name in TIME_FIELDS:
            fields[name] = _timestamp(getattr(row, name))
            if fields[name] is None:
                fields[name] = UNREADABLE_TIME
                unreadable.append(name)
        fields["paused_at"] = _timestamp(row.paused_at)  # None: not paused (or unreadable: shown as not known)
        for name in json_fields:
            ok, fields[name] = _json(getattr(row, name))
            if not ok:
                unreadable.append(name)
        if "parameters" in fields:
            fields["parameters"] = _parameters(fields["parameters"])
        if unreadable:
            fields["compile_error"] = (
                f"scenario {row.id} '{row.name}' of project '{row.project_id}': the stored "
                f"{', '.join(unreadable)} cannot be read (written outside the API or `honeyframe apply`)"
            )
        records.append(ScenarioRecord(**fields, spec_hash=row.spec_hash))
    return records


def _timestamp(text: str | None) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text) if text else None
    except ValueError:  # Postgres' 'infinity', '-infinity', years beyond 9999
        return None
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _json(text: str | None) -> tuple[bool, Any]:
    if text is None:
        return True, None
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError):
        return False, None


def _parameters(value: Any) -> Any:
    # A corrupt stored value is passed on as is: resolve() reports it as that one scenario's error.
    if value is None:
        return {}
    return dict(value) if isinstance(value, dict) else value


def empty_catalog(settings: Settings | None = None) -> Catalog:
    """A catalog with the org's settings (`settings`: the caller's, read once, else the environment's)."""
    settings = settings or get_settings()
    return Catalog(default_timezone=settings.default_timezone, python_recipes_dir=settings.python_recipes_dir)


def load_catalog(
    session: Session, project_ids: Collection[str] | None = None, settings: Settings | None = None
) -> Catalog:
    """The whole catalog, or only the given projects' part of it (templates are always whole)."""

    def scoped(statement, column):
        return statement if project_ids is None else statement.where(column.in_(list(project_ids)))

    catalog = empty_catalog(settings)
    for project in session.scalars(scoped(select(ProjectRow), ProjectRow.id)):
        catalog.projects[project.id] = project_model(project)
    for template in session.scalars(select(TemplateRow)):
        _load_template(catalog, template)
    # Plain rows, not ORM objects: a catalog is read, never written back, and a project may have thousands.
    everything = ScenarioRow.id.is_not(None)
    catalog.scenarios = scenario_records(
        session, everything if project_ids is None else ScenarioRow.project_id.in_(list(project_ids))
    )
    _load_objects(
        session, catalog, lambda table: true() if project_ids is None else table.project_id.in_(list(project_ids))
    )
    catalog.calendars = load_calendars(session, project_ids)
    # Every project's claims (one short row per table): a project may read a dbt seed only if no other project's
    # dataset stands in for it (model/tenancy.py: readable_tables).
    for claim in session.scalars(select(WarehouseTableRow)):
        catalog.table_owners[claim.name] = claim.project_id
    return catalog


def _load_template(catalog: Catalog, row: TemplateRow) -> None:
    try:
        catalog.templates[row.slug] = template_model(row)
    except ValidationError as exc:
        # A hand-edited template breaks its own instances (their error says so), not every read of the store.
        catalog.broken_templates[row.slug] = _first_error(exc)
        log.error("stored template '%s' is invalid: %s", row.slug, catalog.broken_templates[row.slug])


def _load_objects(session: Session, catalog: Catalog, where: Callable[[type[ProjectObjectRow]], Any]) -> None:
    """The datasets, dashboards and agents `where` selects (of each table), in one read: the three tables have the
    same columns."""
    parts = [
        select(literal(attribute).label("kind"), table.project_id, table.id, table.document).where(where(table))
        for attribute, table, _ in PROJECT_OBJECTS
    ]
    models = {attribute: model for attribute, _, model in PROJECT_OBJECTS}
    for row in session.execute(union_all(*parts)):
        _load_object(getattr(catalog, row.kind), models[row.kind], row)


def _load_object(target: dict[tuple[str, str], Any], model: type[Dataset | Dashboard | Agent], row: Any) -> None:
    try:
        target[(row.project_id, row.id)] = model.model_validate(row.document)
    except ValidationError as exc:
        # Steps that refer to it then fail as "unknown", with this line in the log saying why.
        log.error("stored %s '%s' of project '%s' is invalid: %s", model.__name__, row.id, row.project_id, exc)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"


def load_scenario_catalog(session: Session, scenario_id: int, settings: Settings | None = None) -> Catalog:
    """What one scenario resolves against, and no more: its project, its template, the scenarios its upstream
    trigger chains to (with their templates), and the datasets, dashboards and agents their steps name.

    Resolving (and planning) a scenario against this catalog gives what it gives against the whole store: the
    rest of the project takes no part (an empty catalog for an unknown id)."""
    catalog = empty_catalog(settings)
    row = session.get(ScenarioRow, scenario_id)
    if row is None:
        return catalog
    project = session.get(ProjectRow, row.project_id)
    if project is not None:
        catalog.projects[project.id] = project_model(project)
    chain = scenario_records(session, ScenarioRow.id == row.id)
    _add_template(session, catalog, row.template_slug)
    # `Catalog.scenario_named`: the oldest scenario of the project with that name.
    while (name := upstream_name(chain[-1], catalog)) is not None:
        statement = select(ScenarioRow).where(ScenarioRow.project_id == row.project_id, ScenarioRow.name == name)
        upstream = session.scalars(statement.order_by(ScenarioRow.id).limit(1)).first()
        if upstream is None or upstream.id in {record.id for record in chain}:
            break
        chain += scenario_records(session, ScenarioRow.id == upstream.id)
        _add_template(session, catalog, upstream.template_slug)
    catalog.scenarios = sorted(chain, key=lambda record: record.id)
    _add_named_objects(session, catalog, row.project_id)
    catalog.calendars = load_calendars(session, [row.project_id])
    claims = session.execute(select(WarehouseTableRow.name, WarehouseTableRow.project_id))
    catalog.table_owners.update({name: owner for name, owner in claims})
    return catalog


def load_calendars(
    session: Session, project_ids: Collection[str] | None = None
) -> dict[tuple[str | None, str], Calendar]:
    """The org's calendars and those of the given projects (None: every project's), by (project, id)."""
    statement = select(CalendarRow)
    if project_ids is not None:
        statement = statement.where(CalendarRow.project_id.is_(None) | CalendarRow.project_id.in_(list(project_ids)))
    found: dict[tuple[str | None, str], Calendar] = {}
    for row in session.scalars(statement):
        try:
            found[(row.project_id, row.id)] = Calendar.model_validate(row.document)
        except ValidationError as exc:  # a hand edit: triggers naming it say it is unknown, with this in the log
            log.error("stored calendar '%s' is invalid: %s", row.id, exc)
    return found


def _add_template(session: Session, catalog: Catalog, slug: str | None) -> None:
    if slug is not None and slug not in catalog.templates:
        template = session.get(TemplateRow, slug)
        if template is not None:
            _load_template(catalog, template)


def _add_named_objects(session: Session, catalog: Catalog, project_id: str) -> None:
    """The datasets, dashboards and agents that the catalog's scenarios name (a step that does not render names
    none: resolving fails on it before references are looked at)."""
    named: dict[str, set[str]] = {attribute: set() for attribute, _, _ in PROJECT_OBJECTS}
    for record in catalog.scenarios:
        try:
            _, _, steps = render_scenario(record, catalog)
        except ScenarioError:
            continue
        for step in steps:
            for reference in step.references():
                named[reference.collection].add(reference.name)
    kinds = {table: named[attribute] for attribute, table, _ in PROJECT_OBJECTS}
    if any(kinds.values()):
        # A table none is named from reads nothing (`IN ()` is false).
        _load_objects(session, catalog, lambda table: (table.project_id == project_id) & table.id.in_(kinds[table]))


def name_peers(session: Session, project_id: str, shard: tuple[int, int] | None) -> list[str]:
    """The projects whose job names depend on each other with this one's (model/naming.py `job_names`): every
    project with the same identifier (`a-b`, `a--b`) in the same code location, this one included. Project ids are
    lowercase letters, digits and '-', so a LIKE on the identifier's parts finds every candidate; the identifier
    itself decides."""
    return peers_and_pause(session, project_id, shard)[0]


def peers_and_pause(session: Session, project_id: str, shard: tuple[int, int] | None) -> tuple[list[str], bool]:
    """`name_peers`, and whether the project is paused, in one read (the project is one of its candidates)."""
    identifier = project_identifier(project_id)
    pattern = "%".join(identifier.split("_"))
    candidates = session.execute(select(ProjectRow.id, ProjectRow.paused_at).where(ProjectRow.id.like(pattern)))
    peers, paused, found = [], False, False
    for candidate, paused_at in candidates:
        if project_identifier(candidate) == identifier and in_shard(candidate, shard):
            peers.append(candidate)
        if candidate == project_id:
            found, paused = True, paused_at is not None
    if not found:  # an id that is not one (a row written behind the write path's back): asked for by its key
        row = session.get(ProjectRow, project_id)
        paused = row is not None and row.paused_at is not None
    return sorted(peers), paused


def stored_job_names(session: Session, project_ids: Collection[str]) -> dict[int, str]:
    """The job names of the projects' scenarios (model/naming.py `job_names`), from the columns they depend on: one
    read of plain rows (a project may have thousands)."""
    text = func.coalesce(func.nullif(ScenarioRow.template_slug, ""), ScenarioRow.name)  # `template_slug or name`
    statement = select(ScenarioRow.id, ScenarioRow.project_id, text).where(
        ScenarioRow.project_id.in_(list(project_ids))
    )
    # Plain rows in id order (the order names are given in), without the ORM's row handling.
    return assign_job_names(session.connection().execute(statement.order_by(ScenarioRow.id)).all())
