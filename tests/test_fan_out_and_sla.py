"""Issue 19 through Dagster's scheduler and sensor daemon iterations under a frozen clock: `expand_from` (one run
per row, its values in its config, no duplicate on re-evaluation, zero rows, too many rows) and `sla` (one alert
per late instant, a late success reported once as recovered, `sla_missed` in the API)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter, build_schedule_context
from dagster._core.scheduler.instigation import TickStatus

from honeyframe_dagster.model.tags import ENTITY_TAG, SCENARIO_TAG, SLA_MISSED_TAG
from honeyframe_dagster.settings import get_settings
from tests.conftest import PROJECTS_YAML, ApplyYaml, granting
from tests.scheduling.harness import evaluate, set_status
from tests.steps.support import loopback_server
from tests.test_scheduling_contract import LOCATION, apply_at, at, daemon, rest_api

CREATED = at("2026-12-01T09:57:33Z")
JOB = "acme_ops__regional"
SCHEDULE = f"{JOB}_schedule"
DOCUMENTS = (
    PROJECTS_YAML
    + "---\n"
    + granting("acme-ops", "HONEYFRAME_SECRET_OPS_WEBHOOK")
    + """
kind: Dataset
id: regions
project: acme-ops
table: dim_regions
connector: {type: file, path: examples/data/tickets.csv}
---
kind: Scenario
project: acme-ops
name: regional
trigger:
  cron: '0 * * * *'
  overlap: allow
  expand_from: {sql: "select region, manager_email from dim_regions order by region", key: region}
sla:
  finish_within_seconds: 1800
  notify: {webhook_env: HONEYFRAME_SECRET_OPS_WEBHOOK}
steps:
  - kind: send_email_report
    dashboard_ids: []
    recipients: ["{{ entity.manager_email }}"]
    subject: "Numbers for {{ entity.region }}"
