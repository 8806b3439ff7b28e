"""The same stack across machines, over loopback addresses: each shard's code server on its own "host" (127.0.0.2,
127.0.0.3, each with its own HONEYFRAME_HOME), webserver + daemon + API on 127.0.0.1, the store and the Dagster
instance on Postgres. A write reloads only its project's location, enable/disable reloads nothing, and a run
executes on the code server of its shard."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from honeyframe_dagster.model.naming import shard_of
from honeyframe_dagster.settings import REPO_ROOT
from tests.api.conftest import BIN, free_port, graphql, wait_for
from tests.conftest import POSTGRES_ADMIN_URL

# crc32 % 2: acme-sales is shard 0, acme-ops shard 1.
PROJECTS = {"acme-sales": 0, "acme-ops": 1}
HOSTS = ["127.0.0.2", "127.0.0.3"]
SEED = "\n---\n".join(
    f"kind: Project\nid: {project}\nname: {project}\nowner_email: ops@acme.example\n---\n"
    f"kind: Scenario\nproject: {project}\nname: pause\ntrigger: {{cron: '0 2 * * *'}}\n"
    "steps: [{kind: run_python, recipe: pause}]"
    for project in PROJECTS
)
LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus updatedTimestamp locationOrLoadError { __typename ... on RepositoryLocation { serverId } } } } } }"""
SCHEDULE = """query($s: ScheduleSelector!) { scheduleOrError(scheduleSelector: $s) {
  __typename ... on Schedule { description scheduleState { status } } } }"""
RUN = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run {
  status repositoryOrigin { repositoryLocationName repositoryLocationMetadata { key value } } } } }"""


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """A fresh Postgres database for the store and one for the Dagster instance."""
    names = [f"honeyframe_test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            f"postgresql+psycopg://postgres@127.0.0.1:5432/{names[0]}",
            f"postgresql://postgres@127.0.0.1:5432/{names[1]}",
        )
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def host_env(root: Path, host: str, databases: tuple[str, str]) -> dict[str, str]:
    """What one machine of the deployment sets: its own home, the shared store and Dagster instance."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HONEYFRAME_", "DAGSTER_"))}
    home = root / host
    env.update(
        HONEYFRAME_HOME=str(home),
        HONEYFRAME_WAREHOUSE=str(home / "warehouse.duckdb"),
        HONEYFRAME_DATABASE_URL=databases[0],
        HONEYFRAME_DAGSTER_POSTGRES_URL=databases[1],
        HONEYFRAME_SMTP_HOST="127.0.0.1",
    )
    return env


