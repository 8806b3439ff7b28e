"""Issue 13 as an outsider checks it, through the public contract only: list parameters from the contract's own
Template, errors people read (one error naming the field, never pydantic's internal paths), projects API bodies,
the org default timezone, and the operations tile's exact boundaries."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.admin.words import trigger_in_words
from api.routes.health import heartbeat
from honeyframe_dagster.model.triggers import Trigger
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import SchedulerWorkerRow
from tests.api.conftest import Api
from tests.conftest import ApplyYaml

# What a client or an operator must never read: pydantic's names for union members and validator wrappers.
INTERNALS = re.compile(
    r"function-(?:after|before|wrap|plain)\[|literal\[|tagged-union\[|json-or-python\[|Value error, "
)
SCENARIOS = "/api/scheduler/scenarios"
PROJECTS = "/api/scheduler/projects"
ENABLE = "/api/scheduler/templates/nightly-mart-refresh/enable/acme-sales"


def contract_template(contract_documents: list[dict]) -> dict[str, Any]:
    """The contract's Template, unchanged but for recipients that come from a `list[email]` parameter too."""
    (template,) = [d for d in contract_documents if d["kind"] == "Template"]
    template["parameters"].append({"name": "recipients", "type": "list[email]", "default": []})
    template["parameters"].append({"name": "topics", "type": "list[string]", "default": ["revenue"]})
    template["steps"][1]["recipients"] = "{{ param.recipients }}"
    return dict(template)


