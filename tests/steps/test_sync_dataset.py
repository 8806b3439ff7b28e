"""sync_dataset in real scenario jobs: file, http, sql (real Postgres) and platform (real loopback server)."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, Definitions
from sqlalchemy import create_engine, text

from honeyframe_dagster.settings import REPO_ROOT
from tests.conftest import POSTGRES_ADMIN_URL, ApplyYaml, granting
from tests.steps.support import (
    as_json,
    closed_port_url,
    events,
    failure_text,
    loopback_server,
    output_metadata,
    query,
    run_scenario,
)

PG_PASSWORD = "not-a-real-pw-9431"  # trust auth ignores it; it must never show up in an error


def dataset(dataset_id: str, table: str, connector: str) -> str:
    return f"""
kind: Dataset
id: {dataset_id}
project: acme-ops
table: {table}
connector: {connector}
---"""


def sync_scenario(name: str, *dataset_ids: str) -> str:
    steps = "\n".join(f"  - {{kind: sync_dataset, dataset: {d}}}" for d in dataset_ids)
    return f"""
kind: Scenario
project: acme-ops
name: {name}
trigger: {{interval_seconds: 3600}}
steps:
{steps}
"""


class Platform:
    """The platform side of the `platform` connector protocol (connectors/platform.py), on loopback."""

    def __init__(self) -> None:
        self.polls: dict[str, int] = {}

    def __call__(self, request: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, str, bytes]:
        parts = request.path.strip("/").split("/")
        if method == "POST" and parts[:2] == ["api", "datasets"] and parts[3:] == ["sync"]:
            sync_id = f"{parts[2]}-{len(self.polls)}"
            self.polls[sync_id] = 0
            return as_json(202, {"sync_id": sync_id})
        if method == "GET" and parts[:2] == ["api", "syncs"] and len(parts) == 3:
            sync_id = parts[2]
            self.polls[sync_id] += 1
            if sync_id.startswith("ds-fail"):
                return as_json(200, {"status": "failed", "error": "source credentials expired"})
            if sync_id.startswith("ds-slow") or self.polls[sync_id] < 3:
                return as_json(200, {"status": "running"})
            return as_json(200, {"status": "done", "format": "json"})
        if method == "GET" and parts[:2] == ["api", "syncs"] and parts[3:] == ["data"]:
            return as_json(200, [{"sku": "A-1", "qty": 3}, {"sku": "B-2", "qty": 5}])
        return as_json(404, {"error": "not found"})


@pytest.fixture
def ops_secrets(apply_yaml: ApplyYaml, projects: None) -> None:
    """acme-ops may name the secrets these tests' datasets name (an admin grants them)."""
    secrets = ("HONEYFRAME_SECRET_PG_URL", "HONEYFRAME_SECRET_PLATFORM", "HONEYFRAME_SECRET_UNSET")
    assert apply_yaml(granting("acme-ops", *secrets)) == 0


@pytest.fixture
def pg_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Postgres table with typed rows; HONEYFRAME_SECRET_PG_URL holds a URL to it (with a password to keep secret)."""
    name = f"hf_sync_{uuid.uuid4().hex[:10]}"
    engine = create_engine(POSTGRES_ADMIN_URL)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE {name} (id int, label text, amount numeric(10,2), at timestamp)"))
        connection.execute(
            text(f"INSERT INTO {name} VALUES (1, 'one', 1.50, '2026-11-01 10:00'), (2, NULL, 2.25, NULL)")
        )
    monkeypatch.setenv(
        "HONEYFRAME_SECRET_PG_URL", f"postgresql+psycopg://postgres:{PG_PASSWORD}@127.0.0.1:5432/postgres"
    )
    try:
        yield name
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HONEYFRAME_DATA_DIR: a folder with JSON, Parquet and a copy of the example tickets under `files/`."""
    monkeypatch.setenv("HONEYFRAME_DATA_DIR", str(tmp_path))
    folder = tmp_path / "files"
    folder.mkdir()
    shutil.copytree(REPO_ROOT / "examples" / "data", tmp_path / "examples" / "data")
    (folder / "a.json").write_text('[{"id": 1, "kind": "click"}, {"id": 2, "kind": "view"}]')
    (folder / "b.json").write_text('[{"id": 3, "kind": "click"}]')
    with duckdb.connect() as connection:
        connection.execute(f"COPY (SELECT range AS n, range * 2 AS twice FROM range(7)) TO '{folder / 'p.parquet'}'")
    return folder


