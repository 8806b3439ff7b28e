"""What `honeyframe up` runs besides Dagster's servers: the lean supervisor it becomes once it has planned
(services/supervisor.py) and the daemon's launcher (services/dagster_daemon.py). The whole stack under them is
tests/ops/test_restart.py's and tests/ops/test_first_run.py's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from honeyframe_dagster import running
from honeyframe_dagster.services import dagster_daemon, supervisor
from honeyframe_dagster.services.supervisor import Plan, Process, Ready, forget_running, record_running
from honeyframe_dagster.settings import Settings


def test_the_plan_crosses_the_hand_over_intact(tmp_path: Path) -> None:
    plan = Plan(
        [Process("code", ["python", "x.py"], {"A": "1"}, tmp_path, Ready(port=4266, host="127.0.0.2"), restart=True)],
        [
            Process("web", ["web"], {}, tmp_path, Ready(url="http://127.0.0.1:3000/server_info")),
            Process("d", [], {}, tmp_path),
        ],
        "up.",
        ("http://127.0.0.1:3000", "http://127.0.0.1:8000"),
        tmp_path,
        tmp_path,
    )
    assert Plan.from_json(plan.to_json()) == plan


def _supervise(tmp_path: Path, plan: Plan) -> subprocess.Popen[str]:
    staged = tmp_path / "plan.json"
    staged.write_text(json.dumps(plan.to_json()))
    command = [sys.executable, supervisor.__file__, str(staged)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_code_server_that_exits_is_started_again_and_the_rest_stays_up(tmp_path: Path) -> None:
    """A process marked `restart` (the code servers) is started again after a pause; the others keep running."""
    starts = tmp_path / "starts"
    crashing = [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)"]
    idle = [sys.executable, "-c", "import time; time.sleep(120)"]
    plan = Plan(
        [Process("code", crashing, dict(os.environ), tmp_path, restart=True)],
        [Process("web", idle, dict(os.environ), tmp_path)],
        "up.",
    )
    process = _supervise(tmp_path, plan)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(starts.read_text() if starts.exists() else "") < 3:
            time.sleep(0.2)
        # Started three times: at once, after 1 s, after 2 s; the supervisor still runs.
        assert starts.read_text() == "xxx"
        assert process.poll() is None
    finally:
        process.terminate()
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert "code exited with 3; starting it again in 1s" in output
    assert "code exited with 3; starting it again in 2s" in output


def test_a_process_that_does_not_restart_stops_everything_when_it_exits(tmp_path: Path) -> None:
    plan = Plan(
        [Process("code", [sys.executable, "-c", "import time; time.sleep(120)"], dict(os.environ), tmp_path)],
        [Process("web", [sys.executable, "-c", "raise SystemExit(2)"], dict(os.environ), tmp_path)],
        "up.",
    )
    process = _supervise(tmp_path, plan)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 1
    assert "web exited with 2; stopping" in output
    assert "everything has stopped (2 processes)" in output


def test_it_stops_its_processes_even_when_nobody_reads_its_output_any_more(tmp_path: Path) -> None:
    """`honeyframe up | tee log` with tee gone: the lines it prints while stopping must not stop it from stopping."""
    pid_file = tmp_path / "pid"
    idle = [
        sys.executable,
        "-c",
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)",
    ]
    process = _supervise(tmp_path, Plan([Process("code", idle, dict(os.environ), tmp_path)], [], "up."))
    assert process.stdout is not None
    assert process.stdout.readline().startswith("[honeyframe] starting code")
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    child = int(pid_file.read_text())
    process.stdout.close()
    process.terminate()
    assert process.wait(timeout=30) == 0
    with pytest.raises(ProcessLookupError):
        for _ in range(100):  # the child may still be exiting
            os.kill(child, 0)
            time.sleep(0.1)


def test_a_server_that_exits_while_starting_stops_the_start_at_once(tmp_path: Path) -> None:
    """Not five minutes of waiting for a port that will never open: the exit and its log are named."""
    failing = [sys.executable, "-c", "raise SystemExit(4)"]
    plan = Plan([Process("code", failing, dict(os.environ), tmp_path, Ready(port=1), restart=True)], [], "up.")
    started = time.monotonic()
    output = _supervise(tmp_path, plan).communicate(timeout=60)[0]
    assert time.monotonic() - started < 20
    assert f"code exited with 4 while starting (see {tmp_path / 'code.log'})" in output


def test_the_supervisor_imports_neither_the_product_nor_dagster() -> None:
    check = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.startswith(('dagster', 'honeyframe', 'sqlalchemy', 'pydantic'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", check, supervisor.__file__], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_cli_in_another_terminal_reads_what_the_supervisor_records(tmp_path: Path) -> None:
    urls = ("http://127.0.0.1:3999", "http://127.0.0.1:8999")
    record_running(tmp_path, urls)
    found = running.read_running(tmp_path)
    assert found == running.RunningSystem(*urls, os.getpid())
    assert running.api_url(Settings(home=tmp_path)) == urls[1]
    forget_running(tmp_path)
    assert running.read_running(tmp_path) is None


def test_the_daemon_refreshes_its_workspace_hourly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster's constant still exists and is what the launcher sets (a Dagster upgrade that renames it fails
    here, not silently in production)."""
    from dagster._daemon import cli, controller

    assert isinstance(controller.RELOAD_WORKSPACE_INTERVAL, int)
    seen = []
    monkeypatch.setattr(controller, "RELOAD_WORKSPACE_INTERVAL", controller.RELOAD_WORKSPACE_INTERVAL)
    monkeypatch.setattr(cli, "main", lambda: seen.append(controller.RELOAD_WORKSPACE_INTERVAL))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "argv", ["dagster_daemon.py", "run"])
    assert dagster_daemon.main() == 0
    assert seen == [dagster_daemon.WORKSPACE_REFRESH_SECONDS]
