"""The real stack at 20, 2,000 and 10,000 template x project pairs, sharded (the default) side by side with one
unsharded location (HONEYFRAME_CODE_LOCATIONS=1), through the public surfaces only: `honeyframe up` on private
ports and a temporary HONEYFRAME_HOME, the REST API, Dagster's GraphQL, /proc.

For every size and layout it prints:
  cold start      `honeyframe up` started -> its summary line, and -> every code location LOADED (GraphQL)
  run start       API run-now -> the run's first STEP_START (event timestamps from the instance), p50/p90
  edit-to-live    API PATCH of a cron -> 2xx with the new cron in the webserver's workspace (GraphQL), p50/p99
  enable/disable  matrix enable/disable through the API, p50/p99
  API reads       50 clients, mixed GET list / GET one, with Dagster: throughput, p50/p99
  idle CPU        with nothing due, each process kind's CPU time over two minutes (/proc utime+stime), as % of
                  one core, after four minutes to settle (measured too: the daemon's first pass over the schedules)
  job snapshot    one job's serialized snapshot as its code server sends it (ExternalJob), mean and largest
  RSS             summed over `honeyframe up`'s process tree, per process kind: idle, and after the work; and the
                  PSS total (shared pages split among the processes that map them)
and, once per store backend, the API alone (HONEYFRAME_DAGSTER_URL="", uvicorn as `honeyframe up` runs it) on a
project of 1,000 scenarios: GET one, the full list, and 50 clients of mixed reads.

The pairs are 20 templates x (pairs / 20) projects, each template one `run_python` step (no `run_recipe`), seeded
in one `honeyframe apply` of generated documents before the stack starts.

    .venv/bin/python benchmarks/scale.py [--sizes 20 2000 10000] [--skip-10k] [--postgres] [--quick]
    .venv/bin/python benchmarks/scale.py --sizes 20 2000 --skip-api --sharded-only --idle-only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from support import api_answers

from honeyframe_dagster.services.stack import api_argv

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TEMPLATES = 20
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
BASE = "/api/scheduler/scenarios"
EDIT_PROJECT, EDIT_SCENARIO = "p0", "bench edit"
READ_PROJECTS = 100


# -- figures -------------------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


@dataclass
class Figures:
    """One column of the table: what one stack layout at one size measured."""

    label: str
    rows: dict[str, str] = field(default_factory=dict)

    def timing(self, name: str, values: list[float], low: float = 0.5, high: float = 0.99) -> None:
        if not values:
            self.rows[name] = "-"
            return
        self.rows[name] = f"{pct(values, low):.2f} / {pct(values, high):.2f} s (n={len(values)})"


def print_table(columns: list[Figures]) -> None:
    names = list(dict.fromkeys(name for column in columns for name in column.rows))
    width = max(len(name) for name in names) + 2
    cells = [max(len(column.label), *(len(v) for v in column.rows.values())) + 2 for column in columns]
    print("\n" + "".ljust(width) + "".join(c.label.ljust(w) for c, w in zip(columns, cells, strict=True)))
    for name in names:
        values = [c.rows.get(name, "-").ljust(w) for c, w in zip(columns, cells, strict=True)]
        print(name.ljust(width) + "".join(values))
    print(flush=True)


# -- the environment -------------------------------------------------------------------------------------------------


def port_block(size: int = 70) -> int:
    """A base port with `size` free ports after it (code servers, warehouse, UI, API, mail sink)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 60_000 - size)
        if all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports found")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def postgres_databases(count: int) -> Iterator[list[str]]:
    from sqlalchemy import create_engine, text

    names = [f"hf_scale_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield [f"{POSTGRES}/{name}" for name in names]
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def base_env(home: Path, port: int, store_url: str | None, dagster_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HONEYFRAME_", "DAGSTER_"))}
    env.update(
        HONEYFRAME_HOME=str(home),
        HONEYFRAME_WAREHOUSE=str(home / "warehouse.duckdb"),
        HONEYFRAME_CODE_SERVER_PORT=str(port),
        HONEYFRAME_UI_PORT=str(port + 66),
        HONEYFRAME_API_PORT=str(port + 67),
        HONEYFRAME_SMTP_PORT=str(port + 68),
        DAGSTER_DISABLE_TELEMETRY="yes",
    )
    if store_url:
        env["HONEYFRAME_DATABASE_URL"] = store_url
    if dagster_url:
        env["HONEYFRAME_DAGSTER_POSTGRES_URL"] = dagster_url.replace("postgresql+psycopg://", "postgresql://")
    return env


def honeyframe(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN / "honeyframe"), *args], env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"honeyframe {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


# -- seeding ---------------------------------------------------------------------------------------------------------


def documents(pairs: int) -> list[dict[str, Any]]:
    """20 templates (one run_python step each), pairs/20 projects with every template enabled, and one own
    scenario with a cron (the one edit-to-live PATCHes)."""
    projects = max(1, pairs // TEMPLATES)
    docs: list[dict[str, Any]] = [
        {
            "kind": "Template",
            "slug": f"t{t}",
            "display_name": f"Template {t}",
            "trigger": {"cron": f"{t} 3 * * *"},
            "steps": [{"kind": "run_python", "recipe": "pause", "args": {"seconds": 0}}],
        }
        for t in range(TEMPLATES)
    ]
    for p in range(projects):
        docs.append({"kind": "Project", "id": f"p{p}", "name": f"Project {p}", "owner_email": f"o{p}@example.com"})
        docs += [{"kind": "Matrix", "template": f"t{t}", "project": f"p{p}", "enabled": True} for t in range(TEMPLATES)]
    docs.append(
        {
            "kind": "Scenario",
            "project": EDIT_PROJECT,
            "name": EDIT_SCENARIO,
            "trigger": {"cron": "0 4 * * *"},
            "steps": [{"kind": "run_python", "recipe": "pause"}],
        }
    )
    return docs


def seed(env: dict[str, str], root: Path, pairs: int) -> float:
    """One `honeyframe apply` (all or nothing) of the generated documents (JSON is YAML); seconds it took."""
    path = root / "seed.yaml"
    path.write_text("\n---\n".join(json.dumps(doc) for doc in documents(pairs)))
    started = time.perf_counter()
    honeyframe(env, "apply", str(path))
    return time.perf_counter() - started


# -- the stack -------------------------------------------------------------------------------------------------------


@dataclass
class Stack:
    env: dict[str, str]
    process: subprocess.Popen[str]
    log: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['HONEYFRAME_API_PORT']}"

    @property
    def ui(self) -> str:
        return f"http://127.0.0.1:{self.env['HONEYFRAME_UI_PORT']}"

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{self.ui}/graphql", json={"query": query, "variables": variables or {}}, timeout=120)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL: {body['errors']}")
        return dict(body["data"])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def start_stack(env: dict[str, str], root: Path, figures: Figures, timeout: float = 900) -> Stack:
    """`honeyframe up`; cold start = until its summary line, and until every location is LOADED."""
    log = root / "up.log"
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "honeyframe"), "up"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    stack = Stack(env, process, log)
    assert process.stdout is not None
    with log.open("w") as out:
        for line in process.stdout:
            out.write(line)
            if "is up." in line:
                break
            if time.perf_counter() - started > timeout:
                stack.stop()
                raise RuntimeError(f"no summary line within {timeout:.0f}s (see {log})")
        else:
            raise RuntimeError(f"honeyframe up exited with {process.wait()} (see {log})")
    summary = time.perf_counter() - started
    # Keep reading its output, so that a full pipe never blocks it.
    drain_output(process, log)
    while True:
        entries = stack.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            break
        time.sleep(0.2)
    loaded = time.perf_counter() - started
    figures.rows["locations"] = ", ".join(sorted(e["name"] for e in entries))
    figures.rows["cold start (summary / all loaded)"] = f"{summary:.1f} / {loaded:.1f} s"
    return stack


