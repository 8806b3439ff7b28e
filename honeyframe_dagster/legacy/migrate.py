"""Move legacy schedule rows into the store as project scenarios, then drop the legacy tables.

One transaction: every good row becomes a scenario that records its source (table, legacy id), and the
tables are dropped only when no row failed. A crash rolls everything back; a run that had failures keeps
its good rows, and the next run skips them by their source, so re-running never duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session

from honeyframe_dagster.legacy.convert import MAX_NAME, LegacyRowError, Row, to_scenario
from honeyframe_dagster.legacy.tables import present_legacy_tables
from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow
from honeyframe_dagster.store.writes import write_scenario_fields

log = logging.getLogger(__name__)
# Serializes concurrent boots (CLI, API, code servers) on Postgres; SQLite uses BEGIN IMMEDIATE.
_ADVISORY_LOCK_KEY = 0x48465F4C4547  # "HF_LEG"


@dataclass(frozen=True)
class RowFailure:
    table: str
    id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.table} id {self.id}: {self.reason}"


@dataclass
class MigrationReport:
    migrated: int = 0
    already_migrated: int = 0
    failures: list[RowFailure] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def migrate_legacy(engine: Engine) -> MigrationReport:
    """Migrate whatever legacy tables the store's database holds; a no-op (one query) when there are none."""
    with engine.connect() as probe:
        if not present_legacy_tables(probe):
            return MigrationReport()
    with Session(engine) as session, session.begin():
        connection = session.connection()
        _lock(connection)
        # Another process may have finished the job while this one waited for the lock.
        tables = present_legacy_tables(connection)
        report = _migrate_rows(session, connection, tables)
        if not report.failures:
            for table in tables:
                connection.execute(text(f"DROP TABLE {table}"))
            report.dropped = tables
    _log(report)
    return report


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # pysqlite opens no transaction before DDL; this makes the inserts and the drops one transaction.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})


def _migrate_rows(session: Session, connection: Connection, tables: list[str]) -> MigrationReport:
    report = MigrationReport()
    for table, source_id, converted in _convert_rows(session, connection, tables):
        if converted is None:
            report.already_migrated += 1
        elif isinstance(converted, RowFailure):
            report.failures.append(converted)
        else:
            converted.source_table, converted.source_id = table, source_id
            session.add(converted)
            report.migrated += 1
    session.flush()
    return report


def legacy_failures(engine: Engine) -> list[RowFailure]:
    """The legacy rows that would not migrate, found without writing (for a code location's refusal message)."""
    with Session(engine) as session:
        connection = session.connection()
        tables = present_legacy_tables(connection)
        converted = _convert_rows(session, connection, tables)
        return [row for _, _, row in converted if isinstance(row, RowFailure)]


def _convert_rows(
    session: Session, connection: Connection, tables: list[str]
) -> Iterator[tuple[str, str, ScenarioRow | RowFailure | None]]:
    """Each legacy row as the scenario row it becomes, the reason it cannot, or None when it migrated before."""
    projects = set(session.scalars(select(ProjectRow.id)))
    sources = set(
        session.execute(
            select(ScenarioRow.source_table, ScenarioRow.source_id).where(ScenarioRow.source_table.in_(tables))
        ).tuples()
    )
    names = set(
        session.execute(
            select(ScenarioRow.project_id, ScenarioRow.name).where(ScenarioRow.template_slug.is_(None))
        ).tuples()
    )
    for table in tables:
        for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id")).mappings():
            source_id = str(row["id"])
            if (table, source_id) in sources:
                yield table, source_id, None
                continue
            try:
                scenario_row = _scenario_row(table, dict(row), projects, names)
            except LegacyRowError as exc:
                yield table, source_id, RowFailure(table, source_id, str(exc))
                continue
            names.add((scenario_row.project_id, scenario_row.name))
            yield table, source_id, scenario_row


def _scenario_row(table: str, row: Row, projects: set[str], names: set[tuple[str, str]]) -> ScenarioRow:
    if row["project_id"] not in projects:
        raise LegacyRowError.at(("project_id",), f"unknown project {row['project_id']!r}", row["project_id"])
    scenario = to_scenario(table, row)
    if (scenario.project, scenario.name) in names:
        # Two legacy rows (or a legacy row and an existing scenario) share a name: keep both, told apart.
        suffix = f" ({table} {row['id']})"
        scenario = to_scenario(table, row, scenario.name[: MAX_NAME - len(suffix)] + suffix)
        if (scenario.project, scenario.name) in names:
            raise LegacyRowError.at(
                ("name",), f"a scenario named {scenario.name!r} already exists in the project", scenario.name
            )
    scenario_row = ScenarioRow(project_id=scenario.project, name=scenario.name, parameters={})
    write_scenario_fields(scenario_row, scenario)
    return scenario_row


def _log(report: MigrationReport) -> None:
    log.info(
        "legacy schedules: %d migrated, %d migrated before, %d not migratable; dropped: %s",
        report.migrated,
        report.already_migrated,
        len(report.failures),
        ", ".join(report.dropped) or "none",
    )
    for failure in report.failures:
        log.warning("legacy row not migrated: %s", failure)
