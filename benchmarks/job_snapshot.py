"""What one generated job costs Dagster: its serialized snapshot (what every webserver and daemon fetch and hold per
job) and the time to build it, for the factory's lean jobs against the same jobs binding all seven configurable
resources (the factory before lean jobs, and what a user binding resources at the top of `Definitions` gets), and
against Dagster's own floor (a one-op job with nothing to configure).

    .venv/bin/python benchmarks/job_snapshot.py [--pairs 500] [--templates 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from dagster import Definitions, GraphDefinition, In, JobDefinition, Nothing, Out, op
from dagster._core.snap import JobSnap
from dagster._serdes import serialize_value


def lean_jobs() -> list[JobDefinition]:
    from honeyframe_dagster.boot import shard_scenarios
    from honeyframe_dagster.dbt import load_manifest, recipe_names
    from honeyframe_dagster.factory.definitions import build_jobs_and_triggers
    from honeyframe_dagster.factory.plan import plan
    from honeyframe_dagster.settings import get_settings
    from honeyframe_dagster.store.engine import get_engine

    compiled = shard_scenarios(get_engine(get_settings().store_url), None)
    jobs, _ = build_jobs_and_triggers(plan(compiled, recipe_names(load_manifest())))
    return jobs


def with_all_resources(jobs: Sequence[JobDefinition]) -> list[JobDefinition]:
    """The same graphs, bound as before: every resource, configurable, with Dagster's default executor config."""
    from honeyframe_dagster.factory.resources import BUILDERS
    from honeyframe_dagster.settings import get_settings

    settings = get_settings()
    resources = {key: build(settings) for key, build in BUILDERS.items()}
    plain = [job.graph.to_job(name=job.name, tags=job.tags, partitions_def=job.partitions_def) for job in jobs]
    defs = Definitions(jobs=plain, resources=resources)
    return [defs.get_job_def(job.name) for job in jobs]


def dagster_floor(configurable: bool) -> list[JobDefinition]:
    """A one-op job: with Dagster's default executor, loggers and IO manager (`configurable`), or with the factory's
    versions of them that expose no config (what is left is Dagster's built-in config types, in every job)."""
    from honeyframe_dagster.factory.resources import IN_PROCESS_EXECUTOR, LOGGERS, step_outputs_io_manager

    @op(ins={"after": In(Nothing)}, out=Out(Nothing))
    def step() -> None:
        pass

    graph = GraphDefinition(name="floor", node_defs=[step])
    if configurable:
        return [graph.to_job()]
    return [
        graph.to_job(
            resource_defs={"io_manager": step_outputs_io_manager}, executor_def=IN_PROCESS_EXECUTOR, logger_defs=LOGGERS
        )
    ]


def measure(label: str, make: Callable[[], list[JobDefinition]]) -> None:
    jobs = make()
    sizes, schema_sizes = [], []
    start = time.perf_counter()
    for job in jobs:
        snapshot = JobSnap.from_job_def(job)
        sizes.append(len(serialize_value(snapshot)))
        schema_sizes.append(len(serialize_value(snapshot.config_schema_snapshot)))
    per_job_ms = (time.perf_counter() - start) / len(jobs) * 1000
    print(
        f"{label:<30} {len(jobs):>5} {statistics.mean(sizes) / 1000:>9.1f} {max(sizes) / 1000:>8.1f} "
        f"{statistics.mean(schema_sizes) / 1000:>10.1f} {per_job_ms:>9.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--templates", type=int, default=10)
    args = parser.parse_args()
    from load_definitions import seed_store

    with tempfile.TemporaryDirectory() as home:
        os.environ.update({"HONEYFRAME_HOME": home, "HONEYFRAME_DATABASE_URL": f"sqlite:///{home}/store.db"})
        os.environ.pop("HONEYFRAME_SHARD", None)
        seed_store(os.environ["HONEYFRAME_DATABASE_URL"], args.pairs, args.templates)
        print(f"{'jobs':<30} {'count':>5} {'mean KB':>9} {'max KB':>8} {'schema KB':>10} {'ms/job':>9}")
        jobs = lean_jobs()
        measure("lean (the factory)", lambda: jobs)
        measure("all seven resources bound", lambda: with_all_resources(jobs))
        measure("one op, Dagster's defaults", lambda: dagster_floor(configurable=True))
        measure("one op, nothing to configure", lambda: dagster_floor(configurable=False))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
