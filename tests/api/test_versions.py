"""Every change is a version: compiled once at write, listed newest first with the changed paths, each one readable
as it was; reads never resolve or parse SQL again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.conftest import ApplyYaml

SCENARIO = {
    "name": "weekly mail",
    "trigger": {"cron": "0 6 * * 1"},
    "steps": [
        {"kind": "run_recipe", "recipe": "stg_orders"},
        {"kind": "send_email_report", "dashboard_ids": ["revenue-overview"], "recipients": ["ana@acme.example"]},
    ],
}


def create(api: Api, body: dict[str, Any] | None = None) -> dict[str, Any]:
    created = api.call("POST", "/api/scheduler/scenarios", json=body or SCENARIO)
    assert created.status_code == 201, created.text
    return dict(created.json())


def versions(api: Api, scenario_id: int, **params: Any) -> dict[str, Any]:
    listed = api.call("GET", f"/api/scheduler/scenarios/{scenario_id}/versions", params=params)
    assert listed.status_code == 200, listed.text
    return dict(listed.json())


def test_each_change_is_a_version_listed_newest_first_with_its_changed_paths(api: Api) -> None:
    scenario = create(api)
    sid = scenario["id"]
    assert scenario["version"] == 1
    first = versions(api, sid)
    assert first["total"] == 1 and first["page"] is None
    (v1,) = first["items"]
    assert v1["version"] == 1 and v1["created_by"] == "admin" and v1["changes"] == []

    patched = api.call("PATCH", f"/api/scheduler/scenarios/{sid}", json={"recipients": ["olaf@acme.example"]})
    assert patched.status_code == 200 and patched.json()["version"] == 2
    api.call("PATCH", f"/api/scheduler/scenarios/{sid}", token="sales", json={"trigger": {"cron": "0 7 * * 1"}})
    unchanged = api.call("PATCH", f"/api/scheduler/scenarios/{sid}", json={"trigger": {"cron": "0 7 * * 1"}})
    assert unchanged.json()["version"] == 3  # the same resolved scenario: no new version
    assert api.call("PATCH", f"/api/scheduler/scenarios/{sid}", json={"enabled": False}).json()["version"] == 4

    listed = versions(api, sid)
    assert [v["version"] for v in listed["items"]] == [4, 3, 2, 1] and listed["total"] == 4
    by_number = {v["version"]: v for v in listed["items"]}
    assert by_number[2]["changes"] == ["steps[1].recipients"]
    assert by_number[3]["changes"] == ["trigger.cron"] and by_number[3]["created_by"] == "sales"
    assert by_number[4]["changes"] == ["enabled"]

    page = versions(api, sid, page=2, page_size=3)
    assert [v["version"] for v in page["items"]] == [1] and page["total"] == 4 and page["page_size"] == 3


def test_an_old_version_shows_its_old_values(api: Api) -> None:
    sid = create(api)["id"]
    api.call("PATCH", f"/api/scheduler/scenarios/{sid}", json={"recipients": ["olaf@acme.example"], "name": "renamed"})
    old = api.call("GET", f"/api/scheduler/scenarios/{sid}/versions/1")
    new = api.call("GET", f"/api/scheduler/scenarios/{sid}/versions/2")
    assert old.status_code == new.status_code == 200
    assert old.json()["steps"][1]["recipients"] == ["ana@acme.example"] and old.json()["name"] == "weekly mail"
    assert new.json()["steps"][1]["recipients"] == ["olaf@acme.example"] and new.json()["name"] == "renamed"
    # Resolved: the timezone the trigger's instants are in (the project's), the defaults spelled out.
    assert old.json()["timezone"] == "Europe/Berlin" and old.json()["trigger"]["catchup"] == "latest"
    assert "misfire_grace_seconds" not in old.json()["trigger"]  # shown under catchup none only
    assert new.json()["changes"] == ["name", "steps[1].recipients"]
    for path in (f"/api/scheduler/scenarios/{sid}/versions/3", f"/api/scheduler/scenarios/{sid}/versions/0"):
        assert api.call("GET", path).status_code == 404
    # Another project's token sees neither the scenario nor its versions.
    assert api.call("GET", f"/api/scheduler/scenarios/{sid}/versions", project="acme-ops").status_code == 404


def test_a_template_change_is_a_version_of_each_instance(api: Api, apply_yaml: ApplyYaml) -> None:
    enabled = api.call(
        "POST", "/api/scheduler/templates/nightly-mart-refresh/enable/acme-ops", json={"parameters": {}}, project=None
    )
    assert enabled.status_code == 422  # its recipe parameter has no value: nothing written
    cell = api.call(
        "POST",
        "/api/scheduler/templates/nightly-mart-refresh/enable/acme-ops",
        json={"parameters": {"mart_recipe": "stg_orders"}},
        project=None,
    ).json()
    template = {
        "slug": "nightly-mart-refresh",
        "display_name": "Nightly mart refresh",
        "parameters": [{"name": "mart_recipe", "type": "recipe_ref"}],
        "trigger": {"cron": "30 2 * * *"},
        "steps": [{"kind": "run_recipe", "recipe": "{{ param.mart_recipe }}"}],
    }
    assert api.call("POST", "/api/scheduler/templates", json=template, project=None).status_code == 200
    listed = api.call("GET", f"/api/scheduler/scenarios/{cell['id']}/versions", project="acme-ops").json()
    newest = listed["items"][0]
    assert newest["created_by"] == "template nightly-mart-refresh v2" and newest["changes"] == ["trigger.cron"]
    assert [v["version"] for v in listed["items"]] == [2, 1]


@pytest.mark.parametrize("size", [50_000])
def test_reads_parse_no_sql(api: Api, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """A list reads the stored versions: a 50 KB query in a dashboard card or agent input is not parsed again."""
    from honeyframe_dagster.model import sql_policy

    padding = " ".join(f"ticket_id = {i} or" for i in range(size // 20))
    body = {
        "name": "big query",
        "trigger": {"cron": "0 6 * * *"},
        "steps": [
            {
                "kind": "run_agent",
                "agent": "ticket-triage",
                "input": f"select * from orders where {padding} true",
                "output_table": "labels",
            }
        ],
    }
    sid = create(api, body)["id"]
    parsed: list[str] = []
    real = sql_policy.check_query

    def counting(sql: str, *args: Any, **kwargs: Any) -> Any:
        parsed.append(sql)
        return real(sql, *args, **kwargs)

    monkeypatch.setattr(sql_policy, "check_query", counting)
    monkeypatch.setattr("honeyframe_dagster.model.tenancy.check_query", counting)
    scenarios = "/api/scheduler/scenarios"
    for path in (scenarios, f"{scenarios}/{sid}", f"{scenarios}/{sid}/versions/1", f"{scenarios}?page=1"):
        assert api.call("GET", path).status_code == 200
    assert parsed == []
