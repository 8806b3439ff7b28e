"""Issue 16 through the public contract: ticks decided by their own time (the same runs with the code location in
the daemon's process or in its own, as in production), an edit that never loses a due instant, `catchup: none`
with a misfire grace, and runs that carry the version they were launched with."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from dagster import DagsterInstance
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget, ModuleTarget

from honeyframe_dagster.settings import REPO_ROOT
from tests.conftest import PROJECTS_YAML, ApplyYaml
from tests.scheduling.harness import evaluate
from tests.test_scheduling_contract import (
    LOCATION,
    apply_at,
    at,
    fired,
    runs_of,
    scenario,
)

MINUTE, HOUR = dt.timedelta(minutes=1), dt.timedelta(hours=1)
CREATED = at("2026-12-01T09:57:33Z")


@contextmanager
def daemon(instance: DagsterInstance, in_process: bool) -> Iterator[Any]:
    """The daemon's view of the real code location: in its process, or in a gRPC server of its own (Dagster's
    ModuleTarget, a subprocess that sees the real clock, not the test's frozen one)."""
    if in_process:
        sys.modules.pop("honeyframe_dagster.definitions", None)
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name="honeyframe_dagster.definitions", attribute="defs"),
            location_name=LOCATION,
        )
        target: Any = InProcessWorkspaceLoadTarget(origin)
    else:
        target = ModuleTarget(
            module_name="honeyframe_dagster.definitions",
            attribute="defs",
            working_directory=str(REPO_ROOT),
            location_name=LOCATION,
        )
    with create_test_daemon_workspace_context(target, instance) as workspace:
        entry = workspace.create_request_context().get_code_location_entries()[LOCATION]
        assert entry.code_location is not None, entry.load_error
        yield workspace


OUTAGE_DOCS = PROJECTS_YAML + "".join(
    scenario(f"hourly-{catchup}", f"{{cron: '0 * * * *', catchup: {catchup}, overlap: allow}}")
    + scenario(f"every-{catchup}", f"{{interval_seconds: 90, catchup: {catchup}, overlap: allow}}")
    for catchup in ("none", "latest", "all")
)


UP_UNTIL = at("2026-12-01T10:04:33Z")
BACK_AT = at("2026-12-01T13:00:20Z")


def simulate(apply_yaml: ApplyYaml, instance: DagsterInstance, in_process: bool) -> dict[str, list[dt.datetime]]:
    """A pass a minute until 10:04:33, a daemon outage, then two passes from 13:00:20: what each trigger fired."""
    apply_at(apply_yaml, CREATED, OUTAGE_DOCS)
    with daemon(instance, in_process) as workspace:
        now = CREATED + MINUTE
        while now <= UP_UNTIL:
            evaluate(workspace, now)
            now += MINUTE
        evaluate(workspace, BACK_AT)
        evaluate(workspace, BACK_AT + dt.timedelta(seconds=30))
    names = [f"{kind}-{c}" for kind in ("hourly", "every") for c in ("none", "latest", "all")]
    return {name: fired(instance, f"acme_ops__{name.replace('-', '_')}") for name in names}


