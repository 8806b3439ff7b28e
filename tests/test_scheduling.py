"""Trigger sensors through Dagster's own sensor daemon iteration with a frozen clock: catch-up after an outage,
overlap with a run in progress, one-shot runs across a restart, and toggles that resume the cadence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from dagster import DagsterInstance, DagsterRunStatus, instance_for_test
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.tags import PARTITION_NAME_TAG

from tests.scheduling.harness import (
    PAUSED_QUEUE,
    daemon,
    evaluate,
    remote_sensor,
    runs_of,
    scheduled_for,
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


@pytest.mark.parametrize(("catchup", "expected"), [("none", 0), ("latest", 1), ("all", 5)])
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
                {"key": "honeyframe/serial", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
            ],
        },
    },
    "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"},
}


def hourly(overlap: str, catchup: str = "latest", **extra: object) -> dict:
    trigger = {"interval_seconds": 3600, "overlap": overlap, "catchup": catchup}
    return {"id": 2, "trigger": trigger, "updated_at": CREATED.isoformat(), **extra}


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
        latest = ticks(instance, workspace, "job_hourly_sensor")[0]
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
    assert second.tags["honeyframe/serial"] == "2"
    assert held == DagsterRunStatus.QUEUED and released == DagsterRunStatus.STARTING


def test_overlap_allow_runs_side_by_side(instance: DagsterInstance) -> None:
    with daemon(instance, {"hourly": hourly("allow")}) as workspace:
        first_run_started(instance, workspace)
        evaluate(workspace, HOURLY_AT + dt.timedelta(hours=1, seconds=20))
    runs = runs_of(instance, 2)
    assert len(runs) == 2 and "honeyframe/serial" not in runs[1].tags


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


def test_run_at_fires_once_also_across_a_restart_and_a_re_enable(instance: DagsterInstance) -> None:
    at = dt.datetime(2026, 12, 24, 17, tzinfo=UTC)
    once = {"id": 3, "trigger": {"run_at": "2026-12-24T18:00:00+01:00"}, "updated_at": CREATED.isoformat()}
    with daemon(instance, {"once": once}) as workspace:
        evaluate(workspace, at - MINUTE)
        evaluate(workspace, at + dt.timedelta(seconds=15))
        runs = runs_of(instance, 3)
        set_status(instance, runs[0], DagsterRunStatus.SUCCESS)
    with daemon(instance, {"once": once}) as restarted:  # a new code location and daemon, same instance
        evaluate(restarted, at + MINUTE)
        toggle(instance, restarted, "job_once_sensor", False, at + 2 * MINUTE)
        toggle(instance, restarted, "job_once_sensor", True, at + 3 * MINUTE)
        evaluate(restarted, at + 4 * MINUTE)
        reason = ticks(instance, restarted, "job_once_sensor")[0].tick_data.skip_reason
    assert scheduled_for(runs_of(instance, 3)) == [at]
    assert reason == "no instant left (one-shot trigger)"


def test_run_at_with_a_lost_cursor_is_still_not_repeated(instance: DagsterInstance) -> None:
    """The run key is the instant: even a sensor that forgot its cursor cannot create a second run."""
    at = dt.datetime(2026, 12, 24, 17, tzinfo=UTC)
    once = {"id": 3, "trigger": {"run_at": at.isoformat()}, "updated_at": (at - DAY).isoformat()}
    with daemon(instance, {"once": once}) as workspace:
        evaluate(workspace, at - MINUTE)
        evaluate(workspace, at + dt.timedelta(seconds=15))
        remote = remote_sensor(workspace, "job_once_sensor")
        state = instance.get_instigator_state(remote.get_remote_origin_id(), remote.selector_id)
        instance.update_instigator_state(state.with_data(state.instigator_data._replace(cursor=None)))
        evaluate(workspace, at + MINUTE)
    assert len(runs_of(instance, 3)) == 1


def test_a_stopped_trigger_resumes_its_cadence_without_firing_missed_instants(instance: DagsterInstance) -> None:
    with daemon(instance, {"hourly": hourly("allow", catchup="all")}) as workspace:
        evaluate(workspace, HOURLY_AT - 10 * MINUTE)
        evaluate(workspace, HOURLY_AT + dt.timedelta(seconds=20))
        toggle(instance, workspace, "job_hourly_sensor", False, HOURLY_AT + 5 * MINUTE)
        evaluate(workspace, HOURLY_AT + 3 * dt.timedelta(hours=1))  # stopped: not evaluated
        toggle(instance, workspace, "job_hourly_sensor", True, HOURLY_AT + dt.timedelta(hours=5, minutes=10))
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
