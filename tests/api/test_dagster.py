"""The API against a real code server + webserver: live definitions, trigger status, out-of-band runs, history.

No daemon runs here, so launched runs stay QUEUED (the run queue is the daemon's): they are real runs in Dagster's
run storage, which is all these tests need. The daemon is in test_end_to_end.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dagster import DagsterInstance, RunsFilter

from tests.api.conftest import Api, Stack, graphql

BASE = "/api/scheduler/scenarios"
RECIPE = {"kind": "run_recipe", "recipe": "stg_orders"}
JOB_QUERY = """
query Job($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) { __typename }
}
"""
TRIGGER_QUERY = """
query S($sensor: SensorSelector!, $schedule: ScheduleSelector!, $isSchedule: Boolean!) {
  sensorOrError(sensorSelector: $sensor) @skip(if: $isSchedule) { ... on Sensor { sensorState { id status } } }
  scheduleOrError(scheduleSelector: $schedule) @include(if: $isSchedule) {
    ... on Schedule { scheduleState { id status } }
  }
}
"""


def job_exists(stack: Stack, job: str) -> bool:
    selector = {"repositoryLocationName": "honeyframe", "repositoryName": "__repository__", "pipelineName": job}
    return graphql(stack.dagster_url, JOB_QUERY, {"selector": selector})["pipelineOrError"]["__typename"] == "Pipeline"


def trigger_state(stack: Stack, name: str) -> dict[str, Any]:
    """The state of a trigger schedule (`…_schedule`) or sensor, as the webserver serves it."""
    repository = {"repositoryLocationName": "honeyframe", "repositoryName": "__repository__"}
    is_schedule = name.endswith("_schedule")
    variables = {
        "sensor": {**repository, "sensorName": name},
        "schedule": {**repository, "scheduleName": name},
        "isSchedule": is_schedule,
    }
    data = graphql(stack.dagster_url, TRIGGER_QUERY, variables)
    return data["scheduleOrError"]["scheduleState"] if is_schedule else data["sensorOrError"]["sensorState"]


def test_live_definitions_runs_and_history(live_api: Api, stack: Stack) -> None:
    body = {"name": "nightly", "trigger": {"cron": "0 3 * * *"}, "steps": [RECIPE]}
    created = live_api.call("POST", BASE, json=body)
    assert created.status_code == 201, created.text
    assert created.headers["X-Honeyframe-Dagster-Sync"] == "ok"
    scenario = created.json()
    job, sensor = scenario["dagster"]["job_name"], scenario["dagster"]["trigger_name"]
    # The new job and its trigger sensor are in the location when the write returns, and RUNNING in the instance.
    assert job_exists(stack, job)
    assert scenario["dagster"]["trigger_status"] == "RUNNING"
    assert trigger_state(stack, sensor)["status"] == "RUNNING"

    run_ids = []
    for _ in range(2):
        before = dt.datetime.now(dt.UTC)
        launched = live_api.call("POST", f"{BASE}/{scenario['id']}/run")
        assert launched.status_code == 202, launched.text
        run_ids.append(launched.json()["run_id"])
    # Run now is for now: no partition (not the previous window), scheduled_for the moment it was asked for.
    accepted = launched.json()
    assert accepted["partition"] is None
    assert before <= dt.datetime.fromisoformat(accepted["scheduled_for"]) <= dt.datetime.now(dt.UTC)
    run = DagsterInstance.get().get_run_by_id(run_ids[0])
    assert run is not None and run.job_name == job
    assert run.tags["honeyframe/scenario_id"] == str(scenario["id"])
    assert run.tags["honeyframe/project_id"] == "acme-sales"
    assert run.tags["honeyframe/trigger"] == "manual"
    assert "dagster/partition" not in run.tags and "honeyframe/scheduled_for" in run.tags
    # A rerun of a past instant (03:00 Europe/Berlin = 02:00 UTC in winter) gets that instant's partition.
    rerun = live_api.call("POST", f"{BASE}/{scenario['id']}/run", json={"scheduled_for": "2026-11-30T03:00:00+01:00"})
    assert rerun.status_code == 202, rerun.text
    assert rerun.json()["partition"] == "2026-11-30"
    assert rerun.json()["scheduled_for"] == "2026-11-30T02:00:00Z"
    run_ids.append(rerun.json()["run_id"])
    rerun_run = DagsterInstance.get().get_run_by_id(run_ids[-1])
    assert rerun_run is not None and rerun_run.tags["dagster/partition"] == "2026-11-30"
    detail = live_api.call("GET", f"{BASE}/{scenario['id']}").json()
    assert detail["last_run"]["run_id"] == run_ids[-1] and detail["last_run"]["trigger"] == "manual"
    assert detail["last_fired_at"] is None  # out-of-band runs are not fires of the trigger
    assert live_api.call("GET", f"{BASE}/{scenario['id']}/ticks").json() == {"items": []}  # no daemon here

    # Pagination, newest first, with its edges.
    first = live_api.call("GET", f"{BASE}/{scenario['id']}/runs", params={"page_size": 2}).json()
    assert first["total"] == 3 and [r["run_id"] for r in first["items"]] == run_ids[::-1][:2]
    assert first["items"][0]["trigger"] == "manual" and first["items"][0]["status"] == "QUEUED"
    assert first["items"][0]["scheduled_for"] is not None
    second = live_api.call("GET", f"{BASE}/{scenario['id']}/runs", params={"page": 2, "page_size": 2}).json()
    assert [r["run_id"] for r in second["items"]] == run_ids[:1] and second["page"] == 2
    beyond = live_api.call("GET", f"{BASE}/{scenario['id']}/runs", params={"page": 3, "page_size": 2}).json()
    assert beyond["items"] == [] and beyond["total"] == 3
    for params in ({"page_size": 201}, {"page_size": 0}, {"page": 0}):
        assert live_api.call("GET", f"{BASE}/{scenario['id']}/runs", params=params).status_code == 422
    detail = live_api.call("GET", f"{BASE}/{scenario['id']}").json()
    assert [r["run_id"] for r in detail["runs"]] == run_ids[::-1]

    # A toggle in the UI is what Dagster reports (the store still says enabled) ...
    state = trigger_state(stack, sensor)
    stop = "mutation($id: String!) { stopRunningSchedule(id: $id) { __typename } }"
    graphql(stack.dagster_url, stop, {"id": state["id"]})
    assert live_api.call("GET", f"{BASE}/{scenario['id']}").json()["dagster"]["trigger_status"] == "STOPPED"
    # ... disable: STOPPED, its queued runs CANCELED; a run can still be launched out of band ...
    disabling = live_api.call("PATCH", f"{BASE}/{scenario['id']}", json={"enabled": False})
    disabled = disabling.json()
    assert disabled["dagster"]["trigger_status"] == "STOPPED" and trigger_state(stack, sensor)["status"] == "STOPPED"
    assert disabling.headers["X-Honeyframe-Canceled-Runs"] == "3"
    statuses = {r.status.value for r in DagsterInstance.get().get_runs(RunsFilter(run_ids=run_ids))}
    assert statuses == {"CANCELED"}
    assert live_api.call("POST", f"{BASE}/{scenario['id']}/run").status_code == 202
    # ... enable: the API's write wins over the UI's toggle; the same sensor state resumes, history intact.
    enabled = live_api.call("PATCH", f"{BASE}/{scenario['id']}", json={"enabled": True}).json()
    assert enabled["dagster"]["trigger_status"] == "RUNNING"
    assert trigger_state(stack, sensor) == {"id": state["id"], "status": "RUNNING"}
    assert live_api.call("GET", f"{BASE}/{scenario['id']}/runs").json()["total"] == 4

    # Delete: the job leaves the location, its queued run is canceled; its runs stay in Dagster and GET .../runs.
    deleted = live_api.call("DELETE", f"{BASE}/{scenario['id']}")
    assert deleted.status_code == 204 and deleted.headers["X-Honeyframe-Canceled-Runs"] == "1"
    assert not job_exists(stack, job)
    history = live_api.call("GET", f"{BASE}/{scenario['id']}/runs").json()
    assert history["total"] == 4 and history["items"][0]["trigger"] == "manual"
    # Another project cannot read them through the id.
    assert live_api.call("GET", f"{BASE}/{scenario['id']}/runs", project="acme-ops").status_code == 404


def test_matrix_sets_sensor_and_schedule_status(live_api: Api, stack: Stack) -> None:
    enable = "/api/scheduler/templates/nightly-mart-refresh/enable/acme-ops"
    cell = live_api.call("POST", enable, project=None, json={"parameters": {"mart_recipe": "mart_revenue"}})
    assert cell.status_code == 200, cell.text
    assert cell.json()["dagster"]["trigger_status"] == "RUNNING"
    paused = live_api.call("POST", enable.replace("enable", "disable"), project=None).json()
    assert paused["dagster"]["trigger_status"] == "STOPPED"
    assert job_exists(stack, paused["dagster"]["job_name"])  # disabling deletes nothing

    interval = {"name": "hourly", "trigger": {"interval_seconds": 3600}, "steps": [RECIPE], "enabled": False}
    sensor = live_api.call("POST", BASE, json=interval).json()
    assert sensor["dagster"]["trigger_name"].endswith("_schedule") and sensor["dagster"]["trigger_status"] == "STOPPED"
    resumed = live_api.call("PATCH", f"{BASE}/{sensor['id']}", json={"enabled": True}).json()
    assert resumed["dagster"]["trigger_status"] == "RUNNING"
    listed = {s["id"]: s for s in live_api.call("GET", BASE).json()["items"]}
    assert listed[sensor["id"]]["dagster"]["trigger_status"] == "RUNNING"


DESCRIPTION_QUERY = """
query S($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) { ... on Schedule { description } }
}
"""


def schedule_description(stack: Stack, name: str) -> str:
    selector = {"repositoryLocationName": "honeyframe", "repositoryName": "__repository__", "scheduleName": name}
    data = graphql(stack.dagster_url, DESCRIPTION_QUERY, {"selector": selector})
    return str(data["scheduleOrError"]["description"])


def test_project_timezone_patch_reaches_the_cron_trigger(live_api: Api, stack: Stack) -> None:
    body = {"name": "morning", "trigger": {"cron": "0 6 * * *"}, "steps": [RECIPE]}
    sensor = live_api.call("POST", BASE, project="acme-ops", json=body).json()["dagster"]["trigger_name"]
    # acme-ops has no timezone of its own: the org default.
    assert schedule_description(stack, sensor).startswith("cron '0 6 * * *' UTC;")
    patched = live_api.call("PATCH", "/api/scheduler/projects/acme-ops", project=None, json={"timezone": "Asia/Tokyo"})
    assert patched.status_code == 200 and patched.headers["X-Honeyframe-Dagster-Sync"] == "ok"
    assert schedule_description(stack, sensor).startswith("cron '0 6 * * *' Asia/Tokyo;")
