"""Warehouse tenancy through the REST API: run_agent SQL and output tables are checked on POST and PATCH."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ScenarioRow, WarehouseTableRow
from tests.api.conftest import Api
from tests.conftest import ApplyYaml

BASE = "/api/scheduler/scenarios"
ATTACK = "select 'a' as t; drop table landing_orders; copy (select 'owned') to 'x.txt'"
OPS_DATASET = """
kind: Dataset
id: tickets
project: acme-ops
table: landing_orders
connector: {type: file, path: data/tickets.csv}
"""


def agent_scenario(input_sql: str, output_table: str = "labels", name: str = "triage") -> dict[str, Any]:
    step = {"kind": "run_agent", "agent": "ticket-triage", "input": input_sql, "output_table": output_table}
    return {"name": name, "trigger": {"interval_seconds": 3600}, "steps": [step]}


def refusal(api: Api, body: dict[str, Any], method: str = "POST", path: str = BASE) -> dict[str, Any]:
    response = api.call(method, path, token="sales", json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    return dict(error)


def test_a_project_token_cannot_store_sql_or_outputs_outside_its_tables(
    api: Api, apply_yaml: ApplyYaml, store_url: str
) -> None:
    assert apply_yaml(OPS_DATASET) == 0  # acme-ops owns landing_orders
    error = refusal(api, agent_scenario(ATTACK))
    assert error["loc"] == ["body", "steps", 0, "input"] and error["input"] == ATTACK
    assert "got 3 statements (statement 2: 'DROP TABLE landing_orders')" in error["msg"]

    cases = {
        "select * from landing_orders": "table 'landing_orders' is not readable by this project",
        "select * from read_csv('/etc/passwd')": "table function 'read_csv' is not allowed",
        "copy (select 1) to 'a-file'": "not COPY",
        "attach 'other.duckdb' as other": "not ATTACH",
    }
    for sql, message in cases.items():
        error = refusal(api, agent_scenario(sql))
        assert error["loc"] == ["body", "steps", 0, "input"] and message in error["msg"], error

    error = refusal(api, agent_scenario("select 1 as x", output_table="LANDING_ORDERS"))
    assert error["loc"] == ["body", "steps", 0, "output_table"] and error["input"] == "LANDING_ORDERS"
    assert error["msg"] == "table 'LANDING_ORDERS' belongs to project 'acme-ops'"
    error = refusal(api, agent_scenario("select 1 as x", output_table="mart_revenue"))
    assert error["loc"] == ["body", "steps", 0, "output_table"] and "is a dbt model, seed or snapshot" in error["msg"]

    with Session(get_engine(store_url)) as session:
        assert session.scalars(select(ScenarioRow.name).where(ScenarioRow.project_id == "acme-sales")).all() == []
        owners = dict(session.execute(select(WarehouseTableRow.name, WarehouseTableRow.project_id)).all())
    assert owners == {"landing_orders": "acme-ops", "orders": "acme-sales"}


def test_an_accepted_scenario_claims_its_output_and_a_patch_is_checked_too(
    api: Api, apply_yaml: ApplyYaml, store_url: str
) -> None:
    created = api.call(
        "POST", BASE, token="sales", json=agent_scenario("select * from orders join stg_orders using (id)")
    )
    assert created.status_code == 201, created.text
    with Session(get_engine(store_url)) as session:
        assert session.get(WarehouseTableRow, "labels").project_id == "acme-sales"  # type: ignore[union-attr]
    # The claimed output is the project's: another project's dataset cannot load into it.
    assert apply_yaml(OPS_DATASET.replace("landing_orders", "labels")) == 1

    path = f"{BASE}/{created.json()['id']}"
    error = refusal(api, {"steps": agent_scenario(ATTACK)["steps"]}, method="PATCH", path=path)
    assert error["loc"] == ["body", "steps", 0, "input"] and "DROP TABLE landing_orders" in error["msg"]
    stored = api.call("GET", path, token="sales").json()
    assert stored["steps"][0]["input"] == "select * from orders join stg_orders using (id)"


def claims(store_url: str) -> dict[str, tuple[str, bool]]:
    """Table -> (owner, written)."""
    with Session(get_engine(store_url)) as session:
        rows = session.execute(
            select(WarehouseTableRow.name, WarehouseTableRow.project_id, WarehouseTableRow.written_at)
        )
        return {name: (project, written is not None) for name, project, written in rows}


def test_reserved_table_names_and_deep_sql_are_422_naming_the_field_never_a_500(
    api: Api, apply_yaml: ApplyYaml, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for table in ("main", "information_schema", "pg_catalog", "temp", "system", "Main", "pg_orders", "sqlite_x"):
        error = refusal(api, agent_scenario("select 1 as x", output_table=table, name=f"claim-{table}"))
        assert error["loc"] == ["body", "steps", 0, "output_table"] and error["input"] == table, error
        assert f"table '{table}' is a reserved name" in error["msg"]
    deep = "select " + "(" * 500 + "1" + ")" * 500
    error = refusal(api, agent_scenario(deep))
    assert error["loc"] == ["body", "steps", 0, "input"]
    assert "is nested more than 64 levels deep (line 1, column 72); at most 64 levels are allowed" in error["msg"]
    dataset = (
        "kind: Dataset\nid: sys\nproject: acme-ops\ntable: information_schema\nconnector: {type: file, path: x.csv}\n"
    )
    capsys.readouterr()
    assert apply_yaml(dataset) == 1
    assert "table: table 'information_schema' is a reserved name" in capsys.readouterr().err
    assert set(claims(store_url)) == {"orders"}


def test_a_claim_is_released_when_nothing_names_it_unless_the_project_wrote_the_table(
    api: Api, apply_yaml: ApplyYaml, store_url: str
) -> None:
    # A disabled scenario claims its output at once; deleting it gives the name back.
    squat = api.call(
        "POST", BASE, token="sales", json={**agent_scenario("select 1 as x", "squatted"), "enabled": False}
    )
    assert squat.status_code == 201, squat.text
    assert claims(store_url)["squatted"] == ("acme-sales", False)
    assert api.call("DELETE", f"{BASE}/{squat.json()['id']}", token="sales").status_code == 204
    assert "squatted" not in claims(store_url)
    assert apply_yaml(OPS_DATASET.replace("landing_orders", "squatted")) == 0  # free for another project now

    # Edited away: the old name is released, the new one claimed; a name two scenarios write stays until both go.
    first = api.call("POST", BASE, token="sales", json=agent_scenario("select 1 as x", "shared", name="first"))
    second = api.call("POST", BASE, token="sales", json=agent_scenario("select 1 as x", "shared", name="second"))
    first_path, second_path = (f"{BASE}/{r.json()['id']}" for r in (first, second))
    patched = api.call("PATCH", first_path, token="sales", json={"steps": agent_scenario("select 1", "moved")["steps"]})
    assert patched.status_code == 200, patched.text
    assert {"shared", "moved"} <= set(claims(store_url))
    assert api.call("DELETE", second_path, token="sales").status_code == 204
    assert "shared" not in claims(store_url) and "moved" in claims(store_url)

    # A dataset's table edited away by apply is released too.
    dataset = "kind: Dataset\nid: extra\nproject: acme-sales\ntable: extra_a\nconnector: {type: file, path: x.csv}\n"
    assert apply_yaml(dataset) == 0 and "extra_a" in claims(store_url)
    assert apply_yaml(dataset.replace("extra_a", "extra_b")) == 0
    assert "extra_a" not in claims(store_url) and "extra_b" in claims(store_url)

    # Once a step set out to write it (the run-time claim), the table is the project's data: the claim stays.
    ScenarioStoreResource(url=store_url).claim_tables("acme-sales", {"moved": ("output_table",)})
    assert claims(store_url)["moved"] == ("acme-sales", True)
    assert api.call("DELETE", first_path, token="sales").status_code == 204
    assert claims(store_url)["moved"] == ("acme-sales", True)
