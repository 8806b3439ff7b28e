"""The real stack — code server, webserver, daemon, uvicorn — on free loopback ports: a scenario created through
the API is run by the daemon's trigger sensor. The one slow test of the API (a new cron trigger first fires at
the next minute boundary after the daemon sees it)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from honeyframe_dagster.settings import Settings
from tests.api.conftest import BIN, SEED_YAML, free_port, make_tokens, start_stack, wait_for


def test_daemon_runs_a_scenario_created_through_the_api(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, daemon=True)
    try:
        (tmp_path / "seed.yaml").write_text(SEED_YAML)
        subprocess.run([str(BIN / "honeyframe"), "apply", str(tmp_path / "seed.yaml")], env=stack.env, check=True)
        token = make_tokens(Settings(home=Path(stack.env["HONEYFRAME_HOME"])))["sales"]
        port = free_port()
        stack.start("api", [str(BIN / "uvicorn"), "api.main:app", "--host", "127.0.0.1", "--port", str(port)])
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{url}/api/pipeline/scheduler/health"), "uvicorn")
        headers = {"Authorization": f"Bearer {token}", "X-Project-Id": "acme-sales"}
        body = {
            "name": "every minute",
            "trigger": {"cron": "* * * * *"},
            "steps": [{"kind": "run_recipe", "recipe": "stg_orders"}],
        }
        created = httpx.post(f"{url}/api/scheduler/scenarios", json=body, headers=headers, timeout=300)
        assert created.status_code == 201, created.text
        assert created.headers["X-Honeyframe-Dagster-Sync"] == "ok"
        assert created.json()["dagster"]["trigger_status"] == "RUNNING"
        written = time.monotonic()
        runs_url = f"{url}/api/scheduler/scenarios/{created.json()['id']}/runs"

        def scheduled_run() -> dict | None:
            items = httpx.get(runs_url, headers=headers, timeout=30).json()["items"]
            return next((r for r in items if r["trigger"] == "schedule"), None)

        # A cron on a minute grid is a Dagster schedule: the scheduler daemon launches its run at the next minute.
        run = wait_for(scheduled_run, "a run launched by the daemon's trigger schedule", timeout=200)
        print(f"API 2xx -> daemon launched the trigger's run: {time.monotonic() - written:.0f} s")
        assert run["scheduled_for"] is not None and run["status"] in {
            "QUEUED",
            "STARTING",
            "STARTED",
            "SUCCESS",
            "FAILURE",
            "NOT_STARTED",
        }
    finally:
        stack.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False
