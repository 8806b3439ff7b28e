"""notify_webhook end to end: a real job posts its run summary to a real HTTP server on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from dagster import DagsterInstance, Definitions

from tests.conftest import ApplyYaml, granting
from tests.steps.support import failure_text, log_messages, loopback_server, output_metadata, run_scenario

SECRET_PATH = "/services/T0001/B0002/s3cr3t-hook-key"
DOCUMENTS = (
    granting("acme-ops", "HONEYFRAME_SECRET_OPS_WEBHOOK")
    + """
kind: Dataset
id: tickets
project: acme-ops
table: raw_tickets
connector: {type: file, path: examples/data/tickets.csv}
---
kind: Scenario
project: acme-ops
name: Nightly <tickets> & alerts
trigger: {interval_seconds: 3600}
steps:
  - {kind: sync_dataset, dataset: tickets}
  - {kind: notify_webhook, url_env: HONEYFRAME_SECRET_OPS_WEBHOOK, format: FORMAT}
"""
)
JOB = "acme_ops__nightly_tickets_alerts"


class Hook:
    """A webhook receiver: records each POST; answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[str, str, Any]] = []

    def __call__(self, request: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, str, bytes]:
        self.received.append((method + " " + request.path, request.headers.get("Content-Type", ""), json.loads(body)))
        return self.status, "text/plain", b"ok"


def _no_secret_anywhere(instance: DagsterInstance, run_id: str, *texts: str) -> None:
    for text in [*texts, *log_messages(instance, run_id)]:
        assert "s3cr3t-hook-key" not in text


def test_json_summary_of_the_run_so_far(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HONEYFRAME_DAGSTER_URL", "http://dagster.test:3000/")
    hook = Hook()
    with loopback_server(hook) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_OPS_WEBHOOK", url + SECRET_PATH)
        result = run_scenario(apply_yaml, load_defs, instance, DOCUMENTS.replace("FORMAT", "json"), JOB)
    assert result.success
    ((request, content_type, body),) = hook.received
    assert request == "POST " + SECRET_PATH and content_type == "application/json"
    assert body["scenario"]["name"] == "Nightly <tickets> & alerts" and isinstance(body["scenario"]["id"], int)
    assert body["project"] == {"id": "acme-ops", "name": "Acme Operations"}
    assert body["run_id"] == result.run_id
    assert body["run_url"] == f"http://dagster.test:3000/runs/{result.run_id}"
    assert body["status"] == "success"
    assert body["steps"] == [{"step": "step_1_sync_dataset", "status": "success"}]
    metadata = output_metadata(result, "step_2_notify_webhook")
    # Besides what every step records (tests/steps/test_step_config.py): its config and the scenario version.
    assert metadata.pop("step config")["url_env"] == "HONEYFRAME_SECRET_OPS_WEBHOOK"
    del metadata["scenario version"]
    assert metadata == {
        "url_env": "HONEYFRAME_SECRET_OPS_WEBHOOK",
        "format": "json",
        "steps reported": 1,
        "HTTP status": 200,
    }
    _no_secret_anywhere(instance, result.run_id)


def test_slack_format_is_a_slack_message(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HONEYFRAME_DAGSTER_URL", "http://dagster.test:3000")
    hook = Hook()
    with loopback_server(hook) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_OPS_WEBHOOK", url + SECRET_PATH)
        result = run_scenario(apply_yaml, load_defs, instance, DOCUMENTS.replace("FORMAT", "slack"), JOB)
    assert result.success
    ((_, _, body),) = hook.received
    assert set(body) == {"text", "blocks"}
    assert "Nightly <tickets> & alerts" in body["text"] and "1 step(s) succeeded, 0 failed" in body["text"]
    header, steps, context = body["blocks"]
    assert header["type"] == "section" and "Nightly &lt;tickets&gt; &amp; alerts" in header["text"]["text"]
    assert steps["text"]["text"] == ":white_check_mark: `step_1_sync_dataset` success"
    assert context == {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": f"<http://dagster.test:3000/runs/{result.run_id}|Open the run in Dagster>"}
        ],
    }


def test_refused_or_failing_webhooks_fail_the_step_without_showing_the_url(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook = Hook(status=500)
    with loopback_server(hook) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_OPS_WEBHOOK", url + SECRET_PATH)
        failing = run_scenario(apply_yaml, load_defs, instance, DOCUMENTS.replace("FORMAT", "json"), JOB)
        assert not failing.success
        text = failure_text(failing, "step_2_notify_webhook")
        assert "the webhook in HONEYFRAME_SECRET_OPS_WEBHOOK answered HTTP 500" in text
        _no_secret_anywhere(instance, failing.run_id, text)
        assert len(hook.received) == 1

        # A host the allowlist does not name is never contacted.
        monkeypatch.setenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS", "hooks.slack.com")
        refused = load_defs().get_job_def(JOB).execute_in_process(instance=instance, raise_on_error=False)
        assert not refused.success
        text = failure_text(refused, "step_2_notify_webhook")
        assert "HONEYFRAME_SECRET_OPS_WEBHOOK: refused, its host is not in HONEYFRAME_CONNECTOR_ALLOWED_HOSTS" in text
        _no_secret_anywhere(instance, refused.run_id, text)
        assert len(hook.received) == 1

    # Without an allowlist, a loopback URL is refused too; so is an unset variable.
    monkeypatch.delenv("HONEYFRAME_CONNECTOR_ALLOWED_HOSTS")
    job = load_defs().get_job_def(JOB)
    refused = job.execute_in_process(instance=instance, raise_on_error=False)
    assert "refused, its host is not a public address" in failure_text(refused, "step_2_notify_webhook")
    monkeypatch.delenv("HONEYFRAME_SECRET_OPS_WEBHOOK")
    unset = job.execute_in_process(instance=instance, raise_on_error=False)
    assert "environment variable HONEYFRAME_SECRET_OPS_WEBHOOK is not set" in failure_text(
        unset, "step_2_notify_webhook"
    )
    assert "s3cr3t-hook-key" not in capsys.readouterr().err
