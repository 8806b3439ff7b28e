"""Scenario CRUD through HTTP on a real store (SQLite and Postgres), without Dagster."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.api.conftest import Api

DAILY: dict[str, Any] = {
    "name": "daily build",
    "owner": "ana@acme.example",
    "trigger": {"cron": "30 2 * * *", "timezone": "Europe/Berlin"},
    "steps": [
        {"kind": "sync_dataset", "dataset": "orders"},
        {"kind": "run_recipe", "recipe": "mart_revenue"},
        {"kind": "send_email_report", "dashboard_ids": ["revenue-overview"], "recipients": ["ana@acme.example"]},
    ],
}
BASE = "/api/scheduler/scenarios"


def test_scenario_lifecycle(api: Api) -> None:
    created = api.call("POST", BASE, json=DAILY)
    assert created.status_code == 201, created.text
    assert created.headers["X-Honeyframe-Dagster-Sync"] == "skipped"
    body = created.json()
    assert body["project_id"] == "acme-sales" and body["template_slug"] is None and body["enabled"] is True
    assert body["dagster"] == {
        "job_name": "acme_sales__daily_build",
        "trigger_name": "acme_sales__daily_build_schedule",
        "trigger_status": None,
    }
    # 02:30 in Berlin is 00:30 or 01:30 UTC depending on DST; the next instant is within a day.
    next_run = dt.datetime.fromisoformat(body["next_run_at"])
    assert next_run.utcoffset() == dt.timedelta(0) and next_run.minute == 30 and next_run.hour in (0, 1)
    scenario_id = body["id"]

    listed = api.call("GET", BASE).json()["items"]
    # The seed's default-enabled templates add instances; ours is there once.
    assert [s["id"] for s in listed if s["name"] == "daily build"] == [scenario_id]
    by_kind = api.call("GET", BASE, params={"step_kind": "send_email_report"}).json()["items"]
    assert [s["id"] for s in by_kind] == [scenario_id]
    assert api.call("GET", BASE, params={"step_kind": "run_agent"}).json()["items"] == []
    assert api.call("GET", BASE, params={"step_kind": "teleport"}).status_code == 422

    patched = api.call(
        "PATCH",
        f"{BASE}/{scenario_id}",
        json={"name": "daily build v2", "trigger": {"interval_seconds": 3600}, "recipients": ["cfo@acme.example"]},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "daily build v2" and body["trigger"]["interval_seconds"] == 3600
    assert body["steps"][2]["recipients"] == ["cfo@acme.example"]
    assert body["dagster"]["trigger_name"] == "acme_sales__daily_build_v2_schedule"

    disabled = api.call("PATCH", f"{BASE}/{scenario_id}", json={"enabled": False}).json()
    assert disabled["enabled"] is False and disabled["next_run_at"] is None

    detail = api.call("GET", f"{BASE}/{scenario_id}").json()
    assert detail["name"] == "daily build v2" and detail["runs"] == []

    assert api.call("DELETE", f"{BASE}/{scenario_id}").status_code == 204
    assert api.call("GET", f"{BASE}/{scenario_id}").status_code == 404
    assert all(s["id"] != scenario_id for s in api.call("GET", BASE).json()["items"])
    # Ids are never handed out again, so a new scenario cannot inherit the deleted one's run history.
    again = api.call("POST", BASE, json=DAILY).json()
    assert again["id"] > scenario_id


def test_duplicate_name_and_upstream_conflicts(api: Api) -> None:
    first = api.call("POST", BASE, json=DAILY).json()
    assert api.call("POST", BASE, json=DAILY).status_code == 409
    after = {"name": "after", "trigger": {"upstream": {"scenario": "daily build"}}, "steps": DAILY["steps"][1:2]}
    assert api.call("POST", BASE, json=after).status_code == 201
    # Renaming or deleting an upstream would break the scenario that triggers on it.
    renamed = api.call("PATCH", f"{BASE}/{first['id']}", json={"name": "other"})
    assert renamed.status_code == 409 and "after" in renamed.json()["detail"]
    assert api.call("DELETE", f"{BASE}/{first['id']}").status_code == 409


def test_a_one_shot_instant_in_the_past_is_refused_naming_it(api: Api) -> None:
    past = {**DAILY, "name": "once", "trigger": {"run_at": "2020-12-24T18:00:00+01:00"}}
    refused = api.call("POST", BASE, json=past)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert error["loc"] == ["body", "trigger", "run_at"] and "not in the future" in error["msg"]
    assert api.call("GET", BASE, params={"step_kind": "send_email_report"}).json()["items"] == []  # nothing kept

    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0)
    created = api.call("POST", BASE, json={**past, "trigger": {"run_at": future.isoformat()}})
    assert created.status_code == 201, created.text
    scenario_id = created.json()["id"]
    # Other edits keep a stored run_at as it is; moving it into the past is refused.
    assert api.call("PATCH", f"{BASE}/{scenario_id}", json={"owner": "olaf@acme.example"}).status_code == 200
    moved = api.call("PATCH", f"{BASE}/{scenario_id}", json={"trigger": {"run_at": "2021-01-01T00:00:00Z"}})
    assert moved.status_code == 422 and moved.json()["detail"][0]["loc"] == ["body", "trigger", "run_at"]