def assert_readable(response: Any) -> list[dict[str, Any]]:
    """A 422 whose body is only `detail`, each item naming a field, without pydantic internals."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"detail"}, body
    assert not INTERNALS.search(json.dumps(body)), body
    for item in body["detail"]:
        assert set(item) == {"loc", "msg", "input"} and item["loc"][0] == "body", item
    return list(body["detail"])


def test_the_contract_template_renders_list_parameters_and_an_empty_list_names_the_field(
    api: Api, apply_yaml: ApplyYaml, contract_documents: list[dict]
) -> None:
    # The template's trigger names the contract's calendar: applied with it.
    calendars = [d for d in contract_documents if d["kind"] == "Calendar"]
    assert apply_yaml(yaml.safe_dump_all([*calendars, contract_template(contract_documents)])) == 0
    values = {"mart_recipe": "mart_revenue", "dashboards": ["revenue-overview"], "recipients": ["cfo@acme.example"]}
    enabled = api.call("POST", ENABLE, project=None, json={"parameters": values})
    assert enabled.status_code == 200, enabled.text
    report = enabled.json()["steps"][1]
    assert report["dashboard_ids"] == ["revenue-overview"] and report["recipients"] == ["cfo@acme.example"]

    # Enabling again with new values updates that instance.
    again = api.call("POST", ENABLE, project=None, json={"parameters": {"recipients": ["a@x.example", "b@x.example"]}})
    assert again.status_code == 200 and again.json()["id"] == enabled.json()["id"]
    assert again.json()["steps"][1]["recipients"] == ["a@x.example", "b@x.example"]

    # Recipients that render to nothing: one error naming the parameter and the step field; the cell is kept.
    (error,) = assert_readable(api.call("POST", ENABLE, project=None, json={"parameters": {"recipients": []}}))
    assert error["loc"] == ["body", "parameters", "recipients"] and error["input"] == []
    assert "steps[1].recipients" in error["msg"] and "empty" in error["msg"]
    kept = api.call("GET", f"{SCENARIOS}/{enabled.json()['id']}").json()
    assert kept["steps"][1]["recipients"] == ["a@x.example", "b@x.example"]


@pytest.mark.parametrize(
    ("parameters", "loc", "words"),
    [
        ({"dashboards": "revenue-overview"}, ["parameters", "dashboards"], "must be a list"),
        ({"dashboards": [7]}, ["parameters", "dashboards", 0], "dashboards[0]"),
        ({"dashboards": ["revenue-overview", "nope"]}, ["parameters", "dashboards", 1], "unknown dashboard 'nope'"),
        ({"recipients": ["ok@x.example", "not an address"]}, ["parameters", "recipients", 1], "recipients[1]"),
        ({"topics": [""]}, ["parameters", "topics", 0], "topics[0]"),
        ({"topics": [["nested"]]}, ["parameters", "topics", 0], "topics[0]"),
        ({"topics": ["t"] * 101}, ["parameters", "topics"], "at most 100"),
        ({"mart_recipe": ["mart_revenue"]}, ["parameters", "mart_recipe"], "mart_recipe"),
        ({"unknown": 1}, ["parameters", "unknown"], "unknown"),
    ],
)
def test_bad_list_values_are_refused_naming_the_parameter(
    api: Api,
    apply_yaml: ApplyYaml,
    contract_documents: list[dict],
    parameters: dict[str, Any],
    loc: list[Any],
    words: str,
) -> None:
    assert apply_yaml(yaml.safe_dump(contract_template(contract_documents))) == 0
    body = {"parameters": {"mart_recipe": "mart_revenue", "recipients": ["a@x.example"], **parameters}}
    (error,) = assert_readable(api.call("POST", ENABLE, project=None, json=body))
    assert error["loc"] == ["body", *loc] and words in error["msg"], error
    assert [s for s in api.call("GET", SCENARIOS).json()["items"] if s["template_slug"]] == []


SCENARIO = {
    "name": "weekly",
    "trigger": {"cron": "0 7 * * 1"},
    "steps": [{"kind": "run_recipe", "recipe": "stg_orders"}],
}
REPORT = {"kind": "send_email_report", "dashboard_ids": ["revenue-overview"], "recipients": ["a@x.example"]}


@pytest.mark.parametrize(
    ("change", "loc", "words"),
    [
        ({"trigger": {"cron": "61 * * * *"}}, ["trigger", "cron"], "minute 61 is out of range 0–59"),
        ({"trigger": {"cron": "0 24 * * *"}}, ["trigger", "cron"], "hour 24 is out of range 0–23"),
        ({"steps": [{**REPORT, "time_filter": "last_year"}]}, ["steps", 0, "time_filter"], "unknown time filter"),
        ({"steps": [{**REPORT, "time_filter": 5}]}, ["steps", 0, "time_filter"], "last_week"),
        (
            {"steps": [{**REPORT, "time_filter": {"start": "2026-01-02T00:00:00Z"}}]},
            ["steps", 0, "time_filter", "end"],
            "",
        ),
        ({"steps": [{**REPORT, "recipients": []}]}, ["steps", 0, "recipients"], "at least 1"),
        ({"steps": [{"kind": "run_recipe"}]}, ["steps", 0], "exactly one of 'recipe' or 'recipes'"),
        ({"trigger": {"cron": "0 2 * * *", "timezone": "Mars/Olympus"}}, ["trigger", "timezone"], "Mars/Olympus"),
    ],
)
def test_scenario_errors_name_one_field_in_words(api: Api, change: dict, loc: list[Any], words: str) -> None:
    errors = assert_readable(api.call("POST", SCENARIOS, json={**SCENARIO, **change}))
    assert [e["loc"] for e in errors][:1] == [["body", *loc]], errors
    assert words in errors[0]["msg"]
    if loc[-1] == "time_filter":
        assert len(errors) == 1  # one error, not one per member of pydantic's union


def test_missing_project_header_is_one_sentence(api: Api) -> None:
    answer = api.call("GET", SCENARIOS, project=None)
    assert answer.status_code == 400
    assert set(answer.json()) == {"detail"} and isinstance(answer.json()["detail"], str)
    assert "X-Project-Id" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("document", "where", "words"),
    [
        (
            "kind: Dashboard\nid: d\nproject: acme-sales\ntitle: D\ncards:\n"
            "  - {title: R, display: metric, format: 'currency:euro', sql: 'select 1 as r'}\n",
            "cards[0].format",
            "currency:CODE",
        ),
        (
            "kind: Dashboard\nid: d\nproject: acme-sales\ntitle: D\ncards:\n"
            "  - {title: R, display: table, formats: {r: pct}, sql: 'select 1 as r'}\n",
            "cards[0].formats.r",
            "percent",
        ),
        (
            "kind: Dashboard\nid: d\nproject: acme-sales\ntitle: D\ndefault_time_filter: last_year\n",
            "default_time_filter",
            "last_week",
        ),
        (
            "kind: Template\nslug: t\ndisplay_name: T\nparameters: [{name: p, type: 'list[integer]'}]\n"
            "trigger: {cron: '0 2 * * *'}\nsteps: [{kind: run_recipe, recipe: stg_orders}]\n",
            "parameters[0].type",
            "'list[string]'",
        ),
        (
            "kind: Template\nslug: t\ndisplay_name: T\n"
            "parameters: [{name: p, type: 'list[email]', default: x@y.example}]\n"
            "trigger: {cron: '0 2 * * *'}\nsteps: [{kind: run_recipe, recipe: stg_orders}]\n",
            "parameters[0].default",
            "must be a list",
        ),
        (
            "kind: Template\nslug: t\ndisplay_name: T\ntrigger: {cron: '0 2 * * *'}\n"
            "steps: [{kind: send_email_report, recipients: [a@x.example], time_filter: soon}]\n",
            "steps[0].time_filter",
            "unknown time filter 'soon'",
        ),
        (
            "kind: Template\nslug: t\ndisplay_name: T\ntrigger: {cron: '0 2 * * *'}\n"
            "steps: [{kind: run_recipe, recipe: null}]\n",
            "steps[0]",
            "exactly one of 'recipe' or 'recipes'",
        ),
        (
            "kind: Scenario\nproject: acme-sales\nname: s\ntrigger: {cron: '61 * * * *'}\n"
            "steps: [{kind: run_recipe, recipe: stg_orders}]\n",
            "trigger.cron",
            "minute 61 is out of range 0–59",
        ),
    ],
)
def test_apply_errors_name_the_field_in_words(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str], document: str, where: str, words: str
) -> None:
    capsys.readouterr()
    assert apply_yaml(document) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert f"document[0]: {where}: " in lines[0] and words in lines[0], err
    assert not INTERNALS.search(err) and "(document)" not in err, err


def test_an_empty_recipients_list_after_rendering_is_an_apply_error(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str], contract_documents: list[dict]
) -> None:
    template = yaml.safe_dump(contract_template(contract_documents))
    cell = (
        "kind: Matrix\ntemplate: nightly-mart-refresh\nproject: acme-sales\nparameters: {mart_recipe: mart_revenue}\n"
    )
    capsys.readouterr()
    assert apply_yaml(template + "---\n" + cell) == 1
    err = capsys.readouterr().err
    assert "steps[1].recipients: is empty after rendering (parameter 'recipients')" in err, err
    assert "nothing was applied" in err


# Control characters (NUL: a 500 on Postgres) are h4's text hygiene, tested in tests/api/test_hardening.py.
HOSTILE: list[Any] = [None, 5, "", "x" * 300, [], {}, True, "Mars/Olympus", "A B"]


@pytest.mark.parametrize("field", ["id", "name", "owner_email", "timezone"])
def test_hostile_project_bodies_answer_422_naming_the_field(api: Api, field: str) -> None:
    good = {"id": "acme-hr", "name": "Acme HR", "owner_email": "hana@acme.example", "timezone": "Asia/Tokyo"}
    for index, value in enumerate(HOSTILE):
        answer = api.call("POST", PROJECTS, project=None, json={**good, "id": f"hostile-{index}", field: value})
        if answer.status_code == 201:  # a value that is valid for this field (e.g. a name "A B")
            continue
        errors = assert_readable(answer)
        assert ["body", field] in [e["loc"] for e in errors], (field, value, errors)
        if field != "id":
            patched = api.call("PATCH", f"{PROJECTS}/acme-sales", token="sales", project=None, json={field: value})
            assert patched.status_code in (200, 422), patched.text
            if patched.status_code == 422:
                assert ["body", field] in [e["loc"] for e in assert_readable(patched)]
    unknown = api.call("PATCH", f"{PROJECTS}/acme-sales", token="sales", project=None, json={"owner": "x@y.example"})
    assert [e["loc"] for e in assert_readable(unknown)] == [["body", "owner"]]


def test_the_org_default_timezone_comes_after_the_triggers_and_the_projects(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HONEYFRAME_DEFAULT_TIMEZONE (read when the API starts): acme-ops (no timezone) runs 02:00 Tokyo; acme-sales
    keeps Berlin; a trigger's own timezone wins over both; a project given a timezone later moves to it."""
    from api.main import create_app

    monkeypatch.setenv("HONEYFRAME_DEFAULT_TIMEZONE", "Asia/Tokyo")
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        tokyo = Api(client, api.tokens)
        _check_timezone_order(tokyo)


