"""Secrets are checked again when a step runs, against the project's grants in the store at that moment: a grant
removed since the scenario, dataset or agent was written fails the step naming the variable, before it is read
(no request carries it). Real jobs, real loopback servers, on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from dagster import DagsterInstance, Definitions
from pytest import MonkeyPatch

from tests.conftest import PROJECTS_YAML, ApplyYaml, granting
from tests.steps.support import as_json, failure_text, log_messages, loopback_server, run_scenario

SALES_TOKEN = "sales-s3cret-token-5521"
DOCUMENTS = """
kind: Agent
id: hook-agent
project: acme-ops
model: m
base_url_env: HONEYFRAME_SECRET_OPS_HOOK
api_key_env: HONEYFRAME_SECRET_SALES_TOKEN
---
kind: Scenario
project: acme-ops
name: grants
trigger: {interval_seconds: 3600}
steps:
  - {kind: notify_webhook, url_env: HONEYFRAME_SECRET_OPS_HOOK}
  - {kind: run_agent, agent: hook-agent, input: 'select 1 as x', output_table: hook_out}
"""
JOB = "acme_ops__grants"


def test_a_revoked_grant_fails_the_step_before_the_secret_is_read(
    store_url: str,
    apply_yaml: ApplyYaml,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    monkeypatch: MonkeyPatch,
) -> None:
    requests: list[str] = []

    def hook(request: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, str, bytes]:
        requests.append(f"{method} {request.path} {request.headers.get('Authorization')}")
        return as_json(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]})

    assert apply_yaml(PROJECTS_YAML) == 0
    granted = granting("acme-ops", "HONEYFRAME_SECRET_OPS_HOOK", "HONEYFRAME_SECRET_SALES_TOKEN")
    with loopback_server(hook) as url:
        monkeypatch.setenv("HONEYFRAME_SECRET_OPS_HOOK", url)
        monkeypatch.setenv("HONEYFRAME_SECRET_SALES_TOKEN", SALES_TOKEN)
        # Granted: both steps reach the server (the webhook, then the agent with the key).
        first = run_scenario(apply_yaml, load_defs, instance, granted + DOCUMENTS, JOB)
        assert first.success, [failure_text(first, key) for key in ("step_1_notify_webhook", "step_2_run_agent")]
        assert len(requests) == 2 and requests[1].endswith(f"Bearer {SALES_TOKEN}")
        requests.clear()
        job = load_defs().get_job_def(JOB)
        # The admin takes the sales token away from acme-ops; the job loaded before still runs.
        assert apply_yaml(granting("acme-ops", "HONEYFRAME_SECRET_OPS_HOOK")) == 0
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        refused = failure_text(result, "step_2_run_agent")
        assert (
            "steps[1].agent: agent 'hook-agent' names api_key_env: HONEYFRAME_SECRET_SALES_TOKEN is not granted to "
            "project 'acme-ops'"
        ) in refused
        # The webhook step's own secret is still granted: it runs; the agent step is refused before any call.
        assert len(requests) == 1 and "Bearer" not in requests[0].split(" ", 2)[2]
        requests.clear()
        # The grant goes entirely: the webhook's own field is named.
        assert apply_yaml(granting("acme-ops")) == 0
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        refused = failure_text(result, "step_1_notify_webhook")
        assert "steps[0].url_env: HONEYFRAME_SECRET_OPS_HOOK is not granted to project 'acme-ops'" in refused
        assert requests == []
    for message in log_messages(instance, result.run_id):
        assert SALES_TOKEN not in message and url not in message
