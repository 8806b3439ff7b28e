"""Read-only definitions and lean run workers: what loading a code location and starting a run cost and touch."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, Definitions
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import create_execution_plan
from dagster._grpc.types import ExecuteRunArgs
from dagster_shared.serdes import serialize_value
from sqlalchemy import event, inspect, text

from honeyframe_dagster import definitions as scenario_location
from honeyframe_dagster.boot import StoreNotReady, boot
from honeyframe_dagster.dbt import asset_key_path, load_manifest
from honeyframe_dagster.legacy.drift import SchemaDriftError
from honeyframe_dagster.settings import REPO_ROOT, get_settings
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.schema import head_revision
from tests.conftest import ApplyYaml

SCENARIOS = """
kind: Scenario
project: acme-ops
name: quick
trigger: {interval_seconds: 3600}
steps:
  - {kind: run_python, recipe: pause}
---
kind: Scenario
project: acme-sales
name: other
trigger: {cron: "0 6 * * *"}
steps:
  - {kind: run_python, recipe: pause}
  - {kind: run_recipe, recipe: mart_revenue}
"""
# dbt and dagster-dbt; the store's migrations, the legacy migration and the readiness check (code servers only).
# A run worker builds its one job (factory/jobs.py): not the location's triggers and sensors, nor dbt's manifest.
NOT_IMPORTED = (
    "dagster_dbt",
    "dbt",
    "honeyframe_dagster.boot",
    "honeyframe_dagster.store.schema",
    "honeyframe_dagster.factory.definitions",
)


def imported_modules(importtime_stderr: str) -> set[str]:
    """The modules a `python -X importtime` process imported."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime_stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_a_run_worker_builds_only_its_job_and_imports_no_dbt(
    apply_yaml: ApplyYaml, projects: None, instance: DagsterInstance
) -> None:
    assert apply_yaml(SCENARIOS) == 0
    # As a code server does: load the location, then plan the run with the location's reconstruction metadata.
    repository = ReconstructableRepository.for_module(
        "honeyframe_dagster.definitions", "defs", working_directory=str(REPO_ROOT)
    )
    load_data = repository.get_definition().repository_load_data
    assert load_data is not None and scenario_location.JOBS_METADATA_KEY in load_data.reconstruction_metadata
    recon_job = repository.get_reconstructable_job("acme_ops__quick")
    plan = create_execution_plan(recon_job, repository_load_data=load_data)
    job = recon_job.get_definition()
    run = instance.create_run_for_job(
        job_def=job, execution_plan=plan, job_code_origin=recon_job.get_python_origin(), tags=job.run_tags
    )
    args = ExecuteRunArgs(job_origin=recon_job.get_python_origin(), run_id=run.run_id, instance_ref=instance.get_ref())
    # Dagster's own run-worker entry point, as the DefaultRunLauncher starts it.
    worker = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dagster", "api", "execute_run", serialize_value(args)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO_ROOT,
        env=os.environ,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    finished = instance.get_run_by_id(run.run_id)
    failures = [
        str(e.dagster_event.event_specific_data)[:2000]
        for e in instance.all_logs(run.run_id)
        if e.dagster_event and e.dagster_event.event_type == DagsterEventType.STEP_FAILURE
    ]
    assert not failures, failures
    assert finished is not None and finished.status == DagsterRunStatus.SUCCESS
    started = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.STEP_START).records
    assert [r.event_log_entry.step_key for r in started] == ["step_1_run_python"]
    imported = imported_modules(worker.stderr)
    assert {"honeyframe_dagster.factory.jobs", "honeyframe_dagster.steps.run_python"} <= imported
    assert not imported & set(NOT_IMPORTED), imported & set(NOT_IMPORTED)


