"""What the admin pages show, gathered from the store, the planner and Dagster (which may be down)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from dagster._time import get_current_datetime
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.admin.words import trigger_in_words
from api.present import scenario_public, trigger_statuses
from api.schemas import RunSummary
from honeyframe_dagster.clock import from_timestamp
from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable, LatestRuns
from honeyframe_dagster.factory.plan import PlannedScenario
from honeyframe_dagster.factory.planner import Planner, ProjectPlan
from honeyframe_dagster.model.calendars import Calendar, find_calendar
from honeyframe_dagster.model.documents import Parameter, Template
from honeyframe_dagster.model.instants import upcoming
from honeyframe_dagster.model.scenario import first_error
from honeyframe_dagster.model.triggers import Trigger
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.catalog import load_calendars, template_model
from honeyframe_dagster.store.sla import missed_instants
from honeyframe_dagster.store.tables import DashboardRow, DatasetRow, ProjectRow, ScenarioRow, TemplateRow
from honeyframe_dagster.tokens import TokenGrant

log = logging.getLogger("honeyframe.api")


def newest_runs(client: DagsterClient | None, project_id: str, ids: list[int]) -> dict[int, LatestRuns] | None:
    """The scenarios' newest runs; None when Dagster's run storage cannot be read, so a page says "unknown"."""
    if client is None or not ids:
        return {}
    try:
        return client.latest_runs(project_id, ids)
    except DagsterUnavailable as exc:  # a page keeps rendering while Dagster is down
        log.warning("latest runs of project %s unknown: %s", project_id, exc)
        return None


def ran_at(latest: LatestRuns | None) -> dt.datetime | None:
    """When the newest run ran: its start, or its creation while it waits in the queue."""
    record = latest.last if latest is not None else None
    if record is None:
        return None
    created = record.create_timestamp
    return from_timestamp(record.start_time) or (created if created.tzinfo else created.replace(tzinfo=dt.UTC))


def project_timezone(project: ProjectRow, default_timezone: str) -> str:
    """The timezone a project's pages show times in: its own, else the org's default."""
    return project.timezone or default_timezone


def choices(session: Session, project_id: str, recipes: frozenset[str]) -> dict[str, list[str]]:
    """What a reference parameter may name in this project, by its type without `list[...]`: the pickers' options."""
    dashboards = session.scalars(select(DashboardRow.id).where(DashboardRow.project_id == project_id))
    datasets = session.scalars(select(DatasetRow.id).where(DatasetRow.project_id == project_id))
    return {
        "recipe_ref": sorted(recipes),
        "dashboard_ref": sorted(dashboards),
        "dataset_ref": sorted(datasets),
    }


@dataclass
class Cell:
    """One template × project cell of the matrix."""

    slug: str
    project_id: str
    scenario_id: int | None
    enabled: bool
    values: dict[str, Any]
    missing: list[str]
    trigger_status: str | None = None
    last_run: RunSummary | None = None
    runs_unknown: bool = False
    error: str | None = None
    last_run_at: dt.datetime | None = None
    timezone: str = "UTC"
    # The pickers' options by reference type (`choices`), and what was typed into a form that was refused.
    options: dict[str, list[str]] = field(default_factory=dict)
    typed: dict[str, Any] | None = None
    # The next five instants it would fire at once enabled (the enable form shows them before saving).
    upcoming: list[dt.datetime] = field(default_factory=list)

    def shown_value(self, name: str) -> Any:
        """An input's value: what was typed when the form was refused, else the stored value."""
        return self.typed.get(name) if self.typed is not None else self.values.get(name)


@dataclass
class TemplateLine:
    """One row of the matrix: a template and its cells, in project order."""

    template: Template
    trigger_words: str
    cells: list[Cell] = field(default_factory=list)
    # Why the stored template does not load (a hand edit, an older release): its row shows this instead of cells.
    error: str | None = None

    @property
    def parameters(self) -> list[Parameter]:
        return self.template.parameters if self.error is None else []


def broken_template_line(row: TemplateRow, exc: ValidationError) -> TemplateLine:
    """A stored template that does not validate: shown by name with its first error, without cells."""
    shown = Template.model_construct(  # type: ignore[call-arg]  # no trigger or steps: none validates
        slug=row.slug, display_name=row.display_name, default_enabled=row.default_enabled, parameters=[]
    )
    error = f"stored template '{row.slug}' is invalid: {first_error(exc).line}"
    return TemplateLine(shown, "—", error=error)


