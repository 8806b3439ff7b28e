"""What the code locations build for one project or one scenario, read from the stored versions: the API's reads,
the admin pages and the reconciler see the names, specs and errors the code locations have."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from honeyframe_dagster.dagster_client import TriggerRef
from honeyframe_dagster.factory.plan import PlannedScenario, plan
from honeyframe_dagster.model.compiled import CompiledScenarios
from honeyframe_dagster.model.naming import job_names, location_name, shard_of
from honeyframe_dagster.model.scenario import Catalog
from honeyframe_dagster.settings import Settings, get_settings
from honeyframe_dagster.store.catalog import peers_and_pause, stored_job_names
from honeyframe_dagster.store.tables import ScenarioRow
from honeyframe_dagster.store.versions import load_compiled


@dataclass(frozen=True)
class ProjectPlan:
    """What the factory builds for one project: names, specs or errors, exactly as its code location does."""

    location: str
    entries: dict[int, PlannedScenario]
    # The project is paused: every trigger of it is stopped, whatever `enabled` says.
    paused: bool = False

    def trigger(self, scenario_id: int) -> TriggerRef | None:
        entry = self.entries.get(scenario_id)
        if entry is None or entry.trigger_kind is None or entry.trigger_name is None:
            return None
        return TriggerRef(self.location, entry.trigger_name, entry.trigger_kind)

    def triggers(self, ids: Sequence[int] | None = None) -> list[TriggerRef]:
        chosen = self.entries if ids is None else [i for i in ids if i in self.entries]
        return [t for t in (self.trigger(i) for i in chosen) if t is not None]


@dataclass(frozen=True)
class Planner:
    """Plans scenarios the way the code locations do: with these dbt recipes, over this many locations."""

    recipes: frozenset[str]
    locations: int
    # The org's settings, read once (None: from the environment at each plan).
    settings: Settings | None = None

    def plan(self, session: Session, project_id: str) -> ProjectPlan:
        """Every scenario of the project (the list)."""
        compiled = load_compiled(session, ScenarioRow.project_id == project_id)
        return self._plan(session, project_id, compiled, whole=True)

    def plan_one(self, session: Session, project_id: str, scenario_id: int) -> ProjectPlan:
        """One scenario and the upstream scenarios it chains to: its cost does not grow with the project."""
        compiled = load_compiled(session, (ScenarioRow.id == scenario_id) & (ScenarioRow.project_id == project_id))
        seen = {scenario_id}
        current = compiled.specs.get(scenario_id)
        while current is not None and current.trigger.upstream is not None:
            name = current.trigger.upstream.scenario
            named = (ScenarioRow.project_id == project_id) & (ScenarioRow.name == name)
            upstream = load_compiled(session, named)
            first = min(upstream.records, key=lambda r: r.id, default=None)
            if first is None or first.id in seen:
                break
            seen.add(first.id)
            _merge(compiled, upstream, first.id)
            current = compiled.specs.get(first.id)
        return self._plan(session, project_id, compiled, whole=False)

    def _plan(self, session: Session, project_id: str, compiled: CompiledScenarios, whole: bool) -> ProjectPlan:
        """`whole`: `compiled` holds every scenario of the project."""
        # Job names are unique per location: a clash suffix depends on the scenarios of every project with the same
        # identifier there, so names come from those (a light read) unless the records hold them all.
        shard = (shard_of(project_id, self.locations), self.locations) if self.locations > 1 else None
        peers, paused = peers_and_pause(session, project_id, shard)
        whole = whole and peers == [project_id]
        names = job_names(compiled.records) if whole else stored_job_names(session, peers)
        settings = self.settings or get_settings()
        checks = Catalog(default_timezone=settings.default_timezone, python_recipes_dir=settings.python_recipes_dir)
        entries = plan(compiled, self.recipes, names=names, checks=checks)
        return ProjectPlan(location_name(project_id, self.locations), {e.record.id: e for e in entries}, paused)

    def locations_of(self, project_ids: Iterable[str]) -> list[str]:
        """The locations serving these projects: what a write that touches them reloads, and nothing more."""
        return sorted({location_name(project_id, self.locations) for project_id in project_ids})


def _merge(into: CompiledScenarios, other: CompiledScenarios, scenario_id: int) -> None:
    record = next(r for r in other.records if r.id == scenario_id)
    into.records = sorted([*into.records, record], key=lambda r: r.id)
    if scenario_id in other.specs:
        into.specs[scenario_id] = other.specs[scenario_id]
    if scenario_id in other.errors:
        into.errors[scenario_id] = other.errors[scenario_id]


__all__ = ["Planner", "ProjectPlan"]
