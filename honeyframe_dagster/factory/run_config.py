"""The run config of a run of one scenario version: what every run of it carries (schedules, sensors, the API's run
now), so the run does what the version said when it was launched."""

from __future__ import annotations

from typing import Any

from honeyframe_dagster.model.compiled import spec_parts, step_document
from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.model.step_base import is_deferred
from honeyframe_dagster.steps.context import step_alias


def run_config(spec: ScenarioSpec) -> dict[str, Any]:
    """Each step op's own config (secrets by variable name only, as the documents hold them): steps/context.py
    `current_step` reads it, and a re-execution from Dagster's UI runs it again."""
    scenario = spec_parts(spec)
    return {
        "ops": {
            step_alias(index, step.kind): {
                "config": {
                    "scenario": scenario,
                    "step": step_document(step),
                    "deferred": is_deferred(spec.steps, index),
                }
            }
            for index, step in enumerate(spec.steps)
        }
    }


__all__ = ["run_config"]
