"""Outages: an unreachable store answers 503 with Retry-After and the request id (health: 503, alive false),
logs one line per failure, and the API recovers when the store comes back, without a restart. A HONEYFRAME_HOME
that cannot be written is named in the error, for the CLI and the API."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from honeyframe_dagster.cli import main as honeyframe
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import SchedulerWorkerRow
from tests.api.conftest import Api
from tests.conftest import POSTGRES_ADMIN_URL

BASE = "/api/scheduler/scenarios"
HEALTH = "/api/pipeline/scheduler/health"
CREATE = {"name": "n", "trigger": {"interval_seconds": 600}, "steps": [{"kind": "run_recipe", "recipe": "stg_orders"}]}


def _outage(store_url: str, hf_home: Path, tmp_path: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    """(take the store away, bring it back): Postgres refuses connections; the SQLite file is moved away."""
    engine = get_engine(store_url)
    if store_url.startswith("sqlite"):
        away = tmp_path / "away"
        away.mkdir()

        def stop_sqlite() -> None:
            engine.dispose()  # closes pooled connections (and checkpoints the WAL): new ones must open the file
            for path in hf_home.glob("scheduler.db*"):
                shutil.move(path, away / path.name)

        def start_sqlite() -> None:
            for path in away.iterdir():
                shutil.move(path, hf_home / path.name)

        return stop_sqlite, start_sqlite
    name = engine.url.database
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def stop_postgres() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
            )

    def start_postgres() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()

    return stop_postgres, start_postgres


def test_store_outage_answers_503_and_recovers(
    api: Api, store_url: str, hf_home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Session(get_engine(store_url)) as session, session.begin():
        session.add(SchedulerWorkerRow(worker_id="w", last_seen_at=dt.datetime.now(dt.UTC)))
    assert api.call("GET", BASE).status_code == 200
    assert api.call("GET", HEALTH, token=None, project=None).status_code == 200
    stop, start = _outage(store_url, hf_home, tmp_path)
    # Raising server exceptions: a handler that re-raised (and so logged twice) would fail this client.
    strict = TestClient(api.client.app, raise_server_exceptions=True)
    headers = {"Authorization": f"Bearer {api.tokens['admin']}", "X-Project-Id": "acme-sales"}
    stop()
    try:
        for method, path, body in [
            ("GET", BASE, None),
            ("POST", BASE, CREATE),
            ("GET", "/api/scheduler/templates", None),
        ]:
            caplog.clear()
            with caplog.at_level(logging.INFO):
                response = strict.request(method, path, headers=headers, json=body)
            assert response.status_code == 503, (method, path, response.text)
            request_id = response.headers["X-Request-ID"]
            assert response.json() == {
                "detail": f"the store is unavailable; retry later (request {request_id})",
                "request_id": request_id,
            }
            assert int(response.headers["Retry-After"]) > 0
            lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(lines) == 1 and request_id in lines[0].getMessage(), [r.getMessage() for r in lines]
            assert "\n" not in lines[0].getMessage() and lines[0].exc_info is None

        caplog.clear()
        with caplog.at_level(logging.INFO):
            health = strict.get(HEALTH)
        assert health.status_code == 503 and health.headers["Retry-After"]
        assert health.json() == {
            "alive": False,
            "last_seen": None,
            "status": "red",
            "detail": "the store is unavailable",
            "request_id": health.headers["X-Request-ID"],
        }
        assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    finally:
        start()

    assert api.call("GET", BASE).status_code == 200
    created = api.call("POST", BASE, json=CREATE)
    assert created.status_code == 201, created.text
    recovered = api.call("GET", HEALTH, token=None, project=None)
    assert recovered.status_code == 200 and recovered.json()["alive"] is True and "detail" not in recovered.json()


def _file_in_the_way(tmp_path: Path) -> Path:
    """A HONEYFRAME_HOME below a regular file: fails for root too (chmod would not stop root)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    return blocker / "home"


def test_unusable_home_is_named_by_the_cli(
    hf_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for home in (_file_in_the_way(tmp_path), tmp_path / "blocker"):
        monkeypatch.setenv("HONEYFRAME_HOME", str(home))
        for argv in (["init"], ["token", "list"], ["token", "create", "--name", "x", "--admin"]):
            capsys.readouterr()
            assert honeyframe(argv) == 2
            err = capsys.readouterr().err
            assert f"HONEYFRAME_HOME={home}: cannot use it as a writable folder" in err, err
            assert "Traceback" not in err


def test_unusable_home_stops_the_api_with_its_path(
    hf_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from api.main import create_app

    home = _file_in_the_way(tmp_path)
    monkeypatch.setenv("HONEYFRAME_HOME", str(home))
    with pytest.raises(OSError, match=f"HONEYFRAME_HOME={home}"), TestClient(create_app()):
        pass
    assert f"cannot start: HONEYFRAME_HOME={home}" in caplog.text