def _check_timezone_order(api: Api) -> None:
    def next_run(project: str, name: str, timezone: str | None = None) -> dt.datetime:
        trigger = {"cron": "0 2 * * *"} | ({"timezone": timezone} if timezone else {})
        created = api.call("POST", SCENARIOS, project=project, json={**SCENARIO, "name": name, "trigger": trigger})
        assert created.status_code == 201, created.text
        return dt.datetime.fromisoformat(created.json()["next_run_at"])

    assert next_run("acme-ops", "org").astimezone(dt.UTC).hour == 17  # 02:00 +09:00
    assert next_run("acme-sales", "project").astimezone(dt.UTC).hour in (0, 1)  # 02:00 Berlin
    assert next_run("acme-ops", "own", "America/New_York").astimezone(dt.UTC).hour in (6, 7)
    assert api.call("PATCH", f"{PROJECTS}/acme-ops", project=None, json={"timezone": "UTC"}).status_code == 200
    moved = {s["name"]: s["next_run_at"] for s in api.call("GET", SCENARIOS, project="acme-ops").json()["items"]}
    assert dt.datetime.fromisoformat(moved["org"]).astimezone(dt.UTC).hour == 2
    assert dt.datetime.fromisoformat(moved["own"]).astimezone(dt.UTC).hour in (6, 7)


