"""Red-team attacks on tenancy and hardening (issue 9) that got through once, each shown to fail safe now.

Every attack goes through the public surface: `honeyframe apply`, the REST API (SQLite and Postgres), a card
query on a real DuckDB warehouse, the `file` connector on real files, the host policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from dagster import Definitions

from honeyframe_dagster import net_policy
from honeyframe_dagster.model.documents import Dashboard, Dataset
from honeyframe_dagster.model.sql_policy import SqlPolicyError, check_card_query, check_query
from honeyframe_dagster.reports.data import ReportError, load_dashboards
from honeyframe_dagster.reports.time_filters import relative_period
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.sync_dataset.connectors.extract import ConnectorError
from honeyframe_dagster.steps.sync_dataset.resource import connectors_resource
from tests.api.conftest import Api, api  # noqa: F401 - the `api` fixture
from tests.conftest import ApplyYaml

# sqlglot reads `:start$` as a parameter and `' $start$, … --'` as a string; once `:start` is bound as `$start`,
# DuckDB reads `$start$), ' $start$` as a dollar-quoted string and the read of `other` as code.
DOLLAR_QUOTE = "select (:start$), ' $start$, (select a from other), $start) as b --'"
BASE = "/api/scheduler/scenarios"


def refused(apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str], documents: str) -> str:
    capsys.readouterr()
    assert apply_yaml(documents) == 1
    err = capsys.readouterr().err
    assert "nothing was applied" in err
    return err


def warehouse_with_two_tenants(path: Path) -> Path:
    with duckdb.connect(str(path)) as connection:
        connection.execute("create table mine(a varchar); insert into mine values ('ok')")
        connection.execute("create table other(a varchar); insert into other values ('SECRET-OF-ANOTHER-PROJECT')")
    return path


def test_binding_start_cannot_open_a_dollar_quote_that_hides_another_projects_table(tmp_path: Path) -> None:
    warehouse = warehouse_with_two_tenants(tmp_path / "warehouse.duckdb")
    with pytest.raises(SqlPolicyError, match="table 'other' is not readable"):
        check_card_query(DOLLAR_QUOTE, {"mine"})
    card = {"title": "Leak", "display": "table", "sql": DOLLAR_QUOTE}
    dashboard = Dashboard.model_validate({"id": "d", "project": "p", "title": "D", "cards": [card]})
    period = relative_period("last_7_days", dt.datetime(2026, 11, 12))
    with pytest.raises(ReportError, match="card 'Leak': table 'other' is not readable") as failure:
        load_dashboards(warehouse, [(dashboard, period)], "ana@acme.example", readable={"mine"})
    assert "SECRET" not in str(failure.value)
    # A legitimate card with :start still renders.
    dashboard.cards[0].sql = "select a from mine where :start is not null"
    (loaded,) = load_dashboards(warehouse, [(dashboard, period)], "ana@acme.example", readable={"mine"})
    assert loaded.cards[0].rows == [("ok",)]


def test_apply_refuses_the_dollar_quote_card_naming_the_field(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = DOLLAR_QUOTE.replace("other", "landing_orders")
    err = refused(
        apply_yaml,
        capsys,
        f"""
kind: Dashboard
id: leak
project: acme-ops
title: Leak
cards:
  - {{title: Leak, display: table, sql: "{sql}"}}
