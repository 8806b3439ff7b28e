"""How long boot's legacy migration takes for 10,000 legacy rows, on SQLite and on Postgres.

Usage: .venv/bin/python benchmarks/migration.py [ROWS] [--no-postgres]
Postgres: a fresh database on postgresql+psycopg://postgres@127.0.0.1:5432 (override with BENCH_PG_ADMIN_URL).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from honeyframe_dagster.legacy.migrate import migrate_legacy
from honeyframe_dagster.store import schema
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow

LEGACY_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "legacy" / "legacy_schema.sql"
PROJECTS = 100
TIMEZONES = ("UTC", "Europe/Berlin", "Asia/Jakarta", "America/New_York")


def legacy_statements() -> list[str]:
    lines = [line.split("--")[0] for line in LEGACY_SCHEMA.read_text().splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def fill(engine: Engine, rows: int) -> None:
    """The store's schema, PROJECTS projects, and `rows` legacy rows spread over the three tables."""
    schema.upgrade(engine)
    third = rows // 3
    reports = [
        {"id": i, "p": f"project-{i % PROJECTS}", "name": f"Report {i}", "cron": f"{i % 60} {i % 24} * * *",
         "tz": TIMEZONES[i % 4] if i % 5 else None, "d": '["revenue-overview","ops-kpis"]',
         "r": f"a{i}@acme.example, b{i}@acme.example", "f": "pdf" if i % 2 else "html",
         "t": "last_week" if i % 3 else None, "o": f"owner{i % 7}@acme.example", "e": bool(i % 4)}
        for i in range(1, rows - 2 * third + 1)
    ]  # fmt: skip
    pipelines = [
        {"id": i, "p": f"project-{i % PROJECTS}", "r": "mart_revenue" if i % 2 else "stg_orders mart_ops_kpis",
         "c": f"{i % 60} */4 * * *", "tz": TIMEZONES[i % 4], "a": bool(i % 3), "by": None}
        for i in range(1, third + 1)
    ]  # fmt: skip
    cron_jobs = [
        {"id": i, "p": f"project-{i % PROJECTS}", "s": f"*/{1 + i % 30} * * * *", "a": "run_python",
         "t": "score_inventory", "o": '{"args": {"horizon_days": 14}}', "e": i % 2}
        for i in range(1, third + 1)
    ]  # fmt: skip
    with Session(engine) as session, session.begin():
        session.add_all(
            ProjectRow(id=f"project-{i}", name=f"Project {i}", owner_email=f"owner{i}@acme.example")
            for i in range(PROJECTS)
        )
    with engine.begin() as connection:
        for statement in legacy_statements():
            connection.exec_driver_sql(statement)
        connection.execute(
            text(
                "INSERT INTO report_schedules (id, project_id, name, cron, timezone, dashboard_ids, recipients,"
                " format, time_filter, owner_email, enabled, created_at) VALUES (:id, :p, :name, :cron, :tz, :d,"
                " :r, :f, :t, :o, :e, CURRENT_TIMESTAMP)"
            ),
            reports,
        )
        connection.execute(
            text(
                "INSERT INTO pipeline_schedules (id, project_id, recipe, cron_expression, cron_timezone, is_active,"
                " created_by) VALUES (:id, :p, :r, :c, :tz, :a, :by)"
            ),
            pipelines,
        )
        connection.execute(
            text(
                "INSERT INTO project_cron_jobs (id, project_id, schedule, action, target, options, enabled)"
                " VALUES (:id, :p, :s, :a, :t, :o, :e)"
            ),
            cron_jobs,
        )


def measure(label: str, engine: Engine, rows: int) -> None:
    fill(engine, rows)
    start = time.perf_counter()
    report = migrate_legacy(engine)
    elapsed = time.perf_counter() - start
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(ScenarioRow))
    assert report.migrated == rows == count and not report.failures, (report.failures[:3], count)
    assert len(report.dropped) == 3
    start = time.perf_counter()
    migrate_legacy(engine)  # what every later boot pays: one look for legacy tables
    noop = time.perf_counter() - start
    print(f"{label:<9} {rows:>6} legacy rows migrated in {elapsed:6.2f} s ({rows / elapsed:,.0f} rows/s); "
          f"later boots: {noop * 1000:.1f} ms")  # fmt: skip


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10_000
    with tempfile.TemporaryDirectory() as folder:
        engine = get_engine(f"sqlite:///{folder}/bench.db")
        measure("sqlite", engine, rows)
        engine.dispose()
    if "--no-postgres" in sys.argv:
        return
    admin_url = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = f"honeyframe_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        engine = get_engine(admin_url.rsplit("/", 1)[0] + f"/{name}")
        measure("postgres", engine, rows)
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