def template_trigger_words(template: Template) -> str:
    return trigger_in_words(template.trigger, template.trigger.timezone or "each project's timezone")


def missing_values(template: Template, values: dict[str, Any]) -> list[str]:
    """Parameters that enabling would still need: no stored value and no default."""
    return [p.name for p in template.parameters if p.default is None and values.get(p.name) in (None, "")]


def visible_projects(session: Session, grant: TokenGrant) -> list[ProjectRow]:
    rows = session.scalars(select(ProjectRow).order_by(ProjectRow.id))
    return [row for row in rows if grant.may_act_on(row.id)]


def build_cell(
    template: Template,
    project_id: str,
    row: ScenarioRow | None,
    plan: ProjectPlan,
    statuses: dict[str, str],
    latest: dict[int, LatestRuns] | None,
    upcoming_instants: list[dt.datetime] | None = None,
) -> Cell:
    """`latest`: the project's newest runs by scenario id (`newest_runs`), None when unknown; `upcoming_instants`:
    what the template's trigger fires in the project (`template_upcoming`)."""
    values = dict(row.parameters) if row is not None else {}
    cell = Cell(template.slug, project_id, None, False, values, missing_values(template, values))
    cell.upcoming = list(upcoming_instants or [])
    if row is None:
        return cell
    cell.scenario_id, cell.enabled, cell.runs_unknown = row.id, row.enabled, latest is None
    entry = plan.entries.get(row.id)
    if entry is not None:
        public = scenario_public(entry, statuses, get_current_datetime(), (latest or {}).get(row.id), plan.paused)
        cell.error, cell.trigger_status, cell.last_run = public.error, public.dagster.trigger_status, public.last_run
        cell.last_run_at = ran_at((latest or {}).get(row.id))
    return cell


def matrix(
    session: Session, grant: TokenGrant, planner: Planner, client: DagsterClient | None, default_timezone: str
) -> tuple[list[ProjectRow], list[TemplateLine]]:
    projects = visible_projects(session, grant)
    plans = {project.id: planner.plan(session, project.id) for project in projects}
    statuses = trigger_statuses(client, [t for plan in plans.values() for t in plan.triggers()])
    latest = {project.id: newest_runs(client, project.id, sorted(plans[project.id].entries)) for project in projects}
    options = {project.id: choices(session, project.id, planner.recipes) for project in projects}
    cells = {
        (row.template_slug, row.project_id): row
        for row in session.scalars(select(ScenarioRow).where(ScenarioRow.template_slug.is_not(None)))
    }
    calendars = load_calendars(session, [project.id for project in projects])
    lines = []
    for template_row in session.scalars(select(TemplateRow).order_by(TemplateRow.slug)):
        try:
            template = template_model(template_row)
        except ValidationError as exc:  # that template's error, never the page's
            lines.append(broken_template_line(template_row, exc))
            continue
        line = TemplateLine(template, template_trigger_words(template))
        for project in projects:
            row = cells.get((template.slug, project.id))
            soon = template_upcoming(calendars, template, project)
            cell = build_cell(template, project.id, row, plans[project.id], statuses, latest[project.id], soon)
            cell.timezone, cell.options = project_timezone(project, default_timezone), options[project.id]
            line.cells.append(cell)
        lines.append(line)
    return projects, lines


def one_cell(
    session: Session, planner: Planner, client: DagsterClient | None, slug: str, project_id: str, default_timezone: str
) -> tuple[TemplateLine, Cell]:
    template_row = session.get(TemplateRow, slug)
    assert template_row is not None
    template = template_model(template_row)
    plan = planner.plan(session, project_id)
    row = session.scalar(
        select(ScenarioRow).where(ScenarioRow.project_id == project_id, ScenarioRow.template_slug == slug)
    )
    ids = [row.id] if row is not None else []
    statuses = trigger_statuses(client, plan.triggers(ids))
    project = session.get(ProjectRow, project_id)
    assert project is not None
    soon = template_upcoming(load_calendars(session, [project_id]), template, project)
    cell = build_cell(template, project_id, row, plan, statuses, newest_runs(client, project_id, ids), soon)
    cell.timezone, cell.options = (
        project_timezone(project, default_timezone),
        choices(session, project_id, planner.recipes),
    )
    return TemplateLine(template, template_trigger_words(template), [cell]), cell