@pytest.mark.parametrize(
    ("age", "status"), [(0, "green"), (60, "green"), (60.5, "amber"), (90, "amber"), (90.5, "red"), (3600, "red")]
)
def test_the_heartbeat_colour_at_its_exact_boundaries(api: Api, store_url: str, age: float, status: str) -> None:
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    with Session(get_engine(store_url)) as session, session.begin():
        session.add(SchedulerWorkerRow(worker_id="w", last_seen_at=now - dt.timedelta(seconds=age)))
    with Session(get_engine(store_url)) as session:
        beat = heartbeat(session, 90.0, now)
    assert beat.status == status and beat.alive is (status != "red")


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 2 * * *", "02:00 every day, Europe/Berlin"),
        ("0 9 * * 0-6", "09:00 every day, Europe/Berlin"),
        ("0 9 * * MON", "09:00 on Mondays, Europe/Berlin"),
        ("0 9 * * mon-fri", "09:00 on Monday to Friday, Europe/Berlin"),
        ("0 9 * * SAT,SUN", "09:00 on Saturdays and Sundays, Europe/Berlin"),
        ("*/15 * * * *", "every 15 minutes, Europe/Berlin"),
    ],
)
def test_common_crons_read_in_words(cron: str, words: str) -> None:
    assert trigger_in_words(Trigger(cron=cron), "Europe/Berlin") == words
