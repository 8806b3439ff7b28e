"""Scheduler heartbeat (a sensor the Dagster daemon evaluates) and the health it gives."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, DefaultSensorStatus, build_sensor_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from honeyframe_dagster.boot import boot
from honeyframe_dagster.model.tags import SCENARIO_TAG
from honeyframe_dagster.services import heartbeat
from honeyframe_dagster.services.heartbeat import (
    HEARTBEAT_SENSOR,
    health,
    heartbeat_engine,
    scheduler_heartbeat_sensor,
    write_heartbeat,
)
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.tables import SchedulerWorkerRow


def test_health_follows_the_latest_beat_within_the_window(store_url: str, instance: DagsterInstance) -> None:
    engine = boot(get_settings())
    assert health(engine, 90) == (False, None)
    # A scenario run in progress is what the worker reports as its current scenario.
    instance.add_run(DagsterRun(job_name="acme_ops__x", status=DagsterRunStatus.STARTED, tags={SCENARIO_TAG: "42"}))
    result = scheduler_heartbeat_sensor(30)(build_sensor_context(instance=instance))
    assert "heartbeat of" in str(result.skip_message)
    with Session(engine) as session:
        row = session.scalars(select(SchedulerWorkerRow)).one()
    assert row.current_scenario_id == 42
    alive, last_seen = health(engine, 90)
    assert alive and last_seen == row.last_seen_at
    assert health(engine, 90, now=last_seen + dt.timedelta(seconds=89)) == (True, last_seen)
    assert health(engine, 90, now=last_seen + dt.timedelta(seconds=91)) == (False, last_seen)
    # A second beat of the same worker updates its row.
    write_heartbeat(engine, row.worker_id, None, logging.getLogger("test"))
    with Session(engine) as session:
        again = session.scalars(select(SchedulerWorkerRow)).one()
    assert again.current_scenario_id is None and again.last_seen_at > last_seen


def test_a_locked_store_is_logged_retried_and_never_raised(
    hf_home: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = get_settings()
    boot(settings)
    monkeypatch.setattr(heartbeat, "RETRY_SECONDS", 0.2)
    engine = heartbeat_engine(settings.store_url)
    log = logging.getLogger("heartbeat-test")
    blocker = engine.raw_connection()
    blocker.cursor().execute("BEGIN IMMEDIATE")  # another writer holds the SQLite lock
    with caplog.at_level(logging.WARNING, logger="heartbeat-test"):
        assert write_heartbeat(engine, "w1", None, log) is None
    assert any("database is locked" in r.message and "retrying" in r.message for r in caplog.records)
    assert any("not written after 3 attempts" in r.message for r in caplog.records)
    # Released while the worker retries: the beat lands on a later attempt.
    caplog.clear()
    threading.Timer(2.5, blocker.rollback).start()
    with caplog.at_level(logging.WARNING, logger="heartbeat-test"):
        assert write_heartbeat(engine, "w1", None, log) is not None
    assert any("database is locked" in r.message for r in caplog.records)
    blocker.close()
    assert health(engine, 90)[0]


def test_the_warehouse_location_carries_the_heartbeat_sensor_at_the_configured_interval(
    hf_home: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from honeyframe_dagster.warehouse_definitions import load_warehouse_definitions

    boot(get_settings())
    monkeypatch.setenv("HONEYFRAME_HEARTBEAT_SECONDS", "5")
    sensor = load_warehouse_definitions().get_sensor_def(HEARTBEAT_SENSOR)
    assert sensor.minimum_interval_seconds == 5
    assert sensor.default_status == DefaultSensorStatus.RUNNING
