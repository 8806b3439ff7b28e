"""Executing scenario jobs for real: dbt builds marts in DuckDB; the dagster CLI backfills partitions."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from dagster import AssetKey, AssetMaterialization, DagsterInstance, DagsterRunStatus, Definitions
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.instance.ref import InstanceRef
from dagster._core.test_utils import in_process_test_workspace
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster_graphql.test.utils import execute_dagster_graphql
from sqlalchemy import select
from sqlalchemy.orm import Session

from honeyframe_dagster.boot import boot
from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.sample_data import follow_today, seed_last_day
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.tables import ScenarioVersionRow
from tests.conftest import ApplyYaml

REPO = Path(__file__).resolve().parents[1]
SCENARIO = """
kind: Scenario
project: acme-ops
name: revenue build
trigger: {cron: "0 6 * * *", timezone: Europe/Berlin}
steps:
  - kind: run_recipe
    recipes: [mart_revenue, mart_ops_kpis]
"""


def test_run_recipe_builds_the_mart_and_records_materializations(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    hf_home: Path,
) -> None:
    assert apply_yaml(SCENARIO) == 0
    job = load_defs().get_job_def("acme_ops__revenue_build")
    result = job.execute_in_process(instance=instance, partition_key="2026-11-20")
    assert result.success
    assert result.dagster_run.tags["honeyframe/project_id"] == "acme-ops"
    assert result.dagster_run.tags["dagster/partition"] == "2026-11-20"
    with duckdb.connect(str(hf_home / "warehouse.duckdb"), read_only=True) as warehouse:
        rows, amount, last_day = warehouse.execute(
            "select count(*), sum(amount), max(order_date) from mart_revenue"
        ).fetchone()
        (kpi_days,) = warehouse.execute("select count(*) from mart_ops_kpis").fetchone()
    assert rows > 0 and amount > 0 and kpi_days > 0
    # A home that does not follow today (sample_data.py) keeps the seed's dates.
    assert last_day == seed_last_day()
    materialized = [e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    assert {AssetKey("mart_revenue"), AssetKey("mart_ops_kpis"), AssetKey("stg_orders")} <= set(materialized)
    latest = instance.get_latest_materialization_event(AssetKey("mart_revenue"))
    assert latest is not None and latest.run_id == result.run_id
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    assert output.step_output_data.metadata["dbt models built"].value == len(materialized)


def test_an_unknown_recipe_fails_the_op_before_dbt_runs(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    hf_home: Path,
) -> None:
    assert apply_yaml(SCENARIO) == 0
    job = load_defs().get_job_def("acme_ops__revenue_build")
    # The version the run does names a recipe the dbt project does not have (a forged row).
    with Session(boot(get_settings())) as session, session.begin():
        version = session.scalars(select(ScenarioVersionRow)).one()
        steps = [{**version.spec["steps"][0], "recipe": "mart_gone; rm -rf /"}]
        version.spec = {**version.spec, "steps": steps}
        version.spec_hash = "f" * 64
    result = job.execute_in_process(instance=instance, partition_key="2026-11-20", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "mart_gone; rm -rf /" in failure.step_failure_data.error.message
    assert not (hf_home / "warehouse.duckdb").exists()


def test_dagster_job_backfill_over_two_partitions_queues_two_runs(
    apply_yaml: ApplyYaml, projects: None, tmp_path: Path
) -> None:
    assert apply_yaml(SCENARIO) == 0
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    command = [
        str(Path(sys.executable).with_name("dagster")),
        "job",
        "backfill",
        "-w",
        str(REPO / "workspace.yaml"),
        "--location",
        "honeyframe",
        "-j",
        "acme_ops__revenue_build",
        "--partitions",
        "2026-11-01,2026-11-02",
        "--noprompt",
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-2000:]
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        runs = instance.get_runs()
    assert sorted(run.tags["dagster/partition"] for run in runs) == ["2026-11-01", "2026-11-02"]
    for run in runs:
        assert run.status == DagsterRunStatus.QUEUED
        assert run.tags["honeyframe/project_id"] == "acme-ops" and "dagster/backfill" in run.tags


KPI_SCENARIO = """
kind: Scenario
project: acme-ops
name: kpi build
trigger: {cron: "0 7 * * *", timezone: Europe/Berlin}
steps:
  - kind: run_recipe
    recipe: mart_ops_kpis
