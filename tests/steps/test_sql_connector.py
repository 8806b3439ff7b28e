"""The sql connector under the egress policy, read-only and time-bounded, and never reading the scheduler's own
store or Dagster's storage: real sync_dataset jobs against a real Postgres (and SQLite files), on both stores."""

from __future__ import annotations

import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions
from sqlalchemy import create_engine, make_url, text

from tests.conftest import POSTGRES_ADMIN_URL, PROJECTS_YAML, ApplyYaml, granting
from tests.steps.support import failure_text, log_messages, query, run_scenario

PASSWORD = "pw-never-shown-7719"
SECRET = "HONEYFRAME_SECRET_DB"
SCENARIO = """
kind: Scenario
project: acme-ops
name: feed
trigger: {interval_seconds: 3600}
steps:
  - {kind: sync_dataset, dataset: feed}
"""


def feed(sql: str) -> str:
    return f"""
kind: Dataset
id: feed
project: acme-ops
table: feed
connector: {{type: sql, url_env: {SECRET}, query: "{sql}"}}
"""


def pg_url(host: str, database: str, port: int = 5432, query: str = "") -> str:
    return f"postgresql+psycopg://postgres:{PASSWORD}@{host}:{port}/{database}{query}"


@pytest.fixture
def source_table() -> Iterator[str]:
    """A table in the server's `postgres` database (not a store of the scheduler's)."""
    name = f"hf_src_{uuid.uuid4().hex[:10]}"
    engine = create_engine(POSTGRES_ADMIN_URL)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE {name} (id int)"))
        connection.execute(text(f"INSERT INTO {name} VALUES (1), (2), (3)"))
    try:
        yield name
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


