"""`run_recipe`: `dbt build` of the step's recipes (and what they are built from), run as the dbt program.

The op records a materialization of each model, seed and snapshot dbt built, under the asset keys of the
`warehouse` code location's dbt assets, so each model's history there shows the scenario runs that built it, and
each test dbt ran as an evaluation of that location's asset check (events.py). It imports neither dbt nor
dagster-dbt: a run without a `run_recipe` step never loads them.
"""

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetKey,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
)

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.dbt import RECIPE_RESOURCE_TYPES, Invocation, NodeResult, finish_invocation, invocation_target
from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.resources.warehouse import WarehouseResource
from honeyframe_dagster.sample_data import dbt_vars_args
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.context import current_step, step_op
from honeyframe_dagster.steps.entry import StepOp
from honeyframe_dagster.steps.run_recipe.events import TEST_OUTCOMES, check_evaluation, materialization
from honeyframe_dagster.steps.run_recipe.model import RunRecipeStep

BUILT = "success"


def _built(result: NodeResult) -> bool:
    return result.status == BUILT and result.resource_type in RECIPE_RESOURCE_TYPES


@step_op("run_recipe", "dbt")
def run_recipe_op(
    context: OpExecutionContext, scenarios: ScenarioStoreResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    run = current_step(context, scenarios, RunRecipeStep)
    # current_step() resolved the scenario against the dbt manifest: every name here is a known dbt node, checked
    # before dbt runs, and only ever passed to dbt as an argument (never to a shell).
    selection = " ".join(f"+{name}" for name in run.step.selection)
    # The example sample data ends yesterday when this home follows today (sample_data.py).
    args = ["build", "--select", selection, *dbt_vars_args(get_settings(), utcnow().date())]
    invocation = Invocation(args, invocation_target(f"run_recipe-{context.run_id[:8]}"))
    # dbt opens the DuckDB file for the whole build: hold the writers' lock so parallel writers wait.
    warehouse.export_for_dbt()
    try:
        with warehouse.exclusive():
            for line in invocation.stream():
                context.log.info(line)
        results = invocation.results()
    finally:
        finish_invocation(invocation.target)
    # In dbt's order: a node's parents are recorded before it, a model before its tests.
    for result in results:
        if _built(result):
            yield materialization(result, context.instance, context.run_id)
        elif result.tested_key is not None and result.status in TEST_OUTCOMES:
            yield check_evaluation(result, result.tested_key, context.instance)
    if invocation.returncode != 0:
        failed = [f"{r.unique_id}: {r.status} ({r.message})" for r in results if r.status not in (BUILT, "pass")]
        raise Failure(
            f"dbt build --select {selection} exited with {invocation.returncode}",
            metadata={"failed nodes": MetadataValue.text("\n".join(failed) or "see the step's log")},
        )
    built = [r for r in results if _built(r)]
    keys = [AssetKey(r.asset_key).to_user_string() for r in built]
    yield Output(
        None,
        metadata={
            "recipes": MetadataValue.text(", ".join(run.step.selection)),
            "dbt models built": len(built),
            "assets": MetadataValue.text(", ".join(keys)),
        },
    )


OP = StepOp(run_recipe_op)