"""

# What the Dagster UI asks of the warehouse location's assets: "Unsynced" is staleStatus STALE, and "Asset checks
# n / m Passed" counts the checks whose execution for the latest materialization succeeded.
ASSET_NODES_QUERY = """
query {
  assetNodes {
    assetKey { path }
    staleStatus
    staleCauses { key { path } reason }
    assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization { status } } } }
  }
}
"""


def _warehouse_asset_nodes(instance: DagsterInstance) -> dict[str, dict[str, Any]]:
    origin = LoadableTargetOrigin(module_name="honeyframe_dagster.warehouse_definitions", attribute="defs")
    with in_process_test_workspace(instance, origin) as context:
        result = execute_dagster_graphql(context, ASSET_NODES_QUERY)
    assert not result.errors, result.errors
    return {"/".join(node["assetKey"]["path"]): node for node in result.data["assetNodes"]}


def test_scenario_builds_leave_the_dbt_assets_in_sync_with_their_checks_reported(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    load_warehouse: Callable[[], Definitions],
    instance: DagsterInstance,
) -> None:
    assert apply_yaml(SCENARIO) == 0 and apply_yaml(KPI_SCENARIO) == 0
    defs = load_defs()
    for job in ("acme_ops__revenue_build", "acme_ops__kpi_build"):
        assert defs.get_job_def(job).execute_in_process(instance=instance, partition_key="2026-11-20").success
    # The second build rebuilt raw_orders and stg_orders (mart_revenue's parents) from the same code and data:
    # every asset built is in sync, and each dbt test is its check's passing evaluation.
    graph = load_warehouse().resolve_asset_graph()
    nodes = _warehouse_asset_nodes(instance)
    built = ["raw_orders", "raw_customers", "stg_orders", "stg_customers", "mart_revenue", "mart_ops_kpis"]
    assert {key: nodes[key]["staleStatus"] for key in built} == dict.fromkeys(built, "FRESH")
    assert all(nodes[key]["staleCauses"] == [] for key in built)
    checks = {
        (key, check["name"]): (check["executionForLatestMaterialization"] or {}).get("status")
        for key in built
        for check in nodes[key]["assetChecksOrError"]["checks"]
    }
    declared = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert set(checks) == declared and set(checks.values()) == {"SUCCEEDED"}
    # Not blind: new data in a parent (here a raw_orders version reported by hand) makes its child unsynced.
    instance.report_runless_asset_event(AssetMaterialization("raw_orders", tags={DATA_VERSION_TAG: "reloaded"}))
    stale = _warehouse_asset_nodes(instance)["stg_orders"]
    assert stale["staleStatus"] == "STALE"
    assert stale["staleCauses"] == [{"key": {"path": ["raw_orders"]}, "reason": "has a new data version"}]


def test_once_the_home_follows_today_the_sample_orders_end_yesterday(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    hf_home: Path,
) -> None:
    follow_today(get_settings())  # what the first `honeyframe up` does
    assert apply_yaml(SCENARIO) == 0
    job = load_defs().get_job_def("acme_ops__revenue_build")
    assert job.execute_in_process(instance=instance, partition_key="2026-11-20").success
    with duckdb.connect(str(hf_home / "warehouse.duckdb"), read_only=True) as warehouse:
        (last_day,) = warehouse.execute("select max(order_date) from mart_revenue").fetchone()
    assert last_day == utcnow().date() - dt.timedelta(days=1)
