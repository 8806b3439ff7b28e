"""Drive the factory's triggers through Dagster's own daemon iterations with a frozen clock: each evaluation is
one scheduler iteration (`launch_scheduled_runs`, as Dagster's scheduler tests call it, keeping the daemon's
in-memory iteration times per workspace) then one sensor iteration (`execute_sensor_iteration`), so a test passes
whatever kind (schedule or sensor) a trigger builds.

The code location is in-process and built from `HONEYFRAME_TEST_TRIGGERS` (JSON: name → trigger, enabled,
updated_at) by `tests/scheduling/location.py`; a new `Daemon` is a restart (fresh workspace, same instance).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.sensor import execute_sensor_iteration
from dagster._scheduler.scheduler import launch_scheduled_runs

from honeyframe_dagster.model.tags import SCENARIO_TAG, SCHEDULED_FOR_TAG

LOCATION_FILE = Path(__file__).with_name("location.py")
LOCATION = "triggers_test"
LOG = logging.getLogger("test")
# A paused queue: runs stay QUEUED (docs/design notes), so nothing executes and overlap sees them.
PAUSED_QUEUE = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {"max_concurrent_runs": 0},
    }
}


def scenarios_env(scenarios: Mapping[str, Mapping[str, Any]]) -> str:
    return json.dumps(scenarios, default=str)


@contextmanager
def daemon(instance: DagsterInstance, scenarios: Mapping[str, Mapping[str, Any]]) -> Iterator[Any]:
    """A workspace (the daemon's view of the code location) serving these scenarios."""
    os.environ["HONEYFRAME_TEST_TRIGGERS"] = scenarios_env(scenarios)
    sys.modules.pop(LOCATION_FILE.stem, None)  # Dagster caches a python_file's module by name: build afresh
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(python_file=str(LOCATION_FILE), attribute="defs"), location_name=LOCATION
    )
    with create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as context:
        entry = context.create_request_context().get_code_location_entries().get(LOCATION)
        assert entry is not None and entry.code_location is not None, entry and entry.load_error
        yield context


def iteration_times(workspace: Any) -> dict[str, Any]:
    """The scheduler daemon's in-memory next/last iteration times, kept as long as the workspace (one daemon run)."""
    if not hasattr(workspace, "_honeyframe_iteration_times"):
        workspace._honeyframe_iteration_times = {}
    return workspace._honeyframe_iteration_times  # type: ignore[no-any-return]


def schedule_pass(workspace: Any, now: dt.datetime) -> None:
    """One scheduler daemon iteration at `now`: each running schedule with a tick due is evaluated."""
    with freeze_time(now):
        list(launch_scheduled_runs(workspace, LOG, end_datetime_utc=now, iteration_times=iteration_times(workspace)))


def sensor_pass(workspace: Any, now: dt.datetime) -> None:
    """One sensor daemon iteration at `now`: each running sensor whose minimum interval has passed is evaluated."""
    with freeze_time(now):
        list(execute_sensor_iteration(workspace, LOG, None, None))


def evaluate(workspace: Any, now: dt.datetime) -> None:
    """One pass of the scheduler daemon, then of the sensor daemon, at `now` (each schedule runs if a tick is due,
    each sensor if its minimum interval has passed)."""
    schedule_pass(workspace, now)
    sensor_pass(workspace, now)


def run_every(workspace: Any, start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> None:
    now = start
    while now <= end:
        evaluate(workspace, now)
        now += step


def runs_of(instance: DagsterInstance, scenario_id: int) -> list[DagsterRun]:
    runs = instance.get_runs(RunsFilter(tags={SCENARIO_TAG: str(scenario_id)}))
    return sorted(runs, key=lambda r: r.tags.get(SCHEDULED_FOR_TAG, ""))


def scheduled_for(runs: list[DagsterRun]) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(r.tags[SCHEDULED_FOR_TAG]) for r in runs]


def set_status(instance: DagsterInstance, run: DagsterRun, status: DagsterRunStatus) -> None:
    """Move a run as its worker would (RUN_START or RUN_SUCCESS event): the run storage follows the events."""
    event_type = {
        DagsterRunStatus.STARTED: DagsterEventType.RUN_START,
        DagsterRunStatus.SUCCESS: DagsterEventType.RUN_SUCCESS,
    }
    instance.report_dagster_event(
        DagsterEvent(event_type_value=event_type[status].value, job_name=run.job_name), run_id=run.run_id
    )


def remote_trigger(workspace: Any, name: str) -> Any:
    """The daemon's view of a trigger: a schedule (`…_schedule`) or a sensor."""
    repo = next(iter(workspace.create_request_context().get_code_location(LOCATION).get_repositories().values()))
    return repo.get_schedule(name) if repo.has_schedule(name) else repo.get_sensor(name)


def ticks(instance: DagsterInstance, workspace: Any, name: str) -> list[Any]:
    """The trigger's ticks, newest first."""
    remote = remote_trigger(workspace, name)
    return list(instance.get_ticks(remote.get_remote_origin_id(), remote.selector_id))


def toggle(instance: DagsterInstance, workspace: Any, name: str, running: bool, now: dt.datetime) -> None:
    """What the API's start/stop (GraphQL startSchedule/stopRunningSchedule, startSensor/stopSensor) does to the
    instance, at `now`."""
    remote = remote_trigger(workspace, name)
    schedule = name.endswith("_schedule")
    with freeze_time(now):
        if running:
            instance.start_schedule(remote) if schedule else instance.start_sensor(remote)
        elif schedule:
            instance.stop_schedule(remote.get_remote_origin_id(), remote.selector_id, remote)
        else:
            instance.stop_sensor(remote.get_remote_origin_id(), remote.selector_id, remote)


def forget(instance: DagsterInstance, workspace: Any, name: str) -> None:
    """Lose what the trigger remembers: a sensor's cursor; a schedule's tick history (its state stays: the daemon
    would recreate it at its next iteration anyway)."""
    remote = remote_trigger(workspace, name)
    origin, selector = remote.get_remote_origin_id(), remote.selector_id
    state = instance.get_instigator_state(origin, selector)
    if name.endswith("_schedule"):
        instance.purge_ticks(origin, selector, before=dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp())
    else:
        instance.update_instigator_state(state.with_data(state.instigator_data._replace(cursor=None)))
