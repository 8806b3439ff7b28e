"""A scenario version: the resolved scenario as JSON, written once at a write and read by everything after it.

A write resolves a scenario (model/scenario.py `resolve`: templates rendered, placeholders filled, references,
tenancy and SQL policy checked) and stores the result as an immutable version (store/versions.py). Code locations,
the API's reads and run workers rebuild the `ScenarioSpec` from it with `spec_from_compiled`, which validates the
shapes only: nothing is resolved, looked up or SQL-parsed again on a read. The run config of a run carries the
parts of it an op needs (`step_run_config`), so a run does what its version said when it was launched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from honeyframe_dagster.model.calendars import Calendar
from honeyframe_dagster.model.documents import Project
from honeyframe_dagster.model.scenario import ScenarioRecord, ScenarioSpec
from honeyframe_dagster.model.sla import Sla
from honeyframe_dagster.model.steps import STEPS_ADAPTER, Step
from honeyframe_dagster.model.triggers import Trigger, cadence


@dataclass
class CompiledScenarios:
    """Scenarios as stored: their records, the specs of their current versions, and why the others have none
    (never compiled, do not compile now, or a stored version that no longer loads)."""

    records: list[ScenarioRecord] = field(default_factory=list)
    specs: dict[int, ScenarioSpec] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)

    def stopped(self, project_ids: Collection[str]) -> CompiledScenarios:
        """The same with the scenarios of these (paused) projects as disabled: their triggers' default status in a
        code location is STOPPED; their `enabled` in the store is untouched."""
        if not project_ids:
            return self
        records = [replace(r, enabled=False) if r.project_id in project_ids else r for r in self.records]
        by_id = {r.id: r for r in records}
        specs = {i: replace(s, record=by_id[i]) if i in by_id else s for i, s in self.specs.items()}
        return CompiledScenarios(records, specs, dict(self.errors))

    def named(self, project_id: str, name: str) -> ScenarioRecord | None:
        """The project's oldest scenario called `name` (as `Catalog.scenario_named`)."""
        return next((r for r in self.records if r.project_id == project_id and r.name == name), None)


# What a run does not depend on: a version that differs from another only here runs the same.
NOT_CONFIG = ("enabled", "since", "calendar", "sla")
# Internal bookkeeping that a version's `changes` never lists.
NOT_CHANGES = ("id", "since")


def scenario_document(spec: ScenarioSpec, since: dt.datetime | None) -> dict[str, Any]:
    """The version of `spec` as stored (JSON), its cadence started at `since`."""
    record = spec.record
    document = {
        "id": record.id,
        "project": spec.project.model_dump(mode="json", include={"id", "name", "owner_email", "timezone"}),
        "name": record.name,
        "enabled": record.enabled,
        "template": record.template_slug,
        "parameters": dict(record.parameters) if isinstance(record.parameters, Mapping) else {},
        "trigger": spec.trigger.model_dump(mode="json", exclude_none=True),
        "timezone": spec.timezone,
        "steps": [step_document(step) for step in spec.steps],
        "owner": spec.owner,
        "since": since.astimezone(dt.UTC).isoformat() if since is not None else None,
    }
    if spec.calendar is not None:  # only when named: versions without one keep their hash
        document["calendar"] = spec.calendar.document()
    if spec.sla is not None:  # only when set: the versions of scenarios without one keep their hashes
        document["sla"] = spec.sla.dump()
    return document


def step_document(step: Step) -> dict[str, Any]:
    return step.model_dump(mode="json", exclude_none=True)


def digest(document: Mapping[str, Any], leave_out: tuple[str, ...] = ()) -> str:
    kept = {key: value for key, value in document.items() if key not in leave_out}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def spec_hash(document: Mapping[str, Any]) -> str:
    return digest(document)


def config_hash(document: Mapping[str, Any]) -> str:
    """Equal for two versions whose runs do the same (they differ in `enabled` or the cadence's start only)."""
    return digest(document, NOT_CONFIG)


def shape_hash(document: Mapping[str, Any]) -> str:
    """Equal for two versions whose Dagster definitions are the same: the job's ops, their order, groups and retry
    policies, its name and description, and the trigger. A version that differs from the loaded one only elsewhere
    (recipients, a parameter, a query, a dashboard list) needs no reload: its runs carry its config
    (factory/trigger_state.py `launch_spec`)."""
    steps = [
        {key: step.get(key) for key in ("kind", "parallel", "transactional", "retry")}
        for step in document.get("steps") or []
    ]
    shape = {
        "name": document.get("name"),
        "project": (document.get("project") or {}).get("name"),
        "template": document.get("template"),
        "trigger": document.get("trigger"),
        "timezone": document.get("timezone"),
        "steps": steps,
    }
    return digest(shape)