def test_reconstruction_builds_the_requested_job_only_without_reading_the_shard(
    apply_yaml: ApplyYaml, projects: None, load_defs: Callable[[], Definitions], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert apply_yaml(SCENARIOS) == 0
    repository = ReconstructableRepository.for_module(
        "honeyframe_dagster.definitions", "defs", working_directory=str(REPO_ROOT)
    )
    load_data = repository.get_definition().repository_load_data
    # A run worker is a fresh process: nothing initialized, only the metadata its run carries.
    # The module Dagster loads: another test may have re-imported it (a fresh module object) since this one did.
    importlib.import_module("honeyframe_dagster.definitions")._initialized.clear()
    from honeyframe_dagster import boot as boot_module
    from honeyframe_dagster.factory import jobs as factory

    built: list[str] = []
    build_job = factory.build_job

    def counting_build_job(spec, name):  # type: ignore[no-untyped-def]
        built.append(name)
        return build_job(spec, name)

    def no_shard_read(*args: object) -> None:
        raise AssertionError("a run worker read the shard's catalog")

    monkeypatch.setattr(factory, "build_job", counting_build_job)
    monkeypatch.setattr(boot_module, "shard_scenarios", no_shard_read)
    job = repository.with_repository_load_data(load_data).get_reconstructable_job("acme_ops__quick").get_definition()
    assert job.name == "acme_ops__quick" and built == ["acme_ops__quick"]
    assert job.tags["honeyframe/project_id"] == "acme-ops"
    assert set(job.resource_defs) == {"io_manager", "scenarios", "python_recipes"}  # what its one step uses


def test_a_store_behind_head_fails_to_load_naming_honeyframe_init(hf_home: Path) -> None:
    from honeyframe_dagster.warehouse_definitions import load_warehouse_definitions

    engine = get_engine(get_settings().store_url)
    for load in (scenario_location.load_definitions, load_warehouse_definitions):
        with pytest.raises(StoreNotReady, match=r"not created.*run `honeyframe init`"):
            load()
    assert inspect(engine).get_table_names() == []  # nothing was created
    boot(get_settings())
    with engine.begin() as connection:
        connection.execute(text("update alembic_version set version_num = '0003'"))
    behind = rf"at revision 0003, this code needs revision {head_revision()}: run `honeyframe init`"
    with pytest.raises(StoreNotReady, match=behind):
        scenario_location.load_definitions()
    with engine.begin() as connection:
        connection.execute(text("update alembic_version set version_num = :head"), {"head": head_revision()})
        connection.execute(text("create table report_schedules (id integer primary key)"))
    with pytest.raises(SchemaDriftError, match="honeyframe init"):
        scenario_location.load_definitions()


def test_loading_the_definitions_writes_nothing_to_a_ready_store(
    store_url: str, apply_yaml: ApplyYaml, projects: None, hf_home: Path
) -> None:
    from honeyframe_dagster.warehouse_definitions import load_warehouse_definitions

    assert apply_yaml(SCENARIOS) == 0
    engine = get_engine(store_url)
    sqlite_file = hf_home / "scheduler.db"
    mtime = sqlite_file.stat().st_mtime_ns if store_url.startswith("sqlite") else None
    with engine.connect() as connection:
        revision = connection.execute(text("select version_num from alembic_version")).scalar_one()
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        defs = scenario_location.load_definitions()
        warehouse = load_warehouse_definitions()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert defs.get_job_def("acme_ops__quick") and warehouse.get_assets_def(AssetKey("mart_revenue"))
    assert statements and set(statements) <= {"SELECT", "PRAGMA"}, statements
    with engine.connect() as connection:
        assert connection.execute(text("select version_num from alembic_version")).scalar_one() == revision
    if mtime is not None:
        assert sqlite_file.stat().st_mtime_ns == mtime


def test_the_warehouse_location_holds_the_dbt_assets_and_the_scenario_location_none(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    load_warehouse: Callable[[], Definitions],
) -> None:
    from honeyframe_dagster.services.heartbeat import HEARTBEAT_SENSOR
    from honeyframe_dagster.warehouse_definitions import TRANSLATOR

    assert apply_yaml(SCENARIOS) == 0
    scenarios = load_defs()
    assert list(scenarios.resolve_asset_graph().get_all_asset_keys()) == []
    assert HEARTBEAT_SENSOR not in {s.name for s in scenarios.get_repository_def().sensor_defs}
    warehouse = load_warehouse()
    keys = warehouse.resolve_asset_graph().get_all_asset_keys()
    assert {AssetKey("mart_revenue"), AssetKey("stg_orders"), AssetKey("raw_orders")} <= keys
    assert warehouse.get_sensor_def(HEARTBEAT_SENSOR)
    # run_recipe records materializations under these keys without dagster-dbt: the same keys, node by node.
    manifest = load_manifest()
    for node in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        assert AssetKey(asset_key_path(node)) == TRANSLATOR.get_asset_key(node), node["unique_id"]
