"""`run_recipe`: `dbt build` of the step's recipes (and what they are built from) through dagster-dbt."""

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetMaterialization,
    In,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    op,
)
from dagster_dbt import DbtCliResource

from honeyframe_dagster.dbt import TRANSLATOR, dbt_build, load_manifest
from honeyframe_dagster.model.steps import RunRecipeStep
from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.resources.warehouse import WarehouseResource
from honeyframe_dagster.steps.context import current_step


@op(name="run_recipe", ins={"after": In(Nothing)}, out=Out(Nothing), tags={"kind": "dbt"})
def run_recipe_op(
    context: OpExecutionContext, dbt: DbtCliResource, scenarios: ScenarioStoreResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    run = current_step(context, scenarios, RunRecipeStep)
    # current_step() resolved the scenario against the dbt manifest: every name here is a known dbt node, checked
    # before dbt runs, and only ever passed to dbt as an argument (never to a shell).
    manifest = load_manifest()
    # One space-separated --select value: dagster-dbt reads a single value after the flag.
    selection = " ".join(f"+{name}" for name in run.step.selection)
    built: list[str] = []
    cli_args = {"manifest": manifest, "dagster_dbt_translator": TRANSLATOR, "context": context}
    for event in dbt_build(dbt, warehouse, ["build", "--select", selection], **cli_args):
        if isinstance(event, AssetMaterialization):
            built.append(event.asset_key.to_user_string())
        yield event
    yield Output(
        None,
        metadata={
            "recipes": MetadataValue.text(", ".join(run.step.selection)),
            "dbt models built": len(built),
            "assets": MetadataValue.text(", ".join(built)),
        },
    )
