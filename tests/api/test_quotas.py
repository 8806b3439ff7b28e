"""HONEYFRAME_MAX_SCENARIOS_PER_PROJECT: no path adds a scenario past it (API create, template enable, apply).

Before it, a project could hold any number of scenarios (issue 17, defect 10). The limit is lowered to 2 here.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

BASE = "/api/scheduler/scenarios"
ENABLE = "/api/scheduler/templates/nightly-mart-refresh/enable/acme-sales"
SETTING = "HONEYFRAME_MAX_SCENARIOS_PER_PROJECT"


def scenario(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "trigger": {"interval_seconds": 3600},
        "steps": [{"kind": "run_recipe", "recipe": "mart_revenue"}],
    }


@pytest.fixture
def limited(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setenv(SETTING, "2")
    return api


def test_an_api_create_past_the_limit_is_422_naming_the_setting(limited: Api) -> None:
    api = limited
    assert api.call("POST", BASE, json=scenario("one")).status_code == 201
    assert api.call("POST", BASE, json=scenario("two")).status_code == 201
    refused = api.call("POST", BASE, json=scenario("three"))
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert SETTING in error["msg"] and "acme-sales" in error["msg"] and "(2)" in error["msg"]
    assert error["loc"] == ["body"] and error["input"] == "acme-sales"
    names = [s["name"] for s in api.call("GET", BASE).json()["items"]]
    assert sorted(names) == ["one", "two"]
    # Another project has its own count; edits and deletes of the full project still work.
    assert api.call("POST", BASE, json=scenario("one"), project="acme-ops").status_code == 201
    first = next(s for s in api.call("GET", BASE).json()["items"] if s["name"] == "one")
    assert api.call("PATCH", f"{BASE}/{first['id']}", json={"enabled": False}).status_code == 200
    assert api.call("DELETE", f"{BASE}/{first['id']}").status_code == 204
    assert api.call("POST", BASE, json=scenario("three")).status_code == 201


def test_a_template_enable_that_creates_an_instance_counts(limited: Api) -> None:
    api = limited
    assert api.call("POST", BASE, json=scenario("one")).status_code == 201
    body = {"parameters": {"mart_recipe": "mart_revenue"}}
    assert api.call("POST", ENABLE, project=None, json=body).status_code == 200  # the second scenario
    assert api.call("POST", BASE, json=scenario("two")).status_code == 422
    # Re-enabling the existing instance adds nothing: allowed at the limit.
    assert api.call("POST", ENABLE.replace("enable", "disable"), project=None).status_code == 200
    assert api.call("POST", ENABLE, project=None, json=body).status_code == 200
    # A project at the limit cannot get a new instance.
    assert api.call("POST", BASE, json=scenario("one"), project="acme-ops").status_code == 201
    assert api.call("POST", BASE, json=scenario("two"), project="acme-ops").status_code == 201
    refused = api.call("POST", ENABLE.replace("acme-sales", "acme-ops"), project=None, json=body)
    assert refused.status_code == 422 and SETTING in refused.json()["detail"][0]["msg"], refused.text


def test_apply_past_the_limit_is_an_error_naming_the_setting(
    limited: Api, apply_yaml: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = "\n---\n".join(
        f"kind: Scenario\nproject: acme-sales\nname: s{i}\ntrigger: {{interval_seconds: 3600}}\n"
        "steps: [{kind: run_recipe, recipe: mart_revenue}]"
        for i in range(3)
    )
    capsys.readouterr()
    assert apply_yaml(documents) == 1
    err = capsys.readouterr().err
    assert SETTING in err and "project 'acme-sales' holds 2 scenarios" in err, err
    assert limited.call("GET", BASE).json()["items"] == []  # all or nothing
    two = documents.rsplit("\n---\n", 1)[0]
    assert apply_yaml(two) == 0
    assert apply_yaml(two) == 0  # re-applying existing scenarios creates none
    matrix = (
        "kind: Matrix\ntemplate: nightly-mart-refresh\nproject: acme-sales\nparameters: {mart_recipe: mart_revenue}"
    )
    assert apply_yaml(matrix) == 1 and SETTING in capsys.readouterr().err