"""
)


class Hook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    def __call__(self, request: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, str, bytes]:
        self.received.append(json.loads(body))
        return 200, "text/plain", b"ok"


def regions(rows: list[tuple[str, str]]) -> None:
    """The project's own table, as its dataset's sync would leave it."""
    with duckdb.connect(str(get_settings().warehouse_path)) as connection:
        connection.execute("create or replace table dim_regions (region varchar, manager_email varchar)")
        for row in rows:
            connection.execute("insert into dim_regions values (?, ?)", row)


def runs(instance: DagsterInstance) -> list[Any]:
    found = instance.get_runs(RunsFilter(job_name=JOB))
    return sorted(found, key=lambda r: (r.tags["honeyframe/scheduled_for"], r.tags.get(ENTITY_TAG, "")))


def schedule_ticks(instance: DagsterInstance, workspace: Any) -> list[Any]:
    repository = next(iter(workspace.create_request_context().get_code_location(LOCATION).get_repositories().values()))
    remote = repository.get_schedule(SCHEDULE)
    return list(instance.get_ticks(remote.get_remote_origin_id(), remote.selector_id))


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    monkeypatch.setenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", "127.0.0.1")
    received = Hook()
    with loopback_server(received) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_OPS_WEBHOOK", url + "/hooks/s3cr3t-sla")
        yield received


def test_one_run_per_entity_no_duplicate_and_one_alert_per_late_instant(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = dagster_instance
    apply_at(apply_yaml, CREATED, DOCUMENTS)
    regions([("apac", "mei@acme.example"), ("emea", "eva@acme.example")])
    with daemon(instance) as workspace:
        for now in ("09:58:00", "10:00:20", "10:00:50"):
            evaluate(workspace, at(f"2026-12-01T{now}Z"))
        # One run per row, each with its entity's tag, run key and values in its own config.
        first = runs(instance)
        assert [r.tags[ENTITY_TAG] for r in first] == ["apac", "emea"]
        assert {r.tags["dagster/run_key"] for r in first} == {
            "2026-12-01T10:00:00+00:00|apac",
            "2026-12-01T10:00:00+00:00|emea",
        }
        configs = [r.run_config["ops"]["step_1_send_email_report"]["config"]["step"] for r in first]
        assert [c["recipients"] for c in configs] == [["mei@acme.example"], ["eva@acme.example"]]
        assert [c["subject"] for c in configs] == ["Numbers for apac", "Numbers for emea"]
        # Re-evaluating the 10:00 tick adds no run: both entities' runs of that instant exist.
        with build_schedule_context(instance=instance, scheduled_execution_time=at("2026-12-01T10:00:00Z")) as ctx:
            # The location as the daemon loaded it (a fresh import of the module: tests/test_scheduling_contract.py).
            location = importlib.import_module("honeyframe_dagster.definitions")
            again = location.load_definitions().get_schedule_def(SCHEDULE).evaluate_tick(ctx)
        assert not again.run_requests and "already fired" in (again.skip_message or "")
        assert len(runs(instance)) == 2

        # SLA 30 min: emea succeeds in time, apac stays queued → one alert for 10:00, whatever the passes.
        set_status(instance, first[1], DagsterRunStatus.SUCCESS)
        for now in ("10:30:10", "10:30:40", "10:31:10", "10:31:40"):
            evaluate(workspace, at(f"2026-12-01T{now}Z"))
        (missed,) = hook.received
        assert missed["event"] == "sla_missed" and missed["instant"] == "2026-12-01T10:00:00+00:00"
        assert first[0].run_id in missed["state"] and "QUEUED" in missed["state"]
        assert instance.get_run_by_id(first[0].run_id).tags[SLA_MISSED_TAG] == "2026-12-01T10:00:00+00:00"
        # The late success is reported once as recovered.
        set_status(instance, first[0], DagsterRunStatus.SUCCESS)
        for now in ("10:32:10", "10:32:40", "10:33:10"):
            evaluate(workspace, at(f"2026-12-01T{now}Z"))
        assert [h["event"] for h in hook.received] == ["sla_missed", "sla_recovered"]

        # 11:00: two more runs; nobody finishes them → the 11:00 instant is alerted once.
        for now in ("11:00:20", "11:30:20", "11:30:50", "11:31:20"):
            evaluate(workspace, at(f"2026-12-01T{now}Z"))
        assert len(runs(instance)) == 4
        assert [h["event"] for h in hook.received] == ["sla_missed", "sla_recovered", "sla_missed"]
        assert hook.received[-1]["instant"] == "2026-12-01T11:00:00+00:00"

        # No rows: a skipped tick saying so, and no SLA alert for an instant that expects no run.
        regions([])
        for now in ("12:00:20", "12:30:20", "12:30:50"):
            evaluate(workspace, at(f"2026-12-01T{now}Z"))
        tick = schedule_ticks(instance, workspace)[0]
        assert tick.status == TickStatus.SKIPPED and "expand_from returned no rows" in (tick.skip_reason or "")
        assert len(runs(instance)) == 4 and len(hook.received) == 3

        # More rows than HONEYFRAME_MAX_EXPANSION: the tick fails naming the setting, no run.
        regions([("apac", "mei@acme.example"), ("emea", "eva@acme.example")])
        monkeypatch.setenv("HONEYFRAME_MAX_EXPANSION", "1")
        evaluate(workspace, at("2026-12-01T13:00:20Z"))
        tick = schedule_ticks(instance, workspace)[0]
        assert tick.status == TickStatus.FAILURE and "HONEYFRAME_MAX_EXPANSION=1" in tick.error.to_string()
        assert len(runs(instance)) == 4

    # The API shows the entity of each run and the instants that missed the SLA, newest first.
    scenario_id = int(first[0].tags[SCENARIO_TAG])
    with rest_api() as api:
        detail = api.call("GET", f"/api/scheduler/scenarios/{scenario_id}", project="acme-ops").json()
        listed = api.call("GET", f"/api/scheduler/scenarios/{scenario_id}/runs", project="acme-ops").json()
    assert detail["sla_missed"] == ["2026-12-01T11:00:00Z", "2026-12-01T10:00:00Z"]
    assert detail["sla"]["finish_within_seconds"] == 1800
    assert sorted(r["entity"] for r in listed["items"]) == ["apac", "apac", "emea", "emea"]
    assert detail["steps"][0]["recipients"] == ["{{ entity.manager_email }}"]  # the version keeps them unrendered


def test_run_now_launches_every_entity_or_the_one_asked_for(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance, hook: Hook
) -> None:
    apply_at(apply_yaml, CREATED, DOCUMENTS)
    regions([("apac", "mei@acme.example"), ("emea", "eva@acme.example")])
    launched: list[tuple[dict[str, str], dict[str, Any]]] = []

    def fake_launch(client: Any, location: str, job: str, tags: dict[str, str], config: dict[str, Any]) -> str:
        launched.append((tags, config))
        return f"run-{len(launched)}"

    with rest_api() as api:
        scenario_id = api.call("GET", "/api/scheduler/scenarios", project="acme-ops").json()["items"][0]["id"]
        import api.routes.runs as routes

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(routes, "launch", fake_launch)
            everyone = api.call("POST", f"/api/scheduler/scenarios/{scenario_id}/run", project="acme-ops")
            one = api.call(
                "POST", f"/api/scheduler/scenarios/{scenario_id}/run", project="acme-ops", json={"entity": "emea"}
            )
            unknown = api.call(
                "POST", f"/api/scheduler/scenarios/{scenario_id}/run", project="acme-ops", json={"entity": "mars"}
            )
    assert everyone.status_code == 202 and [r["entity"] for r in everyone.json()["runs"]] == ["apac", "emea"]
    assert one.status_code == 202 and one.json()["runs"] == [{"entity": "emea", "run_id": "run-3"}]
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "entity"]
    tags, config = launched[-1]
    assert tags[ENTITY_TAG] == "emea"
    assert config["ops"]["step_1_send_email_report"]["config"]["step"]["recipients"] == ["eva@acme.example"]


def test_expand_from_over_another_projects_table_is_refused(
    apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply_yaml(DOCUMENTS) == 0
    capsys.readouterr()
    foreign = """
