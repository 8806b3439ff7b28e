"""Each run shows its config: every step records its step config and the scenario version the run does."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from dagster import DagsterInstance, Definitions

from honeyframe_dagster.settings import EXAMPLES_DIR
from honeyframe_dagster.steps.context import redacted
from tests.conftest import ApplyYaml, granting
from tests.steps.support import as_json, events, log_messages, loopback_server, output_metadata, run_scenario

SECRETS = {
    "HONEYFRAME_SECRET_AGENT_KEY": "sk-agent-s3cret-0123",
    "HONEYFRAME_SECRET_RECIPE_TOKEN": "recipe-s3cret-4567",
}
ARGS_URL = "https://reader:args-s3cret@data.example/export.csv?token=tok-s3cret&day=1"
SECRETS_GRANTED = ("HONEYFRAME_SECRET_AGENT_URL", *SECRETS, "HONEYFRAME_SECRET_HOOK")
SCENARIO = (
    granting("acme-sales", *SECRETS_GRANTED)
    + """
kind: Dataset
id: tickets
project: acme-sales
table: raw_tickets
connector: {{type: file, path: examples/data/tickets.csv}}
---
kind: Agent
id: triage
project: acme-sales
model: triage-model
system_prompt: Label the ticket.
base_url_env: HONEYFRAME_SECRET_AGENT_URL
api_key_env: HONEYFRAME_SECRET_AGENT_KEY
---
kind: Scenario
project: acme-sales
name: every kind
trigger: {{interval_seconds: 3600}}
steps:
  - {{kind: sync_dataset, dataset: tickets}}
  - {{kind: run_recipe, recipe: stg_tickets}}
  - kind: run_python
    recipe: pause
    args: {{seconds: 0, source: "{args_url}"}}
    secrets: [HONEYFRAME_SECRET_RECIPE_TOKEN]
  - kind: run_agent
    agent: triage
    input: select ticket_id, subject from raw_tickets limit 2
    output_table: labels
  - {{kind: notify_webhook, url_env: HONEYFRAME_SECRET_HOOK}}
  - kind: send_email_report
    dashboard_ids: [revenue-overview]
    recipients: [ceo@acme.example]
    retry: {{max_retries: 0}}
"""
)
JOB = "acme_sales__every_kind"
KINDS = ["sync_dataset", "run_recipe", "run_python", "run_agent", "notify_webhook", "send_email_report"]
STEP_KEYS = [f"step_{i}_{kind}" for i, kind in enumerate(KINDS, start=1)]


def agent_and_hook(request: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, str, bytes]:
    if request.path == "/v1/chat/completions":
        return as_json(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": "other"}}]})
    return as_json(200, {"ok": True})


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def test_every_step_kind_records_its_config_and_the_scenario_version(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    secrets: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert apply_yaml((EXAMPLES_DIR / "dashboards.yaml").read_text()) == 0
    with loopback_server(agent_and_hook) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_AGENT_URL", f"{url}/v1")
        monkeypatch.setenv("HONEYFRAME_SECRET_HOOK", f"{url}/hooks/hook-s3cret-path")
        result = run_scenario(apply_yaml, load_defs, instance, SCENARIO.format(args_url=ARGS_URL), JOB)
    assert [e.step_key for e in events(result, "STEP_SUCCESS")] == STEP_KEYS[:5]
    versions = set()
    for key, kind in zip(STEP_KEYS[:5], KINDS, strict=False):
        metadata = output_metadata(result, key)
        assert metadata["step config"]["kind"] == kind
        versions.add(metadata["scenario version"])
    assert versions == {1}  # the scenario's first version, as the run's tag says
    assert result.dagster_run.tags[".dagster/honeyframe_version"] == "1"
    # What the op itself reports is still there, next to the config.
    python = output_metadata(result, "step_3_run_python")
    assert python["recipe"] == "pause" and python["paused seconds"] == 0
    # Secrets appear by name; a URL's credentials typed into the config are masked.
    assert python["step config"]["secrets"] == ["HONEYFRAME_SECRET_RECIPE_TOKEN"]
    assert python["step config"]["args"]["source"] == "https://data.example/export.csv?token=***&day=***"
    assert output_metadata(result, "step_5_notify_webhook")["step config"]["url_env"] == "HONEYFRAME_SECRET_HOOK"
    assert output_metadata(result, "step_4_run_agent")["step config"]["agent"] == "triage"
    # The report step fails (no mart to read): its config is in the run's log all the same.
    assert events(result, "STEP_FAILURE", "step_6_send_email_report")
    logged = log_messages(instance, result.run_id)
    (report_line,) = [m for m in logged if m.startswith("step 6 of scenario")]
    assert '"kind": "send_email_report"' in report_line and '"recipients": ["ceo@acme.example"]' in report_line
    everything = json.dumps([output_metadata(result, key) for key in STEP_KEYS[:5]]) + "\n".join(logged)
    for secret in [*SECRETS.values(), "args-s3cret", "tok-s3cret", "hook-s3cret-path", "reader:"]:
        assert secret not in everything


def test_the_version_changes_with_the_scenario_and_only_then(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
) -> None:
    documents = """
kind: Scenario
project: acme-ops
name: pause
trigger: {interval_seconds: 3600}
steps: [{kind: run_python, recipe: pause, args: {seconds: SECONDS}}]
"""

    def version(seconds: str) -> tuple[int, Any]:
        result = run_scenario(apply_yaml, load_defs, instance, documents.replace("SECONDS", seconds), "acme_ops__pause")
        metadata = output_metadata(result, "step_1_run_python")
        return metadata["scenario version"], metadata["step config"]["args"]

    first = version("0")
    assert first == (1, {"seconds": 0})
    assert version("0") == first  # applied again unchanged: the same version
    assert version("0.1") == (2, {"seconds": 0.1})


def test_urls_anywhere_in_a_config_lose_their_credentials() -> None:
    config = {
        "input": "select * from read_csv('https://u:pw@files.example/a.csv') -- see http://docs.example/x",
        "nested": [{"dsn": "postgresql://app:db-pass@db.example:5432/sales?sslmode=require"}],
        "count": 3,
    }
    assert redacted(config) == {
        "input": "select * from read_csv('https://files.example/a.csv') -- see http://docs.example/x",
        "nested": [{"dsn": "postgresql://db.example:5432/sales?sslmode=***"}],
        "count": 3,
    }


def test_a_config_without_urls_is_shown_as_is() -> None:
    config = {"recipe": "pause", "args": {"seconds": 1, "note": "user@example.com wrote: a://"}, "secrets": []}
    assert redacted(config) == config
