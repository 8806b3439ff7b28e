"""What the admin pages show, gathered from the store, the planner and Dagster (which may be down)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.admin.words import trigger_in_words
from api.present import Planner, ProjectPlan, next_run_at, run_tags, trigger_statuses
from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable, timestamp
from honeyframe_dagster.factory.plan import PlannedScenario
from honeyframe_dagster.model.documents import Parameter, Template
from honeyframe_dagster.model.triggers import Trigger
from honeyframe_dagster.store.catalog import template_model
from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow, TemplateRow
from honeyframe_dagster.tokens import TokenGrant

log = logging.getLogger("honeyframe.api")


@dataclass(frozen=True)
class LastRun:
    """The newest run in Dagster's run storage; `status` UNKNOWN when the storage cannot be read."""

    status: str
    at: dt.datetime | None


def last_run(client: DagsterClient | None, project_id: str, scenario_id: int) -> LastRun | None:
    if client is None:
        return None
    try:
        records = client.run_records(run_tags(project_id, scenario_id), 0, 1)
    except (DagsterUnavailable, SQLAlchemyError, OSError) as exc:  # a page keeps rendering while Dagster is down
        log.warning("last run of scenario %s unknown: %s", scenario_id, exc)
        return LastRun("UNKNOWN", None)
    if not records:
        return None
    record = records[0]
    at = timestamp(record.end_time) or timestamp(record.start_time) or record.create_timestamp
    return LastRun(record.dagster_run.status.value, at)


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
    last_run: LastRun | None = None
    error: str | None = None


@dataclass
class TemplateLine:
    """One row of the matrix: a template and its cells, in project order."""

    template: Template
    trigger_words: str
    cells: list[Cell] = field(default_factory=list)

    @property
    def parameters(self) -> list[Parameter]:
        return self.template.parameters


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
    client: DagsterClient | None,
) -> Cell:
    values = dict(row.parameters) if row is not None else {}
    cell = Cell(template.slug, project_id, None, False, values, missing_values(template, values))
    if row is None:
        return cell
    entry = plan.entries.get(row.id)
    cell.scenario_id, cell.enabled = row.id, row.enabled
    if entry is not None:
        cell.error = entry.error
        cell.trigger_status = statuses.get(entry.trigger_name) if entry.trigger_name else None
    cell.last_run = last_run(client, project_id, row.id)
    return cell


def matrix(
    session: Session, grant: TokenGrant, planner: Planner, client: DagsterClient | None
) -> tuple[list[ProjectRow], list[TemplateLine]]:
    projects = visible_projects(session, grant)
    plans = {project.id: planner.plan(session, project.id) for project in projects}
    statuses = trigger_statuses(client, [t for plan in plans.values() for t in plan.triggers()])
    cells = {
        (row.template_slug, row.project_id): row
        for row in session.scalars(select(ScenarioRow).where(ScenarioRow.template_slug.is_not(None)))
    }
    lines = []
    for template_row in session.scalars(select(TemplateRow).order_by(TemplateRow.slug)):
        template = template_model(template_row)
        line = TemplateLine(template, template_trigger_words(template))
        for project in projects:
            row = cells.get((template.slug, project.id))
            line.cells.append(build_cell(template, project.id, row, plans[project.id], statuses, client))
        lines.append(line)
    return projects, lines


def one_cell(
    session: Session, planner: Planner, client: DagsterClient | None, slug: str, project_id: str
) -> tuple[TemplateLine, Cell]:
    template_row = session.get(TemplateRow, slug)
    assert template_row is not None
    template = template_model(template_row)
    plan = planner.plan(session, project_id)
    row = session.scalar(
        select(ScenarioRow).where(ScenarioRow.project_id == project_id, ScenarioRow.template_slug == slug)
    )
    triggers = plan.triggers([row.id]) if row is not None else []
    cell = build_cell(template, project_id, row, plan, trigger_statuses(client, triggers), client)
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
    last_run: LastRun | None
    job_url: str | None
    error: str | None


def schedule_lines(
    session: Session,
    project: ProjectRow,
    planner: Planner,
    client: DagsterClient | None,
    dagster_url: str,
    default_timezone: str,
) -> list[ScheduleLine]:
    """`dagster_url`: the Dagster UI for job links ("" for none); `default_timezone`: the org's."""
    plan = planner.plan(session, project.id)
    statuses = trigger_statuses(client, plan.triggers())
    templates = {row.slug: row for row in session.scalars(select(TemplateRow))}
    now = dt.datetime.now(dt.UTC)
    lines = []
    for scenario_id, entry in sorted(plan.entries.items()):
        record, spec = entry.record, entry.spec
        if spec is not None:
            words = trigger_in_words(spec.trigger, spec.timezone)
        else:
            trigger = _broken_trigger(entry, templates)
            timezone = (trigger.timezone if trigger else None) or project.timezone or default_timezone
            words = trigger_in_words(trigger, timezone) if trigger else "—"
        job_url = f"{dagster_url}/locations/{plan.location}/jobs/{entry.job_name}" if dagster_url else None
        lines.append(
            ScheduleLine(
                id=scenario_id,
                name=record.name,
                template_slug=record.template_slug,
                enabled=record.enabled,
                trigger_words=words,
                next_run_at=next_run_at(spec, now) if spec is not None else None,
                trigger_status=statuses.get(entry.trigger_name) if entry.trigger_name else None,
                last_run=last_run(client, project.id, scenario_id),
                job_url=job_url if spec is not None else None,
                error=entry.error,
            )
        )
    return lines


def _broken_trigger(entry: PlannedScenario, templates: dict[str, TemplateRow]) -> Trigger | None:
    """The trigger of a scenario that cannot build, if it can still be read (its own, or its template's)."""
    raw = entry.record.trigger
    if raw is None and entry.record.template_slug in templates:
        raw = templates[entry.record.template_slug].document.get("trigger")
    try:
        return Trigger.model_validate(raw) if raw else None
    except ValueError:
        return None
