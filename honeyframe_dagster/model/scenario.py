"""A scenario as the factory, the API and the ops see it: a store record resolved against its catalog."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from honeyframe_dagster.model.calendars import Calendar, find_calendar
from honeyframe_dagster.model.documents import Agent, Dashboard, Dataset, Project, Template
from honeyframe_dagster.model.entities import columns, fields_with_entity
from honeyframe_dagster.model.errors import FieldError, InvalidDocument, ScenarioError, dotted
from honeyframe_dagster.model.kinds import registered
from honeyframe_dagster.model.rendering import RenderError
from honeyframe_dagster.model.secret_grants import SecretNotGranted, check_granted
from honeyframe_dagster.model.secret_grants import check_steps as check_secrets
from honeyframe_dagster.model.sla import Sla
from honeyframe_dagster.model.step_base import check_in_project
from honeyframe_dagster.model.steps import STEPS_ADAPTER, Step
from honeyframe_dagster.model.suggest import did_you_mean
from honeyframe_dagster.model.tenancy import TenancyError, check_sql, check_steps, readable_tables
from honeyframe_dagster.model.triggers import Trigger


@dataclass(frozen=True)
class ScenarioRecord:
    """One row of the store's `scenarios` table, as plain data."""

    id: int
    project_id: str
    name: str
    enabled: bool
    template_slug: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    trigger: Mapping[str, Any] | None = None
    steps: list[Any] | None = None
    owner: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    # Its current compiled version (store/versions.py): number and hash; why it does not compile (None: it does).
    version: int | None = None
    spec_hash: str | None = None
    compile_error: str | None = None
    # Why it is paused (`enabled: false` with a note), by whom and when; None while enabled.
    pause_note: str | None = None
    paused_by: str | None = None
    paused_at: dt.datetime | None = None
    # The scenario's `sla` as stored (model/sla.py); None: none.
    sla: Mapping[str, Any] | None = None


