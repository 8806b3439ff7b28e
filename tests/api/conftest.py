"""API fixtures: a TestClient on a real store (SQLite and Postgres), tokens, and a real Dagster stack."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from honeyframe_dagster.boot import boot
from honeyframe_dagster.services.stack import SCENARIOS_MODULE, code_server_argv, daemon_argv
from honeyframe_dagster.settings import REPO_ROOT, Settings, get_settings
from honeyframe_dagster.tokens import create_token
from tests.conftest import PROJECTS_YAML

BIN = Path(sys.executable).parent
SEED_YAML = (
    PROJECTS_YAML
    + """
---
kind: Template
slug: nightly-mart-refresh
display_name: Nightly mart refresh
parameters:
  - name: mart_recipe
    type: recipe_ref
trigger:
  cron: "0 2 * * *"
steps:
  - kind: run_recipe
    recipe: "{{ param.mart_recipe }}"
---
kind: Dataset
id: orders
project: acme-sales
connector: {type: file, path: data/orders.csv}
---
kind: Dashboard
id: revenue-overview
project: acme-sales
title: Revenue overview
---
kind: Agent
id: ticket-triage
project: acme-sales
model: gpt-4o-mini
"""
)


@dataclass
class Api:
    """A TestClient plus the tokens made for the test: `admin` (every project), `sales` (acme-sales only)."""

    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def call(
        self, method: str, path: str, token: str | None = "admin", project: str | None = "acme-sales", **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(token, token)}"
        if project is not None:
            headers["X-Project-Id"] = project
        return self.client.request(method, path, headers=headers, **kwargs)


def make_tokens(settings: Settings) -> dict[str, str]:
    with Session(boot(settings)) as session, session.begin():
        return {
            "admin": create_token(session, "admin", True, []),
            "sales": create_token(session, "sales", False, ["acme-sales"]),
        }


@pytest.fixture
def api(store_url: str, apply_yaml: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API on a seeded store, without a Dagster webserver (writes answer `X-Honeyframe-Dagster-Sync: skipped`)."""
    from api.main import create_app

    monkeypatch.setenv("HONEYFRAME_DAGSTER_URL", "")
    assert apply_yaml(SEED_YAML) == 0
    tokens = make_tokens(get_settings())
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield Api(client, tokens)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Any, what: str, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    return dict(response.json()["data"])


@dataclass
class Stack:
    """Code server + webserver (+ daemon, + uvicorn when asked) on free loopback ports, sharing one store."""

    root: Path
    env: dict[str, str]
    dagster_url: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, argv: list[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - kept open for the process' lifetime
        self.processes.append(
            subprocess.Popen(
                argv, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def start_stack(root: Path, daemon: bool) -> Stack:
    """A fresh store and DAGSTER_HOME under `root`; code server and webserver started and answering."""
    home, dagster_home = root / "honeyframe", root / "dagster"
    home.mkdir(parents=True)
    dagster_home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HONEYFRAME_", "DAGSTER_"))}
    env.update(
        HONEYFRAME_HOME=str(home),
        HONEYFRAME_WAREHOUSE=str(home / "warehouse.duckdb"),
        DAGSTER_HOME=str(dagster_home),
        DAGSTER_DISABLE_TELEMETRY="yes",
    )
    stack = Stack(root, env)
    subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, check=True, capture_output=True)
    # As `honeyframe up` does: the store is migrated before a code location (which only reads it) starts.
    subprocess.run([str(BIN / "honeyframe"), "init"], env=env, check=True, capture_output=True)
    code_port, web_port = free_port(), free_port()
    entry = f"  - grpc_server:\n      host: 127.0.0.1\n      port: {code_port}\n      location_name: honeyframe\n"
    (root / "workspace.yaml").write_text("load_from:\n" + entry)
    stack.dagster_url = f"http://127.0.0.1:{web_port}"
    env["HONEYFRAME_DAGSTER_URL"] = stack.dagster_url
    try:
        # The code server and daemon as `honeyframe up` runs them (services/code_server.py, services/dagster_daemon.py).
        stack.start("code-server", code_server_argv("honeyframe", SCENARIOS_MODULE, "127.0.0.1", code_port))
        wait_for(lambda: _port_open(code_port), "code server")
        workspace = ["-w", str(root / "workspace.yaml")]
        stack.start("webserver", [str(BIN / "dagster-webserver"), *workspace, "-h", "127.0.0.1", "-p", str(web_port)])
        if daemon:
            stack.start("daemon", daemon_argv(root / "workspace.yaml"))
        wait_for(lambda: _location_loaded(stack.dagster_url), "webserver with the honeyframe location")
    except BaseException:
        stack.stop()
        raise
    return stack


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _location_loaded(url: str) -> bool:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    try:
        entries = graphql(url, query)["workspaceOrError"]["locationEntries"]
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        return False
    return any(e["name"] == "honeyframe" and e["loadStatus"] == "LOADED" for e in entries)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Code server + webserver on a fresh SQLite store and DAGSTER_HOME (no daemon: launched runs stay QUEUED)."""
    root = tmp_path_factory.mktemp("stack")
    with pytest.MonkeyPatch.context() as patch:
        running = start_stack(root, daemon=False)
        for key in [k for k in os.environ if k.startswith(("HONEYFRAME_", "DAGSTER_"))]:
            patch.delenv(key)
        for key in ("HONEYFRAME_HOME", "HONEYFRAME_WAREHOUSE", "DAGSTER_HOME", "HONEYFRAME_DAGSTER_URL"):
            patch.setenv(key, running.env[key])
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def live_api(stack: Stack) -> Iterator[Api]:
    """The API (in-process) on the stack's store, reloading the stack's code location after each write."""
    from api.main import create_app
    from honeyframe_dagster.cli import main as honeyframe

    seed = stack.root / "seed.yaml"
    seed.write_text(SEED_YAML)
    assert honeyframe(["apply", str(seed)]) == 0
    tokens = make_tokens(get_settings())
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield Api(client, tokens)
