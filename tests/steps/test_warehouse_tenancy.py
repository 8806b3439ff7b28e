"""Warehouse tenancy (issue 9): a project's steps and SQL read and write only its own tables.

Each attack of the issue that reaches the warehouse is replayed here against a real store (SQLite and Postgres),
a real DuckDB warehouse and real Dagster runs, and shown to fail safe: refused when written, and refused again at
run time when the store row is forged directly, with nothing dropped, replaced or written to the host.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, Definitions
from sqlalchemy import select
from sqlalchemy.orm import Session

from honeyframe_dagster.model.tenancy import TenancyError
from honeyframe_dagster.resources.warehouse_access import write_transaction
from honeyframe_dagster.steps.transactional import ForeignTable, TableWrite, commit_run, write_table
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.ownership import claim_tables
from honeyframe_dagster.store.tables import DashboardRow, ScenarioRow, ScenarioVersionRow, WarehouseTableRow
from tests.conftest import ApplyYaml
from tests.steps.support import closed_port_url, failure_text, query

ATTACK = "select 'a' as t; drop table landing_orders; copy (select 'owned') to 'x.txt'"
SALES_DATASET = """
kind: Dataset
id: orders
project: acme-sales
table: landing_orders
connector: {type: file, path: examples/data/orders.json}
"""
OPS_AGENT = """
---
kind: Agent
id: triage
project: acme-ops
model: triage-model
"""


def ops_agent_scenario(input_sql: str, output_table: str = "ticket_labels") -> str:
    return f"""
---
kind: Scenario
project: acme-ops
name: triage
trigger: {{interval_seconds: 3600}}
steps:
  - kind: run_agent
    agent: triage
    input: "{input_sql}"
    output_table: {output_table}
"""


def dashboard(project: str, *sqls: str) -> str:
    cards = "".join(f'\n  - {{title: "Card {i}", display: table, sql: "{sql}"}}' for i, sql in enumerate(sqls))
    return f"""
---
kind: Dashboard
id: board
project: {project}
title: Board
cards:{cards}
"""


def refused(apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str], documents: str) -> str:
    capsys.readouterr()
    assert apply_yaml(documents) == 1
    err = capsys.readouterr().err
    assert "nothing was applied" in err
    return err


@pytest.fixture
def landing_orders(hf_home: Path) -> Path:
    """acme-sales's table in the warehouse, with rows (what the attacks try to drop or replace)."""
    warehouse = hf_home / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create table landing_orders as select 1 as order_id, 'north' as region")
    return warehouse


