"""`sql` connector: one read-only query against a Postgres or SQLite database whose URL a secret variable holds.

Where it may connect is decided first (`sql_target`: the egress policy, never the scheduler's own store). The
query then runs as one statement (a second one is an error, so it cannot end the transaction and start another),
in a read-only transaction, stopped after HONEYFRAME_SQL_TIMEOUT_SECONDS:
- Postgres: `default_transaction_read_only` and `statement_timeout` for the session, `SET TRANSACTION READ ONLY`
  for its one transaction, and the query sent as a prepared statement (which holds one command only);
- SQLite: the file opened read-only, an authorizer that lets through reads only (no ATTACH, no PRAGMA, no write),
  and a progress handler that interrupts the query at the deadline.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from honeyframe_dagster.model.documents import SqlConnector
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.sync_dataset.connectors.extract import ConnectorError, RowsExtract
from honeyframe_dagster.steps.sync_dataset.connectors.sql_target import (
    PostgresTarget,
    SqliteTarget,
    SqlTarget,
    sql_target,
)

CONNECT_TIMEOUT_SECONDS = 10
# What a read-only query needs from SQLite's authorizer; everything else (ATTACH, PRAGMA, writes) is denied.
_SQLITE_READS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)


def _redact(message: str, secrets: tuple[str | None, ...]) -> str:
    """Driver errors may quote the URL or its password; neither leaves this module."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def fetch_sql(connector: SqlConnector, data_dir: Path, private: list[Path]) -> RowsExtract:
    settings = get_settings()
    url = settings.secret(connector.url_env)
    if not url:
        raise ConnectorError(f"connector.url_env: environment variable {connector.url_env} is not set", retryable=False)
    target = sql_target(connector.url_env, url, data_dir, private)
    timeout = settings.sql_timeout_seconds
    try:
        return _query(target, connector.query, timeout)
    except _TimedOut:
        raise ConnectorError(
            f"query via {connector.url_env} was stopped after HONEYFRAME_SQL_TIMEOUT_SECONDS={timeout:g}",
            retryable=False,
        ) from None
    except (_DriverError, sqlite3.Error) as exc:
        error = exc.error if isinstance(exc, _DriverError) else exc
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        password = target.password if isinstance(target, PostgresTarget) else None
        # Connecting may work next time; a query the database refused (syntax, a write, a second statement) not.
        retryable = isinstance(exc, _DriverError) and exc.retryable
        message = f"query via {connector.url_env} failed: {_redact(detail, (url, password))}"
        raise ConnectorError(message, retryable=retryable) from None


class _TimedOut(Exception):
    pass


class _DriverError(Exception):
    """A psycopg error, carried out of `_postgres_query` so that only a Postgres query imports psycopg."""

    def __init__(self, error: Exception, retryable: bool) -> None:
        super().__init__(str(error))
        self.error, self.retryable = error, retryable


def _query(target: SqlTarget, query: str, timeout: float) -> RowsExtract:
    if isinstance(target, SqliteTarget):
        return _sqlite_query(target, query, timeout)
    return _postgres_query(target, query, timeout)


def _postgres_query(target: PostgresTarget, query: str, timeout: float) -> RowsExtract:
    # Imported here: every run worker imports this module, and psycopg costs a few hundred milliseconds.
    import psycopg

    milliseconds = max(1, int(timeout * 1000))
    parameters: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **target.parameters}
    options = f"-c default_transaction_read_only=on -c statement_timeout={milliseconds}"
    try:
        with psycopg.connect(
            host=target.host,
            hostaddr=target.address,
            port=target.port,
            dbname=target.database,
            user=target.user,
            password=target.password,
            options=options,
            **parameters,
        ) as connection:
            try:
                connection.execute("SET TRANSACTION READ ONLY")
                connection.execute(f"SET LOCAL statement_timeout = {milliseconds}")
                cursor = connection.execute(query, prepare=True)
            except psycopg.errors.QueryCanceled:
                raise _TimedOut from None
            columns = [column.name for column in cursor.description or ()]
            rows = [tuple(row) for row in cursor.fetchall()]
            connection.rollback()
    except psycopg.Error as exc:
        raise _DriverError(exc, retryable=isinstance(exc, psycopg.OperationalError)) from None
    return RowsExtract(columns, rows)


def _reads_only(action: int, *_: Any) -> int:
    return sqlite3.SQLITE_OK if action in _SQLITE_READS else sqlite3.SQLITE_DENY


def _sqlite_query(target: SqliteTarget, query: str, timeout: float) -> RowsExtract:
    where = f"file:{quote(str(target.path))}?mode=ro" if target.path else "file::memory:?mode=ro"
    connection = sqlite3.connect(where, uri=True, timeout=timeout)
    deadline = time.monotonic() + timeout
    try:
        connection.set_authorizer(_reads_only)
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cursor = connection.execute(query)
            rows = [tuple(row) for row in cursor.fetchall()]
        except sqlite3.OperationalError as exc:
            if time.monotonic() > deadline and "interrupted" in str(exc):
                raise _TimedOut from None
            raise
        columns = [column[0] for column in cursor.description or ()]
    finally:
        connection.close()
    return RowsExtract(columns, rows)