def drain_output(process: subprocess.Popen[str], log: Path) -> None:
    def drain() -> None:
        with log.open("a") as out:
            for line in process.stdout or []:
                out.write(line)

    threading.Thread(target=drain, daemon=True).start()


# -- measurements ----------------------------------------------------------------------------------------------------


def headers(token: str, project: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Project-Id": project}


RUN_EVENTS = """
query($id: ID!) { logsForRun(runId: $id) { __typename
  ... on EventConnection { events { __typename ... on MessageEvent { timestamp } } } } }
"""
RUN_STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def run_start(stack: Stack, token: str, scenario_id: int, runs: int, figures: Figures) -> None:
    """Run-now through the API, then the run's first STEP_START from its event log; one run at a time."""
    delays = []
    for _ in range(runs):
        sent = time.time()
        response = httpx.post(
            f"{stack.api}{BASE}/{scenario_id}/run", headers=headers(token, "p0"), timeout=120, json=None
        )
        response.raise_for_status()
        run_id = response.json()["run_id"]
        started = wait_for(lambda run_id=run_id: step_started(stack, run_id), f"STEP_START of {run_id}", 300)
        delays.append(started - sent)
        wait_for(lambda run_id=run_id: run_status(stack, run_id) in FINISHED, f"end of {run_id}", 300)
    figures.timing("run start p50 / p90", delays, high=0.9)


def step_started(stack: Stack, run_id: str) -> float | None:
    events = stack.graphql(RUN_EVENTS, {"id": run_id})["logsForRun"].get("events") or []
    starts = [int(e["timestamp"]) / 1000 for e in events if e["__typename"] == "ExecutionStepStartEvent"]
    return min(starts) if starts else None


def run_status(stack: Stack, run_id: str) -> str:
    return str(stack.graphql(RUN_STATUS, {"id": run_id})["runOrError"].get("status"))


# A cron trigger is a Dagster schedule (its cron string is the trigger's); a trigger off any cron grid is a sensor
# whose description names its cron.
TRIGGER = """
query($schedule: ScheduleSelector!, $sensor: SensorSelector!) {
  scheduleOrError(scheduleSelector: $schedule) { __typename ... on Schedule { cronSchedule } }
  sensorOrError(sensorSelector: $sensor) { __typename ... on Sensor { description } }
}
"""


def trigger_text(stack: Stack, location: str, name: str) -> str | None:
    """What the webserver's workspace says of trigger `name` in `location`: its cron or description; None if absent."""
    repository = {"repositoryLocationName": location, "repositoryName": "__repository__"}
    found = stack.graphql(
        TRIGGER, {"schedule": {**repository, "scheduleName": name}, "sensor": {**repository, "sensorName": name}}
    )
    schedule, sensor = found["scheduleOrError"], found["sensorOrError"]
    if schedule["__typename"] == "Schedule":
        return f"'{schedule['cronSchedule']}'"
    return str(sensor["description"] or "") if sensor["__typename"] == "Sensor" else None


def trigger_location(stack: Stack, name: str) -> str:
    for entry in stack.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]:
        if trigger_text(stack, entry["name"], name) is not None:
            return str(entry["name"])
    raise RuntimeError(f"no location serves {name}")


