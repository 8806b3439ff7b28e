"""What GET one scenario costs as its project grows (scale, round two): reading one scenario should not read the
project, so GET one in a project of 1,000 scenarios should take at most 1.5x what it takes in a project of 10.

    .venv/bin/python benchmarks/get_one.py [--sizes 10 1000] [--rounds 200] [--postgres]

In-process TestClients (one per size, side by side, taking turns request by request), no Dagster, one store per
size (SQLite, or a fresh Postgres database with --postgres), seeded with one `honeyframe apply`. Prints, per size,
the median and p90 of GET one (the first 50 scenarios in turn) and its mean CPU time in this process, the median
of the list, and the statements each sends; then GET one's ratios of the largest size to the smallest.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
BASE = "/api/scheduler/scenarios"


@contextmanager
def store(postgres: bool, home: Path) -> Iterator[str | None]:
    """A fresh Postgres database (its URL) or None (the SQLite default under `home`)."""
    if not postgres:
        yield None
        return
    from sqlalchemy import create_engine, text

    name = f"hf_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        from honeyframe_dagster.store.engine import get_engine

        get_engine(f"{POSTGRES}/{name}").dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(home: Path, scenarios: int) -> None:
    from honeyframe_dagster.cli import main as honeyframe

    docs: list[dict[str, Any]] = [{"kind": "Project", "id": "big", "name": "Big", "owner_email": "o@example.com"}]
    docs += [
        {
            "kind": "Scenario",
            "project": "big",
            "name": f"s{n}",
            "trigger": {"cron": f"{n % 60} {n % 24} * * *"},
            "steps": [{"kind": "run_python", "recipe": "pause"}],
        }
        for n in range(scenarios)
    ]
    path = home / "seed.yaml"
    path.write_text("\n---\n".join(json.dumps(doc) for doc in docs))
    assert honeyframe(["apply", str(path)]) == 0


@contextmanager
def serving(scenarios: int, postgres: bool, stack: ExitStack) -> Iterator[Any]:
    """A TestClient on a fresh store of one project of `scenarios` scenarios (settings are read at its start-up:
    several can serve side by side), with the headers, the scenarios' ids and the statements of GET one and list."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from api.main import create_app
    from honeyframe_dagster.boot import boot
    from honeyframe_dagster.settings import get_settings
    from honeyframe_dagster.store.engine import get_engine
    from honeyframe_dagster.tokens import create_token

    home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hf-get-one-")))
    url = stack.enter_context(store(postgres, home))
    os.environ.update(HONEYFRAME_HOME=str(home), HONEYFRAME_WAREHOUSE=str(home / "w.duckdb"))
    os.environ.update(HONEYFRAME_DAGSTER_URL="", HONEYFRAME_RATE_LIMIT_PER_MINUTE="100000000")
    if url:
        os.environ["HONEYFRAME_DATABASE_URL"] = url
    else:
        os.environ.pop("HONEYFRAME_DATABASE_URL", None)
    get_settings.cache_clear()
    seed(home, scenarios)
    with Session(boot(get_settings())) as session, session.begin():
        token = create_token(session, "bench", True, [])
    headers = {"Authorization": f"Bearer {token}", "X-Project-Id": "big"}
    client = stack.enter_context(TestClient(create_app()))
    ids = [item["id"] for item in client.get(BASE, headers=headers).json()["items"]]
    assert len(ids) == scenarios, len(ids)
    for n in range(min(len(ids), SHOWN)):  # warm: every version this process reads once
        client.get(f"{BASE}/{ids[n]}", headers=headers).raise_for_status()
    statements: dict[str, int] = {}
    engine = get_engine(get_settings().store_url)
    for what, path in (("one", f"{BASE}/{ids[0]}"), ("list", BASE)):
        sent: list[str] = []

        def count(*args: Any, _sent: list[str] = sent) -> None:
            _sent.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        client.get(path, headers=headers).raise_for_status()
        event.remove(engine, "before_cursor_execute", count)
        statements[what] = len(sent)
    yield client, headers, ids, statements


# GET one reads these first scenarios of the project in turn.
SHOWN = 50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--postgres", action="store_true", help="a fresh Postgres database, not SQLite")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from honeyframe_dagster.settings import get_settings

    with ExitStack() as stack:
        served = {size: stack.enter_context(serving(size, args.postgres, stack)) for size in args.sizes}
        get_settings.cache_clear()
        one: dict[int, list[float]] = {size: [] for size in args.sizes}
        cpu: dict[int, list[float]] = {size: [] for size in args.sizes}
        whole: dict[int, list[float]] = {size: [] for size in args.sizes}
        # The sizes take turns, request by request: a machine busy with something else slows them alike. The CPU
        # time is this process's (the client, the event loop and the route's thread), which other processes on
        # the machine do not add to.
        for n in range(args.rounds):
            for size, (client, headers, ids, _) in served.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                client.get(f"{BASE}/{ids[n % min(len(ids), SHOWN)]}", headers=headers).raise_for_status()
                one[size].append(time.perf_counter() - start)
                cpu[size].append(time.process_time() - start_cpu)
        for _ in range(max(3, args.rounds // 20)):
            for size, (client, headers, _, _) in served.items():
                start = time.perf_counter()
                client.get(BASE, headers=headers).raise_for_status()
                whole[size].append(time.perf_counter() - start)
        store_name = "Postgres" if args.postgres else "SQLite"
        for size, (_, _, _, statements) in served.items():
            p90 = statistics.quantiles(one[size], n=10)[-1]
            print(
                f"{store_name}, {size} scenarios: GET one median {statistics.median(one[size]) * 1000:.2f} ms "
                f"(p90 {p90 * 1000:.2f}; CPU {statistics.mean(cpu[size]) * 1000:.2f} ms), {statements['one']} "
                f"statements; GET list median {statistics.median(whole[size]) * 1000:.1f} ms, "
                f"{statements['list']} statements",
                flush=True,
            )
    smallest, largest = min(args.sizes), max(args.sizes)
    ratio = statistics.median(one[largest]) / statistics.median(one[smallest])
    cpu_ratio = statistics.mean(cpu[largest]) / statistics.mean(cpu[smallest])
    print(f"GET one, {largest} vs {smallest} scenarios: {ratio:.2f}x (CPU {cpu_ratio:.2f}x); target <= 1.5x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
