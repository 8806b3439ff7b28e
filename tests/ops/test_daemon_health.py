"""The real Dagster daemon heartbeats; stopping it turns health dead within the window, restarting revives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from honeyframe_dagster.services.instance_config import install_instance_yaml
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import SchedulerWorkerRow
from tests.ops.conftest import REPO_ROOT

HEARTBEAT_SECONDS = 2
WINDOW_SECONDS = 10.0


def dagster_bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.fixture
def daemon_env(store_url: str, hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("HONEYFRAME_HEARTBEAT_SECONDS", str(HEARTBEAT_SECONDS))
    dagster_home = hf_home / "dagster_home"
    install_instance_yaml(get_settings(), dagster_home)
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    # Migrate the fresh instance first: a daemon starting on an unmigrated SQLite home races on the schema.
    subprocess.run([dagster_bin("dagster"), "instance", "migrate"], env=env, check=True, capture_output=True)
    return env


@pytest.fixture
def start_daemon(daemon_env: dict[str, str], hf_home: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = (hf_home / f"daemon-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [dagster_bin("dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
            cwd=REPO_ROOT,
            env=daemon_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops its code server too
        )
        started.append(process)
        return process

    yield start
    for process in started:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(status: int, timeout: float, client: TestClient) -> float:
    """Seconds until the API's health endpoint answers `status`; fails after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        response = client.get("/api/pipeline/scheduler/health")
        if response.status_code == status:
            assert response.json()["alive"] is (status == 200)
            return time.monotonic() - start
        time.sleep(0.5)
    pytest.fail(f"health did not answer {status} within {timeout}s")


# The daemon on the SQLite default (where a locked store is likeliest); health() runs on both in test_heartbeat.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_health_follows_the_daemon(
    start_daemon: Callable[[], subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HONEYFRAME_HEALTH_WINDOW_SECONDS", str(WINDOW_SECONDS))
    from api.main import app

    with TestClient(app) as client:
        assert client.get("/api/pipeline/scheduler/health").status_code == 503
        daemon = start_daemon()
        wait_for(200, 180, client)
        with Session(get_engine(get_settings().store_url)) as session:
            workers = session.scalars(select(SchedulerWorkerRow.worker_id)).all()
        # <host>/<code location>: the heartbeat sensor lives in the warehouse location, one per deployment.
        assert [w.rsplit("/", 1)[1] for w in workers] == ["warehouse"]
        stop(daemon)
        # Dead within the window (plus one poll): nothing else keeps beating for a stopped daemon.
        assert wait_for(503, WINDOW_SECONDS + 5, client) <= WINDOW_SECONDS + 1
        start_daemon()
        wait_for(200, 180, client)
