"""How long, and how much memory, a code location of P projects x T templates takes to load.

For 1,000 / 5,000 / 10,000 template x project pairs it builds a store, then in a fresh process per measurement:
  build   - the factory's `Definitions` (catalog read, plan, jobs, triggers);
  serve   - what a code server sends: `RepositorySnap.from_def(repo, defer_snapshots=True)`, serialized;
  reload  - (the real factory) build and serve again after one scenario's edit, as a reload in place does
            (services/code_server.py): the unchanged jobs are reused with the snapshots Dagster keeps on them;
for the real factory (one shared op per step kind, step config looked up at run time) and for a naive baseline
factory (fresh op definitions per job, step config baked in as op config). Peak memory is the child's max RSS.

    .venv/bin/python benchmarks/load_definitions.py [--pairs 1000 5000 10000] [--templates 10]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

TEMPLATE_STEPS = [
    {"kind": "run_recipe", "recipe": "{{ param.mart }}"},
    {"kind": "run_recipe", "recipe": "mart_ops_kpis", "parallel": True},
    {"kind": "run_recipe", "recipe": "mart_inventory", "parallel": True},
    {"kind": "run_recipe", "recipe": "stg_customers"},
]


def seed_store(url: str, pairs: int, templates: int) -> None:
    from sqlalchemy.orm import Session

    from honeyframe_dagster.boot import compile_stored
    from honeyframe_dagster.store import schema
    from honeyframe_dagster.store.engine import get_engine
    from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow, TemplateRow

    engine = get_engine(url)
    schema.upgrade(engine)
    projects = pairs // templates
    with Session(engine) as session, session.begin():
        for t in range(templates):
            session.add(
                TemplateRow(
                    slug=f"tpl-{t}",
                    display_name=f"Template {t}",
                    default_enabled=False,
                    document={
                        "slug": f"tpl-{t}",
                        "display_name": f"Template {t}",
                        "default_enabled": False,
                        "parameters": [{"name": "mart", "type": "recipe_ref", "default": None}],
                        "trigger": {"cron": f"{t} 2 * * *", "timezone": "Europe/Berlin"},
                        "steps": TEMPLATE_STEPS,
                    },
                )
            )
        for p in range(projects):
            session.add(ProjectRow(id=f"project-{p}", name=f"Project {p}", owner_email=f"owner{p}@example.com"))
        session.flush()
        session.add_all(
            ScenarioRow(
                project_id=f"project-{p}",
                name=f"tpl-{t}",
                template_slug=f"tpl-{t}",
                enabled=p % 7 != 0,
                parameters={"mart": "mart_revenue"},
            )
            for p in range(projects)
            for t in range(templates)
        )
    # Scenarios are read from their compiled versions (store/versions.py): compile the rows written above.
    compile_stored(engine)


def naive_definitions(planned, manifest):  # type: ignore[no-untyped-def]
    """The baseline: a fresh op per step per job, with the step's config as that op's config schema."""
    from dagster import (
        Definitions,
        DependencyDefinition,
        Field,
        GraphDefinition,
        In,
        Nothing,
        Out,
        ScheduleDefinition,
        op,
    )

    from honeyframe_dagster.factory.jobs import scenario_tags, step_groups
    from honeyframe_dagster.factory.resources import BUILDERS
    from honeyframe_dagster.factory.triggers import build_trigger, cron_partitions
    from honeyframe_dagster.settings import get_settings

    jobs, triggers = [], []
    for entry in planned:
        spec = entry.spec
        if spec is None:
            continue
        ops, dependencies, previous = [], {}, []
        for group in step_groups(spec.steps):
            names = []
            for index in group:
                step = spec.steps[index]
                config = {key: Field(str, default_value=json.dumps(value)) for key, value in step.model_dump().items()}

                @op(
                    name=f"{entry.job_name}_step_{index + 1}",
                    ins={"after": In(Nothing)},
                    out=Out(Nothing),
                    config_schema=config,
                )
                def _step(context) -> None:  # noqa: ANN001
                    context.log.info(str(context.op_config))

                ops.append(_step)
                names.append(_step.name)
                dependencies[_step.name] = (
                    {
                        "after": __import__("dagster").MultiDependencyDefinition(
                            [DependencyDefinition(p, "result") for p in previous]
                        )
                    }
                    if previous
                    else {}
                )
            previous = names
        job = GraphDefinition(name=entry.job_name, node_defs=ops, dependencies=dependencies).to_job(
            tags=scenario_tags(spec), partitions_def=cron_partitions(spec.trigger.cron, spec.timezone)
        )
        jobs.append(job)
        triggers.append(build_trigger(spec, job, entry.trigger_name, None))
    from honeyframe_dagster.warehouse_definitions import build_dbt_assets, dbt_cli

    schedules = [t for t in triggers if isinstance(t, ScheduleDefinition)]
    sensors = [t for t in triggers if not isinstance(t, ScheduleDefinition)]
    # What a user writes: every resource bound at the top, configurable, so every job carries all their fields.
    settings = get_settings()
    resources = {"dbt": dbt_cli(), **{key: build(settings) for key, build in BUILDERS.items()}}
    return Definitions(
        assets=[build_dbt_assets(manifest)], jobs=jobs, schedules=schedules, sensors=sensors, resources=resources
    )


def measure(variant: str) -> dict[str, float]:
    """Runs in a child process: build Definitions, then the code server's serialized repository snapshot."""
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import serialize_value

    from honeyframe_dagster.boot import shard_scenarios
    from honeyframe_dagster.dbt import load_manifest, recipe_names
    from honeyframe_dagster.factory.definitions import build_definitions
    from honeyframe_dagster.factory.plan import plan
    from honeyframe_dagster.settings import get_settings
    from honeyframe_dagster.store.engine import get_engine

    manifest = load_manifest()
    start = time.perf_counter()
    compiled = shard_scenarios(get_engine(get_settings().store_url), None)
    planned = plan(compiled, recipe_names(manifest))
    defs = build_definitions(planned) if variant == "shared" else naive_definitions(planned, manifest)
    repo = defs.get_repository_def()
    jobs = len(repo.get_all_jobs())
    built = time.perf_counter()
    payload = serialize_value(RepositorySnap.from_def(repo, defer_snapshots=True))
    served = time.perf_counter()
    reload_s = float("nan")
    if variant == "shared":
        earlier = {e.job_name: (e.spec, repo.get_job(e.job_name)) for e in planned if e.spec is not None}
        again = time.perf_counter()
        replanned = plan(shard_scenarios(get_engine(get_settings().store_url), None), recipe_names(manifest))
        edited = next(i for i, e in enumerate(replanned) if e.spec is not None)
        spec = replanned[edited].spec
        assert spec is not None
        replanned[edited] = replace(replanned[edited], spec=replace(spec, version=spec.version + 1))
        repo = build_definitions(replanned, earlier).get_repository_def()
        serialize_value(RepositorySnap.from_def(repo, defer_snapshots=True))
        reload_s = time.perf_counter() - again
    return {
        "jobs": jobs,
        "build_s": built - start,
        "serve_s": served - built,
        "reload_s": reload_s,
        "payload_mb": len(payload) / 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--templates", type=int, default=10)
    parser.add_argument("--child", choices=["shared", "naive"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    print(
        f"{'pairs':>6} {'factory':>7} {'jobs':>6} {'build s':>8} {'serve s':>8} {'total s':>8} {'reload s':>8} "
        f"{'payload MB':>10} {'peak RSS MB':>11}"
    )
    for pairs in args.pairs:
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "HONEYFRAME_HOME": home, "HONEYFRAME_DATABASE_URL": f"sqlite:///{home}/store.db"}
            env.pop("HONEYFRAME_SHARD", None)
            os.environ.update(env)
            seed_store(env["HONEYFRAME_DATABASE_URL"], pairs, args.templates)
            totals = {}
            for variant in ("shared", "naive"):
                out = (
                    subprocess.run(
                        [sys.executable, __file__, "--child", variant],
                        env=env,
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    .stdout.strip()
                    .splitlines()[-1]
                )
                figures = json.loads(out)
                totals[variant] = figures["build_s"] + figures["serve_s"]
                print(
                    f"{pairs:>6} {variant:>7} {figures['jobs']:>6} {figures['build_s']:>8.1f} "
                    f"{figures['serve_s']:>8.1f} {totals[variant]:>8.1f} {figures['reload_s']:>8.2f} "
                    f"{figures['payload_mb']:>10.1f} "
                    f"{figures['peak_rss_mb']:>11.0f}",
                    flush=True,
                )
            print(f"{pairs:>6} naive/shared total time ratio: {totals['naive'] / totals['shared']:.2f}", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
