"""Upserts of documents into the store, checked as a whole before commit (all or nothing)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.model.documents import (
    Agent,
    Calendar,
    Dashboard,
    Dataset,
    Document,
    Matrix,
    Project,
    Scenario,
    Template,
)
from honeyframe_dagster.model.errors import InvalidDocument, Loc
from honeyframe_dagster.model.scenario import Catalog, ScenarioError, ScenarioRecord, render_scenario, resolve
from honeyframe_dagster.model.suggest import did_you_mean
from honeyframe_dagster.model.tenancy import (
    TenancyError,
    check_dashboard,
    check_dataset,
    readable_tables,
    table_key,
    written_tables,
)
from honeyframe_dagster.model.triggers import Trigger
from honeyframe_dagster.store.catalog import PROJECT_OBJECTS, load_catalog
from honeyframe_dagster.store.grants import check_object_secrets
from honeyframe_dagster.store.ownership import claim_tables
from honeyframe_dagster.store.quotas import check_room
from honeyframe_dagster.store.tables import (
    CalendarRow,
    ProjectObjectRow,
    ProjectRow,
    ScenarioRow,
    TemplateRow,
)
from honeyframe_dagster.store.versions import actor_of, compile_scenario, record_version, stamp_pause, uncompiled

# Documents are written in this order so that references within one call resolve, and so that a project
# created in the same call as a `default_enabled` template gets that template.
APPLY_ORDER = ("Template", "Project", "Calendar", "Dataset", "Dashboard", "Agent", "Matrix", "Scenario")


class ApplyError(ScenarioError):
    """A document that cannot be written; `index` is its position in the call."""

    def __init__(self, index: int, error: InvalidDocument) -> None:
        super().__init__(error.errors, error.context)
        self.index = index


@dataclass
class Written:
    """What one document became: the scenario ids it touched (for re-checking) and whether it was new;
    `affected`: scenarios it changes without naming them (a project's), compiled but not refused for."""

    scenario_ids: list[int]
    created: bool
    affected: list[int] = field(default_factory=list)


# What a unique constraint that lost a race protects, by Postgres constraint name or SQLite column list.
_CONFLICTS = (
    (("uq_scenarios_project_name", "scenarios.project_id, scenarios.name"), "a scenario of that name exists"),
    (
        ("uq_scenarios_project_template", "scenarios.project_id, scenarios.template_slug"),
        "the template has an instance in the project",
    ),
    (("templates_pkey", "templates.slug"), "a template with that slug exists"),
    (("projects_pkey", "projects.id"), "a project with that id exists"),
)


# session.info key: (the transaction, the project ids it holds the write lock of; None: every project).
_HELD_LOCKS = "honeyframe.locked_projects"


def lock_projects(session: Session, project_ids: Collection[str] | None) -> None:
    """Serialize the scenario writes of these projects (None: of every project) until the session ends.

    A write's checks span rows: a name is free, an upstream chain has no cycle, a template is not yet enabled.
    They hold only if no other writer of the same project commits between the check and the commit, so every
    write path (API and `apply`) calls this first, before it reads what it checks. Postgres: the projects' rows
    are locked (FOR NO KEY UPDATE, which foreign-key checks of inserted scenarios do not wait for), in id order
    so two writers never deadlock. SQLite has one writer at a time: BEGIN IMMEDIATE takes its write lock up
    front (a deferred transaction that reads first and writes later would fail with "database is locked"
    instead of waiting). Objects the session loaded before are expired, so they are read again under the lock.
    Projects the transaction holds already (outside a savepoint) are not locked again.
    """
    transaction, wanted = session.get_transaction(), None if project_ids is None else set(project_ids)
    held = session.info.get(_HELD_LOCKS)
    if held is not None and held[0] is transaction and (held[1] is None or (wanted is not None and wanted <= held[1])):
        return  # this transaction holds them already: no other writer can have changed them since
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        dbapi = connection.connection.dbapi_connection
        # pysqlite opens a transaction only before its first write; one already open holds the write lock.
        if dbapi is not None and not dbapi.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        statement = select(ProjectRow.id).order_by(ProjectRow.id).with_for_update(key_share=True)
        if project_ids is not None:
            statement = statement.where(ProjectRow.id.in_(sorted(project_ids)))
        session.execute(statement).all()
    session.expire_all()
    if not session.in_nested_transaction():  # a lock taken in a savepoint goes when the savepoint rolls back
        session.info[_HELD_LOCKS] = (transaction, wanted)


def conflict_message(exc: IntegrityError) -> str:
    """What a constraint violation met at flush or commit means, without the database's own text."""
    constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None) or ""
    text = str(exc.orig)
    for keys, meaning in _CONFLICTS:
        if constraint in keys or any(key in text for key in keys if "." in key):
            return f"conflicts with a concurrent write: {meaning} already"
    return "conflicts with a concurrent write (a row it refers to changed or went away); try again"