@dataclass
class Catalog:
    """Everything a scenario may refer to, loaded from the store in one go."""

    projects: dict[str, Project] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    scenarios: list[ScenarioRecord] = field(default_factory=list)
    datasets: dict[tuple[str, str], Dataset] = field(default_factory=dict)
    dashboards: dict[tuple[str, str], Dashboard] = field(default_factory=dict)
    agents: dict[tuple[str, str], Agent] = field(default_factory=dict)
    # Calendars by (project id, None for the org's, calendar id): `trigger.calendar` (model/calendars.py).
    calendars: dict[tuple[str | None, str], Calendar] = field(default_factory=dict)
    # A cron trigger's timezone: the trigger's, else the project's, else this org default.
    default_timezone: str = "UTC"
    # Where run_python recipes live; None: HONEYFRAME_PYTHON_RECIPES_DIR, read when a step is checked.
    python_recipes_dir: Path | None = None
    # Stored templates that no longer validate (hand edits): slug → why.
    broken_templates: dict[str, str] = field(default_factory=dict)
    # Warehouse table (lower-case) -> the project that owns it (model/tenancy.py), for the loaded projects.
    table_owners: dict[str, str] = field(default_factory=dict)

    def scenario_named(self, project_id: str, name: str) -> ScenarioRecord | None:
        return next((s for s in self.scenarios if s.project_id == project_id and s.name == name), None)


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario ready to become a Dagster job: resolved at a write, stored as a version (model/compiled.py)."""

    record: ScenarioRecord
    project: Project
    trigger: Trigger
    timezone: str
    steps: tuple[Step, ...]
    owner: str
    # The stored version this spec is (0: not stored yet, as while a write checks it).
    version: int = 0
    # When the trigger's cadence (re)started: its trigger last changed or it was last enabled. Instants before it
    # are never due (factory/triggers.py); an edit of anything else keeps it, so no due instant is lost.
    since: dt.datetime | None = None
    # The calendar `trigger.calendar` names, as it was when the version was written (None: no calendar).
    calendar: Calendar | None = None
    sla: Sla | None = None

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def template_slug(self) -> str | None:
        return self.record.template_slug

    @property
    def enabled(self) -> bool:
        return self.record.enabled


def resolve(
    record: ScenarioRecord, catalog: Catalog, recipes: Collection[str] | None, references: bool = True
) -> ScenarioSpec:
    """Render and check one scenario; `recipes` are the dbt nodes a run_recipe may name (None: unchecked);
    `references=False`: what the steps name is not looked up in the catalog (the legacy migration's rows)."""
    project, trigger, steps = render_scenario(record, catalog)
    if not steps:
        raise ScenarioError.at(("steps",), "a scenario needs at least one step", steps)
    sla = read_sla(record)
    try:
        check_secrets(steps, project, catalog)
        check_granted(sla.variables() if sla is not None else [], project)
    except SecretNotGranted as exc:
        raise ScenarioError([parameter_source(error, record.parameters) for error in exc.errors]) from None
    check_expansion(trigger, steps, project.id, catalog, recipes)
    if sla is not None and trigger.upstream is not None:
        message = "applies to time triggers only (an upstream trigger has no instants to be late for)"
        raise ScenarioError.at(("sla",), message, sla.dump())
    for index, step in enumerate(steps if references else ()):
        if step.has_entity:
            continue  # what an entity's values name is checked when its run renders them (the op)
        try:
            check_references(step, index, project.id, catalog, recipes)
        except ScenarioError as exc:
            raise ScenarioError([parameter_source(exc.first, record.parameters)]) from None
    try:
        check_steps(steps, project.id, catalog, recipes)
    except TenancyError as exc:
        raise ScenarioError(exc.errors) from None
    if trigger.upstream is not None:
        check_upstream(record, trigger.upstream.scenario, catalog)
    timezone = trigger.timezone or project.timezone or catalog.default_timezone
    calendar = trigger_calendar(trigger, project.id, catalog)
    owner = record.owner or project.owner_email
    return ScenarioSpec(record, project, trigger, timezone, tuple(steps), owner, calendar=calendar, sla=sla)


CALENDAR = ("trigger", "calendar")


def trigger_calendar(trigger: Trigger, project_id: str, catalog: Catalog) -> Calendar | None:
    """The calendar the trigger names: the project's own of that id, else the org's; ScenarioError when neither."""
    if trigger.calendar is None:
        return None
    calendar = find_calendar(catalog.calendars, project_id, trigger.calendar)
    if calendar is None:
        message = f"unknown calendar '{trigger.calendar}' (neither project '{project_id}''s nor an org-wide one)"
        raise ScenarioError.at(CALENDAR, message, trigger.calendar)
    return calendar


EXPAND_SQL = ("trigger", "expand_from", "sql")


def read_sla(record: ScenarioRecord) -> Sla | None:
    if not record.sla:
        return None
    try:
        return Sla.model_validate(record.sla)
    except ValidationError as exc:
        error = first_error(exc)
        raise ScenarioError.at(("sla", *error.loc), error.msg, error.input) from None


def check_expansion(
    trigger: Trigger, steps: list[Step], project_id: str, catalog: Catalog, recipes: Collection[str] | None
) -> None:
    """`expand_from`'s query within the project's SQL policy (as card SQL); `{{ entity.COLUMN }}` only under an
    `expand_from`, never in the field naming the table a step writes. ScenarioError naming the field."""
    if trigger.expand_from is not None:
        try:
            check_sql(trigger.expand_from.sql, EXPAND_SQL, readable_tables(catalog, project_id, recipes))
        except TenancyError as exc:
            raise ScenarioError(exc.errors) from None
    for index, step in enumerate(steps):
        fields = fields_with_entity(step.model_dump(mode="json", exclude_none=True))
        if not fields:
            continue
        where = ("steps", index, fields[0])
        if trigger.expand_from is None:
            named = sorted(columns(getattr(step, fields[0])))
            message = f"{{{{ entity.{named[0]} }}}} needs a trigger with expand_from (one run per row)"
            raise ScenarioError.at(where, message, getattr(step, fields[0]))
        written = step.written_table(project_id, catalog)
        if written is not None and written[1] in fields:
            message = "the table a step writes takes no {{ entity.COLUMN }} placeholder (it is claimed at write)"
            raise ScenarioError.at(("steps", index, written[1]), message, getattr(step, written[1]))


def render_scenario(record: ScenarioRecord, catalog: Catalog) -> tuple[Project, Trigger, list[Step]]:
    """The scenario's project, trigger and typed steps (a template's rendered for the project), unchecked against
    the rest of the catalog; raises ScenarioError naming the field."""
    project = catalog.projects.get(record.project_id)
    if project is None:
        raise ScenarioError.at(("project",), f"unknown project '{record.project_id}'", record.project_id)
    if record.template_slug is not None:
        template = catalog.templates.get(record.template_slug)
        if record.template_slug in catalog.broken_templates:
            why = catalog.broken_templates[record.template_slug]
            raise ScenarioError.at(
                ("template",), f"stored template '{record.template_slug}' is invalid: {why}", record.template_slug
            )
        if template is None:
            hint = did_you_mean(record.template_slug, catalog.templates)
            raise ScenarioError.at(
                ("template",), f"unknown template '{record.template_slug}'{hint}", record.template_slug
            )
        if not isinstance(record.parameters, Mapping):
            raise ScenarioError.at(
                ("parameters",), f"stored value is not an object: {record.parameters!r:.200}", record.parameters
            )
        trigger = template.trigger
        context = f"template '{template.slug}' for project '{project.id}'"
        try:
            steps = template.instantiate(project, dict(record.parameters))
        except ValidationError as exc:
            raise ScenarioError([first_error(exc)]).within(context) from None
        except RenderError as exc:
            raise ScenarioError(exc.errors).within(context) from None
        except InvalidDocument as exc:  # a parameter value, or a step it renders, that does not fit
            raise ScenarioError(exc.errors) from None
    else:
        try:
            trigger = Trigger.model_validate(record.trigger)
            steps = STEPS_ADAPTER.validate_python(record.steps)
        except ValidationError as exc:
            raise ScenarioError([first_error(exc)]) from None
    return project, trigger, steps


def check_references(
    step: Step, index: int, project_id: str, catalog: Catalog, recipes: Collection[str] | None
) -> None:
    """What the step names exists: the project objects of its `references()`, then what its kind checks
    (steps/<kind>/model.py); raises ScenarioError naming the field."""
    for reference in step.references():
        known = getattr(catalog, reference.collection)
        check_in_project(known, reference.noun, project_id, reference.name, ("steps", index, reference.field))
    check = registered()[step.kind].check_references
    if check is not None:
        check(step, index, project_id, catalog, recipes)


def parameter_source(error: FieldError, parameters: Mapping[str, Any]) -> FieldError:
    """A template instance's unknown reference that came from a parameter value is that parameter's error:
    located at it, and said ` (parameter 'dashboards[1]')`."""
    for name, value in parameters.items():
        loc: tuple[str | int, ...] | None = None
        if value == error.input:
            loc, said = ("parameters", name), name
        elif isinstance(value, list) and error.input in value:
            index = value.index(error.input)
            loc, said = ("parameters", name, index), f"{name}[{index}]"
        if loc is not None:
            text = f"{dotted(error.loc)}: {error.msg} (parameter '{said}')"
            return FieldError(loc, text, error.input, text)
    return error


def upstream_name(record: ScenarioRecord, catalog: Catalog) -> str | None:
    if record.template_slug is not None:
        template = catalog.templates.get(record.template_slug)
        trigger = template.trigger if template else None
    else:
        try:
            trigger = Trigger.model_validate(record.trigger)
        except ValidationError:
            return None
    return trigger.upstream.scenario if trigger and trigger.upstream else None


UPSTREAM = ("trigger", "upstream", "scenario")


def check_upstream(record: ScenarioRecord, name: str, catalog: Catalog) -> None:
    seen = {record.id}
    current = name
    while True:
        upstream = catalog.scenario_named(record.project_id, current)
        if upstream is None:
            raise ScenarioError.at(UPSTREAM, f"unknown scenario '{current}' in project '{record.project_id}'", current)
        if upstream.id in seen:
            raise ScenarioError.at(UPSTREAM, f"'{name}' would make a cycle", name)
        seen.add(upstream.id)
        following = upstream_name(upstream, catalog)
        if following is None:
            return
        current = following


def first_error(exc: ValidationError) -> FieldError:
    """A stored value that no longer validates (hand edit); the line keeps pydantic's dotted path."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    value = error.get("input")
    shown = "" if isinstance(value, dict | list) else f" (value: {value!r})"
    return FieldError(tuple(error["loc"]), str(error["msg"]), value, f"{where}: {error['msg']}{shown}")