def honeyframe(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run([str(BIN / "honeyframe"), *argv], env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def locations(ui: str) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in graphql(ui, LOCATIONS)["workspaceOrError"]["locationEntries"]}


def snapshot(ui: str) -> dict[str, tuple[float, str]]:
    """Each location's load time and server id: both change when, and only when, it reloads."""
    return {
        name: (e["updatedTimestamp"], (e["locationOrLoadError"] or {}).get("serverId"))
        for name, e in locations(ui).items()
    }


def settled(ui: str) -> dict[str, tuple[float, str]]:
    """The snapshot once the webserver is done with a reload: its watch thread also refreshes the reloaded location
    (same server id, a later timestamp) a moment after the reload returns."""
    previous = snapshot(ui)
    for _ in range(30):
        time.sleep(2)
        current = snapshot(ui)
        if current == previous:
            return current
        previous = current
    raise AssertionError(f"the workspace kept changing: {previous}")


def schedule(ui: str, project: str) -> dict[str, Any]:
    """The scenario's trigger schedule (a nightly cron), as the webserver serves it."""
    selector = {
        "repositoryLocationName": f"honeyframe_{PROJECTS[project]}",
        "repositoryName": "__repository__",
        "scheduleName": f"{project.replace('-', '_')}__pause_schedule",
    }
    return graphql(ui, SCHEDULE, {"s": selector})["scheduleOrError"]


def test_code_servers_on_other_hosts_webserver_daemon_and_api_on_one(
    tmp_path: Path, databases: tuple[str, str]
) -> None:
    assert {p: shard_of(p, 2) for p in PROJECTS} == PROJECTS
    ui_env = host_env(tmp_path, "127.0.0.1", databases)
    ports = [free_port() for _ in HOSTS]
    ui_env.update(
        HONEYFRAME_UI_PORT=str(free_port()),
        HONEYFRAME_API_PORT=str(free_port()),
        HONEYFRAME_CODE_SERVERS=",".join(f"{host}:{port}" for host, port in zip(HOSTS, ports, strict=True)),
        # The warehouse location (dbt assets, datasets, heartbeat) runs on the ui host, on this port.
        HONEYFRAME_CODE_SERVER_PORT=str(free_port()),
    )
    honeyframe({**ui_env, "HONEYFRAME_DAGSTER_URL": ""}, "apply", str(_write(tmp_path / "seed.yaml", SEED)))
    assert "not chosen -> 2" in honeyframe(ui_env, "shards", "--set", "2")
    token = honeyframe(ui_env, "token", "create", "--name", "ops", "--admin").strip()

    pieces: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []

    def start(env: dict[str, str], *argv: str) -> None:
        logs.append(tmp_path / f"up-{len(logs)}.txt")
        with logs[-1].open("wb") as out:
            pieces.append(
                subprocess.Popen(
                    [str(BIN / "honeyframe"), "up", *argv], env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
                )
            )

    try:
        for index, (host, port) in enumerate(zip(HOSTS, ports, strict=True)):
            env = host_env(tmp_path, host, databases)
            start(env, "--only", "code-server", "--shard", f"{index}/2", "--host", host, "--port", str(port))
        start(ui_env, "--only", "ui")
        wait_for(lambda: "Ctrl-C stops everything" in logs[-1].read_text() or pieces[-1].poll() is not None, "ui")
        assert pieces[-1].poll() is None, "\n".join(log.read_text() for log in logs)
        for log, host, port in zip(logs[:2], HOSTS, ports, strict=True):
            assert f"is up on {host}:{port}" in log.read_text()
        ui, api = (
            f"http://127.0.0.1:{ui_env['HONEYFRAME_UI_PORT']}",
            f"http://127.0.0.1:{ui_env['HONEYFRAME_API_PORT']}",
        )
        assert {n: e["loadStatus"] for n, e in locations(ui).items()} == {
            "honeyframe_0": "LOADED",
            "honeyframe_1": "LOADED",
            "warehouse": "LOADED",
        }
        workspace = (Path(ui_env["HONEYFRAME_HOME"]) / "workspace.grpc.yaml").read_text()
        assert f"host: 127.0.0.3\n      port: {ports[1]}\n      location_name: honeyframe_1" in workspace

        client = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        ids = {
            project: client.get("/api/scheduler/scenarios", headers={"X-Project-Id": project}).json()["items"][0]["id"]
            for project in PROJECTS
        }

        # A write reloads the location of its project only (a fresh child process of the same code server).
        before = snapshot(ui)
        started = time.monotonic()
        patched = client.patch(
            f"/api/scheduler/scenarios/{ids['acme-sales']}",
            headers={"X-Project-Id": "acme-sales"},
            json={"trigger": {"cron": "0 3 * * *"}},
        )
        print(f"edit-to-live in a 1-scenario shard: {time.monotonic() - started:.2f} s")
        assert patched.status_code == 200 and patched.headers["X-Honeyframe-Dagster-Sync"] == "ok", patched.text
        after = settled(ui)
        assert after["honeyframe_0"][0] > before["honeyframe_0"][0]
        assert after["honeyframe_0"][1] != before["honeyframe_0"][1]
        assert after["honeyframe_1"] == before["honeyframe_1"]
        assert "0 3 * * *" in schedule(ui, "acme-sales")["description"]
        assert all(piece.poll() is None for piece in pieces)  # code servers stay up across reloads

        # Enable/disable sets the trigger's status and reloads nothing.
        for enabled, status in ((False, "STOPPED"), (True, "RUNNING")):
            started = time.monotonic()
            toggled = client.patch(
                f"/api/scheduler/scenarios/{ids['acme-ops']}",
                headers={"X-Project-Id": "acme-ops"},
                json={"enabled": enabled},
            )
            print(f"{'enable' if enabled else 'disable'}: {time.monotonic() - started:.2f} s")
            assert toggled.status_code == 200 and toggled.headers["X-Honeyframe-Dagster-Sync"] == "ok", toggled.text
            assert toggled.json()["dagster"]["trigger_status"] == status
            assert schedule(ui, "acme-ops")["scheduleState"]["status"] == status
            assert snapshot(ui) == after

        # A run of shard 1 is launched by the daemon on 127.0.0.1 and executes on shard 1's code server.
        launched = client.post(f"/api/scheduler/scenarios/{ids['acme-ops']}/run", headers={"X-Project-Id": "acme-ops"})
        assert launched.status_code == 202, launched.text
        run_id = launched.json()["run_id"]

        def finished() -> dict[str, Any] | None:
            run = graphql(ui, RUN, {"id": run_id})["runOrError"]
            return run if run["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

        run = wait_for(finished, "the run", timeout=150)
        assert run["status"] == "SUCCESS", run
        origin = {m["key"]: m["value"] for m in run["repositoryOrigin"]["repositoryLocationMetadata"]}
        assert (run["repositoryOrigin"]["repositoryLocationName"], origin["host"], origin["port"]) == (
            "honeyframe_1",
            "127.0.0.3",
            str(ports[1]),
        )
        # The run worker is a child of that code server: its events are in that host's log, not the other's.
        shard_logs = [Path(host_env(tmp_path, host, databases)["HONEYFRAME_HOME"]) / "logs" for host in HOSTS]
        assert run_id in (shard_logs[1] / "honeyframe_1.log").read_text()
        assert run_id not in (shard_logs[0] / "honeyframe_0.log").read_text()
    finally:
        for piece in reversed(pieces):
            if piece.poll() is None:
                piece.send_signal(signal.SIGTERM)
        for piece in pieces:
            try:
                piece.wait(timeout=60)
            except subprocess.TimeoutExpired:
                piece.kill()


def _write(path: Path, content: str) -> Path:
    path.write_text(content)
    return path
