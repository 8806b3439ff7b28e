"""Trigger sensors through Dagster's own sensor daemon iteration with a frozen clock: catch-up after an outage,
overlap with a run in progress, one-shot runs across a restart, and toggles that resume the cadence."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from dagster import DagsterInstance, DagsterRunStatus, instance_for_test
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.tags import PARTITION_NAME_TAG

from tests.scheduling.harness import (
    LOCATION,
    PAUSED_QUEUE,
    daemon,
    evaluate,
    forget,
    runs_of,
    schedule_pass,
    scheduled_for,
    sensor_pass,
    set_status,
    ticks,
    toggle,
)

UTC = dt.UTC
DAY, MINUTE = dt.timedelta(days=1), dt.timedelta(minutes=1)
CREATED = dt.datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.fixture
def instance(tmp_path) -> Iterator[DagsterInstance]:  # noqa: ANN001
    with instance_for_test(temp_dir=str(tmp_path), overrides=PAUSED_QUEUE) as paused:
        yield paused


def nightly(catchup: str, overlap: str = "allow") -> dict:
    trigger = {"cron": "0 2 * * *", "timezone": "Europe/Berlin", "catchup": catchup, "overlap": overlap}
    return {"id": 1, "trigger": trigger, "timezone": "Europe/Berlin", "updated_at": CREATED.isoformat()}


# A schedule's tick is decided by its scheduled time, however late the daemon evaluates it (the same in the daemon's
# process or another): after an outage Dagster evaluates only the latest missed tick, whose own instant is on time;
# `none` drops the nights before it (days beyond its misfire grace), `latest` too, `all` runs them.
@pytest.mark.parametrize(("catchup", "expected"), [("none", 1), ("latest", 1), ("all", 5)])
def test_a_five_day_outage_under_each_catchup_policy(instance: DagsterInstance, catchup: str, expected: int) -> None:
    with daemon(instance, {"nightly": nightly(catchup)}) as workspace:
        for hour in (1, 12.5, 13, 24):  # a normal day: Dec 1 02:00 Berlin (01:00 UTC) fires
            evaluate(workspace, CREATED + dt.timedelta(hours=hour, seconds=20))
        assert scheduled_for(runs_of(instance, 1)) == [dt.datetime(2026, 12, 1, 1, tzinfo=UTC)]
        # The daemon is down from Dec 1 12:00 to Dec 6 12:30: the nightly instants of Dec 2..6 are missed.
        evaluate(workspace, CREATED + 6 * DAY + 30 * MINUTE)
        after = runs_of(instance, 1)[1:]
    missed = [dt.datetime(2026, 12, d, 1, tzinfo=UTC) for d in range(2, 7)]
    fired = scheduled_for(after)
    print(f"\n5-day outage, catchup={catchup}: {len(fired)} run(s) for {[f.isoformat() for f in fired]}")
    assert len(fired) == expected and fired == missed[len(missed) - expected :]
    assert [r.tags[PARTITION_NAME_TAG] for r in after] == [f"2026-12-0{d}" for d in range(7 - expected, 7)]


HOURLY_AT = dt.datetime(2026, 12, 1, 14, tzinfo=UTC)
SERIAL_QUEUE = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {
            "max_concurrent_runs": 10,
            "tag_concurrency_limits": [
                {"key": ".dagster/honeyframe_serial", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
            ],
        },
    },
    "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"},
}


def hourly(overlap: str, catchup: str = "latest", **extra: object) -> dict:
    trigger = {"interval_seconds": 3600, "overlap": overlap, "catchup": catchup}
    # Enabled when the daemon first sees it (the tests' first evaluation): nothing before is due.
    return {"id": 2, "trigger": trigger, "updated_at": (HOURLY_AT - 10 * MINUTE).isoformat(), **extra}


def first_run_started(instance: DagsterInstance, workspace) -> str:  # noqa: ANN001
    """The 14:00 instant fires; its run starts (as a worker would report)."""
    evaluate(workspace, HOURLY_AT - 10 * MINUTE)
    evaluate(workspace, HOURLY_AT + dt.timedelta(seconds=20))
    [first] = runs_of(instance, 2)
    set_status(instance, first, DagsterRunStatus.STARTED)
    return first.run_id


def test_overlap_skip_records_the_run_in_the_tick_and_drops_the_instant(instance: DagsterInstance) -> None:
    with daemon(instance, {"hourly": hourly("skip")}) as workspace:
        running = first_run_started(instance, workspace)
        evaluate(workspace, HOURLY_AT + dt.timedelta(hours=1, seconds=20))
        latest = ticks(instance, workspace, "job_hourly_schedule")[0]
    assert [r.run_id for r in runs_of(instance, 2)] == [running]
    assert latest.status == TickStatus.SKIPPED
    assert running in latest.tick_data.skip_reason and "overlap: skip" in latest.tick_data.skip_reason
    print(f"\noverlap skip: tick reason = {latest.tick_data.skip_reason!r}")


def test_overlap_queue_holds_the_new_run_until_the_previous_ends(tmp_path) -> None:  # noqa: ANN001
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    with (
        instance_for_test(temp_dir=str(tmp_path), overrides=SERIAL_QUEUE) as instance,
        daemon(instance, {"hourly": hourly("queue")}) as workspace,
    ):
        queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
        evaluate(workspace, HOURLY_AT - 10 * MINUTE)
        evaluate(workspace, HOURLY_AT + dt.timedelta(seconds=20))
        list(queue.run_iteration(workspace))
        [first] = runs_of(instance, 2)
        assert instance.get_run_by_id(first.run_id).status == DagsterRunStatus.STARTING
        set_status(instance, first, DagsterRunStatus.STARTED)
        evaluate(workspace, HOURLY_AT + dt.timedelta(hours=1, seconds=20))
        list(queue.run_iteration(workspace))
        second = runs_of(instance, 2)[1]
        held = instance.get_run_by_id(second.run_id).status
        set_status(instance, first, DagsterRunStatus.SUCCESS)
        list(queue.run_iteration(workspace))
        released = instance.get_run_by_id(second.run_id).status
    print(f"\noverlap queue: second run {held.value} while the first runs, then {released.value}")
    assert second.tags[".dagster/honeyframe_serial"] == "2"
    assert held == DagsterRunStatus.QUEUED and released == DagsterRunStatus.STARTING


RUN_TAGS_QUERY = "query($runId: ID!) { runOrError(runId: $runId) { ... on Run { tags { key value } } } }"


def test_a_runs_row_in_dagster_shows_its_ids_and_hides_the_machinery_tags(instance: DagsterInstance) -> None:
    from dagster_graphql.test.utils import execute_dagster_graphql

    with daemon(instance, {"hourly": hourly("queue", version=3)}) as workspace:
        evaluate(workspace, HOURLY_AT - 10 * MINUTE)
        evaluate(workspace, HOURLY_AT + dt.timedelta(seconds=20))
        [run] = runs_of(instance, 2)
        result = execute_dagster_graphql(workspace.create_request_context(), RUN_TAGS_QUERY, {"runId": run.run_id})
    shown = {tag["key"]: tag["value"] for tag in result.data["runOrError"]["tags"]}
    ours = {key: value for key, value in shown.items() if key.startswith("honeyframe/")}
    assert ours == {
        "honeyframe/scenario_id": "2",
        "honeyframe/project_id": "acme-sales",
        "honeyframe/scheduled_for": HOURLY_AT.isoformat(),
    }
    # The queue's serial key and the version are on the run, for the machinery that reads them.
    assert run.tags[".dagster/honeyframe_serial"] == "2" and run.tags[".dagster/honeyframe_version"] == "3"


def test_overlap_allow_runs_side_by_side(instance: DagsterInstance) -> None:
    with daemon(instance, {"hourly": hourly("allow")}) as workspace:
        first_run_started(instance, workspace)
        evaluate(workspace, HOURLY_AT + dt.timedelta(hours=1, seconds=20))
    runs = runs_of(instance, 2)
    assert len(runs) == 2 and ".dagster/honeyframe_serial" not in runs[1].tags


def test_overlap_cancel_previous_terminates_the_running_one_and_starts_the_new(instance: DagsterInstance) -> None:
    with daemon(instance, {"hourly": hourly("cancel_previous")}) as workspace:
        running = first_run_started(instance, workspace)
        evaluate(workspace, HOURLY_AT + dt.timedelta(hours=1, seconds=20))
    old, new = runs_of(instance, 2)
    assert old.run_id == running
    # The launcher was asked to terminate it (CANCELING; the worker then reports CANCELED).
    assert instance.get_run_by_id(running).status in (DagsterRunStatus.CANCELING, DagsterRunStatus.CANCELED)
    assert new.status == DagsterRunStatus.QUEUED and new.tags["honeyframe/scheduled_for"].startswith("2026-12-01T15")


def test_catchup_all_runs_at_most_25_per_evaluation_oldest_first(instance: DagsterInstance) -> None:
    with daemon(instance, {"hourly": hourly("allow", catchup="all")}) as workspace:
        evaluate(workspace, HOURLY_AT - 10 * MINUTE)
        evaluate(workspace, HOURLY_AT + 2 * DAY + 30 * MINUTE)  # 48 missed hourly instants
        first = scheduled_for(runs_of(instance, 2))
        evaluate(workspace, HOURLY_AT + 2 * DAY + 31 * MINUTE)
        both = scheduled_for(runs_of(instance, 2))
    expected = [HOURLY_AT + dt.timedelta(hours=k) for k in range(49)]
    print(f"\ncatchup all after 2 days: {len(first)} runs at the first evaluation, {len(both)} after the second")
    assert first == expected[:25] and both == expected


@pytest.mark.parametrize(
    ("run_at", "kind"),
    [("2026-12-24T18:00:00+01:00", "schedule"), ("2026-12-24T18:00:30+01:00", "sensor")],  # seconds: no cron grid
)
def test_run_at_fires_once_also_across_a_restart_and_a_re_enable(
    instance: DagsterInstance, run_at: str, kind: str
) -> None:
    at = dt.datetime.fromisoformat(run_at).astimezone(UTC)
    once = {"id": 3, "trigger": {"run_at": run_at}, "updated_at": CREATED.isoformat()}
    name = f"job_once_{kind}"
    with daemon(instance, {"once": once}) as workspace:
        evaluate(workspace, at - MINUTE)
        evaluate(workspace, at + dt.timedelta(seconds=15))
        runs = runs_of(instance, 3)
        set_status(instance, runs[0], DagsterRunStatus.SUCCESS)
    with daemon(instance, {"once": once}) as restarted:  # a new code location and daemon, same instance
        evaluate(restarted, at + MINUTE)
        toggle(instance, restarted, name, False, at + 2 * MINUTE)
        toggle(instance, restarted, name, True, at + 3 * MINUTE)
        evaluate(restarted, at + 4 * MINUTE)
        evaluate(restarted, at + dt.timedelta(days=365, seconds=15))  # the schedule's yearly tick of 2027
        latest = ticks(instance, restarted, name)[0]
    assert scheduled_for(runs_of(instance, 3)) == [at]
    if kind == "sensor":
        assert latest.tick_data.skip_reason == "no instant left (one-shot trigger)"
    else:  # a schedule is evaluated at its tick only: the 2027 one says so, and fires nothing
        assert latest.status == TickStatus.SKIPPED
        assert latest.tick_data.skip_reason == "no instant left (one-shot trigger)"


@pytest.mark.parametrize("run_at", ["2026-12-24T17:00:00+00:00", "2026-12-24T17:00:30+00:00"])
def test_run_at_with_a_lost_cursor_is_still_not_repeated(instance: DagsterInstance, run_at: str) -> None:
    """The run key is the instant: even a trigger that forgot what it handled (a sensor's cursor; a schedule's
    ticks and state) cannot create a second run."""
    at = dt.datetime.fromisoformat(run_at)
    once = {"id": 3, "trigger": {"run_at": at.isoformat()}, "updated_at": (at - DAY).isoformat()}
    with daemon(instance, {"once": once}) as workspace:
        evaluate(workspace, at - MINUTE)
        evaluate(workspace, at + dt.timedelta(seconds=15))
        forget(instance, workspace, "job_once_schedule" if at.second == 0 else "job_once_sensor")
        evaluate(workspace, at + MINUTE)
        evaluate(workspace, at + dt.timedelta(days=365, seconds=15))
    assert len(runs_of(instance, 3)) == 1


def test_a_stopped_trigger_resumes_its_cadence_without_firing_missed_instants(instance: DagsterInstance) -> None:
    with daemon(instance, {"hourly": hourly("allow", catchup="all")}) as workspace:
        evaluate(workspace, HOURLY_AT - 10 * MINUTE)
        evaluate(workspace, HOURLY_AT + dt.timedelta(seconds=20))
        toggle(instance, workspace, "job_hourly_schedule", False, HOURLY_AT + 5 * MINUTE)
        evaluate(workspace, HOURLY_AT + 3 * dt.timedelta(hours=1))  # stopped: not evaluated
        toggle(instance, workspace, "job_hourly_schedule", True, HOURLY_AT + dt.timedelta(hours=5, minutes=10))
        evaluate(workspace, HOURLY_AT + dt.timedelta(hours=5, minutes=11))
        evaluate(workspace, HOURLY_AT + dt.timedelta(hours=6, seconds=20))
    # 14:00 before the stop, then 20:00: the first instant after re-enabling; 15:00-19:00 are not replayed.
    assert scheduled_for(runs_of(instance, 2)) == [HOURLY_AT, HOURLY_AT + dt.timedelta(hours=6)]


def test_a_new_trigger_fires_the_first_instant_after_it_was_enabled(instance: DagsterInstance) -> None:
    created = dt.datetime(2026, 12, 1, 13, 49, 7, tzinfo=UTC)
    with daemon(instance, {"hourly": hourly("allow", catchup="all", updated_at=created.isoformat())}) as workspace:
        evaluate(workspace, created + dt.timedelta(seconds=30))
        assert runs_of(instance, 2) == []  # not at once when enabled
        evaluate(workspace, HOURLY_AT + dt.timedelta(seconds=10))
    assert scheduled_for(runs_of(instance, 2)) == [HOURLY_AT]


def test_apply_refuses_a_past_run_at_but_keeps_a_stored_one(apply_yaml, projects, capsys) -> None:  # noqa: ANN001
    from dagster._core.test_utils import freeze_time

    doc = """
    kind: Scenario
    project: acme-sales
    name: once
    trigger: {{run_at: "{at}"}}
    steps: [{{kind: run_python, recipe: score_inventory}}]
    """
    assert apply_yaml(doc.format(at="2020-12-24T18:00:00+01:00")) != 0
    assert "trigger.run_at: '2020-12-24T18:00:00+01:00' is not in the future" in capsys.readouterr().err
    with freeze_time(dt.datetime(2026, 1, 1, tzinfo=UTC)):
        assert apply_yaml(doc.format(at="2026-12-24T18:00:00+01:00")) == 0
    with freeze_time(dt.datetime(2027, 1, 1, tzinfo=UTC)):  # it has fired: the same document applies again, unchanged
        assert apply_yaml(doc.format(at="2026-12-24T18:00:00+01:00")) == 0


# --- schedules: time triggers on a cron grid cost nothing between their instants --------------------------------


@pytest.mark.parametrize(("catchup", "expected"), [("none", 1), ("latest", 1), ("all", 5)])
def test_a_five_day_outage_of_a_nightly_schedule_fires_from_its_one_late_tick(
    instance: DagsterInstance, catchup: str, expected: int
) -> None:
    """Dagster's scheduler evaluates only the latest missed tick of a schedule without a partition set: that one
    tick runs what the catch-up policy says for all five missed nights."""
    with daemon(instance, {"nightly": nightly(catchup)}) as workspace:
        for hour in (1, 12.5, 13, 24):
            evaluate(workspace, CREATED + dt.timedelta(hours=hour, seconds=20))
        evaluate(workspace, CREATED + 6 * DAY + 30 * MINUTE)
        history = ticks(instance, workspace, "job_nightly_schedule")
    latest = history[0]
    missed = [dt.datetime(2026, 12, d, 1, tzinfo=UTC) for d in range(2, 7)]
    after = runs_of(instance, 1)[1:]
    assert latest.timestamp == missed[-1].timestamp()  # the one tick evaluated after the outage
    assert scheduled_for(after) == missed[len(missed) - expected :]
    assert sorted(latest.run_ids) == sorted(r.run_id for r in after)
    # Ticks: Dec 1 02:00 Berlin, then the late one; nothing in between was evaluated.
    assert len(history) == 2


def test_an_interval_without_a_cron_grid_stays_a_sensor_and_fires_on_its_grid(instance: DagsterInstance) -> None:
    start = dt.datetime(2026, 12, 1, 14, 0, 5, tzinfo=UTC)
    # Enabled when the daemon first evaluates it: the cadence starts there.
    every = {"id": 4, "trigger": {"interval_seconds": 90, "overlap": "allow"}, "updated_at": start.isoformat()}
    with daemon(instance, {"every": every}) as workspace:
        repository = next(
            iter(workspace.create_request_context().get_code_location(LOCATION).get_repositories().values())
        )
        assert repository.has_sensor("job_every_sensor") and not repository.get_schedules()
        evaluate(workspace, start)
        for k in range(1, 7):
            evaluate(workspace, start + k * dt.timedelta(seconds=45))
    # Instants k × 90 s from the epoch: 14:00:00, 14:01:30, 14:03:00, 14:04:30 (evaluated up to 14:04:35).
    assert scheduled_for(runs_of(instance, 4)) == [
        dt.datetime(2026, 12, 1, 14, 1, 30, tzinfo=UTC),
        dt.datetime(2026, 12, 1, 14, 3, tzinfo=UTC),
        dt.datetime(2026, 12, 1, 14, 4, 30, tzinfo=UTC),
    ]


def test_a_schedule_hours_from_its_next_instant_costs_no_evaluation(instance: DagsterInstance) -> None:
    """Idle cost: the scheduler daemon computes the next tick from the cron string and never calls the code
    location before it; nothing is evaluated, no tick recorded, over a day of daemon passes a minute apart."""
    from dagster._core.remote_representation.code_location import InProcessCodeLocation

    with (
        daemon(instance, {"nightly": nightly("latest")}) as workspace,
        mock.patch.object(
            InProcessCodeLocation,
            "get_schedule_execution_data",
            autospec=True,
            side_effect=InProcessCodeLocation.get_schedule_execution_data,
        ) as calls,
    ):
        start = dt.datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # the nightly instant was 01:00 UTC
        for minute in range(0, 20 * 60, 7):  # 20 hours of passes, up to 21:23 UTC
            schedule_pass(workspace, start + minute * MINUTE)
        idle = calls.call_count, ticks(instance, workspace, "job_nightly_schedule")
        schedule_pass(workspace, dt.datetime(2026, 12, 2, 1, 0, 30, tzinfo=UTC))
        due = calls.call_count, ticks(instance, workspace, "job_nightly_schedule")
    print(f"\nidle schedule: {idle[0]} evaluations over 172 daemon passes; then {due[0]} at its tick")
    assert idle == (0, [])
    assert due[0] == 1 and [t.status for t in due[1]] == [TickStatus.SUCCESS]


def test_an_instant_skipped_for_overlap_is_not_replayed_as_missed(instance: DagsterInstance) -> None:
    """The schedule's previous tick (SKIPPED for overlap at 15:00) is what it handled: after an outage, catch-up
    `all` runs 16:00 and 17:00, not 15:00 again."""
    with daemon(instance, {"hourly": hourly("skip", catchup="all")}) as workspace:
        first_run_started(instance, workspace)
        evaluate(workspace, HOURLY_AT + dt.timedelta(hours=1, seconds=20))  # 15:00 skipped: 14:00 still runs
        set_status(instance, runs_of(instance, 2)[0], DagsterRunStatus.SUCCESS)
        evaluate(workspace, HOURLY_AT + dt.timedelta(hours=3, minutes=30))  # down 15:01 → 17:30
    assert scheduled_for(runs_of(instance, 2)) == [HOURLY_AT + dt.timedelta(hours=h) for h in (0, 2, 3)]


def test_catch_up_beyond_25_is_not_run_twice_when_the_next_tick_comes_during_the_backlog(
    instance: DagsterInstance,
) -> None:
    """The catch-up sensor drains the backlog 30 s apart; a schedule tick meanwhile leaves it to the sensor."""
    with daemon(instance, {"hourly": hourly("allow", catchup="all")}) as workspace:
        evaluate(workspace, HOURLY_AT - 10 * MINUTE)
        late = HOURLY_AT + 2 * DAY + 59 * MINUTE + dt.timedelta(seconds=50)
        evaluate(workspace, late)  # 25 of the 48 missed
        evaluate(workspace, late + dt.timedelta(seconds=40))  # 15:00 ticks: the sensor runs the rest, up to 15:00
        at_fifteen = ticks(instance, workspace, "job_hourly_schedule")[0]
        evaluate(workspace, late + dt.timedelta(seconds=80))
        evaluate(workspace, late + dt.timedelta(hours=1, seconds=30))  # 16:00: the schedule again
    fired = scheduled_for(runs_of(instance, 2))
    assert at_fifteen.status == TickStatus.SKIPPED and "catching up" in (at_fifteen.tick_data.skip_reason or "")
    assert fired == [HOURLY_AT + dt.timedelta(hours=k) for k in range(51)]


def test_a_backlog_the_catch_up_sensor_abandoned_is_taken_over_by_the_next_tick(instance: DagsterInstance) -> None:
    """The catch-up sensor stopped in the UI: after 5 minutes its backlog is the schedule's again, which runs the
    next 25 at its next tick (never a missed instant dropped, never one run twice)."""
    with daemon(instance, {"hourly": hourly("allow", catchup="all")}) as workspace:
        toggle(instance, workspace, "honeyframe_catchup_sensor", False, HOURLY_AT - 20 * MINUTE)
        evaluate(workspace, HOURLY_AT - 10 * MINUTE)
        evaluate(workspace, HOURLY_AT + 2 * DAY + 30 * MINUTE)  # 25 of the 49 due
        for minute in range(31, 60, 7):
            evaluate(workspace, HOURLY_AT + 2 * DAY + minute * MINUTE)  # nobody drains
        stuck = len(runs_of(instance, 2))
        evaluate(workspace, HOURLY_AT + 2 * DAY + dt.timedelta(hours=1, seconds=20))  # the 15:00 tick
    assert stuck == 25
    assert scheduled_for(runs_of(instance, 2)) == [HOURLY_AT + dt.timedelta(hours=k) for k in range(50)]


class DaemonDied(KeyboardInterrupt):
    """The daemon process killed mid-iteration (Dagster's own crash tests send it a signal): the sensor daemon
    writes nothing more on a KeyboardInterrupt, so its tick stays STARTED and its cursor where it was."""


def dies_at(target: str, call: int) -> Any:
    """`target` (a function of Dagster's daemons) raising DaemonDied at its `call`-th call (1: the first)."""
    module, name = target.rsplit(".", 1)
    original = getattr(importlib.import_module(module), name)
    calls = iter(range(1, 1_000_000))

    def dying(*args: Any, **kwargs: Any) -> Any:
        if next(calls) == call:
            raise DaemonDied(target)
        return original(*args, **kwargs)

    return mock.patch(target, dying)


CATCHUP = "honeyframe_catchup_sensor"
BEHIND = HOURLY_AT + 2 * DAY + 30 * MINUTE  # 49 hourly instants due: 14:00 Dec 1 .. 14:00 Dec 3


@pytest.mark.parametrize(
    ("where", "call"),
    [
        # After its evaluation returned the runs it asks for, before the daemon recorded any of them.
        ("dagster._daemon.sensor._handle_run_requests_and_automation_condition_evaluations", 1),
        # After the tick recorded the requests with the cursor, and the first 10 of 24 runs exist.
        ("dagster._daemon.sensor._submit_run_request", 11),
    ],
    ids=["before-its-runs", "after-10-runs"],
)
def test_a_catch_up_sensor_that_dies_mid_batch_loses_no_instant_and_runs_none_twice(
    instance: DagsterInstance, where: str, call: int
) -> None:
    """The catch-up sensor's progress is its cursor, committed by Dagster with the tick's runs: a sensor daemon
    that dies between an evaluation and its runs asks for the same runs again (or Dagster resumes the tick), and the
    run keys let it create each only once."""
    with daemon(instance, {"hourly": hourly("allow", catchup="all")}) as workspace:
        evaluate(workspace, HOURLY_AT - 10 * MINUTE)
        evaluate(workspace, BEHIND)  # the schedule's tick runs 25, the catch-up sensor takes the backlog over
        assert len(runs_of(instance, 2)) == 25
        with dies_at(where, call), pytest.raises(DaemonDied):
            sensor_pass(workspace, BEHIND + MINUTE)  # the other 24: the daemon dies on the way
        died_with = len(runs_of(instance, 2))
        sensor_pass(workspace, BEHIND + 2 * MINUTE)  # back up
        sensor_pass(workspace, BEHIND + 3 * MINUTE)
        closed = ticks(instance, workspace, CATCHUP)[0]
        evaluate(workspace, HOURLY_AT + 2 * DAY + dt.timedelta(hours=1, seconds=20))  # the 15:00 tick
    fired = scheduled_for(runs_of(instance, 2))
    print(f"\ncatch-up sensor died with {died_with} of 49 runs created; {len(fired)} runs in the end")
    assert died_with == 25 + call - 1
    assert fired == [HOURLY_AT + dt.timedelta(hours=k) for k in range(50)]  # every instant once, 15:00 included
    assert closed.tick_data.skip_reason == "backlogs closed"


@pytest.mark.parametrize("sensor_first", [False, True], ids=["scheduler-back-first", "sensor-back-first"])
def test_a_schedule_that_dies_before_its_catch_up_runs_loses_none(
    instance: DagsterInstance, sensor_first: bool
) -> None:
    """The scheduler dies after its tick handed the backlog over, before the tick's 25 runs exist: the tick is
    evaluated again and runs them, or, when the catch-up sensor took the backlog over first, the sensor does."""
    with daemon(instance, {"hourly": hourly("allow", catchup="all")}) as workspace:
        evaluate(workspace, HOURLY_AT - 10 * MINUTE)
        with dies_at("dagster._scheduler.scheduler._submit_run_request", 1), pytest.raises(DaemonDied):
            schedule_pass(workspace, BEHIND)
        assert runs_of(instance, 2) == []
        if sensor_first:
            sensor_pass(workspace, BEHIND + MINUTE)
        for minute in range(2, 6):
            evaluate(workspace, BEHIND + minute * MINUTE)
        evaluate(workspace, HOURLY_AT + 2 * DAY + dt.timedelta(hours=1, seconds=20))  # the 15:00 tick
    assert scheduled_for(runs_of(instance, 2)) == [HOURLY_AT + dt.timedelta(hours=k) for k in range(50)]
