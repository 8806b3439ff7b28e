"""What importing the scenario location costs, and how fast a run worker starts, with few and many pairs in the store.

For each store size (template x project pairs, every template a chain of run_recipe steps, plus one project scenario
whose only step is `run_python`) it seeds a temporary home, then:
  import  - `python -X importtime -c "import honeyframe_dagster.definitions"`: the import's total and its top costs;
  load    - the scenario location loaded as a code server loads it (a fresh process);
  start   - a run of the run_python scenario's job, started R times by Dagster's own run-worker entry point
            (`dagster api execute_run`, as the DefaultRunLauncher does): worker spawned -> its first STEP_START;
  worker  - that worker's whole wall time (start, the step, run success, exit).

    .venv/bin/python benchmarks/run_start.py [--pairs 20 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_definitions import seed_store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
QUICK_JOB = "project_0__quick"


def add_quick_scenario(url: str) -> None:
    from sqlalchemy.orm import Session

    from honeyframe_dagster.store.engine import get_engine
    from honeyframe_dagster.store.tables import ScenarioRow

    with Session(get_engine(url)) as session, session.begin():
        session.add(
            ScenarioRow(
                project_id="project-0",
                name="quick",
                enabled=True,
                trigger={"interval_seconds": 3600},
                steps=[{"kind": "run_python", "recipe": "pause"}],
            )
        )


def import_cost(env: dict[str, str]) -> tuple[float, list[tuple[float, str]]]:
    """Seconds for the import, and the costliest modules it pulled in directly or one level down."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import honeyframe_dagster.definitions"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    rows = []
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2 and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            rows.append((int(cumulative) / 1e6, name.rstrip()))
    module = "honeyframe_dagster.definitions"
    total = next(seconds for seconds, name in rows if name.strip() == module)
    top = [(s, n.strip()) for s, n in rows if len(n) - len(n.lstrip()) <= 4 and n.strip() != module]
    return total, sorted(top, reverse=True)[:5]


def load_seconds(env: dict[str, str]) -> float:
    code = (
        "import time; t = time.perf_counter(); "
        "from dagster._core.definitions.reconstruct import ReconstructableRepository; "
        "repo = ReconstructableRepository.for_module('honeyframe_dagster.definitions', 'defs', '.').get_definition(); "
        "repo.load_all_definitions(); print(time.perf_counter() - t)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=REPO
    )
    return float(completed.stdout.strip().splitlines()[-1])


def run_starts(env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """In a process of its own (Dagster keeps a location's load context process-wide): see `measure_starts`."""
    completed = subprocess.run(
        [sys.executable, __file__, "--child-runs", str(runs)], env=env, capture_output=True, text=True, check=True
    )
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures["starts"], figures["walls"]


def measure_starts(env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """(spawn -> first STEP_START, worker wall time) per run, with the run planned as a code server plans it."""
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import create_execution_plan
    from dagster._grpc.types import ExecuteRunArgs
    from dagster_shared.serdes import serialize_value

    os.environ.update(env)
    instance = DagsterInstance.get()
    repository = ReconstructableRepository.for_module("honeyframe_dagster.definitions", "defs", str(REPO))
    load_data = repository.get_definition().repository_load_data
    recon_job = repository.get_reconstructable_job(QUICK_JOB)
    job = recon_job.get_definition()
    starts, walls = [], []
    for _ in range(runs):
        plan = create_execution_plan(recon_job, repository_load_data=load_data)
        origin = recon_job.get_python_origin()
        run = instance.create_run_for_job(job_def=job, execution_plan=plan, job_code_origin=origin, tags=job.run_tags)
        args = serialize_value(ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=instance.get_ref()))
        spawned = time.time()
        subprocess.run(
            [sys.executable, "-m", "dagster", "api", "execute_run", args], env=env, cwd=REPO, capture_output=True
        )
        walls.append(time.time() - spawned)
        (first,) = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.STEP_START, limit=1).records
        starts.append(first.event_log_entry.timestamp - spawned)
    return starts, walls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, nargs="+", default=[20, 2000])
    parser.add_argument("--templates", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child-runs", type=int)
    args = parser.parse_args()
    if args.child_runs:
        starts, walls = measure_starts(dict(os.environ), args.child_runs)
        print(json.dumps({"starts": starts, "walls": walls}))
        return
    print(f"{'pairs':>6} {'import s':>8} {'load s':>7} {'start p50 s':>11} {'start max s':>11} {'worker p50 s':>12}")
    tops = {}
    for pairs in args.pairs:
        with tempfile.TemporaryDirectory() as home:
            dagster_home = Path(home) / "dagster"
            dagster_home.mkdir()
            env = {
                **os.environ,
                "HONEYFRAME_HOME": home,
                "HONEYFRAME_DATABASE_URL": f"sqlite:///{home}/store.db",
                "HONEYFRAME_WAREHOUSE": f"{home}/warehouse.duckdb",
                "DAGSTER_HOME": str(dagster_home),
                "DAGSTER_DISABLE_TELEMETRY": "yes",
                "PYTHONWARNINGS": "ignore",
            }
            env.pop("HONEYFRAME_SHARD", None)
            seed_store(env["HONEYFRAME_DATABASE_URL"], pairs, args.templates)
            add_quick_scenario(env["HONEYFRAME_DATABASE_URL"])
            imported, tops[pairs] = import_cost(env)
            loaded = load_seconds(env)
            starts, walls = run_starts(env, args.runs)
            print(
                f"{pairs:>6} {imported:>8.2f} {loaded:>7.2f} {statistics.median(starts):>11.2f} {max(starts):>11.2f} "
                f"{statistics.median(walls):>12.2f}",
                flush=True,
            )
    for pairs, top in tops.items():
        print(f"import costs at {pairs} pairs: " + ", ".join(f"{name} {seconds:.2f}s" for seconds, name in top))


if __name__ == "__main__":
    main()