def test_the_sql_connector_is_under_the_egress_policy_read_only_and_time_bounded(
    store_url: str,
    apply_yaml: ApplyYaml,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    hf_home: Path,
    source_table: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warehouse = hf_home / "warehouse.duckdb"
    monkeypatch.setenv("HONEYFRAME_DATA_DIR", str(hf_home.parent))  # the SQLite store's file is inside the data folder
    monkeypatch.setenv(SECRET, pg_url("127.0.0.1", "postgres"))
    assert apply_yaml(PROJECTS_YAML + "---\n" + granting("acme-ops", SECRET)) == 0
    first = run_scenario(
        apply_yaml, load_defs, instance, feed(f"select id from {source_table}") + "---" + SCENARIO, "acme_ops__feed"
    )
    assert first.success and query(warehouse, "select count(*) from feed") == [(3,)]
    job = load_defs().get_job_def("acme_ops__feed")

    def failing(url: str, sql: str = "select 1 as id") -> str:
        monkeypatch.setenv(SECRET, url)
        assert apply_yaml(feed(sql)) == 0
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        assert query(warehouse, "select count(*) from feed") == [(3,)]  # the previous rows stay
        said = "\n".join([failure_text(result, "step_1_sync_dataset"), *log_messages(instance, result.run_id)])
        assert PASSWORD not in said and url not in said
        return said

    # Egress: without an allowlist, loopback is refused before connecting; a parameter cannot pick another server.
    monkeypatch.delenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS")
    said = failing(pg_url("127.0.0.1", "postgres"))
    assert f"the database in {SECRET} is on a host that is not a public address" in said
    monkeypatch.setenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", "db.example.com")
    assert "is not in HONEYFRAME_CONNECTOR_ALLOWED_HOSTS" in failing(pg_url("127.0.0.1", "postgres"))
    monkeypatch.setenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", "127.0.0.1, localhost")
    said = failing(pg_url("127.0.0.1", "postgres", query="?host=/var/run/postgresql"))
    assert "sets the connection parameter(s) host" in said
    assert "has no host" in failing(f"postgresql+psycopg://postgres:{PASSWORD}@/postgres")
    assert "reads postgresql and sqlite databases" in failing(f"mysql://root:{PASSWORD}@127.0.0.1/x")

    # Read-only, one statement, bounded in time.
    said = failing(pg_url("127.0.0.1", "postgres"), f"delete from {source_table} returning id")
    assert "read-only transaction" in said
    said = failing(pg_url("127.0.0.1", "postgres"), f"select 1 as id; drop table {source_table}")
    assert "multiple commands" in said
    monkeypatch.setenv("HONEYFRAME_SQL_TIMEOUT_SECONDS", "0.5")
    started = time.monotonic()
    said = failing(pg_url("127.0.0.1", "postgres"), "select pg_sleep(20) as id")
    assert "was stopped after HONEYFRAME_SQL_TIMEOUT_SECONDS=0.5" in said and time.monotonic() - started < 15
    with create_engine(POSTGRES_ADMIN_URL).connect() as connection:
        assert connection.execute(text(f"select count(*) from {source_table}")).scalar() == 3

    # Never the scheduler's own store nor Dagster's storage, whatever the allowlist says (here: every host).
    monkeypatch.setenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", "*, localhost")
    dagster_db = f"dagster_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("HONEYFRAME_DAGSTER_POSTGRES_URL", f"postgresql://postgres@127.0.0.1:5432/{dagster_db}")
    said = failing(pg_url("localhost", dagster_db), "select 1 as id")
    assert f"the database in {SECRET} is the scheduler's own store or Dagster's storage; refused" in said
    if store_url.startswith("postgresql"):
        store = make_url(store_url).database
        assert store is not None
        said = failing(pg_url("localhost", store), "select token_hash as id from api_tokens")
        assert "is the scheduler's own store" in said
        for host in ("localhost", "[::ffff:127.0.0.1]", "127.0.0.2", socket.gethostname()):  # this machine
            said = failing(pg_url(host, store), "select token_hash as id from api_tokens")
            assert "is the scheduler's own store" in said
    else:
        said = failing(f"sqlite:///{hf_home / 'scheduler.db'}", "select token_hash as id from api_tokens")
        assert "is the scheduler's own state" in said
        said = failing(f"sqlite:///{hf_home.name}/scheduler.db", "select token_hash as id from api_tokens")
        assert "is the scheduler's own state" in said


def test_a_sqlite_source_is_a_file_of_the_data_folder_read_only(
    apply_yaml: ApplyYaml,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    hf_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("HONEYFRAME_DATA_DIR", str(data))
    with sqlite3.connect(data / "source.db") as connection:
        connection.execute("CREATE TABLE t (id INTEGER)")
        connection.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    connection.close()
    monkeypatch.setenv(SECRET, "sqlite:///source.db")
    assert apply_yaml(PROJECTS_YAML + "---\n" + granting("acme-ops", SECRET)) == 0
    result = run_scenario(
        apply_yaml, load_defs, instance, feed("select id from t") + "---" + SCENARIO, "acme_ops__feed"
    )
    assert result.success and query(hf_home / "warehouse.duckdb", "select count(*) from feed") == [(2,)]
    job = load_defs().get_job_def("acme_ops__feed")
    for sql, why in (
        (f"attach database '{hf_home / 'scheduler.db'}' as s", "not authorized"),
        ("delete from t returning id", "not authorized"),
        ("select 1 as id; delete from t", "one statement at a time"),
    ):
        assert apply_yaml(feed(sql)) == 0
        failed = job.execute_in_process(instance=instance, raise_on_error=False)
        assert why in failure_text(failed, "step_1_sync_dataset")
    with sqlite3.connect(data / "source.db") as connection:
        assert connection.execute("select count(*) from t").fetchone() == (2,)
    connection.close()
    monkeypatch.setenv(SECRET, f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert apply_yaml(feed("select 1 as id")) == 0
    failed = job.execute_in_process(instance=instance, raise_on_error=False)
    assert "is a file outside HONEYFRAME_DATA_DIR" in failure_text(failed, "step_1_sync_dataset")
