"""The run config of a run of one scenario version: what every run of it carries (schedules, sensors, the API's run
now), so the run does what the version said when it was launched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from honeyframe_dagster.model.compiled import spec_parts, step_document
from honeyframe_dagster.model.entities import render_entity
from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.model.step_base import is_deferred
from honeyframe_dagster.steps.context import stage_start, step_alias
from honeyframe_dagster.steps.run_if import is_guarded


def run_config(spec: ScenarioSpec, entity: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Each step op's own config (secrets by variable name only, as the documents hold them): steps/context.py
    `current_step` reads it, and a re-execution from Dagster's UI runs it again. `entity`: the row of an
    `expand_from` query this run is for; its values fill the steps' `{{ entity.COLUMN }}` placeholders here, in
    this run's config only (model/entities.py; EntityRenderError naming a column the row lacks)."""
    scenario = spec_parts(spec)
    guarded = is_guarded(spec.steps)
    ops: dict[str, Any] = {}
    for index, step in enumerate(spec.steps):
        document = step_document(step)
        if entity is not None:
            document = render_entity(document, entity, ("steps", index))
        config: dict[str, Any] = {"scenario": scenario, "step": document, "deferred": is_deferred(spec.steps, index)}
        if guarded:  # where its stage starts: the failures before it decide whether it runs (steps/run_if.py)
            config["stage"] = stage_start(spec.steps, index)
        ops[step_alias(index, step.kind)] = {"config": config}
    return {"ops": ops}


__all__ = ["run_config"]