def test_a_second_projects_dataset_on_a_taken_table_is_refused(
    store_url: str, projects: None, apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply_yaml(SALES_DATASET) == 0
    steal = SALES_DATASET.replace("id: orders", "id: stolen").replace("acme-sales", "acme-ops")
    err = refused(apply_yaml, capsys, steal.replace("landing_orders", "LANDING_ORDERS"))
    assert "document[0]: table: table 'LANDING_ORDERS' belongs to project 'acme-sales'" in err
    # A dbt model is built by dbt only; a dataset may stand in for a seed (the contract's raw_orders).
    err = refused(apply_yaml, capsys, steal.replace("landing_orders", "mart_revenue"))
    assert "table: table 'mart_revenue' is a dbt model or snapshot; only dbt writes it" in err
    assert apply_yaml(steal.replace("landing_orders", "raw_orders")) == 0
    assert apply_yaml(SALES_DATASET) == 0  # re-applying one's own dataset is fine
    with Session(get_engine(store_url)) as session:
        owners = dict(session.execute(select(WarehouseTableRow.name, WarehouseTableRow.project_id)).all())
    assert owners == {"landing_orders": "acme-sales", "raw_orders": "acme-ops"}


def test_run_agent_sql_and_output_are_refused_at_apply(
    store_url: str, projects: None, apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply_yaml(SALES_DATASET) == 0
    err = refused(apply_yaml, capsys, OPS_AGENT + ops_agent_scenario(ATTACK))
    assert (
        "document[1]: scenario 'triage' of project 'acme-ops': steps[0].input: must be one read-only SELECT or WITH "
        "statement, got 3 statements (statement 2: 'DROP TABLE landing_orders')"
    ) in err
    err = refused(apply_yaml, capsys, OPS_AGENT + ops_agent_scenario("select * from landing_orders"))
    assert "steps[0].input: table 'landing_orders' is not readable by this project" in err
    err = refused(apply_yaml, capsys, OPS_AGENT + ops_agent_scenario("select * from read_csv('/etc/passwd')"))
    assert "steps[0].input: table function 'read_csv' is not allowed" in err
    err = refused(apply_yaml, capsys, OPS_AGENT + ops_agent_scenario("select 1 as x", "landing_orders"))
    assert "steps[0].output_table: table 'landing_orders' belongs to project 'acme-sales'" in err
    err = refused(apply_yaml, capsys, OPS_AGENT + ops_agent_scenario("select 1 as x", "mart_revenue"))
    assert "steps[0].output_table: table 'mart_revenue' is a dbt model, seed or snapshot" in err
    # The project's own tables and the dbt models are readable; the output table becomes the project's.
    assert apply_yaml(OPS_AGENT + ops_agent_scenario("select ticket_id, subject from stg_tickets")) == 0
    err = refused(apply_yaml, capsys, SALES_DATASET.replace("landing_orders", "ticket_labels"))
    assert "table: table 'ticket_labels' belongs to project 'acme-ops'" in err


def test_card_sql_is_refused_at_apply(
    store_url: str, projects: None, apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply_yaml(SALES_DATASET) == 0
    cases = {
        "select * from read_csv('/etc/passwd')": "cards[0].sql: table function 'read_csv' is not allowed",
        "copy (select 1) to 'a-file'": "cards[0].sql: must be one read-only SELECT or WITH statement, not COPY",
        "select * from landing_orders": "cards[0].sql: table 'landing_orders' is not readable by this project",
        "select 1; drop table landing_orders": "cards[0].sql: must be one read-only SELECT or WITH statement, got 2",
    }
    for sql, message in cases.items():
        assert message in refused(apply_yaml, capsys, dashboard("acme-ops", sql))
    # Its own dataset's table, a dbt model, and an agent output claimed in the same call are all readable.
    own = dashboard(
        "acme-ops",
        "select count(*) from ops_tickets where opened >= :start and opened < :end",
        "select * from mart_ops_kpis",
        "select * from ticket_labels",
    )
    ops_dataset = SALES_DATASET.replace("id: orders", "id: tickets").replace("acme-sales", "acme-ops")
    documents = ops_dataset.replace("landing_orders", "ops_tickets") + own + OPS_AGENT + ops_agent_scenario("tickets")
    assert apply_yaml(documents) == 0


def set_steps(store_url: str, job_name: str, **changes: str) -> None:
    """Forge the first step of the scenario's current version (what its runs do), as if the row had been written
    without the API or `apply`."""
    with Session(get_engine(store_url)) as session, session.begin():
        row = session.scalar(select(ScenarioRow).where(ScenarioRow.name == job_name))
        assert row is not None
        version = session.get(ScenarioVersionRow, (row.id, row.version))
        assert version is not None
        version.spec = {**version.spec, "steps": [{**version.spec["steps"][0], **changes}]}
        version.spec_hash = hashlib.sha256(repr(changes).encode()).hexdigest()  # a process's cache: a new version


def test_a_forged_run_agent_row_fails_at_run_time_without_dropping_or_writing_anything(
    store_url: str,
    projects: None,
    apply_yaml: ApplyYaml,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    landing_orders: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HONEYFRAME_AGENT_BASE_URL", closed_port_url())
    assert apply_yaml(SALES_DATASET + OPS_AGENT + ops_agent_scenario("select 1 as x")) == 0
    job = load_defs().get_job_def("acme_ops__triage")

    set_steps(store_url, "triage", input=ATTACK)
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    assert "input: must be one read-only SELECT or WITH statement, got 3 statements" in failure_text(
        result, "step_1_run_agent"
    )

    set_steps(store_url, "triage", input="select 1 as x", output_table="landing_orders")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    assert "output_table: table 'landing_orders' belongs to project 'acme-sales'" in failure_text(
        result, "step_1_run_agent"
    )

    assert query(landing_orders, "select * from landing_orders") == [(1, "north")]
    assert not list(tmp_path.rglob("x.txt")) and not list(landing_orders.parent.rglob("x.txt"))


def test_a_forged_card_fails_at_run_time_and_the_sandbox_reads_no_file(
    store_url: str,
    projects: None,
    apply_yaml: ApplyYaml,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    landing_orders: Path,
    tmp_path: Path,
) -> None:
    report = """
---
kind: Scenario
project: acme-ops
name: report
trigger: {interval_seconds: 3600}
steps:
  - kind: send_email_report
    dashboard_ids: [board]
    recipients: [olaf@acme.example]
    format: html
"""
    assert apply_yaml(SALES_DATASET + dashboard("acme-ops", "select 42 as answer") + report) == 0
    job = load_defs().get_job_def("acme_ops__report")
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nhunter2\n")
    forged = {
        f"select * from read_csv('{secret}')": "table function 'read_csv' is not allowed",
        f"copy (select 'owned') to '{tmp_path}/owned.txt'": "must be one read-only SELECT or WITH statement, not COPY",
        "select * from landing_orders": "table 'landing_orders' is not readable by this project",
    }
    for sql, message in forged.items():
        with Session(get_engine(store_url)) as session, session.begin():
            row = session.get(DashboardRow, ("acme-ops", "board"))
            assert row is not None
            row.document = {**row.document, "cards": [{"title": "Forged", "display": "table", "sql": sql}]}
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        text = failure_text(result, "step_1_send_email_report")
        assert f"card 'Forged': {message}" in text and "hunter2" not in text
    assert not (tmp_path / "owned.txt").exists()
    assert query(landing_orders, "select count(*) from landing_orders") == [(1,)]


def test_a_publish_never_replaces_another_projects_table(landing_orders: Path) -> None:
    def load(connection: duckdb.DuckDBPyConnection, table: str) -> None:
        connection.execute(f"create table {table} as select 666 as order_id, 'stolen' as region")

    # A staged write for the group commit: the commit refuses it whole, and nothing is published.
    with write_transaction(landing_orders, 5) as connection:
        write_table(
            connection, TableWrite("landing_orders"), load, lambda rows: {}, run_id="r1", index=0, deferred=True
        )
    foreign = pytest.raises(ForeignTable, match="landing_orders do not belong to this project")
    with foreign, write_transaction(landing_orders, 5) as connection:
        commit_run(connection, "r1", writable={"ticket_labels"})
    # A step that publishes at once: the same.
    with pytest.raises(ForeignTable), write_transaction(landing_orders, 5) as connection:
        write_table(
            connection,
            TableWrite("Landing_Orders"),
            load,
            lambda rows: {},
            run_id="r2",
            index=0,
            deferred=False,
            writable={"ticket_labels"},
        )
    assert query(landing_orders, "select * from landing_orders") == [(1, "north")]
    # The owner's own commit goes through.
    with write_transaction(landing_orders, 5) as connection:
        (published,) = commit_run(connection, "r1", writable={"landing_orders"})
    assert published.table == "landing_orders"
    assert query(landing_orders, "select * from landing_orders") == [(666, "stolen")]


def test_concurrent_claims_on_one_table_have_one_winner(store_url: str, projects: None) -> None:
    """Two projects claim one table at the same time: the first transaction's claim stands, the second is refused
    once the first commits (the primary key decides, not a read before the write)."""
    engine = get_engine(store_url)
    first_claimed = threading.Event()
    outcome: dict[str, str] = {}

    def claim(project_id: str, hold: float) -> None:
        try:
            with Session(engine) as session, session.begin():
                claim_tables(session, project_id, {"contested": ("table",)})
                first_claimed.set()
                time.sleep(hold)
            outcome[project_id] = "owner"
        except TenancyError as exc:
            outcome[project_id] = str(exc)

    holder = threading.Thread(target=claim, args=("acme-sales", 1.0))
    holder.start()
    assert first_claimed.wait(10)
    claim("acme-ops", 0)
    holder.join(10)
    assert outcome == {"acme-sales": "owner", "acme-ops": "table: table 'contested' belongs to project 'acme-sales'"}
    with Session(engine) as session:
        assert session.scalar(select(WarehouseTableRow.project_id).where(WarehouseTableRow.name == "contested")) == (
            "acme-sales"
        )


def test_the_migration_gives_existing_tables_to_their_first_project(store_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from honeyframe_dagster.store import schema

    engine = get_engine(store_url)
    config = schema.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    documents = [
        ("acme-sales", "orders", '{"table": "Landing_Orders"}'),
        ("acme-ops", "copy", '{"table": "landing_orders"}'),  # a later claim on a taken table is left out
        ("acme-ops", "raw.tickets", "{}"),  # no table: the id, made an identifier
    ]
    created = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=i) for i in range(len(documents) + 1)]
    stamps = "created_at, updated_at) VALUES ("
    with engine.begin() as connection:
        for project in ("acme-sales", "acme-ops"):
            connection.execute(
                text(f"INSERT INTO projects (id, name, owner_email, {stamps}:id, :id, 'a@b.c', :t, :t)"),
                {"id": project, "t": created[0]},
            )
        for (project, dataset, document), when in zip(documents, created[1:], strict=True):
            connection.execute(
                text(f"INSERT INTO datasets (project_id, id, document, {stamps}:p, :i, :d, :t, :t)"),
                {"p": project, "i": dataset, "d": document, "t": when},
            )
        connection.execute(
            text(
                f"INSERT INTO scenarios (project_id, name, parameters, steps, enabled, {stamps}:p, 's', '{{}}', :s, "
                "true, :t, :t)"
            ),
            {"p": "acme-ops", "s": '[{"kind": "run_agent", "output_table": "Labels"}]', "t": created[0]},
        )
    schema.upgrade(engine)
    with Session(engine) as session:
        owners = dict(session.execute(select(WarehouseTableRow.name, WarehouseTableRow.project_id)).all())
    assert owners == {"landing_orders": "acme-sales", "raw_tickets": "acme-ops", "labels": "acme-ops"}
