"""`run_python`: a standalone Python recipe in a subprocess through Dagster Pipes (not part of the dbt build)."""

from typing import Any

from dagster import Failure, MetadataValue, OpExecutionContext, Output

from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.steps.context import current_step, step_op
from honeyframe_dagster.steps.entry import StepOp
from honeyframe_dagster.steps.run_python.model import RunPythonStep
from honeyframe_dagster.steps.run_python.resource import PythonRecipesResource, RecipeNotFound, python_recipes_resource


def metadata_value(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    return MetadataValue.json(value) if isinstance(value, dict | list) else MetadataValue.text(repr(value))


def recipe_metadata(messages: list[Any]) -> dict[str, Any]:
    """Merge the `{"metadata": {...}}` custom messages a recipe reported, in order."""
    merged: dict[str, Any] = {}
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("metadata"), dict):
            merged.update({str(k): metadata_value(v) for k, v in message["metadata"].items()})
    return merged


@step_op("run_python", "python")
def run_python_op(
    context: OpExecutionContext, scenarios: ScenarioStoreResource, python_recipes: PythonRecipesResource
) -> Output[None]:
    run = current_step(context, scenarios, RunPythonStep)
    step = run.step
    timeout = step.timeout_seconds or python_recipes.default_timeout_seconds
    extras = {
        "recipe": step.recipe,
        "args": step.args,
        "project_id": run.scenario.project.id,
        "scenario_id": run.scenario.id,
        "partition_key": context.partition_key if context.has_partition_key else None,
    }
    try:
        messages = python_recipes.run(context, step.recipe, extras, timeout, step.secrets)
    except RecipeNotFound as exc:
        raise Failure(f"recipe: {exc}") from None
    metadata = recipe_metadata(messages)
    return Output(None, metadata={"recipe": MetadataValue.text(step.recipe), **metadata})


OP = StepOp(run_python_op, {"python_recipes": python_recipes_resource})
