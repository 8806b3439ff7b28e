"""Parallel groups: really concurrent under the job's own executor, and `transactional` in both modes."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import duckdb
from dagster import AssetKey, DagsterEventType, DagsterInstance, Definitions, execute_job
from dagster._core.definitions.reconstruct import ReconstructableRepository

from honeyframe_dagster.resources.warehouse_access import write_transaction
from honeyframe_dagster.settings import REPO_ROOT
from honeyframe_dagster.steps.transactional import MANIFEST, STAGING_SCHEMA, TableWrite, sweep, write_table
from tests.conftest import ApplyYaml
from tests.steps.support import events, loopback_server, output_metadata, query, run_scenario

SLOW_SECONDS = 3.0
DATASETS = """
kind: Dataset
id: orders
project: acme-sales
table: landing_orders
connector: {type: file, path: examples/data/orders.json}
---
kind: Dataset
id: customers
project: acme-sales
table: landing_customers
connector: {type: file, path: examples/data/customers.csv}
---
kind: Dataset
id: broken
project: acme-sales
table: landing_broken
connector: {type: file, path: examples/data/missing.csv}
"""


def slow_csv(request: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, str, bytes]:
    time.sleep(SLOW_SECONDS)
    return 200, "text/csv", b"region,target\nnorth,10\nsouth,20\n"


def test_a_parallel_group_really_overlaps_and_commits_after_all_its_steps(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    hf_home: Path,
) -> None:
    with loopback_server(slow_csv) as url:
        documents = f"""
kind: Dataset
id: targets
project: acme-sales
table: landing_targets
connector: {{type: http, url: "{url}/targets.csv"}}
---
kind: Dataset
id: regions
project: acme-sales
table: landing_regions
connector: {{type: http, url: "{url}/regions.csv"}}
---
kind: Scenario
project: acme-sales
name: fan out
trigger: {{interval_seconds: 3600}}
steps:
  - {{kind: run_python, recipe: pause}}
  - {{kind: run_python, recipe: pause, args: {{seconds: {SLOW_SECONDS}}}, parallel: true}}
  - {{kind: sync_dataset, dataset: targets, parallel: true}}
  - {{kind: sync_dataset, dataset: regions, parallel: true}}
  - {{kind: run_python, recipe: summarize_orders}}
"""
        assert apply_yaml(documents) == 0
        job = load_defs().get_job_def("acme_sales__fan_out")
        assert job.executor_def.name == "multiprocess"
        # The job's own executor (a process per op), as the daemon would launch it.
        recon = ReconstructableRepository.for_module(
            "honeyframe_dagster.definitions", "defs", working_directory=str(REPO_ROOT)
        ).get_reconstructable_job("acme_sales__fan_out")
        with execute_job(recon, instance=instance) as result:
            assert result.success
            run_id = result.run_id
    spans: dict[str, list[float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event and event.event_type in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS):
            spans.setdefault(event.step_key, []).append(entry.timestamp)
    group = ["step_2_run_python", "step_3_sync_dataset", "step_4_sync_dataset"]
    # Every pair of the group ran at the same time: the latest start is before the earliest end.
    assert max(spans[s][0] for s in group) < min(spans[s][1] for s in group)
    commit = spans["commit_steps_2_4"]
    assert commit[0] >= max(spans[s][1] for s in group) and spans["step_5_run_python"][0] >= commit[1]
    warehouse = hf_home / "warehouse.duckdb"
    assert query(warehouse, "select count(*) from landing_targets") == [(2,)]
    assert query(warehouse, "select count(*) from landing_regions") == [(2,)]
    assert query(warehouse, f"select count(*) from {MANIFEST}") == [(0,)]
    materialized = instance.get_latest_materialization_event(AssetKey(["landing_regions"]))
    assert materialized is not None and materialized.step_key == "commit_steps_2_4"


def scenario(transactional: bool) -> str:
    flag = "" if transactional else ", transactional: false"
    return f"""{DATASETS}
---
kind: Scenario
project: acme-sales
name: group
trigger: {{interval_seconds: 3600}}
steps:
  - {{kind: sync_dataset, dataset: orders, parallel: true{flag}}}
  - {{kind: sync_dataset, dataset: broken, parallel: true{flag}}}
  - {{kind: sync_dataset, dataset: customers, parallel: true{flag}}}
  - {{kind: run_python, recipe: pause}}
