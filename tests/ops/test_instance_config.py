"""dagster.yaml (SQLite) and dagster.postgres.yaml load as real instances with the per-project run queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._core.run_coordinator import QueuedRunCoordinator
from sqlalchemy import create_engine, text

from honeyframe_dagster.services.instance_config import (
    POSTGRES_INSTANCE_YAML,
    SQLITE_INSTANCE_YAML,
    install_instance_yaml,
)
from honeyframe_dagster.settings import get_settings

PROJECT_LIMIT = {"key": "honeyframe/project_id", "value": {"applyLimitPerUniqueValue": True}, "limit": 2}
# One run at a time per scenario whose overlap policy is not `allow` (factory/overlap.py).
SERIAL_LIMIT = {"key": ".dagster/honeyframe_serial", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}


@pytest.fixture
def dagster_pg_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"honeyframe_dagster_{uuid.uuid4().hex[:12]}"
    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    monkeypatch.setenv("HONEYFRAME_DAGSTER_POSTGRES_URL", url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def check_run_queue(instance: DagsterInstance) -> None:
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None and queue.max_concurrent_runs == 10
    assert list(queue.tag_concurrency_limits) == [PROJECT_LIMIT, SERIAL_LIMIT]
    # A queued run is picked up within a second, not Dagster's default 5 s.
    assert instance.run_coordinator.dequeue_interval_seconds == 1


def test_sqlite_default(hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HONEYFRAME_DAGSTER_POSTGRES_URL", raising=False)
    home = hf_home / "dagster_home"
    installed = install_instance_yaml(get_settings(), home)
    assert installed.read_text() == SQLITE_INSTANCE_YAML.read_text()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:
        check_run_queue(instance)
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"


def test_postgres_storage_when_its_url_is_set(
    hf_home: Path, dagster_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = hf_home / "dagster_home"
    assert install_instance_yaml(get_settings(), home).read_text() == POSTGRES_INSTANCE_YAML.read_text()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:
        check_run_queue(instance)
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert instance.get_runs() == []
