"""A first run as the README tells it, in a fresh home on private ports: `honeyframe up` comes up quietly with one
summary, and the README's commands (token, curl, apply, list, backfill) work verbatim against it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from honeyframe_dagster.settings import REPO_ROOT
from tests.api.conftest import BIN, free_port, wait_for


def fresh_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HONEYFRAME_", "DAGSTER_"))}
    env.update(
        HONEYFRAME_HOME=str(tmp_path / "home"),
        HONEYFRAME_UI_PORT=str(free_port()),
        HONEYFRAME_API_PORT=str(free_port()),
        HONEYFRAME_CODE_SERVER_PORT=str(free_port()),
        HONEYFRAME_SMTP_PORT=str(free_port()),
    )
    return env


def run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "honeyframe"), *argv], env=env, cwd=REPO_ROOT, capture_output=True, text=True)


def test_first_run_is_quiet_and_the_readme_commands_work(tmp_path: Path) -> None:
    env = fresh_env(tmp_path)
    terminal = tmp_path / "terminal.txt"
    with terminal.open("w") as out:
        up = subprocess.Popen(
            [str(BIN / "honeyframe"), "up"], env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    started = time.monotonic()
    try:
        wait_for(lambda: "Ctrl-C stops everything" in terminal.read_text() or up.poll() is not None, "the summary")
        assert up.poll() is None, terminal.read_text()
        print(f"honeyframe up: summary after {time.monotonic() - started:.1f} s")
        printed = terminal.read_text()
        print(printed)
        # One line per process and the summary: no Dagster event stream, no warnings, no false alarm.
        assert len(printed.strip().splitlines()) <= 20, printed
        assert "DEBUG" not in printed and "Warning" not in printed and "not running" not in printed
        ui, api = f"http://127.0.0.1:{env['HONEYFRAME_UI_PORT']}", f"http://127.0.0.1:{env['HONEYFRAME_API_PORT']}"
        for url in (ui, f"{api}/docs", f"{api}/admin/templates"):
            assert url in printed
        assert str(Path(env["HONEYFRAME_HOME"]) / "logs") in printed
        assert (Path(env["HONEYFRAME_HOME"]) / "logs" / "dagster-daemon.log").exists()

        created = run(env, "token", "create", "--name", "sales-bot", "--project", "acme-sales")
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[0]
        headers = {"Authorization": f"Bearer {token}", "X-Project-Id": "acme-sales"}
        listed = httpx.get(f"{api}/api/scheduler/scenarios", headers=headers, timeout=30)
        assert listed.status_code == 200 and listed.json()["items"]

        # The Dagster URL follows HONEYFRAME_UI_PORT: apply reloads the running location instead of a false alarm.
        applied = run(env, "apply", "examples/")
        assert applied.returncode == 0, applied.stderr
        assert "reloaded the Dagster code location" in applied.stdout, applied.stdout
        listing = run(env, "list")
        assert "acme_sales__nightly_mart_refresh" in listing.stdout

        backfill = run(
            env, "backfill", "acme_sales__nightly_mart_refresh", "--from", "2026-11-01", "--to", "2026-11-02"
        )
        assert backfill.returncode == 0, backfill.stdout + backfill.stderr
        os.environ["DAGSTER_HOME"] = str(Path(env["HONEYFRAME_HOME"]) / "dagster")
        try:
            with DagsterInstance.get() as instance:
                runs = instance.get_runs(RunsFilter(job_name="acme_sales__nightly_mart_refresh"))
                partitions = {r.tags.get("dagster/partition") for r in runs if r.status != DagsterRunStatus.CANCELED}
        finally:
            del os.environ["DAGSTER_HOME"]
        assert {"2026-11-01", "2026-11-02"} <= partitions
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=60)
    for port in ("HONEYFRAME_UI_PORT", "HONEYFRAME_API_PORT", "HONEYFRAME_CODE_SERVER_PORT"):
        with __import__("socket").socket() as sock:
            assert sock.connect_ex(("127.0.0.1", int(env[port]))) != 0, f"{port} still open after SIGTERM"


def test_backfill_names_what_is_wrong(tmp_path: Path) -> None:
    env = fresh_env(tmp_path)
    assert run(env, "apply", "examples/").returncode == 0
    unknown = run(env, "backfill", "nope", "--from", "2026-11-01", "--to", "2026-11-02")
    assert unknown.returncode == 2 and "scenario: no scenario 'nope'" in unknown.stderr
    interval = run(env, "backfill", "acme-sales/hourly-revenue-build", "--from", "2026-11-01", "--to", "2026-11-02")
    assert interval.returncode == 2 and "only cron scenarios backfill" in interval.stderr
    bad_date = run(env, "backfill", "acme_sales__nightly_mart_refresh", "--from", "Nov 1", "--to", "2026-11-02")
    assert bad_date.returncode == 2 and "--from: 'Nov 1'" in bad_date.stderr
    dry = run(
        env, "backfill", "acme_sales__nightly_mart_refresh", "--from", "2026-11-01", "--to", "2026-11-03", "--dry-run"
    )
    assert dry.returncode == 0 and re.search(r"3 partition\(s\): 2026-11-01, 2026-11-02, 2026-11-03", dry.stdout)


def test_up_refuses_ports_that_collide_naming_both_settings(tmp_path: Path) -> None:
    """The warehouse location takes the port after the shards'; a mail sink set on it used to start, then the
    warehouse died with a gRPC bind error in its log and took the whole stack down."""
    env = fresh_env(tmp_path)
    env["HONEYFRAME_SMTP_PORT"] = str(int(env["HONEYFRAME_CODE_SERVER_PORT"]) + 1)
    refused = run(env, "up")
    assert refused.returncode == 2, refused.stderr
    assert f"port {env['HONEYFRAME_SMTP_PORT']} is set for both code location warehouse" in refused.stderr
    assert "HONEYFRAME_SMTP_PORT" in refused.stderr
    assert not (tmp_path / "home" / "logs" / "warehouse.log").exists()

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    env = fresh_env(tmp_path)
    env["HONEYFRAME_API_PORT"] = str(taken.getsockname()[1])
    with taken:
        busy = run(env, "up")
    assert busy.returncode == 2
    assert f"port {env['HONEYFRAME_API_PORT']} for the REST API (HONEYFRAME_API_PORT) is in use" in busy.stderr
