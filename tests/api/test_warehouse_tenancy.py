"""Warehouse tenancy through the REST API: run_agent SQL and output tables are checked on POST and PATCH."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