def projects_of(documents: Sequence[Document]) -> set[str] | None:
    """The projects whose scenarios the documents may touch; None (every project) when a template is among them."""
    found: set[str] = set()
    for document in documents:
        match document:
            case Template():
                return None
            case Calendar():
                if document.project is None:
                    return None
                found.add(document.project)
            case Project():
                found.add(document.id)
            case Matrix() | Scenario() | Dataset() | Dashboard() | Agent():
                found.add(document.project)
    return found


def apply_documents(
    session: Session,
    documents: Sequence[Document],
    recipes: Collection[str] | None,
    dbt_built: Collection[str] | None = None,
) -> None:
    """Upsert every document in the session, then re-check every scenario they touch. Raises ApplyError.

    `recipes` are the dbt models, seeds and snapshots, `dbt_built` its models and snapshots, which no dataset may
    load into (None: unchecked).

    A unique constraint that loses a race with another writer raises IntegrityError (see `conflict_message`).
    """
    lock_projects(session, projects_of(documents))
    touched: dict[int, int] = {}
    affected: set[int] = set()
    order = sorted(range(len(documents)), key=lambda i: APPLY_ORDER.index(documents[i].kind))
    for index in order:
        try:
            written = upsert(session, documents[index])
        except ScenarioError as exc:
            raise ApplyError(index, exc) from None
        for scenario_id in written.scenario_ids:
            touched.setdefault(scenario_id, index)
        affected.update(written.affected)
    session.flush()
    catalog = load_catalog(session)
    # Tenancy (model/tenancy.py): datasets claim their tables, then scenarios the tables they write, then card
    # SQL is checked against what the project may read once all of the call's claims are in.
    for index in order:
        document = documents[index]
        if isinstance(document, Dataset):
            try:
                check_dataset(document, catalog, dbt_built)
                claim(session, catalog, document.project, {document.table_name: ("table",)})
            except TenancyError as exc:
                raise ApplyError(index, exc) from None
    by_id = {record.id: record for record in catalog.scenarios}
    for scenario_id, index in touched.items():
        record = by_id.get(scenario_id)
        if record is None:
            continue
        try:
            spec = resolve(record, catalog, recipes)
            claim(session, catalog, record.project_id, written_tables(spec.steps, record.project_id, catalog))
        except (ScenarioError, TenancyError) as exc:
            raise ApplyError(index, exc.within(f"scenario '{record.name}' of project '{record.project_id}'")) from None
        row = session.get(ScenarioRow, scenario_id)
        assert row is not None
        record_version(session, row, spec, _author(session, documents[index]))
    compile_affected(session, documents, catalog, recipes, affected - set(touched), set(touched))
    for index in order:
        document = documents[index]
        if isinstance(document, Dashboard):
            try:
                check_dashboard(document, readable_tables(catalog, document.project, recipes))
            except TenancyError as exc:
                raise ApplyError(index, exc) from None


def _author(session: Session, document: Document) -> str:
    """A version's `created_by`: the session's actor, or the template whose change made it."""
    if isinstance(document, Template):
        row = session.get(TemplateRow, document.slug)
        return f"template {document.slug} v{row.version if row is not None else 1}"
    return actor_of(session)


def compile_affected(
    session: Session,
    documents: Sequence[Document],
    catalog: Catalog,
    recipes: Collection[str] | None,
    affected: Collection[int],
    done: Collection[int],
) -> None:
    """Compile what the documents change without naming it (`affected`: a changed project's scenarios, whose
    timezone and placeholders come from it, and its new `default_enabled` cells), and the scenarios of the
    documents' projects that did not compile (a dataset, dashboard or agent applied now may mend them). One that
    does not compile records why; it is no error of this write."""
    named = {
        name
        for d in documents
        if not isinstance(d, Template) and (name := d.id if isinstance(d, Project) else d.project) is not None
    }
    rows = [row for row in (session.get(ScenarioRow, i) for i in sorted(affected)) if row is not None]
    rows += uncompiled(session, named)
    seen = set(done)
    for row in rows:
        if row.id not in seen:
            seen.add(row.id)
            compile_scenario(session, row, catalog, recipes)


