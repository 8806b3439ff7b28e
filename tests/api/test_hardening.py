"""Bounds and hygiene, on SQLite and Postgres (issue 9): every input from "Why" now fails safe — a 4xx naming the
field, nothing stored — and a stored row that cannot be presented shows its error instead of a 500 for the project."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ScenarioRow
from tests.api.conftest import Api

BASE = "/api/scheduler/scenarios"
TEMPLATES = "/api/scheduler/templates"
RECIPE = {"kind": "run_recipe", "recipe": "mart_revenue"}
REPORT = {"kind": "send_email_report", "recipients": ["cfo@acme.example"]}


def body(name: str = "s", trigger: dict[str, Any] | None = None, steps: list[Any] | None = None) -> dict[str, Any]:
    return {"name": name, "trigger": trigger or {"interval_seconds": 3600}, "steps": steps or [RECIPE]}


def refused(api: Api, method: str, path: str, loc: list[Any], **kwargs: Any) -> dict[str, Any]:
    """Assert a 422 whose error names `loc`; return that error."""
    response = api.call(method, path, **kwargs)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    match = [e for e in errors if e["loc"] == loc]
    assert match, errors
    return match[0]


def names(api: Api) -> list[str]:
    return [s["name"] for s in api.call("GET", BASE).json()["items"]]


def test_numbers_have_upper_bounds_and_nothing_is_stored(api: Api) -> None:
    error = refused(
        api, "POST", BASE, ["body", "trigger", "interval_seconds"], json=body(trigger={"interval_seconds": 10**12})
    )
    assert error["input"] == 10**12 and "31622400" in error["msg"]
    assert names(api) == []  # the 500 of issue 9 stored the row; now nothing is kept
    assert api.call("POST", BASE, json=body(trigger={"interval_seconds": 31_622_400})).status_code == 201
    assert api.call("POST", BASE, json=body("t", trigger={"interval_seconds": 31_622_401})).status_code == 422
    stored = api.call("GET", BASE).json()["items"]
    refused(api, "PATCH", f"{BASE}/{stored[0]['id']}", ["body", "trigger", "interval_seconds"],
            json={"trigger": {"interval_seconds": 2**63}})  # fmt: skip
    assert api.call("GET", f"{BASE}/{stored[0]['id']}").json()["trigger"]["interval_seconds"] == 31_622_400

    # run_python timeout: at most 24 h (2,147,484 s used to overflow at run time, leaving the child running).
    python = {"kind": "run_python", "recipe": "summarize_orders"}
    loc = ["body", "steps", 0, "timeout_seconds"]
    refused(api, "POST", BASE, loc, json=body("p", steps=[{**python, "timeout_seconds": 2_147_484}]))
    refused(api, "POST", BASE, loc, json=body("p", steps=[{**python, "timeout_seconds": 86_401}]))
    refused(api, "POST", BASE, loc, json=body("p", steps=[{**python, "timeout_seconds": 0}]))
    # Lists and strings are bounded too.
    refused(api, "POST", BASE, ["body", "steps"], json=body("many", steps=[RECIPE] * 101))
    refused(api, "POST", BASE, ["body", "name"], json=body("n" * 201))
    many = {**REPORT, "recipients": [f"r{i}@acme.example" for i in range(101)]}
    refused(api, "POST", BASE, ["body", "steps", 0, "recipients"], json=body("r", steps=[many]))
    assert names(api) == ["s"]


def test_ids_outside_int64_are_404(api: Api) -> None:
    for scenario_id in (2**63, 2**64, 10**30, 0, -1):
        for method, path, kwargs in (
            ("GET", f"{BASE}/{scenario_id}", {}),
            ("PATCH", f"{BASE}/{scenario_id}", {"json": {"enabled": False}}),
            ("DELETE", f"{BASE}/{scenario_id}", {}),
            ("GET", f"{BASE}/{scenario_id}/runs", {}),
        ):
            response = api.call(method, path, **kwargs)
            assert response.status_code == 404, (method, path, response.text)
    # Path segments that cannot be a slug or a project id name nothing (NUL used to reach Postgres).
    for slug, project in (("a%00b", "acme-ops"), ("nightly-mart-refresh", "acme%00ops"), ("x" * 300, "acme-ops")):
        response = api.call("POST", f"{TEMPLATES}/{slug}/disable/{project}", project=None)
        assert response.status_code == 404, response.text
    assert api.call("GET", BASE, project="acme\x7fsales").status_code in (403, 404)


def test_bodies_must_be_json(api: Api) -> None:
    raw = b'{"name": "s", "trigger": {"interval_seconds": 3600}, "steps": [{"kind": "run_recipe", "recipe": "x"}]}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = api.call("POST", BASE, content=raw, headers=headers)
        assert response.status_code == 415, (content_type, response.text)
        assert "application/json" in response.json()["detail"] and response.headers["X-Request-ID"]
    patched = api.call("PATCH", f"{BASE}/1", content=b"enabled=false", headers={"Content-Type": "text/plain"})
    assert patched.status_code == 415
    # JSON with a charset or a +json type is JSON; a body-less POST needs no content type at all.
    utf8 = {"Content-Type": "application/json; charset=utf-8"}
    assert api.call("POST", BASE, content=raw.replace(b'"x"', b'"mart_revenue"'), headers=utf8).status_code == 201
    enable = f"{TEMPLATES}/nightly-mart-refresh/enable/acme-ops"
    assert api.call("POST", enable, project=None, headers={"Content-Type": "text/plain"}).status_code == 422
    assert names(api) == ["s"]


# Each: a body, and where the 422 points.
UNUSABLE_JSON = [
    (b'{"name": "s", "trigger": {"interval_seconds": NaN}}', ["body"]),
    (b'{"name": "s", "trigger": {"interval_seconds": Infinity}}', ["body"]),
    (b'{"name": "\\ud800", "trigger": {"interval_seconds": 60}}', ["body", "name"]),
    (
        b'{"name": "s", "steps": [{"kind": "run_python", "recipe": "p", "args": {"n": 1e400}}]}',
        ["body", "steps", 0, "args", "n"],
    ),
    (b'{"name": "s", "steps": [{"args": {"n": 123456789012345678901234567890}}]}', ["body", "steps", 0, "args", "n"]),
    (b'{"name": "s", "steps": ' + b"[" * 100 + b"]" * 100 + b"}", ["body", "steps", *[0] * 63]),
    (b'{"name": "s", "steps": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", ["body"]),
    (b'{"name": "\xff"}', ["body"]),
]
CONTROL = [
    "a\x00b",
    "tab\there",
    "bell\x07",
    "del\x7f",
    "nel\x85",
    "line\u2028sep",
    "para\u2029sep",
    "rtl\u202eoverride",
    # Format characters (Cf): invisible, so "ops\u200b" reads as "ops".
    "zero\u200bwidth",
    "joined\u200dname",
    "mark\u200eltr",
    "bom\ufeffinside",
    "soft\u00adhyphen",
]


def test_json_no_store_or_response_could_keep_is_refused(api: Api) -> None:
    """NaN, lone surrogates, integers past 64 bits and deep nesting were accepted and broke later (500s)."""
    for raw, loc in UNUSABLE_JSON:
        response = api.call("POST", BASE, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, (raw[:80], response.text)
        assert response.json()["detail"][0]["loc"] == loc, (raw[:80], response.json())
    assert names(api) == []


def test_control_characters_are_refused_on_both_stores(api: Api) -> None:
    """NUL used to be stored on SQLite and a 500 on Postgres; U+2028 in a subject passed and failed every send."""
    created = api.call("POST", BASE, json=body("ok", steps=[REPORT]))
    assert created.status_code == 201, created.text
    for bad in CONTROL:
        error = refused(api, "POST", BASE, ["body", "name"], json=body(bad))
        assert error["input"] == bad and f"U+{ord(next(c for c in bad if not c.isalnum())):04X}" in error["msg"]
        subject = {**REPORT, "subject": f"Hi {bad}"}
        refused(api, "POST", BASE, ["body", "steps", 0, "subject"], json=body(steps=[subject]))
        upstream = {"upstream": {"scenario": bad}}
        refused(api, "POST", BASE, ["body", "trigger", "upstream", "scenario"], json=body(trigger=upstream))
        refused(api, "PATCH", f"{BASE}/{created.json()['id']}", ["body", "name"], json={"name": bad})
        template = {"slug": "t", "display_name": bad, "trigger": {"cron": "0 1 * * *"}, "steps": [RECIPE]}
        refused(api, "POST", TEMPLATES, ["body", "display_name"], project=None, json=template)
    assert names(api) == ["ok"]


def test_recipients_refuse_header_injection(api: Api) -> None:
    for address in ("cfo@acme.example\n", "cfo@acme.example\r\nBcc: x@evil.example", "cfo\x00@acme.example"):
        report = {**REPORT, "recipients": [address]}
        refused(api, "POST", BASE, ["body", "steps", 0, "recipients"], json=body(steps=[report]))
    created = api.call("POST", BASE, json=body(steps=[REPORT])).json()
    for address in ("a@acme.example\n", "a@acme.example\u2028"):
        response = api.call("PATCH", f"{BASE}/{created['id']}", json={"recipients": [address]})
        assert response.status_code == 422, response.text
    assert api.call("GET", f"{BASE}/{created['id']}").json()["steps"][0]["recipients"] == ["cfo@acme.example"]


def test_poison_rows_show_their_error_not_a_500(api: Api, store_url: str) -> None:
    """Rows that bypassed validation (hand edits, older releases): each is listed with its error; the rest work."""
    good = api.call("POST", BASE, json=body("good")).json()
    enabled = api.call(
        "POST", f"{TEMPLATES}/nightly-mart-refresh/enable/acme-sales", project=None,
        json={"parameters": {"mart_recipe": "mart_revenue"}},
    )  # fmt: skip
    assert enabled.status_code == 200, enabled.text
    engine = get_engine(get_settings().store_url)
    poison = {
        "overflow": ({"interval_seconds": 10**12}, [RECIPE]),  # what issue 9's 500 stored
        "not a trigger": (["garbage"], [RECIPE]),
        "bad steps": ({"cron": "0 2 * * *"}, [{"kind": "teleport"}]),
        "steps not a list": ({"cron": "0 2 * * *"}, {"kind": "run_recipe"}),
        "bad cron": ({"cron": "61 * * * *"}, [RECIPE]),
    }
    with Session(engine) as session, session.begin():
        for name, (trigger, steps) in poison.items():
            session.add(ScenarioRow(project_id="acme-sales", name=name, trigger=trigger, steps=steps, parameters={}))
        session.add(ScenarioRow(project_id="acme-sales", name="corrupt json", trigger={}, steps=[], parameters={}))
    with engine.begin() as connection:
        if store_url.startswith("sqlite"):
            # SQLite keeps whatever text it is given; Postgres' json type refuses it at the door.
            connection.execute(text("UPDATE scenarios SET \"trigger\" = '{not json' WHERE name = 'corrupt json'"))
            connection.execute(text("UPDATE scenarios SET parameters = '[1, 2' WHERE template_slug IS NOT NULL"))
        else:
            connection.execute(text("UPDATE scenarios SET parameters = '[1, 2]' WHERE template_slug IS NOT NULL"))

    listed = api.call("GET", BASE)
    assert listed.status_code == 200, listed.text
    items = {item["name"]: item for item in listed.json()["items"]}
    assert items["good"]["error"] is None and items["good"]["next_run_at"] is not None
    # The instance was compiled when it was enabled: its version, not the row edited since, is what it runs.
    assert items["nightly-mart-refresh"]["error"] is None and items["nightly-mart-refresh"]["version"] == 1
    for name in [*poison, "corrupt json"]:
        item = items[name]
        assert item["error"] and item["next_run_at"] is None and item["dagster"]["trigger_name"] is None, item
        one = api.call("GET", f"{BASE}/{item['id']}")
        assert one.status_code == 200 and one.json()["error"] == item["error"], one.text
    assert "interval_seconds" in items["overflow"]["error"] and "teleport" in items["bad steps"]["error"]
    assert items["bad cron"]["steps"] == [{**RECIPE, "parallel": False, "transactional": True}]
    assert api.call("GET", TEMPLATES, project=None).status_code == 200
    # A poisoned scenario can still be removed, and the good one still changes.
    assert api.call("DELETE", f"{BASE}/{items['overflow']['id']}").status_code == 204
    assert api.call("PATCH", f"{BASE}/{good['id']}", json={"enabled": False}).status_code == 200
    fixed = api.call("PATCH", f"{BASE}/{items['bad cron']['id']}", json={"trigger": {"cron": "0 3 * * *"}})
    assert fixed.status_code == 200 and fixed.json()["error"] is None, fixed.text


def test_blank_names_are_refused_naming_the_field(api: Api) -> None:
    body = {
        "name": "   ",
        "trigger": {"interval_seconds": 3600},
        "steps": [{"kind": "run_recipe", "recipe": "stg_orders"}],
    }
    response = api.call("POST", "/api/scheduler/scenarios", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"] and "blank" in response.json()["detail"][0]["msg"]
