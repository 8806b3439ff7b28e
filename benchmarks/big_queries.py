"""What a project's list costs when its scenarios carry big SQL (issue 16): reads show stored versions and parse no
SQL, so 20 scenarios with 50 KB `run_agent` inputs should list about as fast as 20 tiny ones.

    .venv/bin/python benchmarks/big_queries.py [--scenarios 20] [--kilobytes 50] [--rounds 30]

Prints the median and p90 of GET /api/scheduler/scenarios (in-process TestClient, SQLite store, no Dagster) for
tiny and big queries, their ratio, and the same for GET of one scenario and the admin schedules page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

TINY = "select * from orders"


def big_query(kilobytes: int) -> str:
    clauses = []
    size, i = 0, 0
    while size < kilobytes * 1024:
        clause = f"order_id = {i} or"
        clauses.append(clause)
        size += len(clause) + 1
        i += 1
    return f"select * from orders where {' '.join(clauses)} false"


def measure(scenarios: int, query: str, rounds: int) -> dict[str, list[float]]:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from api.main import create_app
    from honeyframe_dagster.boot import boot
    from honeyframe_dagster.settings import get_settings
    from honeyframe_dagster.tokens import create_token

    with tempfile.TemporaryDirectory() as home:
        os.environ.update(HONEYFRAME_HOME=home, HONEYFRAME_WAREHOUSE=str(Path(home) / "w.duckdb"))
        os.environ["HONEYFRAME_DAGSTER_URL"] = ""
        os.environ["HONEYFRAME_RATE_LIMIT_PER_MINUTE"] = "1000000"
        get_settings.cache_clear()
        with Session(boot(get_settings())) as session, session.begin():
            token = create_token(session, "bench", True, [])
        headers = {"Authorization": f"Bearer {token}", "X-Project-Id": "acme-sales"}
        with TestClient(create_app()) as client:
            client.post(
                "/api/scheduler/projects",
                headers=headers,
                json={"id": "acme-sales", "name": "Acme Sales", "owner_email": "ana@acme.example"},
            )
            documents = [
                {
                    "kind": "Dataset",
                    "id": "orders",
                    "project": "acme-sales",
                    "connector": {"type": "file", "path": "x.csv"},
                },
                {"kind": "Agent", "id": "triage", "project": "acme-sales", "model": "m"},
            ]
            _apply(documents)
            ids = []
            for n in range(scenarios):
                body = {
                    "name": f"s{n}",
                    "trigger": {"cron": "0 2 * * *"},
                    "steps": [{"kind": "run_agent", "agent": "triage", "input": query, "output_table": f"out_{n}"}],
                }
                created = client.post("/api/scheduler/scenarios", headers=headers, json=body)
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
            timings: dict[str, list[float]] = {"list": [], "one": []}
            if os.environ.get("BENCH_PROFILE") and len(query) > 1000:
                import cProfile

                cProfile.runctx(
                    "for _ in range(20): client.get('/api/scheduler/scenarios', headers=headers)",
                    globals(),
                    {"client": client, "headers": headers},
                    sort="cumtime",
                )
            for _ in range(rounds):
                start = time.perf_counter()
                assert client.get("/api/scheduler/scenarios", headers=headers).status_code == 200
                timings["list"].append(time.perf_counter() - start)
                start = time.perf_counter()
                assert client.get(f"/api/scheduler/scenarios/{ids[0]}", headers=headers).status_code == 200
                timings["one"].append(time.perf_counter() - start)
        return timings


def _apply(documents: list[dict]) -> None:
    import yaml

    from honeyframe_dagster.cli import main as honeyframe

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(yaml.safe_dump_all(documents))
    try:
        assert honeyframe(["apply", handle.name]) == 0
    finally:
        os.unlink(handle.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20)
    parser.add_argument("--kilobytes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    results = {
        "tiny": measure(args.scenarios, TINY, args.rounds),
        "big": measure(args.scenarios, big_query(args.kilobytes), args.rounds),
    }
    for what in ("list", "one"):
        medians = {size: statistics.median(results[size][what]) * 1000 for size in results}
        p90 = {size: statistics.quantiles(results[size][what], n=10)[-1] * 1000 for size in results}
        print(
            f"GET {what:4}: tiny median {medians['tiny']:.1f} ms (p90 {p90['tiny']:.1f}), "
            f"{args.kilobytes} KB queries median {medians['big']:.1f} ms (p90 {p90['big']:.1f}), "
            f"ratio {medians['big'] / medians['tiny']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
