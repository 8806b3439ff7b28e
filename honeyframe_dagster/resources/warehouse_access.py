"""Safe access to the DuckDB warehouse from several processes at once.

DuckDB lets one process at a time open a database file for writing. Parallel steps run in separate processes
(multiprocess executor), so every writer here takes a cross-process file lock next to the warehouse file and
holds it only for one short transaction; the slow parts of a step (fetching, calling an agent) run outside it.
Opening the file is also retried while another program (e.g. a reader outside Honeyframe) holds DuckDB's own
lock, so a busy warehouse delays a step instead of failing it.

SQL that project users write (card SQL, `run_agent` input) runs only on a sandboxed connection: read-only, with
external access off (no file functions, no `COPY`, no `ATTACH`, no extension install or load) and the
configuration locked so the SQL cannot turn it back on. model/sql_policy.py refuses such SQL before it runs;
the sandbox is what holds if the policy ever misses something.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

SANDBOX: dict[str, str | bool | int | float | list[str]] = {"enable_external_access": False, "lock_configuration": True}
# Fills the given (schema-qualified, quoted) table with new rows; the table does not exist yet.
Loader = Callable[[duckdb.DuckDBPyConnection, str], None]


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class WarehouseBusy(RuntimeError):
    """The warehouse stayed locked by another writer for longer than the configured timeout."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextmanager
def warehouse_lock(warehouse: Path, timeout: float) -> Iterator[None]:
    """Exclusive write access among Honeyframe processes (dbt builds, syncs, agents, group commits)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock_path(warehouse)), timeout=timeout):
            yield
    except Timeout:
        raise WarehouseBusy(f"warehouse {warehouse} stayed locked for more than {timeout:g} s") from None


def connect_sandboxed(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A sandboxed read-only connection; a warehouse that does not exist yet (fresh install, before any dbt run or
    sync) is an empty in-memory database, so SQL that reads no table still works."""
    if not warehouse.exists():
        return duckdb.connect(":memory:", config=dict(SANDBOX))
    return duckdb.connect(str(warehouse), read_only=True, config=dict(SANDBOX))


def _locked_by_another_program(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _connect_retrying(warehouse: Path, timeout: float, sandboxed: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the file (`sandboxed`: for user SQL), waiting (0.05 s doubling to 1 s) up to `timeout` while another
    program holds DuckDB's lock."""
    retrying = Retrying(
        retry=retry_if_exception(_locked_by_another_program),
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=0.05, max=1.0),
        reraise=True,
    )
    if sandboxed:
        return retrying(connect_sandboxed, warehouse)
    return retrying(duckdb.connect, str(warehouse))


@contextmanager
def write_transaction(warehouse: Path, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on the warehouse under the lock: committed on success, rolled back on any error."""
    with warehouse_lock(warehouse, timeout):
        connection = _connect_retrying(warehouse, timeout)
        try:
            connection.begin()
            try:
                yield connection
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        finally:
            connection.close()


@contextmanager
def sandboxed_read(warehouse: Path, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A sandboxed connection for user SQL, opened while no Honeyframe writer holds the file (DuckDB refuses a
    reader while another process has it open for writing); writers that come later wait for it to close."""
    with warehouse_lock(warehouse, timeout):
        connection = _connect_retrying(warehouse, timeout, sandboxed=True)
    try:
        yield connection
    finally:
        connection.close()