def trigger_unchanged(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    """Whether the cadence goes on: same trigger, same timezone, and not enabled by this version (enabling restarts
    it). A disabled scenario edited while disabled keeps its start: it moves when the scenario is enabled, so writing
    it again (a re-applied document) writes no new version."""
    if before is None or (after.get("enabled") and not before.get("enabled")):
        return False
    same_cadence = cadence(before.get("trigger")) == cadence(after.get("trigger"))
    return same_cadence and before.get("timezone") == after.get("timezone")


def changed_paths(before: Any, after: Any, path: str = "") -> list[str]:
    """The field paths where two versions differ: into objects and into lists of objects of the same length; a list
    of plain values, or one that grew or shrank, is one path (`steps[1].recipients`, `steps`)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        found: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            if not path and key in NOT_CHANGES:
                continue
            found += changed_paths(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return found
    nested = (
        isinstance(before, list)
        and isinstance(after, list)
        and len(before) == len(after)
        and all(isinstance(item, Mapping) for item in [*before, *after])
    )
    if nested:
        return [
            p for i, (a, b) in enumerate(zip(before, after, strict=True)) for p in changed_paths(a, b, f"{path}[{i}]")
        ]
    return [] if before == after else [path]


# Spec parts rebuilt from versions, by (scenario id, version, hash): versions are immutable, so a process rebuilds
# each once; the hash keeps a store that was reset (tests, a restored backup) from serving another scenario's spec.
_Parts = tuple[Project, Trigger, str, tuple[Step, ...], str, dt.datetime | None, Calendar | None, Sla | None]
_SPECS: dict[tuple[int, int, str], _Parts] = {}
_MAX_CACHED = 20_000


def _key(record: ScenarioRecord) -> tuple[int, int, str] | None:
    if record.version is None or record.spec_hash is None:
        return None
    return (record.id, record.version, record.spec_hash)


def _spec(record: ScenarioRecord, parts: _Parts) -> ScenarioSpec:
    project, trigger, timezone, steps, owner, since, calendar, sla = parts
    version = record.version or 0
    return ScenarioSpec(record, project, trigger, timezone, steps, owner, version, since, calendar, sla)


def cached_spec(record: ScenarioRecord) -> ScenarioSpec | None:
    """The spec of the record's current version if this process rebuilt it before (no read needed)."""
    key = _key(record)
    parts = _SPECS.get(key) if key is not None else None
    return _spec(record, parts) if parts is not None else None


def spec_from_compiled(record: ScenarioRecord, document: Mapping[str, Any]) -> ScenarioSpec:
    """The spec that the record's current version (`document`) describes; the shapes are validated (a hand-edited
    row raises ValidationError), nothing is resolved."""
    project = Project.model_validate({"kind": "Project", **document["project"]})
    trigger = Trigger.model_validate(document["trigger"])
    steps = tuple(STEPS_ADAPTER.validate_python(document["steps"]))
    since = dt.datetime.fromisoformat(document["since"]) if document.get("since") else None
    calendar = Calendar.model_validate(document["calendar"]) if document.get("calendar") else None
    sla = Sla.model_validate(document["sla"]) if document.get("sla") else None
    parts = (project, trigger, str(document["timezone"]), steps, str(document["owner"]), since, calendar, sla)
    key = _key(record)
    if key is not None:
        if len(_SPECS) >= _MAX_CACHED:
            _SPECS.clear()
        _SPECS[key] = parts
    return _spec(record, parts)


def spec_parts(spec: ScenarioSpec) -> dict[str, Any]:
    """What an op needs of its scenario besides its own step, as run config (`step_run_config`)."""
    return {
        "id": spec.id,
        "version": spec.version,
        "project": spec.project.model_dump(mode="json", include={"id", "name", "owner_email", "timezone"}),
        "name": spec.record.name,
        "template": spec.template_slug,
        "trigger": spec.trigger.model_dump(mode="json", exclude_none=True),
        "timezone": spec.timezone,
        "owner": spec.owner,
        "steps": len(spec.steps),
    }


def spec_from_run_config(scenario: Mapping[str, Any], step: Mapping[str, Any]) -> tuple[ScenarioSpec, Step]:
    """The scenario and the one step an op's run config carries (the spec's `steps` holds that step only: an op
    needs no other)."""
    record = ScenarioRecord(
        id=int(scenario["id"]),
        project_id=str(scenario["project"]["id"]),
        name=str(scenario["name"]),
        enabled=True,
        template_slug=scenario.get("template"),
        version=int(scenario["version"]),
    )
    project = Project.model_validate({"kind": "Project", **scenario["project"]})
    parsed = STEPS_ADAPTER.validate_python([step])[0]
    trigger = Trigger.model_validate(scenario["trigger"])
    spec = ScenarioSpec(
        record, project, trigger, str(scenario["timezone"]), (parsed,), str(scenario["owner"]), int(scenario["version"])
    )
    return spec, parsed


__all__ = [
    "CompiledScenarios",
    "cached_spec",
    "changed_paths",
    "config_hash",
    "scenario_document",
    "spec_from_compiled",
    "spec_from_run_config",
    "shape_hash",
    "spec_hash",
    "spec_parts",
    "step_document",
    "trigger_unchanged",
]
