"""Issue 11 through the public contract only: documents applied with `honeyframe apply`, the real code location
`honeyframe_dagster.definitions:defs` driven by Dagster's own sensor daemon iteration under a frozen clock, and the
REST API reading the same Dagster instance (no servers). Dates are fixed in Dec 2026 and 2026's DST transitions,
whatever the wall clock says: nothing may depend on the frozen clock being ahead of the real one.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter, build_sensor_context
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.sensor import execute_sensor_iteration
from fastapi.testclient import TestClient

from tests.api.conftest import Api, free_port, make_tokens
from tests.conftest import PROJECTS_YAML, ApplyYaml
from tests.scheduling.harness import set_status

UTC = dt.UTC
MINUTE, HOUR, DAY = dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)
SCHEDULED_FOR = "honeyframe/scheduled_for"
LOCATION = "honeyframe"
BASE = "/api/scheduler/scenarios"
STEP = "[{kind: run_python, recipe: score_inventory}]"
# Runs stay QUEUED: nothing executes, and the overlap and cancel logic sees them.
PAUSED_QUEUE = """
telemetry: {enabled: false}
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config: {max_concurrent_runs: 0}
"""


def scenario(name: str, trigger: str, enabled: bool = True, project: str = "acme-ops") -> str:
    return f"""
---
kind: Scenario
project: {project}
name: {name}
enabled: {str(enabled).lower()}
trigger: {trigger}
steps: {STEP}
"""


@pytest.fixture
def dagster_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsterInstance]:
    """DAGSTER_HOME with a paused run queue: the instance the daemon iteration, the API and the CLI share."""
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(PAUSED_QUEUE)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # A webserver URL where nothing listens: reads go to the instance, reloads fail fast and say so.
    monkeypatch.setenv("HONEYFRAME_DAGSTER_URL", f"http://127.0.0.1:{free_port()}")
    instance = DagsterInstance.get()
    yield instance
    instance.dispose()


@contextmanager
def daemon(instance: DagsterInstance) -> Iterator[Any]:
    """The daemon's view of the real code location as the store now holds it (a fresh import: a reload)."""
    sys.modules.pop("honeyframe_dagster.definitions", None)
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="honeyframe_dagster.definitions", attribute="defs"), location_name=LOCATION
    )
    with create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as workspace:
        entry = workspace.create_request_context().get_code_location_entries()[LOCATION]
        assert entry.code_location is not None, entry.load_error
        yield workspace


def evaluate(workspace: Any, now: dt.datetime) -> None:
    with freeze_time(now):
        list(execute_sensor_iteration(workspace, logging.getLogger("test"), None, None))


def runs_of(instance: DagsterInstance, job: str) -> list[DagsterRun]:
    return sorted(instance.get_runs(RunsFilter(job_name=job)), key=lambda r: r.tags.get(SCHEDULED_FOR, ""))


def fired(instance: DagsterInstance, job: str) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(r.tags[SCHEDULED_FOR]) for r in runs_of(instance, job)]


def sensor_ticks(instance: DagsterInstance, workspace: Any, name: str) -> list[Any]:
    repository = next(iter(workspace.create_request_context().get_code_location(LOCATION).get_repositories().values()))
    remote = repository.get_sensor(name)
    return list(instance.get_ticks(remote.get_remote_origin_id(), remote.selector_id))


@contextmanager
def rest_api() -> Iterator[Api]:
    from api.main import create_app
    from honeyframe_dagster.settings import get_settings

    tokens = make_tokens(get_settings())
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield Api(client, tokens)


def by_name(api: Api, project: str = "acme-ops") -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in api.call("GET", BASE, project=project).json()["items"]}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


NIGHTLY = "{cron: '0 2 * * *'}"


def retrying(retry: str) -> str:
    return f"[{{kind: run_python, recipe: x, retry: {retry}}}]"