def edit_to_live(stack: Stack, token: str, scenario: dict[str, Any], writes: int, figures: Figures) -> None:
    """PATCH the cron; done when the 2xx came and the webserver's workspace describes the new cron."""
    trigger = scenario["dagster"]["trigger_name"]
    location = trigger_location(stack, trigger)
    delays, answers = [], []
    for n in range(writes):
        cron = f"{(n + 1) % 60} 4 * * *"
        sent = time.perf_counter()
        response = httpx.patch(
            f"{stack.api}{BASE}/{scenario['id']}",
            headers=headers(token, EDIT_PROJECT),
            json={"trigger": {"cron": cron}},
            timeout=600,
        )
        response.raise_for_status()
        answers.append(time.perf_counter() - sent)

        def live(cron: str = cron) -> bool:
            return f"'{cron}'" in (trigger_text(stack, location, trigger) or "")

        wait_for(live, f"cron {cron} in the workspace", 600, interval=0.05)
        delays.append(time.perf_counter() - sent)
    figures.timing("edit-to-live p50 / p99", delays)
    figures.timing("  its API answer p50 / p99", answers)


LOCATION_ADDRESS = """
query($name: String!) { workspaceLocationEntryOrError(name: $name) {
  ... on WorkspaceLocationEntry { displayMetadata { key value } } } }
"""


