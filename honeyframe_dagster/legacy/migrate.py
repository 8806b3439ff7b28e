"""Move legacy schedule rows into the store as project scenarios, then drop the legacy tables.

Each row is written by the write service (store/service.py `create_scenario`: the API's validation, name
uniqueness and warehouse-table claims; only the datasets, dashboards and agents it names may be applied later), in
a savepoint of its own, so a refused row is reported (table, id, reason) and leaves nothing.
One transaction: every good row becomes a scenario that records its source (table, legacy id), and the
tables are dropped only when no row failed. A crash rolls everything back; a run that had failures keeps
its good rows, and the next run skips them by their source, so re-running never duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session

from honeyframe_dagster.legacy.convert import MAX_NAME, LegacyRowError, Row, legacy_error, to_scenario
from honeyframe_dagster.legacy.tables import present_legacy_tables
from honeyframe_dagster.store import service
from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow
from honeyframe_dagster.store.versions import set_actor
from honeyframe_dagster.store.writes import lock_projects

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
        set_actor(session, "legacy migration")
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
    lock_projects(session, None)  # every project's write lock, held to the end (the service's own calls find it)
    projects = set(session.scalars(select(ProjectRow.id)))
    for table, source_id, row in _pending_rows(session, connection, tables):
        if row is None:
            report.already_migrated += 1
            continue
        try:
            _write(session, table, source_id, row, projects)
        except LegacyRowError as exc:
            report.failures.append(RowFailure(table, source_id, str(exc)))
        else:
            report.migrated += 1
    session.flush()
    return report


def legacy_failures(engine: Engine) -> list[RowFailure]:
    """The legacy rows that would not migrate, found without writing (for a code location's refusal message): an
    unknown project, a row that does not convert or a Scenario the write service refuses as a document. (A name
    or a warehouse table that another scenario holds shows only when `honeyframe init` migrates.)"""
    failures = []
    with Session(engine) as session:
        projects = set(session.scalars(select(ProjectRow.id)))
        connection = session.connection()
        for table, source_id, row in _pending_rows(session, connection, present_legacy_tables(connection)):
            try:
                if row is not None:
                    service.scenario_document({**_fields(table, row, projects), "project": row["project_id"]})
            except LegacyRowError as exc:
                failures.append(RowFailure(table, source_id, str(exc)))
            except service.Invalid as exc:
                failures.append(RowFailure(table, source_id, str(legacy_error(table, exc.errors))))
    return failures


def _pending_rows(session: Session, connection: Connection, tables: list[str]) -> Iterator[tuple[str, str, Row | None]]:
    """Each legacy row by its source (table, id): the row, or None when it migrated before."""
    sources = set(
        session.execute(
            select(ScenarioRow.source_table, ScenarioRow.source_id).where(ScenarioRow.source_table.in_(tables))
        ).tuples()
    )
    for table in tables:
        for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id")).mappings():
            source_id = str(row["id"])
            yield table, source_id, None if (table, source_id) in sources else dict(row)


def _fields(table: str, row: Row, projects: Collection[str], name: str | None = None) -> dict[str, Any]:
    """The Scenario fields of the row (without `project`); LegacyRowError for an unknown project or a row that
    does not convert."""
    if row["project_id"] not in projects:
        raise LegacyRowError.at(("project_id",), f"unknown project {row['project_id']!r}", row["project_id"])
    fields = to_scenario(table, row, name)
    del fields["project"]
    return fields


def _write(session: Session, table: str, source_id: str, row: Row, projects: Collection[str]) -> None:
    """The row as a scenario of its project, written by the write service (the API's checks, but that the
    datasets, dashboards and agents it names may come later). LegacyRowError, and nothing of the row kept, when
    the service refuses it."""
    fields = _fields(table, row, projects)
    # A name that is taken (by another legacy row or a scenario): the row's source told apart as a suffix.
    suffix = f" ({table} {source_id})"
    for name in (fields["name"], fields["name"][: MAX_NAME - len(suffix)] + suffix):
        try:
            return _create(session, table, source_id, row["project_id"], {**fields, "name": name})
        except service.Conflict:
            continue
        except service.Invalid as exc:
            raise legacy_error(table, exc.errors) from None
    raise LegacyRowError.at(("name",), f"a scenario named {name!r} already exists in the project", name)


def _create(session: Session, table: str, source_id: str, project_id: str, fields: dict[str, Any]) -> None:
    """One `service.create_scenario` in a savepoint: a refused row leaves nothing, the transaction goes on."""
    with session.begin_nested():
        service.create_scenario(session, project_id, fields, None, references=False, source=(table, source_id))


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
