"""`/api/scheduler/projects`: who may list, create, read and change projects; new projects get default templates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.api.conftest import Api

BASE = "/api/scheduler/projects"
NEW = {"id": "acme-hr", "name": "Acme HR", "owner_email": "hana@acme.example", "timezone": "Asia/Tokyo"}
DEFAULT_TEMPLATE = """
kind: Template
slug: staging-refresh
display_name: Staging refresh
default_enabled: true
parameters:
  - name: recipe
    type: recipe_ref
    default: stg_orders
trigger:
  cron: "0 4 * * *"
steps:
  - kind: run_recipe
    recipe: "{{ param.recipe }}"
"""


def ids(response: Any) -> list[str]:
    return [p["id"] for p in response.json()["items"]]


def test_list_shows_the_projects_a_token_may_act_on(api: Api) -> None:
    assert ids(api.call("GET", BASE, project=None)) == ["acme-ops", "acme-sales"]
    assert ids(api.call("GET", BASE, token="sales", project=None)) == ["acme-sales"]
    assert api.call("GET", BASE, token=None, project=None).status_code == 401
    one = api.call("GET", f"{BASE}/acme-sales", token="sales", project=None)
    assert one.status_code == 200
    assert {k: one.json()[k] for k in ("id", "name", "owner_email", "timezone")} == {
        "id": "acme-sales",
        "name": "Acme Sales",
        "owner_email": "ana@acme.example",
        "timezone": "Europe/Berlin",
    }
    assert api.call("GET", f"{BASE}/acme-ops", token="sales", project=None).status_code == 403
    assert api.call("GET", f"{BASE}/nope", token="sales", project=None).status_code == 403
    missing = api.call("GET", f"{BASE}/nope", project=None)
    assert missing.status_code == 404 and missing.json() == {"detail": "unknown project 'nope'"}


def test_admin_creates_and_a_new_project_inherits_default_templates(api: Api, apply_yaml: Any) -> None:
    assert apply_yaml(DEFAULT_TEMPLATE) == 0
    created = api.call("POST", BASE, project=None, json=NEW)
    assert created.status_code == 201, created.text
    assert created.headers["X-Honeyframe-Dagster-Sync"] == "skipped"
    assert {k: created.json()[k] for k in NEW} == NEW
    assert ids(api.call("GET", BASE, project=None)) == ["acme-hr", "acme-ops", "acme-sales"]
    scenarios = api.call("GET", "/api/scheduler/scenarios", project="acme-hr").json()["items"]
    assert [(s["template_slug"], s["enabled"], s["error"]) for s in scenarios] == [("staging-refresh", True, None)]
    assert scenarios[0]["dagster"]["job_name"] == "acme_hr__staging_refresh"
    # 04:00 in the new project's timezone.
    next_run = dt.datetime.fromisoformat(scenarios[0]["next_run_at"])
    assert next_run.astimezone(dt.timezone(dt.timedelta(hours=9))).strftime("%H:%M") == "04:00"
    # Projects that existed before the template did not get it.
    existing = api.call("GET", "/api/scheduler/scenarios", project="acme-sales").json()["items"]
    assert all(s["template_slug"] != "staging-refresh" for s in existing)

    again = api.call("POST", BASE, project=None, json=NEW)
    assert again.status_code == 409 and again.json() == {"detail": "project 'acme-hr' exists already"}
    assert api.call("POST", BASE, token="sales", project=None, json={**NEW, "id": "x"}).status_code == 403
    # A body that is not JSON is refused as such (415, issue 9), and is no 500.
    form = api.call(
        "POST", BASE, project=None, content=b"id=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 415 and "application/json" in form.json()["detail"]
    assert ids(api.call("GET", BASE, project=None)) == ["acme-hr", "acme-ops", "acme-sales"]


def test_create_names_the_bad_field(api: Api) -> None:
    cases = [
        ({**NEW, "id": "Bad Id"}, ["body", "id"], "Bad Id"),
        ({**NEW, "owner_email": "nobody"}, ["body", "owner_email"], "nobody"),
        ({**NEW, "timezone": "Mars/Olympus"}, ["body", "timezone"], "Mars/Olympus"),
        ({**NEW, "name": ""}, ["body", "name"], ""),
        ({**NEW, "kind": "Project"}, ["body", "kind"], "Project"),
    ]
    for body, loc, value in cases:
        answer = api.call("POST", BASE, project=None, json=body)
        assert answer.status_code == 422, body
        detail = answer.json()["detail"]
        assert [(d["loc"], d["input"]) for d in detail] == [(loc, value)], detail
    answer = api.call("POST", BASE, project=None, json={"id": "only-id"})
    assert {tuple(d["loc"]) for d in answer.json()["detail"]} == {("body", "name"), ("body", "owner_email")}
    assert (
        "unknown timezone 'Mars/Olympus'"
        in api.call("POST", BASE, project=None, json={**NEW, "timezone": "Mars/Olympus"}).json()["detail"][0]["msg"]
    )
    assert ids(api.call("GET", BASE, project=None)) == ["acme-ops", "acme-sales"]


def test_project_token_patches_its_own_project(api: Api) -> None:
    cron = {
        "name": "nightly",
        "trigger": {"cron": "0 2 * * *"},
        "steps": [{"kind": "run_recipe", "recipe": "stg_orders"}],
    }
    scenario = api.call("POST", "/api/scheduler/scenarios", token="sales", json=cron).json()
    berlin = dt.datetime.fromisoformat(scenario["next_run_at"])

    patched = api.call(
        "PATCH", f"{BASE}/acme-sales", token="sales", project=None, json={"timezone": "America/New_York"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["timezone"] == "America/New_York" and patched.json()["name"] == "Acme Sales"
    assert patched.headers["X-Honeyframe-Dagster-Sync"] == "skipped"
    # The cron scenario without its own timezone now runs at 02:00 New York time.
    after = api.call("GET", f"/api/scheduler/scenarios/{scenario['id']}", token="sales").json()
    new_york = dt.datetime.fromisoformat(after["next_run_at"])
    assert new_york != berlin and new_york.astimezone(dt.UTC).hour in (6, 7)

    renamed = api.call(
        "PATCH",
        f"{BASE}/acme-sales",
        token="sales",
        project=None,
        json={"name": "Sales", "owner_email": "b@acme.example"},
    )
    assert renamed.status_code == 200 and renamed.json()["owner_email"] == "b@acme.example"
    cleared = api.call("PATCH", f"{BASE}/acme-sales", token="sales", project=None, json={"timezone": None})
    assert cleared.status_code == 200 and cleared.json()["timezone"] is None and cleared.json()["name"] == "Sales"

    assert api.call("PATCH", f"{BASE}/acme-ops", token="sales", project=None, json={"name": "x"}).status_code == 403
    assert api.call("PATCH", f"{BASE}/nope", project=None, json={"name": "x"}).status_code == 404
    for body, loc in (
        ({"name": None}, ["body", "name"]),
        ({"owner_email": "not-an-email"}, ["body", "owner_email"]),
        ({"timezone": "Nowhere/Town"}, ["body", "timezone"]),
        ({"id": "renamed"}, ["body", "id"]),
    ):
        answer = api.call("PATCH", f"{BASE}/acme-sales", token="sales", project=None, json=body)
        assert answer.status_code == 422 and [d["loc"] for d in answer.json()["detail"]] == [loc], answer.text
    final = api.call("GET", f"{BASE}/acme-sales", token="sales", project=None).json()
    assert (final["name"], final["owner_email"], final["timezone"]) == ("Sales", "b@acme.example", None)