def snapshot_bytes(stack: Stack, location: str, job_names: list[str], figures: Figures) -> None:
    """The serialized snapshot of each job as its code server sends it (ExternalJob, what the webserver and the
    daemon load per job): mean and largest, over up to 20 jobs of `location`."""
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteRepositoryOrigin
    from dagster._core.remote_representation.external_data import (
        extract_serialized_job_snap_from_serialized_job_data_snap,
    )
    from dagster._grpc.client import DagsterGrpcClient

    entry = stack.graphql(LOCATION_ADDRESS, {"name": location})["workspaceLocationEntryOrError"]
    address = {item["key"]: item["value"] for item in entry["displayMetadata"]}
    origin = GrpcServerCodeLocationOrigin(host=address["host"], port=int(address["port"]), location_name=location)
    client = DagsterGrpcClient(host=address["host"], port=int(address["port"]))
    sizes = []
    for name in job_names[:20]:
        reply = client.external_job(RemoteRepositoryOrigin(origin, "__repository__"), name)
        sizes.append(len(extract_serialized_job_snap_from_serialized_job_data_snap(reply.serialized_job_data)))
    if sizes:
        mean, largest = sum(sizes) / len(sizes) / 1000, max(sizes) / 1000
        figures.rows["one job's snapshot, mean / largest"] = f"{mean:.1f} / {largest:.1f} KB (n={len(sizes)})"


def non_shape_edit(stack: Stack, token: str, scenario: dict[str, Any], writes: int, figures: Figures) -> None:
    """PATCH a step's `args` (the job's shape stays): live once the 2xx came, since a run reads the version the store
    holds when it launches (no reload); checked by reading it back."""
    delays = []
    for n in range(writes):
        steps = [{"kind": "run_python", "recipe": "pause", "args": {"seconds": n % 2}}]
        sent = time.perf_counter()
        response = httpx.patch(
            f"{stack.api}{BASE}/{scenario['id']}",
            headers=headers(token, EDIT_PROJECT),
            json={"steps": steps},
            timeout=600,
        )
        response.raise_for_status()
        delays.append(time.perf_counter() - sent)
        assert response.json()["steps"][0]["args"] == {"seconds": n % 2}, response.text
    figures.timing("non-shape edit (a step's args) p50 / p99", delays)


def enable_disable(stack: Stack, token: str, writes: int, figures: Figures) -> None:
    delays = []
    for n in range(writes):
        action = "disable" if n % 2 == 0 else "enable"
        sent = time.perf_counter()
        response = httpx.post(
            f"{stack.api}/api/scheduler/templates/t1/{action}/p0", headers=headers(token, "p0"), timeout=600
        )
        response.raise_for_status()
        delays.append(time.perf_counter() - sent)
    figures.timing("enable/disable p50 / p99", delays)


def mixed_reads(api: str, token: str, targets: list[tuple[str, int]], requests: int, clients: int) -> str:
    """`clients` concurrent clients, half GET list of a project, half GET one scenario; throughput, p50/p99."""
    rng = random.Random(11)
    work = []
    for n in range(requests):
        project, scenario_id = rng.choice(targets)
        path = BASE if n % 2 else f"{BASE}/{scenario_id}"
        work.append((path, headers(token, project)))
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        # One connection per client, in a pool of its own: one pool of 50 connections costs the load generator
        # more CPU than the server (httpcore scans every connection for each request it queues), on the same cores.
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=1)) as http:
            while work:
                path, sent_headers = work.pop()
                sent = time.perf_counter()
                response = await http.get(api + path, headers=sent_headers)
                latencies.append(time.perf_counter() - sent)
                errors += response.status_code != 200

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    return (
        f"{len(latencies) / elapsed:.0f} req/s, p50 {pct(latencies, 0.5) * 1000:.0f} ms, "
        f"p99 {pct(latencies, 0.99) * 1000:.0f} ms, errors {errors}"
    )


def scenario_targets(api: str, token: str, projects: list[str]) -> list[tuple[str, int]]:
    targets = []
    for project in projects:
        listed = httpx.get(api + BASE, headers=headers(token, project), timeout=120).json()["items"]
        targets += [(project, item["id"]) for item in listed]
    return targets


