"""Issue 20 on a real stack (code server + webserver, no daemon: launched runs stay QUEUED): a backfill from the
API, a run now with parameter overrides, and a paused project whose triggers stop in Dagster and come back."""

from __future__ import annotations

import json
from typing import Any

from dagster import DagsterInstance, RunsFilter
from dagster._core.test_utils import freeze_time

from tests.api.conftest import Api, Stack
from tests.api.test_reconcile_live import dagster_status
from tests.test_scheduling_contract import at

BASE = "/api/scheduler/scenarios"


def runs_tagged(tags: dict[str, str]) -> list[Any]:
    instance = DagsterInstance.get()
    try:
        return list(instance.get_runs(RunsFilter(tags=tags)))
    finally:
        instance.dispose()


def test_a_backfill_from_the_api_runs_each_instant_with_its_versions_config(live_api: Api, stack: Stack) -> None:
    created = live_api.call(
        "POST",
        BASE,
        json={
            "name": "workday refresh",
            "trigger": {"cron": "0 6 * * 1-5", "timezone": "Europe/Berlin"},
            "steps": [{"kind": "run_recipe", "recipe": "stg_orders"}],
        },
    )
    assert created.status_code == 201, created.text
    scenario = created.json()
    with freeze_time(at("2026-12-21T12:00:00Z")):
        accepted = live_api.call(
            "POST", f"{BASE}/{scenario['id']}/backfill", json={"from": "2026-12-01", "to": "2026-12-10T23:00:00Z"}
        )
        assert accepted.status_code == 422  # a date without an offset: refused naming it
        accepted = live_api.call(
            "POST",
            f"{BASE}/{scenario['id']}/backfill",
            json={"from": "2026-12-01T00:00:00Z", "to": "2026-12-10T23:00:00Z"},
        )
    assert accepted.status_code == 202, accepted.text
    backfill = accepted.json()
    assert backfill["instants"] == 8  # Dec 1–4 and 7–10, Monday to Friday
    runs = sorted(
        runs_tagged({"honeyframe/backfill": backfill["backfill_id"]}), key=lambda r: r.tags["honeyframe/scheduled_for"]
    )
    assert [r.tags["honeyframe/scheduled_for"] for r in runs][:2] == [
        "2026-12-01T05:00:00+00:00",
        "2026-12-02T05:00:00+00:00",
    ]
    assert len(runs) == 8 and all(r.tags[".dagster/honeyframe_version"] == str(scenario["version"]) for r in runs)
    assert runs[0].tags["dagster/partition"] == "2026-12-01"
    config = runs[0].run_config["ops"]["step_1_run_recipe"]["config"]
    assert config["scenario"]["version"] == scenario["version"] and config["step"]["recipe"] == "stg_orders"
    listed = live_api.call("GET", f"{BASE}/{scenario['id']}/backfills").json()["items"]
    assert [(b["backfill_id"], b["instants"], b["launched"], b["status"]) for b in listed] == [
        (backfill["backfill_id"], 8, 8, "queued")
    ]
    assert listed[0]["runs"] == {"QUEUED": 8} and listed[0]["created_by"] == "admin"
    history = live_api.call("GET", f"{BASE}/{scenario['id']}/runs").json()["items"]
    assert {run["trigger"] for run in history} == {"backfill"}


def test_run_now_with_parameter_overrides_renders_them_into_that_run_only(live_api: Api, stack: Stack) -> None:
    cell = live_api.call(
        "POST",
        "/api/scheduler/templates/nightly-mart-refresh/enable/acme-sales",
        json={"parameters": {"mart_recipe": "mart_revenue"}},
    ).json()
    launched = live_api.call("POST", f"{BASE}/{cell['id']}/run", json={"parameters": {"mart_recipe": "stg_orders"}})
    assert launched.status_code == 202, launched.text
    assert launched.json()["parameters"] == {"mart_recipe": "stg_orders"}
    instance = DagsterInstance.get()
    try:
        run = instance.get_run_by_id(launched.json()["run_id"])
    finally:
        instance.dispose()
    assert run is not None
    assert json.loads(run.tags["honeyframe/parameters"]) == {"mart_recipe": "stg_orders"}
    assert run.tags[".dagster/honeyframe_version"] == str(cell["version"])
    assert run.run_config["ops"]["step_1_run_recipe"]["config"]["step"]["recipe"] == "stg_orders"
    # Never stored: the cell and its next runs keep their values.
    shown = live_api.call("GET", f"{BASE}/{cell['id']}").json()
    assert shown["version"] == cell["version"] and shown["steps"][0]["recipe"] == "mart_revenue"


def test_a_paused_project_stops_its_triggers_in_dagster_and_resume_starts_only_the_enabled(
    live_api: Api, stack: Stack
) -> None:
    items = []
    for name, enabled in (("paused on", True), ("paused off", False)):
        body = {
            "name": name,
            "enabled": enabled,
            "trigger": {"cron": "0 4 * * *"},
            "steps": [{"kind": "run_recipe", "recipe": "stg_orders"}],
        }
        created = live_api.call("POST", BASE, json=body)
        assert created.status_code == 201, created.text
        items.append(created.json())
    on, off = items
    assert dagster_status(stack, on) == "RUNNING" and dagster_status(stack, off) == "STOPPED"
    paused = live_api.call("POST", "/api/scheduler/projects/acme-sales/pause", project=None, json={"note": "x"})
    assert paused.status_code == 200 and paused.headers["X-Honeyframe-Dagster-Sync"] == "ok", paused.text
    assert dagster_status(stack, on) == "STOPPED" and dagster_status(stack, off) == "STOPPED"
    assert live_api.call("GET", f"{BASE}/{on['id']}").json()["enabled"] is True
    resumed = live_api.call("POST", "/api/scheduler/projects/acme-sales/resume", project=None)
    assert resumed.status_code == 200 and resumed.headers["X-Honeyframe-Dagster-Sync"] == "ok"
    assert dagster_status(stack, on) == "RUNNING" and dagster_status(stack, off) == "STOPPED"