@dataclass(frozen=True)
class ScheduleLine:
    """One scenario of a project as the schedules page shows it."""

    id: int
    name: str
    template_slug: str | None
    enabled: bool
    trigger_words: str
    next_run_at: dt.datetime | None
    trigger_status: str | None
    last_run: RunSummary | None
    last_run_at: dt.datetime | None
    runs_unknown: bool
    job_url: str | None
    error: str | None
    # Whether run now can launch it (it builds, and there is a Dagster to launch in).
    runnable: bool = False
    # The next five instants (calendar applied); none while disabled or the project is paused.
    upcoming: list[dt.datetime] = field(default_factory=list)
    pause_note: str | None = None
    paused_by: str | None = None
    paused_at: dt.datetime | None = None
    # Instants that missed the scenario's SLA, newest first (store/sla.py).
    sla_missed: list[dt.datetime] = field(default_factory=list)


def schedule_lines(
    session: Session,
    project: ProjectRow,
    planner: Planner,
    client: DagsterClient | None,
    dagster_url: str,
    default_timezone: str,
    only: int | None = None,
) -> list[ScheduleLine]:
    """`dagster_url`: the Dagster UI for job links ("" for none); `default_timezone`: the org's; `only`: that
    scenario's line alone (a row re-rendered after an action)."""
    plan = planner.plan(session, project.id)
    statuses = trigger_statuses(client, plan.triggers())
    latest = newest_runs(client, project.id, sorted(plan.entries))
    templates = {row.slug: row for row in session.scalars(select(TemplateRow))}
    now = get_current_datetime()
    missed = missed_instants(session, plan.entries)
    lines = []
    for scenario_id, entry in sorted(plan.entries.items()):
        if only is not None and scenario_id != only:
            continue
        missed_here = missed.get(scenario_id)
        public = scenario_public(entry, statuses, now, (latest or {}).get(scenario_id), plan.paused, missed_here)
        shown = entry.spec or entry.stored
        if shown is not None:
            words = trigger_in_words(shown.trigger, shown.timezone)
        else:
            trigger = public.trigger or _template_trigger(entry, templates)
            timezone = (trigger.timezone if trigger else None) or project.timezone or default_timezone
            words = trigger_in_words(trigger, timezone) if trigger else "—"
        built = entry.spec is not None and dagster_url
        lines.append(
            ScheduleLine(
                id=scenario_id,
                name=public.name,
                template_slug=public.template_slug,
                enabled=public.enabled,
                trigger_words=words,
                next_run_at=public.next_run_at,
                trigger_status=public.dagster.trigger_status,
                last_run=public.last_run,
                last_run_at=ran_at((latest or {}).get(scenario_id)),
                runs_unknown=latest is None,
                job_url=f"{dagster_url}/locations/{plan.location}/jobs/{entry.job_name}" if built else None,
                error=public.error,
                runnable=entry.spec is not None and client is not None,
                upcoming=_upcoming(entry, now) if public.next_run_at is not None else [],
                pause_note=public.pause_note,
                paused_by=public.paused_by,
                paused_at=public.paused_at,
                sla_missed=public.sla_missed,
            )
        )
    return lines


UPCOMING = 5


def template_upcoming(
    calendars: dict[tuple[str | None, str], Calendar], template: Template, project: ProjectRow
) -> list[dt.datetime]:
    """The next five instants of the template's trigger in the project (its timezone and calendars)."""
    trigger = template.trigger
    calendar = find_calendar(calendars, project.id, trigger.calendar) if trigger.calendar else None
    timezone = trigger.timezone or project.timezone or get_settings().default_timezone
    return upcoming(trigger, timezone, get_current_datetime(), UPCOMING, calendar)


def _upcoming(entry: PlannedScenario, now: dt.datetime) -> list[dt.datetime]:
    spec = entry.spec
    return [] if spec is None else upcoming(spec.trigger, spec.timezone, now, UPCOMING, spec.calendar)


def _template_trigger(entry: PlannedScenario, templates: dict[str, TemplateRow]) -> Trigger | None:
    """A broken template instance has no trigger of its own: its template's, if that can still be read."""
    template = templates.get(entry.record.template_slug or "")
    try:
        return template_model(template).trigger if template is not None else None
    except ValueError:
        return None