def test_every_connector_loads_its_table_and_reports_rows_and_lineage(
    apply_yaml: ApplyYaml,
    ops_secrets: None,
    load_defs: Callable[[], Definitions],
    load_warehouse: Callable[[], Definitions],
    instance: DagsterInstance,
    hf_home: Path,
    files: Path,
    pg_table: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform = Platform()
    web_csv = b"order_id,total\n1,9.5\n2,19.0\n3,4.25\n"
    with (
        loopback_server(lambda request, method, body: (200, "text/csv", web_csv)) as web,
        loopback_server(platform) as platform_url,
    ):
        monkeypatch.setenv("HONEYFRAME_SECRET_PLATFORM", platform_url)
        documents = "".join(
            [
                dataset("tickets", "raw_tickets", "{type: file, path: examples/data/tickets.csv}"),
                dataset("clicks", "clicks", "{type: file, path: 'files/*.json'}"),
                dataset("numbers", "numbers", "{type: file, path: files/p.parquet}"),
                dataset("web-orders", "web_orders", f"{{type: http, url: '{web}/export.csv', format: csv}}"),
                dataset(
                    "pg",
                    "postgres_rows",
                    f"{{type: sql, url_env: HONEYFRAME_SECRET_PG_URL, query: 'select * from {pg_table}'}}",
                ),
                dataset(
                    "stock",
                    "stock",
                    "{type: platform, dataset_id: ds-ok, base_url_env: HONEYFRAME_SECRET_PLATFORM, poll_seconds: 0.05}",
                ),
            ]
        )
        ids = ("tickets", "clicks", "numbers", "web-orders", "pg", "stock")
        result = run_scenario(
            apply_yaml,
            load_defs,
            instance,
            documents + sync_scenario("all-connectors", *ids),
            "acme_ops__all_connectors",
        )
    assert result.success
    expected = {"raw_tickets": (24, "file"), "clicks": (3, "file"), "numbers": (7, "file")}
    expected |= {"web_orders": (3, "http"), "postgres_rows": (2, "sql"), "stock": (2, "platform")}
    for position, (table, (rows, connector)) in enumerate(expected.items(), start=1):
        metadata = output_metadata(result, f"step_{position}_sync_dataset")
        assert (metadata["table"], metadata["rows synced"], metadata["connector"]) == (table, rows, connector)
        (materialization,) = events(result, "ASSET_MATERIALIZATION", f"step_{position}_sync_dataset")
        assert materialization.asset_key == AssetKey([table])
        assert query(hf_home / "warehouse.duckdb", f"select count(*) from {table}") == [(rows,)]
    assert instance.get_latest_materialization_event(AssetKey(["raw_tickets"])).run_id == result.run_id
    assert platform.polls == {"ds-ok-0": 3}  # polled until done
    warehouse = hf_home / "warehouse.duckdb"
    assert query(warehouse, 'select label, amount, "at" from postgres_rows order by id') == [
        ("one", 1.5, dt.datetime(2026, 11, 1, 10)),
        (None, 2.25, None),
    ]
    assert query(warehouse, "select sum(total) from web_orders") == [(32.75,)]
    # Lineage in the warehouse location: connector → dataset table → the dbt model built from its source.
    graph = load_warehouse().resolve_asset_graph()
    assert AssetKey(["connector", "acme_ops__tickets"]) in graph.get(AssetKey(["raw_tickets"])).parent_keys
    assert AssetKey(["raw_tickets"]) in graph.get(AssetKey(["stg_tickets"])).parent_keys


def test_failed_syncs_name_the_cause_and_leave_the_previous_table_intact(
    apply_yaml: ApplyYaml,
    ops_secrets: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    hf_home: Path,
    pg_table: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warehouse = hf_home / "warehouse.duckdb"
    state: dict[str, Any] = {"status": 200}
    platform = Platform()
    with (
        loopback_server(lambda request, method, body: (state["status"], "text/csv", b"id\n1\n2\n3\n")) as web,
        loopback_server(platform) as platform_url,
    ):
        monkeypatch.setenv("HONEYFRAME_SECRET_PLATFORM", platform_url)
        feed = dataset("feed", "feed", f"{{type: http, url: '{web}/feed.csv'}}")
        first = run_scenario(apply_yaml, load_defs, instance, feed + sync_scenario("feed", "feed"), "acme_ops__feed")
        assert first.success and query(warehouse, "select count(*) from feed") == [(3,)]
        job = load_defs().get_job_def("acme_ops__feed")

        def failing_run(documents: str) -> str:
            assert apply_yaml(documents.rstrip("-\n")) == 0
            result = job.execute_in_process(instance=instance, raise_on_error=False)
            assert not result.success
            assert query(warehouse, "select count(*) from feed") == [(3,)]  # previous data intact
            return failure_text(result, "step_1_sync_dataset")

        state["status"] = 500
        refused = failing_run(feed)
        assert "HTTP 500 from" in refused and "table 'feed' was left unchanged" in refused
        down = failing_run(dataset("feed", "feed", f"{{type: http, url: '{closed_port_url()}/feed.csv'}}"))
        assert "ConnectError" in down
        missing = failing_run(dataset("feed", "feed", "{type: file, path: examples/data/nope-*.csv}"))
        assert "no file matches" in missing and "nope-*.csv" in missing
        bad_sql = failing_run(
            dataset("feed", "feed", "{type: sql, url_env: HONEYFRAME_SECRET_PG_URL, query: 'select * from nope_x'}")
        )
        assert "nope_x" in bad_sql and PG_PASSWORD not in bad_sql
        no_env = failing_run(
            dataset("feed", "feed", "{type: sql, url_env: HONEYFRAME_SECRET_UNSET, query: 'select 1'}")
        )
        assert "environment variable HONEYFRAME_SECRET_UNSET is not set" in no_env
        platform_doc = (
            "{type: platform, dataset_id: ds-fail, base_url_env: HONEYFRAME_SECRET_PLATFORM, poll_seconds: 0.05}"
        )
        assert "source credentials expired" in failing_run(dataset("feed", "feed", platform_doc))
        slow = platform_doc.replace("ds-fail", "ds-slow").replace("}", ", timeout_seconds: 0.3}")
        assert "did not finish within connector.timeout_seconds=0.3" in failing_run(dataset("feed", "feed", slow))
