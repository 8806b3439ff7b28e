"""`notify_webhook`: POST a summary of the run so far to a webhook whose URL a HONEYFRAME_SECRET_* variable holds.

The summary names the scenario, the project, the run (with its Dagster UI link) and every step that has
reported an outcome so far, read from the run's own event log. `format: slack` wraps the same facts in a
Slack-compatible message (`text` plus `blocks`). The URL is a secret (a Slack webhook's path is its key): it is
never logged, never put in metadata and never quoted in an error; its host must pass the connector policy.
"""

from typing import Any

from dagster import DagsterEventType, DagsterInstance, Failure, OpExecutionContext, Output

from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.net_policy import EgressRefused, check_url
from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.context import current_step, step_op
from honeyframe_dagster.steps.entry import StepOp
from honeyframe_dagster.steps.notify_webhook.model import NotifyWebhookStep
from honeyframe_dagster.steps.run_if import recorded

_OUTCOMES = {
    DagsterEventType.STEP_START: "running",
    DagsterEventType.STEP_UP_FOR_RETRY: "retrying",
    DagsterEventType.STEP_RESTARTED: "running",
    DagsterEventType.STEP_SUCCESS: "success",
    DagsterEventType.STEP_FAILURE: "failure",
    DagsterEventType.STEP_SKIPPED: "skipped",
}
_ICONS = {"success": ":white_check_mark:", "failure": ":x:", "skipped": ":fast_forward:"}


def step_outcomes(instance: DagsterInstance, run_id: str, exclude: str) -> list[dict[str, str]]:
    """Each step of the run that has started (but `exclude`, this one), with its latest status, in start order."""
    outcomes: dict[str, str] = {}
    records = instance.get_records_for_run(run_id, of_type=set(_OUTCOMES)).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.step_key and event.step_key != exclude:
            outcomes[event.step_key] = _OUTCOMES[event.event_type]
    # In a run with run_if steps a failed step records its failure and its op succeeds (steps/run_if.py).
    for step, (outcome, _) in recorded(instance, run_id).items():
        if step in outcomes and step != exclude:
            outcomes[step] = {"failure": "failure", "not run": "skipped"}.get(outcome, outcomes[step])
    return [{"step": step, "status": status} for step, status in outcomes.items()]


def run_url(run_id: str) -> str | None:
    base = get_settings().dagster_webserver_url
    return f"{base}/runs/{run_id}" if base else None


def summary(
    spec: ScenarioSpec, run_id: str, steps: list[dict[str, str]], failures: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """The payload; `failures` (the failed steps with their error summary, secrets masked: steps/run_if.py) is
    added as `failed` when a step failed."""
    failed = any(s["status"] == "failure" for s in steps)
    body: dict[str, Any] = {
        "scenario": {"id": spec.id, "name": spec.record.name, "template": spec.template_slug},
        "project": {"id": spec.project.id, "name": spec.project.name},
        "run_id": run_id,
        "run_url": run_url(run_id),
        "status": "failure" if failed else "success",
        "steps": steps,
    }
    if failures:
        body["failed"] = failures
    return body


def _mrkdwn(text: str) -> str:
    """Slack's escaping of user text in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(body: dict[str, Any]) -> dict[str, Any]:
    scenario, project = body["scenario"], body["project"]
    counts = {status: sum(s["status"] == status for s in body["steps"]) for status in ("success", "failure")}
    text = (
        f"Honeyframe: scenario '{scenario['name']}' of {project['name']}, run {body['run_id'][:8]}: "
        f"{counts['success']} step(s) succeeded, {counts['failure']} failed"
    )
    errors = {f["step"]: f["error"] for f in body.get("failed", [])}
    lines = [
        f"{_ICONS.get(s['status'], ':hourglass:')} `{s['step']}` {s['status']}"
        + (f": {_mrkdwn(errors[s['step']])}" if s["step"] in errors else "")
        for s in body["steps"]
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_mrkdwn(text)}*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines) or "_no earlier step_"}},
    ]
    if body["run_url"]:
        link = {"type": "mrkdwn", "text": f"<{body['run_url']}|Open the run in Dagster>"}
        blocks.append({"type": "context", "elements": [link]})
    return {"text": text, "blocks": blocks}


def post(url: str, url_env: str, payload: dict[str, Any]) -> int:
    """POST `payload`; a refusal or an HTTP error fails the step naming `url_env`, never the URL.

    A refused host or a malformed URL is not retried (the step's `retry` would not help); network errors and
    HTTP errors are.
    """
    # imported here: a code location loads this module to build jobs, only a run worker posts
    import httpx

    from honeyframe_dagster.net_clients import guarded_client

    where = f"url_env: the webhook in {url_env}"
    try:
        check_url(url)
        with guarded_client(timeout=get_settings().connector_timeout_seconds, follow_redirects=False) as client:
            response = client.post(url, json=payload)
    except EgressRefused as exc:
        raise Failure(f"{where}: refused, its host {exc.reason}", allow_retries=False) from None
    except (ValueError, httpx.InvalidURL):
        raise Failure(f"{where} is not an http(s) URL", allow_retries=False) from None
    except httpx.HTTPError as exc:
        raise Failure(f"{where}: {type(exc).__name__} (the request did not complete)") from None
    if response.status_code >= 300:
        raise Failure(f"{where} answered HTTP {response.status_code}")
    return response.status_code


@step_op("notify_webhook", "webhook")
def notify_webhook_op(context: OpExecutionContext, scenarios: ScenarioStoreResource) -> Output[None]:
    run = current_step(context, scenarios, NotifyWebhookStep)
    step = run.step
    url = get_settings().secret(step.url_env)
    if not url:
        raise Failure(f"url_env: environment variable {step.url_env} is not set", allow_retries=False)
    steps = step_outcomes(context.instance, context.run_id, context.op_handle.name)
    body = summary(run.scenario, context.run_id, steps, [f.public() for f in run.failures])
    status = post(url, step.url_env, slack_message(body) if step.format == "slack" else body)
    context.log.info(f"notified the webhook in {step.url_env} ({step.format}): {len(steps)} step outcome(s)")
    metadata: dict[str, Any] = {
        "url_env": step.url_env,
        "format": step.format,
        "steps reported": len(steps),
        "HTTP status": status,
    }
    return Output(None, metadata=metadata)


OP = StepOp(notify_webhook_op)
