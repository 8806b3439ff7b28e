"""Plain notices (no dashboards): what failed in a run (a `send_email_report` step under `run_if: failure`) and a
scenario's late instant (its `sla`). Error texts arrive with secrets masked (steps/run_if.py)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from honeyframe_dagster.settings import get_settings


def dagster_run_url(run_id: str) -> str | None:
    """The run in Dagster's UI: HONEYFRAME_DAGSTER_URL + /runs/<id> (None when that setting is "")."""
    base = get_settings().dagster_webserver_url
    return f"{base}/runs/{run_id}" if base else None


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str
    html: str


def _notice(subject: str, lines: Sequence[str]) -> Notice:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines[1:])
    body = f"<p>{html.escape(lines[0])}</p><ul>{items}</ul>"
    return Notice(subject, "\n".join([lines[0], "", *(f"- {line}" for line in lines[1:])]) + "\n", body)


def failure_notice(
    project: str, scenario: str, run_id: str, failures: Sequence[Mapping[str, str]], subject: str | None = None
) -> Notice:
    """What failed in a run: the scenario, the run (and its link) and each failed step with its error summary."""
    url = dagster_run_url(run_id)
    lines = [
        f"Scenario '{scenario}' of {project}: run {run_id} failed.",
        *(f"{f['step']}: {f['error']}" for f in failures),
        f"Run: {url or run_id}",
    ]
    return _notice(subject or f"{project}: scenario '{scenario}' failed", lines)


def sla_notice(project: str, scenario: str, instant: str, within: int, state: str, recovered: bool) -> Notice:
    """A late instant (or, `recovered`, its late success)."""
    if recovered:
        lines = [f"Scenario '{scenario}' of {project}: the run for {instant} succeeded late (recovered).", state]
        return _notice(f"{project}: scenario '{scenario}' recovered ({instant})", lines)
    lines = [
        f"Scenario '{scenario}' of {project}: the run for {instant} had not succeeded {within} s after it "
        "(sla.finish_within_seconds).",
        f"Its run: {state}",
    ]
    return _notice(f"{project}: scenario '{scenario}' missed its SLA ({instant})", lines)


__all__ = ["Notice", "dagster_run_url", "failure_notice", "sla_notice"]