def claim(session: Session, catalog: Catalog, project_id: str, tables: dict[str, Loc]) -> None:
    """Claim the tables for the project in the store, and in the catalog the later checks of this call read."""
    claim_tables(session, project_id, tables)
    catalog.table_owners.update({table_key(table): project_id for table in tables})


def upsert(session: Session, document: Document) -> Written:
    match document:
        case Project():
            return upsert_project(session, document)
        case Template():
            return upsert_template(session, document)
        case Calendar():
            return upsert_calendar(session, document)
        case Matrix():
            return upsert_matrix(session, document)
        case Scenario():
            return upsert_scenario(session, document)
        case Dataset() | Dashboard() | Agent():
            return upsert_project_object(session, document)
    raise AssertionError(f"unhandled document kind {document.kind}")


RowT = TypeVar("RowT")


def found_or_added(session: Session, found: RowT | None, new: Callable[[], RowT]) -> tuple[RowT, bool]:
    """The stored row, or `new()` added to the session; and whether it is new (the document is created)."""
    if found is not None:
        return found, False
    row = new()
    session.add(row)
    return row, True


def check_project(session: Session, project_id: str) -> None:
    """A document of a project that is not stored: ScenarioError naming `project`."""
    if session.get(ProjectRow, project_id) is None:
        raise ScenarioError.at(("project",), f"unknown project '{project_id}'", project_id)


def upsert_project(session: Session, document: Project) -> Written:
    row, created = found_or_added(session, session.get(ProjectRow, document.id), partial(ProjectRow, id=document.id))
    before = (row.name, row.owner_email, row.timezone, list(row.secrets or []))
    row.name, row.owner_email, row.timezone = document.name, document.owner_email, document.timezone
    if document.secrets is not None:  # absent: the grants stay as they are
        row.secrets = list(document.secrets)
    # What the project's scenarios are compiled with (timezone, placeholders, granted secrets) changed.
    changed = created or before != (row.name, row.owner_email, row.timezone, list(row.secrets or []))
    if created:
        session.flush()
        # Templates marked default_enabled are on for projects created after them. A cell whose template needs
        # parameter values is not re-checked here: it shows as broken in `honeyframe list` until a Matrix sets them.
        for template in session.scalars(select(TemplateRow).where(TemplateRow.default_enabled.is_(True))):
            session.add(
                ScenarioRow(
                    project_id=document.id, name=template.slug, template_slug=template.slug, enabled=True, parameters={}
                )
            )
        session.flush()
    statement = select(ScenarioRow.id).where(ScenarioRow.project_id == document.id)
    return Written([], created, list(session.scalars(statement)) if changed else [])


def upsert_template(session: Session, document: Template) -> Written:
    row, created = found_or_added(
        session, session.get(TemplateRow, document.slug), partial(TemplateRow, slug=document.slug)
    )
    check_new_run_at(document.trigger, (row.document or {}).get("trigger"))
    row.display_name, row.default_enabled = document.display_name, document.default_enabled
    stored = document.model_dump(mode="json", exclude={"kind"})
    if not created and stored != row.document:
        row.version = (row.version or 1) + 1
    row.document = stored
    cells = session.scalars(select(ScenarioRow.id).where(ScenarioRow.template_slug == document.slug))
    return Written(list(cells), created)


def upsert_matrix(session: Session, document: Matrix) -> Written:
    if session.get(TemplateRow, document.template) is None:
        hint = did_you_mean(document.template, session.scalars(select(TemplateRow.slug)))
        raise ScenarioError.at(("template",), f"unknown template '{document.template}'{hint}", document.template)
    check_project(session, document.project)
    stored = session.scalar(
        select(ScenarioRow).where(
            ScenarioRow.project_id == document.project, ScenarioRow.template_slug == document.template
        )
    )
    if stored is None:
        check_room(session, document.project, ScenarioError)
    new = partial(ScenarioRow, project_id=document.project, name=document.template, template_slug=document.template)
    row, created = found_or_added(session, stored, new)
    if created or row.enabled != document.enabled:
        stamp_pause(row, document.enabled, actor_of(session))
    row.enabled, row.parameters = document.enabled, dict(document.parameters)
    session.flush()
    return Written([row.id], created)