"""


def seed_previous_tables(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE landing_orders AS SELECT 'previous' AS marker")
        connection.execute("CREATE TABLE landing_customers AS SELECT 'previous' AS marker")


def staged_tables(warehouse: Path) -> list[tuple[str]]:
    sql = f"select table_name from duckdb_tables() where schema_name = '{STAGING_SCHEMA}' and table_name like 'r%'"
    return query(warehouse, sql)


def test_a_transactional_group_publishes_nothing_when_one_step_fails(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    hf_home: Path,
) -> None:
    warehouse = hf_home / "warehouse.duckdb"
    seed_previous_tables(warehouse)
    result = run_scenario(apply_yaml, load_defs, instance, scenario(transactional=True), "acme_sales__group")
    assert not result.success
    (run_failure,) = instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_FAILURE)
    assert "Steps failed: ['step_2_sync_dataset']" in run_failure.message
    assert not events(result, "STEP_START", "commit_steps_1_3") and not events(
        result, "STEP_START", "step_4_run_python"
    )
    # In process the steps run in order: step 1 staged before the failure (the hook dropped it); step 3 staged
    # after it and discarded its own rows. Neither table changed, and nothing is left staged.
    assert output_metadata(result, "step_3_sync_dataset")["published"] == "discarded: group failed"
    assert query(warehouse, "select * from landing_orders") == [("previous",)]
    assert query(warehouse, "select * from landing_customers") == [("previous",)]
    assert staged_tables(warehouse) == [] and query(warehouse, f"select count(*) from {MANIFEST}") == [(0,)]
    assert not events(result, "ASSET_MATERIALIZATION")


def test_a_non_transactional_group_commits_each_step_on_its_own(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    hf_home: Path,
) -> None:
    warehouse = hf_home / "warehouse.duckdb"
    seed_previous_tables(warehouse)
    result = run_scenario(apply_yaml, load_defs, instance, scenario(transactional=False), "acme_sales__group")
    assert not result.success
    (run_failure,) = instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_FAILURE)
    assert "Steps failed: ['step_2_sync_dataset']" in run_failure.message
    assert "commit_steps_1_3" not in {node.name for node in load_defs().get_job_def("acme_sales__group").graph.nodes}
    assert not events(result, "STEP_START", "step_4_run_python")
    assert query(warehouse, "select count(*) from landing_orders") == [(40,)]
    assert query(warehouse, "select count(*) from landing_customers") == [(40,)]
    materialized = {e.asset_key for e in events(result, "ASSET_MATERIALIZATION")}
    assert materialized == {AssetKey(["landing_orders"]), AssetKey(["landing_customers"])}


def _increment(warehouse: str, times: int) -> None:
    for _ in range(times):
        with write_transaction(Path(warehouse), timeout=60) as connection:
            (value,) = connection.execute("SELECT n FROM counter").fetchone()
            connection.execute("UPDATE counter SET n = ?", [value + 1])


def test_writers_in_separate_processes_take_turns_instead_of_failing(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE counter AS SELECT 0 AS n")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_increment, args=(str(warehouse), 10)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert query(warehouse, "select n from counter") == [(30,)]  # no lost update, no lock error


def test_staged_writes_of_a_finished_run_are_swept(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"

    def load(connection: duckdb.DuckDBPyConnection, table: str) -> None:
        connection.execute(f"CREATE TABLE {table} AS SELECT 1 AS x")

    with write_transaction(warehouse, timeout=10) as connection:
        write_table(connection, TableWrite("t"), load, lambda rows: {}, run_id="dead-run", index=1, deferred=True)
        write_table(connection, TableWrite("t"), load, lambda rows: {}, run_id="live-run", index=1, deferred=True)
        assert sweep(connection, "current", lambda run_id: run_id == "dead-run") == ["rdeadrun_s2_t"]
    assert query(warehouse, f"select run_id from {MANIFEST}") == [("live-run",)]
    assert [name for (name,) in staged_tables(warehouse)] == ["rliverun_s2_t"]
