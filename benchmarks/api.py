"""REST API figures: latency and throughput of list / get / create under a concurrent client, on a store of
10,000 scenarios over 500 projects; and how long after an API write the Dagster daemon sees the new trigger.

Part 1 runs uvicorn (one process) on a seeded SQLite store (--postgres: a fresh Postgres database) without Dagster
(HONEYFRAME_DAGSTER_URL=""), so it measures the API itself; a write with Dagster adds a reload of the project's code
location (part 2 measures it).
Part 2 starts a small real stack (code server, webserver, daemon, uvicorn) and, for a new every-minute cron
scenario and a new 60 s interval scenario, measures: the API's write latency (store + location reload + status),
and the delay from the API's 2xx until the daemon records the trigger's first tick.

    .venv/bin/python benchmarks/api.py [--scenarios 10000] [--projects 500] [--requests 400] [--concurrency 16]
                                       [--skip-load] [--skip-daemon] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from support import api_answers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scale import postgres_databases  # noqa: E402
from honeyframe_dagster.services.stack import api_argv  # noqa: E402
from tests.api.conftest import (  # noqa: E402 - the test helpers start real processes the same way
    BIN,
    SEED_YAML,
    Stack,
    free_port,
    graphql,
    make_tokens,
    start_stack,
    wait_for,
)

STEPS = [{"kind": "run_recipe", "recipe": "stg_orders"}, {"kind": "run_recipe", "recipe": "mart_revenue"}]


def seed(url: str, scenarios: int, projects: int) -> None:
    from sqlalchemy.orm import Session

    from honeyframe_dagster.store import schema
    from honeyframe_dagster.store.engine import get_engine
    from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow

    engine = get_engine(url)
    schema.upgrade(engine)
    with Session(engine) as session, session.begin():
        session.add_all(
            ProjectRow(id=f"p{i:04d}", name=f"Project {i}", owner_email=f"owner{i}@example.com")
            for i in range(projects)
        )
        session.flush()
        for n in range(scenarios):
            trigger = {"cron": f"{n % 60} {n % 24} * * *"} if n % 2 else {"interval_seconds": 3600}
            session.add(
                ScenarioRow(
                    project_id=f"p{n % projects:04d}",
                    name=f"s{n}",
                    trigger=trigger,
                    steps=STEPS,
                    enabled=True,
                    parameters={},
                )
            )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure(name: str, url: str, requests: list[tuple[str, str, dict[str, str], Any]], concurrency: int) -> None:
    latencies: list[float] = []
    queue = list(requests)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        # A connection pool per worker: one shared pool costs the load generator CPU per queued request and
        # connection (httpcore scans them all), taken from the server on the same cores.
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=1)) as client:
            while queue:
                method, path, headers, body = queue.pop()
                started = time.perf_counter()
                response = await client.request(method, url + path, headers=headers, json=body)
                latencies.append(time.perf_counter() - started)
                failures += response.status_code >= 400

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    print(
        f"{name:<7} n={len(latencies):<5} p50={percentile(latencies, 0.5) * 1000:7.1f} ms  "
        f"p99={percentile(latencies, 0.99) * 1000:7.1f} ms  mean={statistics.mean(latencies) * 1000:7.1f} ms  "
        f"throughput={len(latencies) / elapsed:6.1f} req/s  errors={failures}",
        flush=True,
    )


def api_under_load(args: argparse.Namespace, root: Path, store_url: str | None = None) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from honeyframe_dagster.settings import Settings
    from honeyframe_dagster.store.engine import get_engine
    from honeyframe_dagster.store.tables import ScenarioRow
    from honeyframe_dagster.tokens import create_token

    home = root / "load"
    home.mkdir()
    settings = Settings(home=home, database_url=store_url)
    started = time.perf_counter()
    seed(settings.store_url, args.scenarios, args.projects)
    print(f"seeded {args.scenarios} scenarios over {args.projects} projects in {time.perf_counter() - started:.1f} s")
    with Session(get_engine(settings.store_url)) as session, session.begin():
        token = create_token(session, "bench", True, [])
    with Session(get_engine(settings.store_url)) as session:
        ids = [(p, i) for i, p in session.execute(select(ScenarioRow.id, ScenarioRow.project_id))]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HONEYFRAME_", "DAGSTER_"))}
    # One token sends every request: the per-token rate limit (HONEYFRAME_RATE_LIMIT_PER_MINUTE) is not measured here.
    env.update(HONEYFRAME_HOME=str(home), HONEYFRAME_DAGSTER_URL="", HONEYFRAME_RATE_LIMIT_PER_MINUTE="100000000")
    if store_url:
        env["HONEYFRAME_DATABASE_URL"] = store_url
    stack = Stack(home, env)
    port = free_port()
    stack.start("api", api_argv("127.0.0.1", port, 1))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: api_answers(url), "uvicorn")
        rng = random.Random(7)

        def headers(project: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}", "X-Project-Id": project}

        lists = [
            ("GET", "/api/scheduler/scenarios", headers(f"p{rng.randrange(args.projects):04d}"), None)
            for _ in range(args.requests)
        ]
        gets = [
            ("GET", f"/api/scheduler/scenarios/{scenario_id}", headers(project), None)
            for project, scenario_id in rng.sample(ids, args.requests)
        ]
        creates = [
            (
                "POST",
                "/api/scheduler/scenarios",
                headers(f"p{rng.randrange(args.projects):04d}"),
                {"name": f"bench {n}", "trigger": {"cron": "15 4 * * *"}, "steps": STEPS},
            )
            for n in range(args.requests)
        ]
        store = "Postgres" if store_url else "SQLite"
        print(f"concurrency {args.concurrency}, one uvicorn process, {store} store, no Dagster reload:")
        for name, requests in (("list", lists), ("get", gets), ("create", creates)):
            asyncio.run(measure(name, url, requests, args.concurrency))
    finally:
        stack.stop()


def first_tick(stack: Stack, name: str) -> float | None:
    ticks = "sensorState { ticks(limit: 1) { timestamp } }"
    query = f"query($s: SensorSelector!) {{ sensorOrError(sensorSelector: $s) {{ ... on Sensor {{ {ticks} }} }} }}"
    selector = {"repositoryLocationName": "honeyframe", "repositoryName": "__repository__", "sensorName": name}
    state = graphql(stack.dagster_url, query, {"s": selector})["sensorOrError"]["sensorState"]
    ticks = state["ticks"]
    return float(ticks[0]["timestamp"]) if ticks else None


def daemon_delay(root: Path) -> None:
    import subprocess

    from honeyframe_dagster.settings import Settings

    stack = start_stack(root / "stack", daemon=True)
    try:
        (root / "seed.yaml").write_text(SEED_YAML)
        subprocess.run([str(BIN / "honeyframe"), "apply", str(root / "seed.yaml")], env=stack.env, check=True)
        token = make_tokens(Settings(home=Path(stack.env["HONEYFRAME_HOME"])))["admin"]
        port = free_port()
        stack.start("api", [str(BIN / "uvicorn"), "api.main:app", "--host", "127.0.0.1", "--port", str(port)])
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: api_answers(url), "uvicorn")
        headers = {"Authorization": f"Bearer {token}", "X-Project-Id": "acme-sales"}
        pending = {}
        for name, trigger in (("every minute", {"cron": "* * * * *"}), ("every 60 s", {"interval_seconds": 60})):
            started = time.perf_counter()
            response = httpx.post(
                f"{url}/api/scheduler/scenarios",
                json={"name": name, "trigger": trigger, "steps": STEPS[:1]},
                headers=headers,
                timeout=300,
            )
            done = time.time()
            response.raise_for_status()
            dagster = response.json()["dagster"]
            print(
                f"create '{name}' with Dagster: {time.perf_counter() - started:.1f} s "
                f"(store + reload + status; sync={response.headers['X-Honeyframe-Dagster-Sync']})",
                flush=True,
            )
            pending[dagster["trigger_name"]] = done
        deadline = time.monotonic() + 240
        while pending and time.monotonic() < deadline:
            for trigger_name, done in list(pending.items()):
                tick = first_tick(stack, trigger_name)
                if tick is not None:
                    print(f"API 2xx -> daemon's first tick of {trigger_name}: {tick - done:.1f} s", flush=True)
                    del pending[trigger_name]
            time.sleep(1)
        for trigger_name in pending:
            print(f"no tick of {trigger_name} within 240 s")
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--requests", type=int, default=400, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--skip-load", action="store_true", help="skip part 1 (the API under load)")
    parser.add_argument("--postgres", action="store_true", help="part 1 on a fresh Postgres database (127.0.0.1:5432)")
    parser.add_argument("--skip-daemon", action="store_true", help="skip part 2 (the real Dagster stack)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_load and args.postgres:
            with postgres_databases(1) as (store_url,):
                api_under_load(args, Path(tmp), store_url)
        elif not args.skip_load:
            api_under_load(args, Path(tmp))
        if not args.skip_daemon:
            daemon_delay(Path(tmp))


if __name__ == "__main__":
    main()