def upsert_scenario(session: Session, document: Scenario) -> Written:
    check_project(session, document.project)
    stored = session.scalar(
        select(ScenarioRow).where(
            ScenarioRow.project_id == document.project,
            ScenarioRow.name == document.name,
            ScenarioRow.template_slug.is_(None),
        )
    )
    if stored is None:
        check_room(session, document.project, ScenarioError)
    new = partial(ScenarioRow, project_id=document.project, name=document.name)
    row, created = found_or_added(session, stored, new)
    write_scenario_fields(row, document, actor_of(session))
    session.flush()
    return Written([row.id], created)


def check_new_run_at(trigger: Trigger, stored: Mapping[str, Any] | None) -> None:
    """A one-shot instant must be in the future when it is set. It is checked here, at write time, not in the
    model: a stored run_at that has passed (it fired) keeps loading, and rewriting it unchanged is no error."""
    if trigger.run_at is None:
        return
    previous = (stored or {}).get("run_at")
    if previous is not None and dt.datetime.fromisoformat(previous) == trigger.run_at:
        return
    # Dagster's clock, as the triggers use (frozen in tests).
    now = utcnow()
    if trigger.run_at <= now:
        raise ScenarioError.at(
            ("trigger", "run_at"),
            f"'{trigger.run_at.isoformat()}' is not in the future "
            f"(now {now.isoformat(timespec='seconds')}); a one-shot run needs an instant still to come",
            trigger.run_at.isoformat(),
        )


def write_scenario_fields(row: ScenarioRow, document: Scenario, actor: str) -> None:
    """Raises ScenarioError (naming the field) when the document cannot be written as it is; `actor` pauses it
    when the document turns it off."""
    check_new_run_at(document.trigger, row.trigger)
    if row.enabled is None or row.enabled != document.enabled:
        stamp_pause(row, document.enabled, actor)
    row.enabled, row.owner = document.enabled, document.owner
    # Defaults (catchup, overlap) are left out: they mean the same stored or not, and rows stay minimal.
    row.trigger = document.trigger.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    row.steps = [step.model_dump(mode="json", exclude_none=True) for step in document.steps]
    row.sla = document.sla.dump() if document.sla is not None else None


def calendar_row(session: Session, project_id: str | None, calendar_id: str) -> CalendarRow | None:
    scope = CalendarRow.project_id.is_(None) if project_id is None else CalendarRow.project_id == project_id
    return session.scalar(select(CalendarRow).where(scope, CalendarRow.id == calendar_id))


def calendar_users(catalog: Catalog, project_id: str | None, calendar_id: str) -> list[ScenarioRecord]:
    """The scenarios whose trigger names this calendar and resolves to it (a project's own calendar of the same id
    shadows the org's)."""
    found = []
    for record in catalog.scenarios:
        if project_id is not None and record.project_id != project_id:
            continue
        trigger: Trigger | None
        try:
            _, trigger, _ = render_scenario(record, catalog)
        except ScenarioError:
            trigger = _stored_trigger(record, catalog)
        if trigger is None or trigger.calendar != calendar_id:
            continue
        if project_id is None and (record.project_id, calendar_id) in catalog.calendars:
            continue
        found.append(record)
    return found


def _stored_trigger(record: ScenarioRecord, catalog: Catalog) -> Trigger | None:
    """The trigger of a scenario that does not render (it still names its calendar)."""
    if record.template_slug is not None:
        template = catalog.templates.get(record.template_slug)
        return template.trigger if template is not None else None
    try:
        return Trigger.model_validate(record.trigger)
    except ValueError:
        return None


def upsert_calendar(session: Session, document: Calendar) -> Written:
    """A calendar: the scenarios whose trigger names it are compiled again (their versions carry it)."""
    if document.project is not None:
        check_project(session, document.project)
    stored = calendar_row(session, document.project, document.id)
    new = partial(CalendarRow, id=document.id, project_id=document.project)
    row, created = found_or_added(session, stored, new)
    row.document = document.document()
    session.flush()
    catalog = load_catalog(session, None if document.project is None else [document.project])
    return Written([], created, [record.id for record in calendar_users(catalog, document.project, document.id)])


def upsert_project_object(session: Session, document: Dataset | Dashboard | Agent) -> Written:
    check_project(session, document.project)
    check_object_secrets(session, document)
    table = next(table for _, table, model in PROJECT_OBJECTS if isinstance(document, model))
    stored = cast("ProjectObjectRow | None", session.get(table, (document.project, document.id)))
    row: ProjectObjectRow
    row, created = found_or_added(session, stored, partial(table, project_id=document.project, id=document.id))
    row.document = document.model_dump(mode="json")
    # Adding or changing a dataset, dashboard or agent cannot break a scenario that refers to it.
    return Written([], created)
