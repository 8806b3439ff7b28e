"""`run_if`: in-process runs of a job whose steps run on success, on failure or always (steps/run_if.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from dagster import DagsterInstance, Definitions

from tests.conftest import ApplyYaml, granting
from tests.steps.support import events, log_messages, loopback_server, output_metadata, run_scenario

SECRET_PATH = "/hooks/s3cr3t-run-if-key"
DOCUMENTS = (
    granting("acme-ops", "HONEYFRAME_SECRET_OPS_WEBHOOK")
    + """
kind: Dataset
id: tickets
project: acme-ops
table: raw_tickets
connector: {type: file, path: PATH}
---
kind: Scenario
project: acme-ops
name: guarded
trigger: {interval_seconds: 3600}
steps:
  - {kind: sync_dataset, dataset: tickets, retry: {max_retries: 0}}
  - {kind: notify_webhook, url_env: HONEYFRAME_SECRET_OPS_WEBHOOK}
  - {kind: notify_webhook, url_env: HONEYFRAME_SECRET_OPS_WEBHOOK, run_if: failure}
  - {kind: notify_webhook, url_env: HONEYFRAME_SECRET_OPS_WEBHOOK, format: slack, run_if: always}
"""
)
JOB = "acme_ops__guarded"


class Hook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    def __call__(self, request: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, str, bytes]:
        self.received.append(json.loads(body))
        return 200, "text/plain", b"ok"


def _run(
    path: str,
    apply_yaml: ApplyYaml,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Any, Hook]:
    monkeypatch.setenv("HONEYFRAME_DAGSTER_URL", "http://dagster.test:3000/")
    hook = Hook()
    with loopback_server(hook) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_OPS_WEBHOOK", url + SECRET_PATH)
        result = run_scenario(apply_yaml, load_defs, instance, DOCUMENTS.replace("PATH", path), JOB)
    return result, hook


def test_after_a_failure_the_failure_and_always_steps_run_and_the_run_fails(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result, hook = _run("examples/data/no_such_file.csv", apply_yaml, load_defs, instance, monkeypatch)
    assert not result.success
    assert output_metadata(result, "step_1_sync_dataset")["step outcome"] == "failure"
    assert output_metadata(result, "step_2_notify_webhook")["step outcome"] == "not run"
    assert "step outcome" not in output_metadata(result, "step_3_notify_webhook")
    assert "step outcome" not in output_metadata(result, "step_4_notify_webhook")
    (failed,) = events(result, "STEP_FAILURE", "run_outcome")
    assert "Steps failed: ['step_1_sync_dataset']" in failed.step_failure_data.user_failure_data.description
    # The failure step heard what failed: the scenario, the run and its link, the failed step and its error.
    body, slack = hook.received
    assert body["run_id"] == result.run_id and body["run_url"] == f"http://dagster.test:3000/runs/{result.run_id}"
    assert body["scenario"]["name"] == "guarded" and body["status"] == "failure"
    assert body["steps"] == [
        {"step": "step_1_sync_dataset", "status": "failure"},
        {"step": "step_2_notify_webhook", "status": "skipped"},
    ]
    ((failure,),) = [body["failed"]]
    assert failure["step"] == "step_1_sync_dataset" and "no_such_file" in failure["error"]
    assert "step_1_sync_dataset" in slack["text"] or "failed" in slack["text"]
    for text in [json.dumps(body), json.dumps(slack), *log_messages(instance, result.run_id)]:
        assert "s3cr3t-run-if-key" not in text


def test_without_a_failure_the_failure_step_does_not_run_and_the_run_succeeds(
    apply_yaml: ApplyYaml,
    projects: None,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result, hook = _run("examples/data/tickets.csv", apply_yaml, load_defs, instance, monkeypatch)
    assert result.success
    assert "step outcome" not in output_metadata(result, "step_1_sync_dataset")
    assert output_metadata(result, "step_3_notify_webhook")["step outcome"] == "not run"
    assert [body.get("status", "slack") for body in hook.received] == ["success", "slack"]
    assert "failed" not in hook.received[0]
    assert output_metadata(result, "run_outcome") == {"failed steps": 0}


def test_a_job_without_run_if_is_unchanged(
    apply_yaml: ApplyYaml, projects: None, load_defs: Callable[[], Definitions]
) -> None:
    documents = DOCUMENTS.replace("PATH", "examples/data/tickets.csv").replace(", run_if: failure", "")
    assert apply_yaml(documents.replace(", run_if: always", "")) == 0
    job = load_defs().get_job_def(JOB)
    assert "run_outcome" not in {node.name for node in job.nodes}
    assert ".dagster/honeyframe_run_if" not in job.tags