def grid(after: dt.datetime, until: dt.datetime, seconds: int = 90) -> list[dt.datetime]:
    """The instants of an interval trigger (counted from the Unix epoch) in (after, until]."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    first = int((after - epoch).total_seconds()) // seconds + 1
    last = int((until - epoch).total_seconds()) // seconds
    return [epoch + dt.timedelta(seconds=k * seconds) for k in range(first, last + 1)]


@pytest.fixture(params=[True, False], ids=["in-process", "own-process"])
def in_process(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_the_same_ticks_give_the_same_runs_in_the_daemons_process_and_in_its_own(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance, in_process: bool
) -> None:
    runs = simulate(apply_yaml, dagster_instance, in_process)
    on_time = [at("2026-12-01T10:00:00Z")]
    # The hourly schedule: on time, then the one late tick Dagster evaluates after the outage (13:00), decided by
    # its scheduled time: its own instant fires; 11:00 and 12:00 are beyond `none`'s grace, `all` runs them.
    assert runs["hourly-none"] == [*on_time, at("2026-12-01T13:00:00Z")]
    assert runs["hourly-latest"] == [*on_time, at("2026-12-01T13:00:00Z")]
    assert runs["hourly-all"] == [*on_time, *(at(f"2026-12-01T{h}:00:00Z") for h in (11, 12, 13))]
    # The 90 s interval is a sensor, decided by the daemon's time of each tick: every instant while up; after the
    # outage `none` runs those within its 300 s grace, `latest` those on time (120 s), `all` 25 per pass.
    up = grid(CREATED, UP_UNTIL)
    missed = grid(UP_UNTIL, BACK_AT)
    assert runs["every-none"] == up + [i for i in missed if i > BACK_AT - dt.timedelta(seconds=300)]
    assert runs["every-latest"] == up + [i for i in missed if i > BACK_AT - dt.timedelta(seconds=120)]
    assert runs["every-all"] == up + missed[:50]


def test_a_live_cron_created_just_before_a_minute_fires_that_minute(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance
) -> None:
    """Created at 09:57:33; the daemon first sees it at 09:58:10, after the 09:58 instant: it fires all the same."""
    apply_at(apply_yaml, CREATED, PROJECTS_YAML + scenario("minutely", "{cron: '* * * * *', overlap: allow}"))
    with daemon(dagster_instance, in_process=True) as workspace:
        for seconds in (37, 70, 100, 130):
            evaluate(workspace, CREATED + dt.timedelta(seconds=seconds))
    assert fired(dagster_instance, "acme_ops__minutely") == [at("2026-12-01T09:58:00Z"), at("2026-12-01T09:59:00Z")]


@pytest.mark.parametrize("trigger", ["{cron: '0 * * * *', overlap: allow}", "{interval_seconds: 90, overlap: allow}"])
def test_an_edit_after_an_instant_before_its_tick_still_fires_it_once(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance, trigger: str
) -> None:
    name = "edited"
    job = "acme_ops__edited"
    apply_at(apply_yaml, CREATED, PROJECTS_YAML + scenario(name, trigger))
    with daemon(dagster_instance, in_process=True) as workspace:
        evaluate(workspace, CREATED + 30 * MINUTE)
        before = fired(dagster_instance, job)
    instant = at("2026-12-01T11:00:00Z") if "cron" in trigger else _next_interval(before, CREATED + 30 * MINUTE)
    # A few seconds after the instant, before the daemon evaluated it: the steps change, the trigger does not.
    edited = scenario(name, trigger).replace("recipe: score_inventory", "recipe: score_inventory, args: {v: 2}")
    apply_at(apply_yaml, instant + dt.timedelta(seconds=4), PROJECTS_YAML + edited)
    with daemon(dagster_instance, in_process=True) as reloaded:
        evaluate(reloaded, instant + dt.timedelta(seconds=20))
        evaluate(reloaded, instant + dt.timedelta(seconds=55))
    runs = [r for r in runs_of(dagster_instance, job) if r.tags["honeyframe/scheduled_for"] == instant.isoformat()]
    assert len(runs) == 1
    # It fires with the new version, whose step config its run carries.
    (run,) = runs
    assert run.tags[".dagster/honeyframe_version"] == "2"
    assert run.run_config["ops"]["step_1_run_python"]["config"]["step"]["args"] == {"v": 2}


def _next_interval(fired_so_far: list[dt.datetime], after: dt.datetime) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    seconds = int((after - epoch).total_seconds()) // 90 * 90 + 90
    return epoch + dt.timedelta(seconds=seconds)


def test_a_change_of_the_trigger_restarts_the_cadence_from_the_edit(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance
) -> None:
    apply_at(apply_yaml, CREATED, PROJECTS_YAML + scenario("moved", "{cron: '0 * * * *'}"))
    # 11:00 passes unevaluated; at 11:00:04 the cron moves to half past: 11:00 belongs to the old cadence.
    apply_at(apply_yaml, at("2026-12-01T11:00:04Z"), PROJECTS_YAML + scenario("moved", "{cron: '0,30 * * * *'}"))
    with daemon(dagster_instance, in_process=True) as workspace:
        evaluate(workspace, at("2026-12-01T11:00:20Z"))
        evaluate(workspace, at("2026-12-01T11:30:20Z"))
    assert fired(dagster_instance, "acme_ops__moved") == [at("2026-12-01T11:30:00Z")]


@pytest.mark.parametrize(("late", "fires"), [(200, True), (400, False)])
def test_catchup_none_fires_an_instant_evaluated_within_its_grace(
    apply_yaml: ApplyYaml, dagster_instance: DagsterInstance, late: int, fires: bool
) -> None:
    """A 90 s interval (a sensor): the daemon's passes stop after 10:00:00, the next one comes `late` seconds
    after the 10:01:30 instant."""
    docs = PROJECTS_YAML + scenario("tight", "{interval_seconds: 90, catchup: none, overlap: allow}")
    apply_at(apply_yaml, at("2026-12-01T09:50:00Z"), docs)
    instant = at("2026-12-01T10:01:30Z")
    with daemon(dagster_instance, in_process=True) as workspace:
        evaluate(workspace, at("2026-12-01T09:59:59Z"))
        evaluate(workspace, at("2026-12-01T10:00:05Z"))
        evaluate(workspace, instant + dt.timedelta(seconds=late))
    assert (instant in fired(dagster_instance, "acme_ops__tight")) is fires


def test_a_shorter_grace_drops_what_the_default_keeps(apply_yaml: ApplyYaml, dagster_instance: DagsterInstance) -> None:
    docs = PROJECTS_YAML + scenario(
        "strict", "{interval_seconds: 90, catchup: none, overlap: allow, misfire_grace_seconds: 60}"
    )
    apply_at(apply_yaml, at("2026-12-01T09:50:00Z"), docs)
    instant = at("2026-12-01T10:01:30Z")
    with daemon(dagster_instance, in_process=True) as workspace:
        evaluate(workspace, at("2026-12-01T10:00:05Z"))
        evaluate(workspace, instant + dt.timedelta(seconds=100))
    assert instant not in fired(dagster_instance, "acme_ops__strict")