""",
    )
    assert "cards[0].sql" in err and "table 'landing_orders' is not readable" in err


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("with x as (attach 'a.db' as b) select 1", "ATTACH is not allowed"),
        ("select * from duckdb_tables", "is a DuckDB system view"),
        ("select sql from sqlite_master", "is a DuckDB system view"),
        ("select * from pg_settings", "is a DuckDB system view"),
        ("select * from main.pragma_database_list", "is a DuckDB system view"),
    ],
)
def test_statements_inside_queries_and_catalog_views_are_refused(sql: str, message: str) -> None:
    # Even when the project "owns" a table of that name, the view must stay unreadable.
    with pytest.raises(SqlPolicyError, match=message):
        check_query(sql, {"duckdb_tables", "sqlite_master", "pg_settings", "pragma_database_list", "a"})


def test_a_project_cannot_claim_a_catalog_view_name_as_its_table(
    api: Api,  # noqa: F811
    apply_yaml: ApplyYaml,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for table in ("duckdb_tables", "PG_SETTINGS", "sqlite_master"):
        step = {"kind": "run_agent", "agent": "ticket-triage", "input": "select 1 as x", "output_table": table}
        body = {"name": f"claim-{table}", "trigger": {"interval_seconds": 3600}, "steps": [step]}
        response = api.call("POST", BASE, token="sales", json=body)
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "steps", 0, "output_table"] and "DuckDB system view" in error["msg"]
    err = refused(
        apply_yaml,
        capsys,
        "kind: Dataset\nid: cat\nproject: acme-ops\ntable: duckdb_columns\nconnector: {type: file, path: data/x.csv}\n",
    )
    assert "table: table 'duckdb_columns' is a DuckDB system view name" in err


@pytest.mark.parametrize("path", [".honeyframe/scheduler.db", ".env", "data/.git/config", ".honeyframe/*", "./.env"])
def test_file_connectors_cannot_name_hidden_files(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    err = refused(
        apply_yaml, capsys, f"kind: Dataset\nid: f\nproject: acme-ops\nconnector: {{type: file, path: '{path}'}}\n"
    )
    assert "connector.path" in err and "hidden file or folder" in err


def test_file_connectors_cannot_read_the_schedulers_state_inside_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    state = data / "state"
    state.mkdir(parents=True)
    (state / "scheduler.db").write_text("token_hash\nsecret-of-the-store\n")
    (data / "fine.csv").write_text("n\n1\n")
    monkeypatch.setenv("HONEYFRAME_DATA_DIR", str(data))
    monkeypatch.setenv("HONEYFRAME_HOME", str(state))
    monkeypatch.setenv("HONEYFRAME_WAREHOUSE", str(data / "wh" / "warehouse.duckdb"))
    connectors = connectors_resource(get_settings())
    for path in ("state/scheduler.db", "st*/*.db", "wh/warehouse.duckdb"):
        (data / "wh").mkdir(exist_ok=True)
        (data / "wh" / "warehouse.duckdb").write_text("x\n1\n")
        dataset = Dataset.model_validate(
            {"id": "f", "project": "p", "connector": {"type": "file", "path": path, "format": "csv"}}
        )
        with pytest.raises(ConnectorError, match="scheduler's own state") as failure:
            connectors.fetch(dataset, tmp_path)
        assert "secret-of-the-store" not in str(failure.value)
    dataset = Dataset.model_validate({"id": "f", "project": "p", "connector": {"type": "file", "path": "*.csv"}})
    assert connectors.fetch(dataset, tmp_path).source == [str((data / "fine.csv").resolve())]


@pytest.mark.parametrize(
    "url",
    [
        "http://ｌｏｃａｌｈｏｓｔ/",
        "http://127。0。0。1/",
        "http://①②⑦.0.0.1/",
        "http://１６９.２５４.１６９.２５４/",
        "https://127.0.0.1 /",
    ],
)
def test_unicode_look_alike_hosts_are_refused_before_any_connection(
    apply_yaml: ApplyYaml,
    projects: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
) -> None:
    monkeypatch.delenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", raising=False)
    with pytest.raises(net_policy.EgressRefused):
        net_policy.check_url(url)
    err = refused(
        apply_yaml, capsys, f"kind: Dataset\nid: h\nproject: acme-ops\nconnector: {{type: http, url: '{url}'}}\n"
    )
    assert "connector.url" in err


def test_an_international_public_host_name_is_still_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", raising=False)
    net_policy.check_url("https://münchen.example/data.csv")


def test_scenario_ids_past_the_id_column_are_404_on_every_route(api: Api) -> None:  # noqa: F811
    for scenario_id in (2**31, 2**63 - 1, 2**63):
        for method, suffix, body in [
            ("GET", "", None),
            ("PATCH", "", {"name": "x"}),
            ("DELETE", "", None),
            ("GET", "/ticks", None),
            ("POST", "/run", None),
        ]:
            response = api.call(method, f"{BASE}/{scenario_id}{suffix}", token="sales", json=body)
            assert response.status_code == 404, (method, scenario_id, suffix, response.text)


def test_env_names_with_a_trailing_newline_are_refused(api: Api) -> None:  # noqa: F811
    step = {"kind": "run_python", "recipe": "pause", "secrets": ["HONEYFRAME_SECRET_X\n"]}
    body = {"name": "nl", "trigger": {"interval_seconds": 3600}, "steps": [step]}
    response = api.call("POST", BASE, token="sales", json=body)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "steps", 0, "secrets", 0]


def test_a_seed_that_another_projects_dataset_stands_in_for_is_not_readable(
    api: Api,  # noqa: F811
    apply_yaml: ApplyYaml,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ops_loads_the_seed = (
        "kind: Dataset\nid: raw\nproject: acme-ops\ntable: raw_orders\nconnector: {type: file, path: x.csv}\n"
    )
    assert apply_yaml(ops_loads_the_seed) == 0  # raw_orders now holds acme-ops's rows
    step = {"kind": "run_agent", "agent": "ticket-triage", "input": "select * from raw_orders", "output_table": "lbl"}
    body = {"name": "peek", "trigger": {"interval_seconds": 3600}, "steps": [step]}
    response = api.call("POST", BASE, token="sales", json=body)
    assert response.status_code == 422, response.text
    assert "table 'raw_orders' is not readable by this project" in response.json()["detail"][0]["msg"]
    card = "{title: Peek, display: table, sql: 'select * from raw_orders'}"
    err = refused(apply_yaml, capsys, f"kind: Dashboard\nid: peek\nproject: acme-sales\ntitle: P\ncards: [{card}]\n")
    assert "cards[0].sql: table 'raw_orders' is not readable by this project" in err
    # dbt models built from it stay org-wide, and the owner reads its own table.
    step["input"] = "select * from stg_orders"
    assert api.call("POST", BASE, token="sales", json=body).status_code == 201
    card = "{title: Own, display: table, sql: 'select * from raw_orders'}"
    assert apply_yaml(f"kind: Dashboard\nid: own\nproject: acme-ops\ntitle: O\ncards: [{card}]\n") == 0


def test_scenario_names_cannot_make_two_jobs_share_a_name_and_break_the_code_location(
    apply_yaml: ApplyYaml, projects: None, load_defs: Callable[[], Definitions]
) -> None:
    # `X` (id 3) clashes with `x` and would get `acme_sales__x_3`, the name `x 3` (id 2) already has: Dagster then
    # refused the duplicate and the code location, every project's schedules with it, failed to load.
    for name in ("x", "x 3", "X"):
        step = "{kind: run_recipe, recipe: mart_revenue}"
        document = f"kind: Scenario\nproject: acme-sales\nname: '{name}'\ntrigger: {{interval_seconds: 3600}}\n"
        assert apply_yaml(document + f"steps: [{step}]\n") == 0
    jobs = sorted(job.name for job in load_defs().resolve_all_job_defs() if job.name.startswith("acme_sales__"))
    assert jobs == ["acme_sales__x", "acme_sales__x_3", "acme_sales__x_3_2"]
