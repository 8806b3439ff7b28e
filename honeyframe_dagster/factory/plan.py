"""What the factory will build from a catalog: one entry per scenario, built or broken."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from honeyframe_dagster.model.naming import TriggerKind, in_shard, job_names, trigger_name
from honeyframe_dagster.model.scenario import Catalog, ScenarioError, ScenarioRecord, ScenarioSpec, resolve
from honeyframe_dagster.model.schedule_grid import trigger_kind

log = logging.getLogger("honeyframe.factory")


@dataclass(frozen=True)
class PlannedScenario:
    record: ScenarioRecord
    job_name: str
    trigger_name: str | None
    spec: ScenarioSpec | None
    error: str | None

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
    catalog: Catalog,
    recipes: Collection[str] | None,
    shard: tuple[int, int] | None = None,
    names: Mapping[int, str] | None = None,
) -> list[PlannedScenario]:
    """Resolve every scenario of the shard; a broken one is kept with its error, never raised.

    `names`: job names by scenario id, when `catalog` holds only part of the scenarios that share the names
    (the API plans one scenario or one project: api/present.py); by default computed from the catalog."""
    records = [r for r in catalog.scenarios if in_shard(r.project_id, shard)]
    names = job_names(records) if names is None else names
    planned: dict[int, PlannedScenario] = {}
    for record in records:
        try:
            spec = resolve(record, catalog, recipes)
        except ScenarioError as exc:
            error = f"scenario {record.id} '{record.name}' of project '{record.project_id}': {exc}"
            planned[record.id] = PlannedScenario(record, names[record.id], None, None, error)
            continue
        name = trigger_name(names[record.id], trigger_kind(spec.trigger, spec.timezone))
        planned[record.id] = PlannedScenario(record, names[record.id], name, spec, None)
    # An upstream-triggered scenario is only as buildable as its upstream.
    for entry in list(planned.values()):
        if entry.spec is not None and entry.spec.trigger.upstream is not None:
            upstream = catalog.scenario_named(entry.record.project_id, entry.spec.trigger.upstream.scenario)
            if upstream is None or planned[upstream.id].spec is None:
                error = (
                    f"scenario {entry.record.id} '{entry.record.name}' of project '{entry.record.project_id}': "
                    f"trigger.upstream.scenario: upstream '{entry.spec.trigger.upstream.scenario}' is broken"
                )
                planned[entry.record.id] = PlannedScenario(entry.record, entry.job_name, None, None, error)
    for entry in planned.values():
        if entry.error:
            log.error("skipped %s", entry.error)
    return list(planned.values())
