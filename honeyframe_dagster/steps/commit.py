"""The op that publishes a transactional parallel group's staged writes, and the hook that discards them.

See steps/transactional.py for the semantics. The factory adds `commit_steps_<first>_<last>` after each
parallel group that has a transactional writing step, and attaches `abort_staged_writes` to the group's steps.
"""

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetKey,
    AssetMaterialization,
    Failure,
    HookContext,
    MetadataValue,
    OpExecutionContext,
    Output,
    failure_hook,
)

from honeyframe_dagster.model.tags import PROJECT_TAG, SCENARIO_TAG
from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.resources.warehouse import WarehouseResource
from honeyframe_dagster.steps.context import step_op
from honeyframe_dagster.steps.run_if import GUARDED_TAG, NotRun, position, recorded
from honeyframe_dagster.steps.transactional import ForeignTable, abort_run, commit_run, sweep


def commit_alias(group: list[int]) -> str:
    return f"commit_steps_{group[0] + 1}_{group[-1] + 1}"


@step_op("commit_group", configured=False)
def commit_group_op(
    context: OpExecutionContext, scenarios: ScenarioStoreResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    instance = context.instance
    if SCENARIO_TAG not in context.run.tags or PROJECT_TAG not in context.run.tags:
        raise Failure(
            f"run {context.run_id} is not a Honeyframe scenario run (no {SCENARIO_TAG} tag)", allow_retries=False
        )
    project_id = context.run.tags[PROJECT_TAG]
    if GUARDED_TAG in context.run.tags:
        _abort_if_a_step_failed(context, warehouse)
    # Publishing replaces tables: only the project's own, as the store says now (not as the run was planned).
    writable = scenarios.owned_tables(project_id)

    def finished(run_id: str) -> bool:
        run = instance.get_run_by_id(run_id)
        return run is None or run.is_finished

    try:
        with warehouse.write() as connection:
            swept = sweep(connection, context.run_id, finished)
            published = commit_run(connection, context.run_id, writable)
    except ForeignTable as exc:
        raise Failure(f"project '{project_id}': {exc}", allow_retries=False) from None
    if swept:
        context.log.info(f"dropped {len(swept)} staging table(s) left by finished runs")
    tables = ", ".join(p.table for p in published)
    context.log.info(f"published together: {tables or 'nothing'}")
    for entry in published:
        yield AssetMaterialization(asset_key=AssetKey([entry.table]), metadata=dict(entry.metadata))
    yield Output(None, metadata={"tables published": len(published), "tables": MetadataValue.text(tables)})


def _abort_if_a_step_failed(context: OpExecutionContext, warehouse: WarehouseResource) -> None:
    """In a run with `run_if` steps a failed step records its failure instead of failing its op (steps/run_if.py),
    so no failure hook fires: its group's staged writes are discarded here, and nothing is published."""
    first, last = (int(part) - 1 for part in context.op_handle.name.split("_")[-2:])
    failed = [
        key
        for key, (outcome, _) in recorded(context.instance, context.run_id).items()
        if outcome == "failure" and (at := position(key)) is not None and first <= at <= last
    ]
    if failed:
        with warehouse.write() as connection:
            dropped = abort_run(connection, context.run_id)
        raise NotRun(f"not published: {', '.join(failed)} failed; discarded {len(dropped)} staged table(s)")


@failure_hook(name="abort_staged_writes", required_resource_keys={"warehouse"})
def abort_staged_writes(context: HookContext) -> None:
    with context.resources.warehouse.write() as connection:
        dropped = abort_run(connection, context.run_id)
    context.log.info(f"{context.op.name} failed: discarded {len(dropped)} staged table(s) of its group")