# --- the documents: every new field refused with its name when wrong ------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "steps", "named"),
    [
        ("{cron: '0 2 * * *', catchup: sometimes}", STEP, "trigger.catchup"),
        ("{interval_seconds: 3600, catchup: ALL}", STEP, "trigger.catchup"),
        ("{run_at: '2099-01-01T00:00:00Z', catchup: []}", STEP, "trigger.catchup"),
        ("{cron: '0 2 * * *', overlap: wait}", STEP, "trigger.overlap"),
        ("{upstream: {scenario: base}, overlap: cancel}", STEP, "trigger.overlap"),
        ("{run_at: '2099-01-01T00:00:00Z', overlap: null}", STEP, "trigger.overlap"),
        ("{interval_seconds: 3600, start_at: '2026-01-01T00:15:00'}", STEP, "trigger.start_at"),
        ("{cron: '0 2 * * *', start_at: '2026-01-01T00:15:00Z'}", STEP, "trigger.start_at"),
        ("{run_at: '2099-01-01T00:00:00Z', start_at: '2026-01-01T00:15:00Z'}", STEP, "trigger.start_at"),
        ("{run_at: '2020-12-24T18:00:00+01:00'}", STEP, "trigger.run_at"),
        ("{run_at: '2099-12-24T18:00:00'}", STEP, "trigger.run_at"),
        ("{run_at: '2099-12-24T18:00:00Z', interval_seconds: 3600}", STEP, "run_at"),
        (NIGHTLY, retrying("{max_retries: 11}"), "steps[0].retry.max_retries"),
        (NIGHTLY, retrying("{max_retries: -1}"), "steps[0].retry.max_retries"),
        (NIGHTLY, retrying("{max_retries: true}"), "steps[0].retry.max_retries"),
        (NIGHTLY, retrying("{max_retries: '3'}"), "steps[0].retry.max_retries"),
        (NIGHTLY, retrying("{delay_seconds: 0}"), "steps[0].retry.delay_seconds"),
        (NIGHTLY, "[{kind: run_python, recipe: x}, " + retrying("{delay_seconds: 3601}")[1:], "steps[1].retry.delay_seconds"),
        (NIGHTLY, retrying("{backoff: random}"), "steps[0].retry.backoff"),
        (NIGHTLY, retrying("{jitter: 'yes'}"), "steps[0].retry.jitter"),
        (NIGHTLY, retrying("{retries: 2}"), "steps[0].retry.retries"),
    ],
)
def test_apply_refuses_each_bad_field_by_name_and_writes_nothing(
    apply_yaml: ApplyYaml, projects: None, capsys: pytest.CaptureFixture[str], trigger: str, steps: str, named: str
) -> None:
    base = scenario("base", "{cron: '0 1 * * *'}")
    document = base + f"\n---\nkind: Scenario\nproject: acme-ops\nname: bad\ntrigger: {trigger}\nsteps: {steps}\n"
    capsys.readouterr()
    assert apply_yaml(document) != 0
    error = capsys.readouterr().err
    assert named in error and "nothing was applied" in error, error
    assert apply_yaml(base) == 0 and "applied 1" in capsys.readouterr().out  # base was not written before


def test_api_answers_422_naming_the_field(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply_yaml(PROJECTS_YAML) == 0
    recipe = {"kind": "run_python", "recipe": "score_inventory"}
    cases: list[tuple[dict[str, Any], list[dict[str, Any]], list[Any]]] = [
        ({"cron": "0 2 * * *", "catchup": "sometimes"}, [recipe], ["trigger", "catchup"]),
        ({"interval_seconds": 900, "overlap": "later"}, [recipe], ["trigger", "overlap"]),
        ({"interval_seconds": 900, "start_at": "2026-01-01T00:00:00"}, [recipe], ["trigger", "start_at"]),
        ({"cron": "0 2 * * *", "start_at": "2026-01-01T00:00:00Z"}, [recipe], ["trigger", "start_at"]),
        ({"run_at": "2020-01-01T00:00:00Z"}, [recipe], ["trigger", "run_at"]),
        ({"cron": "0 2 * * *"}, [{**recipe, "retry": {"max_retries": 11}}], ["steps", 0, "retry", "max_retries"]),
        ({"cron": "0 2 * * *"}, [{**recipe, "retry": {"delay_seconds": 0.5}}], ["steps", 0, "retry", "delay_seconds"]),
        ({"cron": "0 2 * * *"}, [{**recipe, "retry": {"backoff": "random"}}], ["steps", 0, "retry", "backoff"]),
        ({"cron": "0 2 * * *"}, [{**recipe, "retry": {"jitter": "maybe"}}], ["steps", 0, "retry", "jitter"]),
    ]
    with rest_api() as api:
        for trigger, steps, loc in cases:
            response = api.call("POST", BASE, json={"name": "bad", "trigger": trigger, "steps": steps})
            assert response.status_code == 422, (trigger, steps, response.text)
            locs = [item["loc"][1:] for item in response.json()["detail"]]
            assert loc in locs, (trigger, steps, response.json())
        assert by_name(api, "acme-sales") == {}  # nothing half-written
        good = api.call("POST", BASE, json={"name": "ok", "trigger": {"cron": "0 2 * * *"}, "steps": [recipe]})
        assert good.status_code == 201, good.text
        patched = api.call("PATCH", f"{BASE}/{good.json()['id']}", json={"trigger": {"run_at": "2001-01-01T00:00Z"}})
        assert patched.status_code == 422
        assert ["body", "trigger", "run_at"] in [item["loc"] for item in patched.json()["detail"]]
