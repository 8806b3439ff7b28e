"""What the factory will build from a catalog: one entry per scenario, built or broken."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from honeyframe_dagster.model.compiled import CompiledScenarios
from honeyframe_dagster.model.kinds import registered
from honeyframe_dagster.model.naming import TriggerKind, in_shard, job_names, trigger_name
from honeyframe_dagster.model.scenario import Catalog, ScenarioError, ScenarioRecord, ScenarioSpec
from honeyframe_dagster.model.schedule_grid import trigger_kind
from honeyframe_dagster.settings import get_settings

log = logging.getLogger("honeyframe.factory")


@dataclass(frozen=True)
class PlannedScenario:
    record: ScenarioRecord
    job_name: str
    trigger_name: str | None
    spec: ScenarioSpec | None
    error: str | None
    # The stored version even when it does not build here (its recipe left the dbt project): what it shows.
    stored: ScenarioSpec | None = None

    @property
    def status(self) -> str:
        if self.spec is None:
            return "ERROR"
        return "RUNNING" if self.record.enabled else "STOPPED"

    @property
    def trigger_kind(self) -> TriggerKind | None:
        """A Dagster schedule or sensor (factory/triggers.py `build_trigger`); None when the scenario is broken."""
        if self.spec is None or self.trigger_name is None:
            return None
        return trigger_kind(self.spec.trigger, self.spec.timezone)


def plan(
    compiled: CompiledScenarios,
    recipes: Collection[str] | None,
    shard: tuple[int, int] | None = None,
    names: Mapping[int, str] | None = None,
    checks: Catalog | None = None,
) -> list[PlannedScenario]:
    """Every scenario of the shard as its stored version says; a broken one is kept with its error, never raised.

    Nothing is resolved here: versions were checked when written. What the code location's own files decide is
    checked again (`checks`: the kinds' checks, such as a recipe that left the dbt project), so a version that no
    longer builds is that scenario's error.

    `names`: job names by scenario id, when `compiled` holds only part of the scenarios that share the names
    (the API plans one scenario or one project: honeyframe_dagster/factory/planner.py); by default computed from
    the records."""
    records = [r for r in compiled.records if in_shard(r.project_id, shard)]
    names = job_names(records) if names is None else names
    checks = checks if checks is not None else empty_catalog_for_checks()
    planned: dict[int, PlannedScenario] = {}
    for record in records:
        spec = compiled.specs.get(record.id)
        error = compiled.errors.get(record.id)
        if spec is not None:
            error = _builds(spec, recipes, checks)
        if spec is None or error is not None:
            error = error or f"scenario {record.id} '{record.name}' of project '{record.project_id}' has no version"
            planned[record.id] = PlannedScenario(record, names[record.id], None, None, error, spec)
            continue
        name = trigger_name(names[record.id], trigger_kind(spec.trigger, spec.timezone))
        planned[record.id] = PlannedScenario(record, names[record.id], name, spec, None)
    # An upstream-triggered scenario is only as buildable as its upstream.
    for entry in list(planned.values()):
        if entry.spec is not None and entry.spec.trigger.upstream is not None:
            upstream = compiled.named(entry.record.project_id, entry.spec.trigger.upstream.scenario)
            if upstream is None or upstream.id not in planned or planned[upstream.id].spec is None:
                error = (
                    f"scenario {entry.record.id} '{entry.record.name}' of project '{entry.record.project_id}': "
                    f"trigger.upstream.scenario: upstream '{entry.spec.trigger.upstream.scenario}' is broken"
                )
                planned[entry.record.id] = PlannedScenario(entry.record, entry.job_name, None, None, error, entry.spec)
    for entry in planned.values():
        if entry.error:
            log.error("skipped %s", entry.error)
    return list(planned.values())


def empty_catalog_for_checks() -> Catalog:
    """What the kinds' build checks read (the run_python recipes folder), from the settings."""
    settings = get_settings()
    return Catalog(default_timezone=settings.default_timezone, python_recipes_dir=settings.python_recipes_dir)


def _builds(spec: ScenarioSpec, recipes: Collection[str] | None, checks: Catalog) -> str | None:
    """Why the stored version does not build with this location's files (None: it does)."""
    kinds = registered()
    for index, step in enumerate(spec.steps):
        check = kinds[step.kind].check_references
        if check is None:
            continue
        try:
            check(step, index, spec.project.id, checks, recipes)
        except ScenarioError as exc:
            record = spec.record
            return f"scenario {record.id} '{record.name}' of project '{record.project_id}': {exc}"
    return None
