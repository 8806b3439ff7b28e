"""What each step kind costs, and what a parallel group gains, on a real Dagster instance.

1. Overhead per step kind: a one-step scenario per kind with a no-op payload (an empty Python recipe, a
   one-row CSV, one row to a loopback chat-completions server, the smallest dbt seed, a report with no
   dashboards to a loopback SMTP server), run in process; "op" is the op's STEP_START to STEP_SUCCESS,
   "run" the whole execute_in_process call. Median of --repeat runs.
2. A 5-step scenario: a step, a 3-way parallel group of recipes that each wait --wait seconds, a step; run
   in process (steps one after another) and with the job's default executor (a process per op, the group
   side by side).

    .venv/bin/python benchmarks/steps.py [--repeat 3] [--wait 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

DOCUMENTS = """
kind: Project
id: bench
name: Bench
owner_email: owner@bench.example
---
kind: Dataset
id: tiny
project: bench
connector: {{type: file, path: tiny.csv}}
---
kind: Agent
id: echo
project: bench
model: echo
base_url_env: HONEYFRAME_SECRET_BENCH_AGENT_URL
---
kind: Scenario
project: bench
name: five steps
trigger: {{interval_seconds: 3600}}
steps:
  - {{kind: run_python, recipe: pause}}
  - {{kind: run_python, recipe: pause, args: {{seconds: {wait}}}, parallel: true}}
  - {{kind: run_python, recipe: pause, args: {{seconds: {wait}}}, parallel: true}}
  - {{kind: run_python, recipe: pause, args: {{seconds: {wait}}}, parallel: true}}
  - {{kind: run_python, recipe: pause}}
"""
# The step each kind is timed with, in a scenario of its own named after the kind (in this order).
ONE_STEP = {
    "run_python": "{kind: run_python, recipe: pause}",
    "sync_dataset": "{kind: sync_dataset, dataset: tiny}",
    "run_agent": '{kind: run_agent, agent: echo, input: "select 1 as x", output_table: echo_out}',
    "run_recipe": "{kind: run_recipe, recipe: raw_customers}",
    "send_email_report": (
        "{kind: send_email_report, dashboard_ids: [], recipients: [owner@bench.example], format: html}"
    ),
}
KINDS = tuple(ONE_STEP)


def one_step_scenarios() -> str:
    return "".join(
        f"---\nkind: Scenario\nproject: bench\nname: {kind}\ntrigger: {{interval_seconds: 3600}}\nsteps: [{step}]\n"
        for kind, step in ONE_STEP.items()
    )


class _Chat(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "ok"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def op_seconds(instance: Any, run_id: str) -> float:
    from dagster import DagsterEventType

    times = {
        entry.dagster_event.event_type: entry.timestamp
        for entry in instance.all_logs(run_id)
        if entry.dagster_event
        and entry.dagster_event.event_type in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS)
    }
    return times[DagsterEventType.STEP_SUCCESS] - times[DagsterEventType.STEP_START]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--wait", type=float, default=2.0)
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="honeyframe-bench-"))
    # The connector rules hold here too: files under the data dir, secrets named HONEYFRAME_SECRET_*, loopback allowed.
    os.environ.update(
        HONEYFRAME_HOME=str(workdir / "home"),
        HONEYFRAME_WAREHOUSE=str(workdir / "warehouse.duckdb"),
        HONEYFRAME_DATA_DIR=str(workdir),
        HONEYFRAME_CONNECTOR_ALLOWED_HOSTS="127.0.0.1",
    )
    os.environ.pop("HONEYFRAME_DATABASE_URL", None)
    csv = workdir / "tiny.csv"
    csv.write_text("x\n1\n")
    chat = ThreadingHTTPServer(("127.0.0.1", 0), _Chat)
    threading.Thread(target=chat.serve_forever, daemon=True).start()
    os.environ["HONEYFRAME_SECRET_BENCH_AGENT_URL"] = f"http://127.0.0.1:{chat.server_address[1]}"

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    os.environ.update(HONEYFRAME_SMTP_HOST="127.0.0.1", HONEYFRAME_SMTP_PORT=str(smtp_port))

    from dagster import DagsterInstance, execute_job
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from honeyframe_dagster.cli import main as honeyframe
    from honeyframe_dagster.definitions import load_definitions

    documents = workdir / "bench.yaml"
    documents.write_text(textwrap.dedent(DOCUMENTS.format(wait=options.wait)) + one_step_scenarios())
    assert honeyframe(["apply", str(documents)]) == 0
    defs = load_definitions()
    (workdir / "dagster").mkdir()
    with DagsterInstance.local_temp(str(workdir / "dagster")) as instance:
        print(f"overhead per step kind, no-op payload, in process (median of {options.repeat}):")
        for kind in KINDS:
            job = defs.get_job_def(f"bench__{kind}")
            ops, runs = [], []
            for _ in range(options.repeat):
                started = time.perf_counter()
                result = job.execute_in_process(instance=instance, raise_on_error=False)
                runs.append(time.perf_counter() - started)
                if not result.success:
                    break
                ops.append(op_seconds(instance, result.run_id))
            if len(ops) < options.repeat:
                print(f"  {kind:<18} failed (see the run's events)")
                continue
            print(f"  {kind:<18} op {statistics.median(ops) * 1000:7.0f} ms   run {statistics.median(runs):6.2f} s")

        name = "bench__five_steps"
        print(f"5-step scenario, 3-way parallel group of {options.wait:g} s recipes:")
        started = time.perf_counter()
        assert defs.get_job_def(name).execute_in_process(instance=instance).success
        print(f"  in process (one after another)         {time.perf_counter() - started:6.2f} s")
        recon = ReconstructableRepository.for_module(
            "honeyframe_dagster.definitions", "defs", working_directory=str(REPO)
        ).get_reconstructable_job(name)
        executor = defs.get_job_def(name).executor_def.name
        started = time.perf_counter()
        with execute_job(recon, instance=instance) as result:
            assert result.success
        print(f"  job's default executor ({executor}) {time.perf_counter() - started:6.2f} s")
    smtp.stop()
    chat.shutdown()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