@dataclass(frozen=True)
class Proc:
    """One process of the stack's tree: its kind, resident memory (MB) and CPU time so far (s)."""

    pid: int
    kind: str
    rss_mb: float
    cpu_seconds: float
    # Proportional set size: resident memory with each shared page split among the processes that map it (shared
    # libraries count once over the stack, not once per process as in the RSS sum).
    pss_mb: float = 0.0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(root_pid: int) -> list[Proc]:
    """Every process under `root_pid` (itself included), each with its kind (`process_kind`, from its own command
    line and its parent's kind: a multiprocessing child is a uvicorn worker or a run worker by its parent)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    children: dict[int, list[int]] = defaultdict(list)
    for child, parent in parents.items():
        children[parent].append(child)
    found: list[Proc] = []
    frontier: list[tuple[int, str]] = [(root_pid, "")]
    while frontier:
        pid, parent_kind = frontier.pop()
        proc = read_proc(pid, parent_kind)
        if proc is None:
            continue
        found.append(proc)
        frontier += [(child, proc.kind) for child in children.get(pid, [])]
    return found


def read_proc(pid: int, parent_kind: str) -> Proc | None:
    try:
        status = (Path("/proc") / str(pid) / "status").read_text()
        argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    # utime and stime: fields 14 and 15 of /proc/PID/stat, 12 and 13 after the command name.
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    kind = process_kind([a.decode(errors="replace") for a in argv if a], parent_kind)
    try:
        rollup = (Path("/proc") / str(pid) / "smaps_rollup").read_text()
        pss = next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)
    except OSError:
        pss = 0
    return Proc(pid, kind, kb / 1024, cpu, pss / 1024)


def rss(root_pid: int) -> dict[str, float]:
    """MB of resident memory over the process tree under `root_pid`, by process kind."""
    kinds: dict[str, float] = defaultdict(float)
    for proc in process_tree(root_pid):
        kinds[proc.kind] += proc.rss_mb
    return dict(kinds)


def counted(root_pid: int) -> dict[str, int]:
    kinds: dict[str, int] = defaultdict(int)
    for proc in process_tree(root_pid):
        kinds[proc.kind] += 1
    return dict(kinds)


def idle_cpu(root_pid: int, seconds: float) -> dict[str, float]:
    """Percent of one core each process kind used over `seconds` (utime + stime from /proc; a process that started
    meanwhile counts from zero, one that ended is lost with what it used)."""
    before = {proc.pid: proc.cpu_seconds for proc in process_tree(root_pid)}
    started = time.monotonic()
    time.sleep(seconds)
    after = process_tree(root_pid)
    elapsed = time.monotonic() - started
    kinds: dict[str, float] = defaultdict(float)
    for proc in after:
        kinds[proc.kind] += (proc.cpu_seconds - before.get(proc.pid, 0.0)) / elapsed * 100
    return dict(kinds)


def process_kind(argv: list[str], parent_kind: str = "") -> str:
    text = " ".join(argv)
    if "resource_tracker" in text:
        return "multiprocessing resource trackers"
    if "multiprocessing" in text:
        # uvicorn's workers, and the run workers a code server starts (StartRun), are spawned interpreters.
        return "run workers" if parent_kind.startswith("code server") else parent_kind or "?"
    for marker, kind in (
        ("code-server start", "code server proxies (Dagster)"),
        ("api grpc", "code servers (dagster api grpc)"),
        ("services.code_server", "code servers (honeyframe)"),
        ("execute_run", "run workers"),
        ("dagster-webserver", "webserver"),
        ("dagster-daemon", "daemon"),
        ("dagster_daemon.py", "daemon"),
        ("uvicorn", "API (uvicorn)"),
        ("mailsink", "mail sink"),
        ("mailsink.py", "mail sink"),
        ("honeyframe up", "honeyframe up"),
        ("supervisor.py", "honeyframe up"),
    ):
        if marker in text:
            return kind
    return Path(argv[0]).name if argv else "?"


def wait_for(check: Callable[[], Any], what: str, timeout: float, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f}s")


# -- one column ------------------------------------------------------------------------------------------------------


def measure_stack(args: argparse.Namespace, pairs: int, sharded: bool) -> Figures:
    figures = Figures(f"{pairs} pairs, {'sharded' if sharded else '1 location'}")
    with tempfile.TemporaryDirectory(prefix="hf-scale-") as tmp, postgres_or_not(args.postgres) as urls:
        root = Path(tmp)
        env = base_env(root / "home", port_block(), *urls)
        if not sharded:
            env["HONEYFRAME_CODE_LOCATIONS"] = "1"
        if args.api_workers:
            env["HONEYFRAME_API_WORKERS"] = str(args.api_workers)
        (root / "home").mkdir()
        figures.rows["seed (honeyframe apply)"] = f"{seed(env, root, pairs):.1f} s"
        token = honeyframe(env, "token", "create", "--name", "bench", "--admin").strip()
        stack = start_stack(env, root, figures)
        try:
            print(f"[scale] {figures.label}: up ({figures.rows['cold start (summary / all loaded)']})", flush=True)
            idle(stack, args, figures)
            if args.idle_only:
                return figures
            listed = httpx.get(stack.api + BASE, headers=headers(token, EDIT_PROJECT), timeout=120).json()["items"]
            edit = next(item for item in listed if item["name"] == EDIT_SCENARIO)
            instance = next(item for item in listed if item["template_slug"] == "t0")
            # A project's scenarios share its shard's location.
            location = trigger_location(stack, edit["dagster"]["trigger_name"])
            snapshot_bytes(stack, location, [item["dagster"]["job_name"] for item in listed], figures)
            run_start(stack, token, instance["id"], args.runs, figures)
            edit_to_live(stack, token, edit, args.writes, figures)
            non_shape_edit(stack, token, edit, args.writes, figures)
            enable_disable(stack, token, args.writes, figures)
            projects = [f"p{p}" for p in range(min(max(1, pairs // TEMPLATES), 50))]
            targets = scenario_targets(stack.api, token, projects)
            figures.rows["API reads, 50 clients"] = mixed_reads(stack.api, token, targets, args.requests, 50)
            memory = rss(stack.process.pid)
            figures.rows["RSS total, after the work"] = f"{sum(memory.values()):.0f} MB"
        finally:
            stack.stop()
    return figures


def idle(stack: Stack, args: argparse.Namespace, figures: Figures) -> None:
    """With nothing due (the seeded crons fire at 03:00-03:19 and 04:00 UTC): the stack's CPU over the first
    `--settle-seconds` after every location loaded (the daemon's first pass over the schedules writes each one's
    state), then each process kind's CPU over `--idle-seconds`, then its resident memory."""
    settling = idle_cpu(stack.process.pid, args.settle_seconds)
    figures.rows[f"CPU, first {args.settle_seconds:g} s after loaded"] = f"{sum(settling.values()):.1f} % of a core"
    cpu = idle_cpu(stack.process.pid, args.idle_seconds)
    minutes = f"{args.idle_seconds / 60:g} min"
    figures.rows[f"idle CPU over {minutes}, nothing due"] = f"{sum(cpu.values()):.1f} % of a core"
    for kind, percent in sorted(cpu.items(), key=lambda item: -item[1]):
        figures.rows[f"  CPU {kind}"] = f"{percent:.2f} %"
    memory, processes = rss(stack.process.pid), counted(stack.process.pid)
    figures.rows["RSS by process kind, idle"] = f"{sum(memory.values()):.0f} MB ({sum(processes.values())} proc.)"
    for kind, mb in sorted(memory.items(), key=lambda item: -item[1]):
        figures.rows[f"  RSS {kind}"] = f"{mb:.0f} MB ({processes.get(kind, 0)})"
    figures.rows["  PSS total (shared pages split)"] = (
        f"{sum(proc.pss_mb for proc in process_tree(stack.process.pid)):.0f} MB"
    )


