"""The `warehouse` code location: the dbt project as dagster-dbt assets, the datasets and their connectors as asset
specs upstream of them, and the scheduler heartbeat (one per deployment).

`dagster code-server start -m honeyframe_dagster.warehouse_definitions` or `workspace.yaml` load `defs`. Only this
location imports dagster-dbt (and dbt): scenario locations run `dbt build` as a program from `run_recipe` and record
materializations of the same asset keys (honeyframe_dagster.dbt.asset_key_path), so the lineage shown here fills
with their history.
"""

# No `from __future__ import annotations`: dagster-dbt reads the asset function's parameter types.
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Definitions, definitions
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from sqlalchemy import select
from sqlalchemy.orm import Session

from honeyframe_dagster.boot import check_ready
from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.dbt import code_version, dbt_executable, finish_invocation, load_manifest
from honeyframe_dagster.factory.datasets import dataset_asset_specs
from honeyframe_dagster.model.documents import Dataset
from honeyframe_dagster.resources.warehouse import WarehouseResource
from honeyframe_dagster.sample_data import dbt_vars_args
from honeyframe_dagster.services.heartbeat import scheduler_heartbeat_sensor
from honeyframe_dagster.settings import DBT_PROJECT_DIR, get_settings
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import DatasetRow


class HoneyframeDbtTranslator(DagsterDbtTranslator):
    """dbt sources are warehouse tables that `sync_dataset` loads: their asset key is the table name. Code versions
    are the ones `run_recipe` records with its materializations (honeyframe_dagster.dbt.code_version)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["identifier"]])
        return super().get_asset_key(dbt_resource_props)

    def get_code_version(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return code_version(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # The project's folders (seeds, staging, marts) are the lineage's layers in the UI.
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else super().get_group_name(dbt_resource_props)


TRANSLATOR = HoneyframeDbtTranslator()


def dbt_cli() -> DbtCliResource:
    """The public resource as is. Each invocation also runs `dbt --version` and loads a dbt adapter in-process
    (dagster-dbt offers no option to skip either); that cost only applies to materializing the dbt assets from
    this location in the UI, since scenario runs call the dbt program themselves (honeyframe_dagster.dbt)."""
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()
    )


def build_dbt_assets(manifest: Mapping[str, Any]) -> AssetsDefinition:
    """The whole dbt project as assets, so the UI shows its lineage and scenario runs fill its history."""

    @dbt_assets(manifest=manifest, dagster_dbt_translator=TRANSLATOR, name="dbt_project")
    def dbt_project_assets(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        # dbt opens the DuckDB file for the whole build: hold the writers' lock so parallel writers wait.
        warehouse.export_for_dbt()
        with warehouse.exclusive():
            shift = dbt_vars_args(get_settings(), utcnow().date())
            invocation = dbt.cli(["build", *shift], context=context)
            yield from invocation.stream()
        finish_invocation(invocation.target_path)

    return dbt_project_assets


def load_warehouse_definitions() -> Definitions:
    """Reads the datasets from the store (never writes it: a store that is behind names `honeyframe init`)."""
    settings = get_settings()
    engine = get_engine(settings.store_url)
    check_ready(engine)
    with Session(engine) as session:
        datasets = [Dataset.model_validate(row.document) for row in session.scalars(select(DatasetRow))]
    dbt = build_dbt_assets(load_manifest())
    return Definitions(
        assets=[dbt, *dataset_asset_specs(datasets, dbt.keys)],
        sensors=[scheduler_heartbeat_sensor(settings.heartbeat_seconds)],
        resources={"dbt": dbt_cli(), "warehouse": WarehouseResource.from_settings(settings)},
    )


defs = definitions(load_warehouse_definitions)
