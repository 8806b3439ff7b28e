"""Every validation error of the contract: 422 naming the field path and the value, and nothing stored."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

BASE = "/api/scheduler/scenarios"
RECIPE = {"kind": "run_recipe", "recipe": "mart_revenue"}


def scenario(trigger: dict[str, Any] | None = None, steps: list[Any] | None = None) -> dict[str, Any]:
    return {
        "name": "s",
        "trigger": trigger or {"interval_seconds": 3600},
        "steps": [RECIPE] if steps is None else steps,
    }


CASES = [
    ("bad cron", scenario({"cron": "61 * * * *"}), ["body", "trigger", "cron"], "61 * * * *"),
    ("six fields", scenario({"cron": "0 0 2 * * *"}), ["body", "trigger", "cron"], "0 0 2 * * *"),
    (
        "timezone",
        scenario({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}),
        ["body", "trigger", "timezone"],
        "Mars/Olympus",
    ),
    ("interval", scenario({"interval_seconds": 30}), ["body", "trigger", "interval_seconds"], 30),
    (
        "no upstream",
        scenario({"upstream": {"scenario": "ghost"}}),
        ["body", "trigger", "upstream", "scenario"],
        "ghost",
    ),
    (
        "other project's upstream",
        scenario({"upstream": {"scenario": "ops only"}}),
        ["body", "trigger", "upstream", "scenario"],
        "ops only",
    ),
    ("self cycle", {**scenario({"upstream": {"scenario": "s"}})}, ["body", "trigger", "upstream", "scenario"], "s"),
    ("step kind", scenario(steps=[{"kind": "teleport"}]), ["body", "steps", 0, "kind"], "teleport"),
    (
        "recipe",
        scenario(steps=[RECIPE, {"kind": "run_recipe", "recipe": "nope"}]),
        ["body", "steps", 1, "recipe"],
        "nope",
    ),
    ("dataset", scenario(steps=[{"kind": "sync_dataset", "dataset": "nope"}]), ["body", "steps", 0, "dataset"], "nope"),
    (
        "dashboard",
        scenario(steps=[{"kind": "send_email_report", "dashboard_ids": ["nope"], "recipients": ["a@b.example"]}]),
        ["body", "steps", 0, "dashboard_ids"],
        ["nope"],
    ),
    (
        "agent",
        scenario(steps=[{"kind": "run_agent", "agent": "nope", "input": "select 1", "output_table": "t"}]),
        ["body", "steps", 0, "agent"],
        "nope",
    ),
    (
        "recipient",
        scenario(steps=[{"kind": "send_email_report", "recipients": ["not-an-address"]}]),
        ["body", "steps", 0, "recipients"],
        ["not-an-address"],
    ),
    ("empty steps", scenario(steps=[]), ["body", "steps"], []),
    (
        "python recipe",
        scenario(steps=[{"kind": "run_python", "recipe": "nope"}]),
        ["body", "steps", 0, "recipe"],
        "nope",
    ),
    (
        "python secrets",
        scenario(steps=[{"kind": "run_python", "recipe": "pause", "secrets": ["HONEYFRAME_DATABASE_URL"]}]),
        ["body", "steps", 0, "secrets", 0],
        "HONEYFRAME_DATABASE_URL",
    ),
    (
        "webhook variable",
        scenario(steps=[{"kind": "notify_webhook", "url_env": "HONEYFRAME_SMTP_PASSWORD"}]),
        ["body", "steps", 0, "url_env"],
        "HONEYFRAME_SMTP_PASSWORD",
    ),
]


def test_create_rejects_bad_input_and_stores_nothing(api: Api) -> None:
    ops = {"name": "ops only", "trigger": {"interval_seconds": 600}, "steps": [RECIPE]}
    assert api.call("POST", BASE, project="acme-ops", json=ops).status_code == 201
    before = api.call("GET", BASE).json()["items"]
    for name, body, loc, value in CASES:
        response = api.call("POST", BASE, json=body)
        assert response.status_code == 422, (name, response.text)
        errors = response.json()["detail"]
        assert any(e["loc"] == loc and e["input"] == value for e in errors), (name, errors)
        assert set(response.json()) == {"detail"}, name
    assert api.call("GET", BASE).json()["items"] == before


def test_patch_cycle_recipients_and_nulls(api: Api) -> None:
    a = api.call("POST", BASE, json={**scenario(), "name": "a"}).json()
    b = api.call("POST", BASE, json=scenario({"upstream": {"scenario": "a"}})).json()
    cycle = api.call("PATCH", f"{BASE}/{a['id']}", json={"trigger": {"upstream": {"scenario": "s"}}})
    assert cycle.status_code == 422
    assert cycle.json()["detail"][0]["loc"] == ["body", "trigger", "upstream", "scenario"]
    assert "cycle" in cycle.json()["detail"][0]["msg"] and set(cycle.json()) == {"detail"}
    no_report = api.call("PATCH", f"{BASE}/{b['id']}", json={"recipients": ["x@acme.example"]})
    assert no_report.status_code == 422 and no_report.json()["detail"][0]["loc"] == ["body", "recipients"]
    bad_address = api.call("PATCH", f"{BASE}/{b['id']}", json={"recipients": ["x@"]})
    assert bad_address.status_code == 422 and bad_address.json()["detail"][0]["input"] == "x@"
    assert api.call("PATCH", f"{BASE}/{b['id']}", json={"trigger": None}).status_code == 422
    # Unset alternatives are left out, not null: the schema's oneOf (exactly one of cron, interval, ...) holds.
    assert api.call("GET", f"{BASE}/{a['id']}").json()["trigger"] == {
        "interval_seconds": 3600,
        "catchup": "latest",
        "overlap": "skip",
    }


def test_template_parameters(api: Api) -> None:
    base = "/api/scheduler/templates/nightly-mart-refresh"
    missing = api.call("POST", f"{base}/enable/acme-ops", project=None)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "parameters", "mart_recipe"]
    undefined = api.call("POST", f"{base}/enable/acme-ops", project=None, json={"parameters": {"nope": 1}})
    assert undefined.status_code == 422
    assert undefined.json()["detail"][0]["loc"] == ["body", "parameters", "nope"]
    recipe = api.call("POST", f"{base}/enable/acme-ops", project=None, json={"parameters": {"mart_recipe": "nope"}})
    assert recipe.status_code == 422
    assert recipe.json()["detail"][0] | {"msg": ""} == {
        "loc": ["body", "parameters", "mart_recipe"],
        "input": "nope",
        "msg": "",
    }
    templates = api.call("GET", "/api/scheduler/templates", project=None).json()["items"]
    assert templates[0]["matrix"] == []
    bad_template = {"slug": "t", "display_name": "T", "trigger": {"cron": "0 2 * * *"}, "steps": [{"kind": "teleport"}]}
    response = api.call("POST", "/api/scheduler/templates", project=None, json=bad_template)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "steps", 0, "kind"]
    assert response.json()["detail"][0]["input"] == "teleport"


def test_body_over_one_mebibyte_is_413(api: Api) -> None:
    huge = {**scenario(), "name": "x" * (1024 * 1024 + 1)}
    assert api.call("POST", BASE, json=huge).status_code == 413

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(17):
            yield b" " * 65536

    streamed = api.call("POST", BASE, content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert not [s for s in api.call("GET", BASE).json()["items"] if s["template_slug"] is None]


def test_a_malformed_id_or_name_is_a_422_that_says_in_words_what_is_allowed(api: Api) -> None:
    project = {"id": "Acme_Sales", "name": "Acme", "owner_email": "ana@acme.example"}
    response = api.call("POST", "/api/scheduler/projects", json=project)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "id"],
            "msg": "must be 1 to 64 lowercase letters, digits and '-', not starting or ending with '-'",
            "input": "Acme_Sales",
        }
    ]
    steps = [{"kind": "run_recipe", "recipe": "mart revenue"}]
    response = api.call("POST", BASE, json=scenario({"interval_seconds": 3600}, steps))
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "steps", 0, "recipe"],
            "msg": "must be 1 to 128 letters, digits, '_', '.' and '-', starting with a letter or '_'",
            "input": "mart revenue",
        }
    ]
