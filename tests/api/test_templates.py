"""Templates and the enable matrix through HTTP, without Dagster."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.api.conftest import Api

TEMPLATES = "/api/scheduler/templates"
KPI = {
    "slug": "morning-kpis",
    "display_name": "Morning KPIs",
    "default_enabled": False,
    "parameters": [{"name": "recipe", "type": "recipe_ref", "default": "mart_ops_kpis"}],
    "trigger": {"cron": "30 6 * * 1-5"},
    "steps": [{"kind": "run_recipe", "recipe": "{{ param.recipe }}"}],
}


def test_template_matrix(api: Api) -> None:
    created = api.call("POST", TEMPLATES, project=None, json=KPI)
    assert created.status_code == 201, created.text
    assert created.json()["matrix"] == []
    assert api.call("POST", TEMPLATES, project=None, json={**KPI, "display_name": "KPIs"}).status_code == 200

    enabled = api.call("POST", f"{TEMPLATES}/morning-kpis/enable/acme-ops", project=None)
    assert enabled.status_code == 200, enabled.text
    cell = enabled.json()
    assert cell["template_slug"] == "morning-kpis" and cell["enabled"] is True and cell["project_id"] == "acme-ops"
    # Unset optional fields are left out (the schema says they are never null).
    assert cell["steps"] == [
        {"kind": "run_recipe", "recipe": "mart_ops_kpis", "parallel": False, "transactional": True}
    ]
    assert cell["dagster"]["job_name"] == "acme_ops__morning_kpis"
    # acme-ops has no timezone, so the template's cron runs in UTC, on a weekday.
    next_run = dt.datetime.fromisoformat(cell["next_run_at"])
    assert next_run.strftime("%H:%M") == "06:30" and next_run.weekday() < 5 and next_run > dt.datetime.now(dt.UTC)

    # A template instance is listed among the project's scenarios; only `enabled` may change through PATCH.
    listed = api.call("GET", "/api/scheduler/scenarios", project="acme-ops").json()["items"]
    assert [s["id"] for s in listed] == [cell["id"]]
    refused = api.call("PATCH", f"/api/scheduler/scenarios/{cell['id']}", project="acme-ops", json={"name": "x"})
    assert refused.status_code == 409 and "/api/scheduler/templates" in refused.json()["detail"]
    paused = api.call("PATCH", f"/api/scheduler/scenarios/{cell['id']}", project="acme-ops", json={"enabled": False})
    assert paused.status_code == 200 and paused.json()["enabled"] is False

    again = api.call("POST", f"{TEMPLATES}/morning-kpis/enable/acme-ops", project=None, json={"parameters": {}})
    assert again.json()["id"] == cell["id"] and again.json()["enabled"] is True
    disabled = api.call("POST", f"{TEMPLATES}/morning-kpis/disable/acme-ops", project=None)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False and disabled.json()["id"] == cell["id"]
    assert api.call("POST", f"{TEMPLATES}/morning-kpis/disable/acme-sales", project=None).status_code == 404
    assert api.call("POST", f"{TEMPLATES}/nope/enable/acme-sales", project=None).status_code == 404
    assert api.call("POST", f"{TEMPLATES}/morning-kpis/enable/nope", project=None).status_code == 404

    items = {t["slug"]: t for t in api.call("GET", TEMPLATES, project=None).json()["items"]}
    assert items["morning-kpis"]["display_name"] == "KPIs"
    assert items["morning-kpis"]["matrix"] == [
        {"project_id": "acme-ops", "scenario_id": cell["id"], "enabled": False, "parameters": {}}
    ]
    # The sales token sees only its projects' cells.
    sales_view = api.call("GET", TEMPLATES, token="sales", project=None).json()["items"]
    assert all(t["matrix"] == [] for t in sales_view)

    # Replacing the template so that an instance breaks (a parameter without default) is refused as a whole.
    breaking = {**KPI, "parameters": [{"name": "recipe", "type": "recipe_ref"}]}
    response = api.call("POST", TEMPLATES, project=None, json=breaking)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "parameters", "recipe"]
    assert api.call("GET", TEMPLATES, project=None).json()["items"][0]["parameters"][0]["default"] == "mart_ops_kpis"


def test_default_enabled_template_reaches_projects_created_after_it(api: Api, apply_yaml: Any) -> None:
    response = api.call("POST", TEMPLATES, project=None, json={**KPI, "default_enabled": True})
    assert response.status_code == 201
    assert apply_yaml("kind: Project\nid: acme-new\nname: New\nowner_email: new@acme.example\n") == 0
    items = api.call("GET", "/api/scheduler/scenarios", project="acme-new").json()["items"]
    assert [(s["template_slug"], s["enabled"]) for s in items] == [("morning-kpis", True)]
    # Projects that existed before are not switched on.
    assert api.call("GET", "/api/scheduler/scenarios", project="acme-ops").json()["items"] == []