@contextmanager
def postgres_or_not(postgres: bool) -> Iterator[tuple[str | None, str | None]]:
    if not postgres:
        yield None, None
        return
    with postgres_databases(2) as (store, dagster):
        yield store, dagster


# -- the API alone ---------------------------------------------------------------------------------------------------


def measure_api(args: argparse.Namespace, postgres: bool, scenarios: int) -> Figures:
    """The API without Dagster on one project of `scenarios` scenarios, as `honeyframe up` runs uvicorn."""
    figures = Figures(f"API alone, {'Postgres' if postgres else 'SQLite'}")
    with tempfile.TemporaryDirectory(prefix="hf-scale-api-") as tmp, postgres_or_not(postgres) as (store, _):
        root = Path(tmp)
        env = base_env(root / "home", port_block(), store, None)
        env["HONEYFRAME_DAGSTER_URL"] = ""
        (root / "home").mkdir()
        # One project of `scenarios` (the latency figures), and 100 projects of 20 (the read mix, as an org of
        # many projects has: a client lists its project's scenarios or reads one).
        owned = [("big", n) for n in range(scenarios)] + [(f"p{p}", n) for p in range(READ_PROJECTS) for n in range(20)]
        docs = [
            {"kind": "Project", "id": project, "name": project, "owner_email": "o@example.com"}
            for project in dict.fromkeys(project for project, _ in owned)
        ]
        docs += [
            {
                "kind": "Scenario",
                "project": project,
                "name": f"s{n}",
                "trigger": {"cron": f"{n % 60} {n % 24} * * *"},
                "steps": [{"kind": "run_python", "recipe": "pause"}],
            }
            for project, n in owned
        ]
        (root / "big.yaml").write_text("\n---\n".join(json.dumps(doc) for doc in docs))
        honeyframe(env, "apply", str(root / "big.yaml"))
        token = honeyframe(env, "token", "create", "--name", "bench", "--admin").strip()
        workers = str(args.api_workers or os.cpu_count() or 1)
        port = env["HONEYFRAME_API_PORT"]
        argv = api_argv("127.0.0.1", int(port), int(workers))
        with (root / "api.log").open("w") as log:
            process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        api = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: api_answers(api), "uvicorn", 120)
            ids = [
                item["id"] for item in httpx.get(api + BASE, headers=headers(token, "big"), timeout=60).json()["items"]
            ]
            one, whole = [], []
            with httpx.Client(timeout=60, headers=headers(token, "big")) as http:
                for n in range(args.samples):
                    sent = time.perf_counter()
                    http.get(f"{api}{BASE}/{ids[n % len(ids)]}").raise_for_status()
                    one.append(time.perf_counter() - sent)
                for _ in range(max(3, args.samples // 10)):
                    sent = time.perf_counter()
                    http.get(api + BASE).raise_for_status()
                    whole.append(time.perf_counter() - sent)
            figures.rows[f"GET one, {scenarios} in project, p50"] = f"{pct(one, 0.5) * 1000:.1f} ms"
            figures.rows[f"GET list of {scenarios}, p50"] = f"{pct(whole, 0.5) * 1000:.0f} ms"
            targets = scenario_targets(api, token, [f"p{p}" for p in range(READ_PROJECTS)])
            figures.rows[f"50 clients, mixed reads ({READ_PROJECTS} projects of 20)"] = mixed_reads(
                api, token, targets, args.requests, 50
            )
            figures.rows["uvicorn workers"] = workers
        finally:
            process.terminate()
            process.wait(timeout=30)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 2000, 10_000], help="template x project pairs")
    parser.add_argument("--skip-10k", action="store_true", help="leave out 10,000 pairs")
    parser.add_argument("--postgres", action="store_true", help="Postgres for the store and the Dagster instance")
    parser.add_argument("--quick", action="store_true", help="20 pairs, a few iterations: checks the script")
    parser.add_argument("--runs", type=int, default=20, help="runs for run start")
    parser.add_argument("--writes", type=int, default=20, help="writes for edit-to-live and enable/disable")
    parser.add_argument("--requests", type=int, default=2000, help="requests of the 50-client read test")
    parser.add_argument("--samples", type=int, default=100, help="sequential GET one samples (API alone)")
    parser.add_argument("--api-scenarios", type=int, default=1000, help="scenarios in the API-alone project")
    parser.add_argument("--api-workers", type=int, default=None, help="HONEYFRAME_API_WORKERS (default: cores)")
    parser.add_argument("--skip-api", action="store_true", help="leave out the API-alone measurements")
    parser.add_argument("--skip-stack", action="store_true", help="leave out the real-stack measurements")
    parser.add_argument("--sharded-only", action="store_true", help="leave out the one-location columns")
    parser.add_argument("--idle-only", action="store_true", help="cold start, idle CPU and RSS only")
    parser.add_argument("--idle-seconds", type=float, default=120, help="how long idle CPU is measured")
    parser.add_argument("--settle-seconds", type=float, default=240, help="measured apart, after every location loaded")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.runs, args.writes, args.requests, args.samples = [20], 3, 3, 300, 30
    sizes = [size for size in args.sizes if not (args.skip_10k and size >= 10_000)]
    columns = []
    if not args.skip_api:
        for postgres in (False, True):
            columns.append(measure_api(args, postgres, args.api_scenarios))
            print_table(columns)
    if not args.skip_stack:
        for pairs in sizes:
            for sharded in (True,) if args.sharded_only else (True, False):
                columns.append(measure_stack(args, pairs, sharded))
                print_table(columns)


if __name__ == "__main__":
    main()
