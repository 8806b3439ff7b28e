"""The SQL policy for user-written SQL, and the sandboxed DuckDB connection that SQL runs on."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from honeyframe_dagster.model.sql_policy import SqlPolicyError, check_query
from honeyframe_dagster.resources.warehouse_access import (
    SqlLimits,
    connect_sandboxed,
    sandboxed_read,
    write_transaction,
)
from honeyframe_dagster.settings import REPO_ROOT

READABLE = frozenset({"mart_revenue", "landing_orders", "stg_tickets"})

ACCEPTED = [
    ("select sum(amount) from mart_revenue where order_date >= :start and order_date < :end", {"mart_revenue"}),
    ("select x::date, ':end' from main.landing_orders", {"landing_orders"}),
    ('select * from "Landing_Orders"', {"landing_orders"}),
    ("from mart_revenue", {"mart_revenue"}),
    (
        "with a as (select * from mart_revenue) select * from a join landing_orders using (id)",
        {"mart_revenue", "landing_orders"},
    ),
    ("with recursive n as (select 1 as i union all select i + 1 from n where i < 3) select * from n", set()),
    ("(select 1) union all (select 2 from stg_tickets)", {"stg_tickets"}),
    ("select * from range(3), generate_series(1, 2), unnest([1, 2])", set()),
    ("select 1;", set()),
]

REFUSED = [
    # The attack of issue 9: several statements, a DROP of another project's table and a COPY to a host file.
    (
        "select 'a' as t; drop table landing_orders; copy (select 'owned') to 'x.txt'",
        "got 3 statements (statement 2: 'DROP TABLE landing_orders')",
    ),
    ("drop table landing_orders", "not DROP"),
    ("copy (select 1) to 'a-file'", "not COPY"),
    ("copy landing_orders to '/tmp/out.csv'", "not COPY"),
    ("attach '/tmp/other.duckdb' as other", "not ATTACH"),
    ("pragma database_list", "not PRAGMA"),
    ("set enable_external_access = true", "not SET"),
    ("install httpfs", "not INSTALL"),
    ("load httpfs", "not COMMAND"),
    ("insert into landing_orders select 1", "not INSERT"),
    ("create table t as select 1", "not CREATE"),
    ("describe landing_orders", "not DESCRIBE"),
    ("select * into stolen from landing_orders", "INTO is not allowed"),
    ("select * from read_csv('/etc/passwd')", "table function 'read_csv'"),
    ("select * from read_parquet('s3://bucket/x.parquet')", "table function 'read_parquet'"),
    ("select * from read_json_auto('x.json')", "read_json_auto"),
    ("select * from glob('/etc/*')", "table function 'glob'"),
    ("select * from query('drop table landing_orders')", "table function 'query'"),
    ("select * from duckdb_tables()", "table function 'duckdb_tables'"),
    ("select * from mart_revenue where 1 in (select 1 from read_text('/etc/hostname'))", "read_text"),
    ("select getenv('HONEYFRAME_SMTP_PASSWORD')", "function 'getenv' is not allowed"),
    ("select current_setting('home_directory')", "function 'current_setting' is not allowed"),
    ("select * from '/etc/passwd'", "file paths are not allowed"),
    ('select * from "orders.csv"', "file paths are not allowed"),
    ("select * from information_schema.tables", "outside schema 'main'"),
    ("select * from other.main.landing_orders", "qualified with a database"),
    ("select * from landing_customers", "table 'landing_customers' is not readable by this project"),
    ("select * from pg_tables", "table 'pg_tables' is a DuckDB system view"),
    # A CTE name used outside the query that defines it is the real table of that name.
    ("select * from (with secret as (select 1) select * from secret), secret", "table 'secret' is not readable"),
    ("with a as (select * from b), b as (select 1) select * from a", "table 'b' is not readable"),
    ("with a as (select * from a) select * from a", "table 'a' is not readable"),
    ("selec 1", "cannot parse as DuckDB SQL"),
    (";", "got none"),
]


@pytest.mark.parametrize(("sql", "tables"), ACCEPTED)
def test_one_read_only_query_over_readable_tables_is_accepted(sql: str, tables: set[str]) -> None:
    assert check_query(sql, READABLE) == tables


@pytest.mark.parametrize(("sql", "message"), REFUSED)
def test_anything_else_is_refused_naming_the_statement_table_or_function(sql: str, message: str) -> None:
    with pytest.raises(SqlPolicyError) as refused:
        check_query(sql, READABLE)
    assert message in str(refused.value)


def test_without_a_readable_set_only_table_names_go_unchecked() -> None:
    assert check_query("select * from anything", None) == {"anything"}
    with pytest.raises(SqlPolicyError, match="read_csv"):
        check_query("select * from read_csv('/etc/passwd')", None)


def test_every_example_card_passes_the_policy() -> None:
    documents = [d for d in yaml.safe_load_all((REPO_ROOT / "examples" / "dashboards.yaml").read_text()) if d]
    marts = {"mart_revenue", "mart_ops_kpis", "mart_inventory"}
    for card in (card for dashboard in documents for card in dashboard["cards"]):
        assert check_query(card["sql"], marts) <= marts


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create table landing_orders as select 1 as id")
    (tmp_path / "secret.csv").write_text("token\nhunter2\n")
    return path


SANDBOX_REFUSES = [
    "select * from read_csv('{dir}/secret.csv')",
    "select * from '{dir}/secret.csv'",
    "copy (select 'owned') to '{dir}/owned.txt'",
    "copy landing_orders to '{dir}/owned.csv'",
    "attach '{dir}/other.duckdb' as other",
    "set enable_external_access = true",
    "set lock_configuration = false",
    "install httpfs",
    "load httpfs",
    "select * from glob('{dir}/*')",
    "drop table landing_orders",
]


@pytest.mark.parametrize("sql", SANDBOX_REFUSES)
def test_the_sandboxed_connection_refuses_files_writes_and_settings_even_without_the_policy(
    warehouse: Path, sql: str
) -> None:
    directory = warehouse.parent
    with sandboxed_read(warehouse, timeout=5) as connection:
        with pytest.raises(duckdb.Error):
            connection.execute(sql.format(dir=directory)).fetchall()
        assert connection.execute("select count(*) from landing_orders").fetchone() == (1,)
    assert not (directory / "owned.txt").exists() and not (directory / "owned.csv").exists()
    assert not (directory / "other.duckdb").exists()


def test_the_sandbox_caps_memory_and_threads_and_reads_a_snapshot_writers_do_not_wait_for(warehouse: Path) -> None:
    with sandboxed_read(warehouse, timeout=5, limits=SqlLimits(memory_limit="200MB")) as connection:
        settings = "select current_setting('memory_limit'), current_setting('threads')"
        assert connection.execute(settings).fetchone() == ("190.7 MiB", 2)
        for sql in ("set memory_limit = '100GB'", "set threads = 64", "reset memory_limit"):
            with pytest.raises(duckdb.Error, match="locked"):
                connection.execute(sql)
        # The warehouse itself is not open: a writer (here, in this very process) goes ahead at once.
        with write_transaction(warehouse, timeout=0.5) as writer:
            writer.execute("insert into landing_orders values (2)")
        assert connection.execute("select count(*) from landing_orders").fetchone() == (1,)


def test_the_sandbox_opens_after_a_writer_and_a_missing_warehouse_is_empty(warehouse: Path, tmp_path: Path) -> None:
    with write_transaction(warehouse, timeout=5) as connection:
        connection.execute("insert into landing_orders values (2)")
    with sandboxed_read(warehouse, timeout=5) as connection:
        assert connection.execute("select count(*) from landing_orders").fetchone() == (2,)
    # A fresh install: a card that reads no table works before the warehouse file exists.
    missing = tmp_path / "fresh" / "warehouse.duckdb"
    with connect_sandboxed(missing) as connection:
        assert connection.execute("select 42").fetchone() == (42,)
        with pytest.raises(duckdb.Error):
            connection.execute(f"copy (select 1) to '{tmp_path}/x.txt'")
    assert not missing.exists() and not (tmp_path / "x.txt").exists()


@pytest.mark.parametrize(
    "sql",
    [
        "select " + "(" * 500 + "1" + ")" * 500,
        "select * from " + "(select * from " * 65 + "range(3)" + ")" * 65,
        "select " + "not " * 3000 + "true",
        "select " + "- " * 3000 + "1",
        "select " + "case when true then " * 300 + "1" + " end" * 300,
        "select " + "[" * 100 + "1" + "]" * 100,
    ],
)
def test_sql_nested_past_64_levels_is_refused_naming_the_depth_not_a_recursion_error(sql: str) -> None:
    with pytest.raises(SqlPolicyError, match="nested more than 64 levels deep .*at most 64 levels"):
        check_query(sql, None)


def test_sql_nested_64_levels_deep_and_long_flat_expressions_still_pass() -> None:
    check_query("select " + "(" * 63 + "1" + ")" * 63, None)
    check_query("select * from " + "(select * from " * 60 + "range(3)" + ")" * 60, None)
    check_query("select " + "+".join(["1"] * 5000), None)  # long, not deep
