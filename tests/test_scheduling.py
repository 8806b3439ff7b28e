"""Trigger sensors through Dagster's own sensor daemon iteration with a frozen clock: catch-up after an outage,
overlap with a run in progress, one-shot runs across a restart, and toggles that resume the cadence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from dagster import DagsterInstance, DagsterRunStatus, instance_for_test
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.tags import PARTITION_NAME_TAG

from tests.scheduling.harness import PAUSED_QUEUE, daemon, evaluate, run_every, runs_of, scheduled_for, set_status, ticks

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