kind: Scenario
project: acme-sales
name: snooping
trigger:
  cron: '0 * * * *'
  expand_from: {sql: "select region from dim_regions"}
steps:
  - {kind: run_python, recipe: score_inventory}
"""
    assert apply_yaml(foreign) != 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "trigger.expand_from.sql" in text and "dim_regions" in text and "not readable" in text


def test_entity_placeholders_need_expand_from(apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str]) -> None:
    assert apply_yaml(PROJECTS_YAML) == 0
    capsys.readouterr()
    document = """
kind: Scenario
project: acme-ops
name: lonely
trigger: {cron: '0 * * * *'}
steps:
  - {kind: send_email_report, dashboard_ids: [], recipients: ["{{ entity.manager_email }}"]}
"""
    assert apply_yaml(document) != 0
    out = capsys.readouterr()
    assert "steps[0].recipients" in out.out + out.err and "expand_from" in out.out + out.err


def test_rows_become_entities_with_unique_keys() -> None:
    from honeyframe_dagster.factory.expansion import ExpansionError, entities

    rows = [("emea", "eva@acme.example", dt.date(2026, 1, 2)), ("apac", None, None)]
    found = entities(["region", "manager_email", "since"], rows, None, 100)
    assert [e.key for e in found] == ["emea", "apac"] and found[0].row["since"] == "2026-01-02"
    assert [e.key for e in entities(["region", "manager_email", "since"], rows, "manager_email", 100)] == [
        "eva@acme.example",
        "",
    ]
    with pytest.raises(ExpansionError, match="HONEYFRAME_MAX_EXPANSION=1"):
        entities(["region"], [("a",), ("b",)], None, 1)
    with pytest.raises(ExpansionError, match="twice"):
        entities(["region"], [("a",), ("a",)], None, 10)
    with pytest.raises(ExpansionError, match="no column 'nope'"):
        entities(["region"], [("a",)], "nope", 10)


def test_api_refuses_expand_from_over_another_projects_table_naming_the_field(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance, hook: Hook
) -> None:
    assert apply_yaml(DOCUMENTS) == 0
    body = {
        "name": "snooping",
        "trigger": {"cron": "0 * * * *", "expand_from": {"sql": "select region from dim_regions"}},
        "steps": [{"kind": "run_python", "recipe": "score_inventory"}],
    }
    with rest_api() as api:
        refused = api.call("POST", "/api/scheduler/scenarios", project="acme-sales", json=body)
        own = api.call("POST", "/api/scheduler/scenarios", project="acme-ops", json=body)
        late = api.call(
            "PATCH",
            f"/api/scheduler/scenarios/{own.json()['id']}",
            project="acme-ops",
            json={"sla": {"finish_within_seconds": 600, "notify": {"webhook_env": "HONEYFRAME_SECRET_NOT_GRANTED"}}},
        )
    assert refused.status_code == 422
    assert ["body", "trigger", "expand_from", "sql"] in [error["loc"] for error in refused.json()["detail"]]
    assert own.status_code == 201 and own.json()["trigger"]["expand_from"]["sql"] == "select region from dim_regions"
    assert late.status_code == 422
    assert ["body", "sla", "notify", "webhook_env"] in [error["loc"] for error in late.json()["detail"]]


def test_entity_placeholders_are_validated_with_a_sample_and_kept() -> None:
    from pydantic import ValidationError

    from honeyframe_dagster.model.documents import Scenario

    def scenario(step: dict[str, Any]) -> Scenario:
        trigger = {"cron": "0 2 * * *", "expand_from": {"sql": "select region from dim_regions"}}
        return Scenario.model_validate({"project": "p", "name": "x", "trigger": trigger, "steps": [step]})

    report = {"kind": "send_email_report", "dashboard_ids": [], "subject": "For {{ entity.region }}"}
    kept = scenario({**report, "recipients": ["{{ entity.manager_email }}"]}).steps[0]
    assert kept.model_dump(mode="json")["recipients"] == ["{{ entity.manager_email }}"] and kept.has_entity
    with pytest.raises(ValidationError, match="invalid e-mail address 'oops'"):
        scenario({**report, "recipients": ["{{ entity.manager_email }}", "oops"]})
    with pytest.raises(ValidationError, match="run_if takes no"):
        scenario({**report, "recipients": ["a@b.example"], "run_if": "{{ entity.when }}"})
