"""What every step op shares: finding its scenario and its own step config at run time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from dagster import Failure, OpExecutionContext

from honeyframe_dagster.model.scenario import Catalog, ScenarioError, ScenarioSpec
from honeyframe_dagster.model.steps import Step
from honeyframe_dagster.resources.scenarios import ScenarioNotFound, ScenarioStoreResource

SCENARIO_TAG = "honeyframe/scenario_id"
PROJECT_TAG = "honeyframe/project_id"
TEMPLATE_TAG = "honeyframe/template"
# The trigger instant a run is for (every sensor-made run; factory/triggers.py).
SCHEDULED_FOR_TAG = "honeyframe/scheduled_for"
_ALIAS = re.compile(r"^step_(\d+)_")

StepT = TypeVar("StepT", bound=Step)


def step_alias(index: int, kind: str) -> str:
    """The op's name in its job: `step_<1-based position>_<kind>`; ops read their position back from it."""
    return f"step_{index + 1}_{kind}"


@dataclass(frozen=True)
class StepRun(Generic[StepT]):
    catalog: Catalog
    scenario: ScenarioSpec
    step: StepT
    index: int


def current_step(context: OpExecutionContext, scenarios: ScenarioStoreResource, kind: type[StepT]) -> StepRun[StepT]:
    match = _ALIAS.match(context.op_handle.name)
    if match is None or SCENARIO_TAG not in context.run.tags:
        raise Failure(f"op '{context.op_handle.name}' is not a Honeyframe scenario step")
    scenario_id, index = int(context.run.tags[SCENARIO_TAG]), int(match.group(1)) - 1
    try:
        catalog, spec = scenarios.catalog_for(scenario_id)
    except (ScenarioNotFound, ScenarioError) as exc:
        raise Failure(f"scenario {scenario_id}: {exc}") from None
    step = spec.steps[index] if index < len(spec.steps) else None
    if not isinstance(step, kind):
        raise Failure(
            f"scenario {scenario_id} changed since this job was loaded (step {index + 1} is no longer "
            f"a {context.op_def.name} step); reload the code location"
        )
    return StepRun(catalog, spec, step, index)
