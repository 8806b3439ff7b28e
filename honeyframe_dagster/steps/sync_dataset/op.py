"""`sync_dataset`: run a dataset's connector and replace its warehouse table atomically.

The connector fetches first, outside the warehouse lock; then one short transaction loads the rows into a
staging table and swaps it in (or, in a transactional parallel group, leaves it for the group's commit op).
A failure at any point leaves the previous table readable and intact.
"""

import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from dagster import Failure, OpExecutionContext

from honeyframe_dagster.model.documents import Dataset
from honeyframe_dagster.model.tenancy import TenancyError
from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.resources.warehouse import WarehouseResource
from honeyframe_dagster.steps.context import current_step, step_op
from honeyframe_dagster.steps.entry import StepOp
from honeyframe_dagster.steps.sync_dataset.connectors import ConnectorError, loader
from honeyframe_dagster.steps.sync_dataset.model import SyncDatasetStep
from honeyframe_dagster.steps.sync_dataset.resource import ConnectorsResource, connectors_resource
from honeyframe_dagster.steps.transactional import ForeignTable, TableWrite, write_step_table


def sync_metadata(dataset: Dataset, rows: int) -> dict[str, Any]:
    return {
        "rows synced": rows,
        "connector": dataset.connector.type,
        "dataset": f"{dataset.project}/{dataset.id}",
        "table": dataset.table_name,
    }


@step_op("sync_dataset", "duckdb")
def sync_dataset_op(
    context: OpExecutionContext,
    scenarios: ScenarioStoreResource,
    connectors: ConnectorsResource,
    warehouse: WarehouseResource,
) -> Iterator[Any]:
    import duckdb  # imported here: a code location loads this module to build jobs, only a run worker runs the op

    run = current_step(context, scenarios, SyncDatasetStep)
    dataset = run.project_entry(run.catalog.datasets, "dataset", run.step.dataset)
    where = f"dataset '{dataset.id}' ({dataset.connector.type} connector)"
    try:
        # The table must be the project's (claimed now if no project has it yet) before anything is fetched.
        writable = scenarios.claim_tables(dataset.project, {dataset.table_name: ("table",)})
    except TenancyError as exc:
        raise Failure(f"{where}: {exc}; nothing was fetched", allow_retries=False) from None
    with tempfile.TemporaryDirectory(prefix="honeyframe-sync-") as workdir:
        try:
            extract = connectors.fetch(dataset, Path(workdir))
        except ConnectorError as exc:
            message = f"{where}: {exc}; table '{dataset.table_name}' was left unchanged"
            raise Failure(message, allow_retries=exc.retryable) from None
        context.log.info(f"{where}: fetched; loading into table '{dataset.table_name}'")
        try:
            describe = partial(sync_metadata, dataset)
            table = TableWrite(dataset.table_name)
            written = write_step_table(context, warehouse, run, table, loader(extract), describe, where, writable)
        except (duckdb.Error, ForeignTable) as exc:
            # The rows themselves do not load (bad data, wrong format): the same rows would fail again.
            message = f"{where}: loading failed: {exc}; table '{dataset.table_name}' was left unchanged"
            raise Failure(message, allow_retries=False) from None
    yield from written.materializations()
    yield written.output()


OP = StepOp(sync_dataset_op, {"connectors": connectors_resource})
