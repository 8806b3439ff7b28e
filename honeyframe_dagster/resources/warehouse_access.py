"""Safe access to the DuckDB warehouse from several processes at once.

DuckDB lets one process at a time open a database file for writing. Parallel steps run in separate processes
(multiprocess executor), so every writer here takes a cross-process file lock next to the warehouse file and
holds it only for one short transaction; the slow parts of a step (fetching, calling an agent) run outside it.
Opening the file is also retried while another program (e.g. a reader outside Honeyframe) holds DuckDB's own
lock, so a busy warehouse delays a step instead of failing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

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


def _locked_by_another_program(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _connect_retrying(warehouse: Path, timeout: float) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting (0.05 s doubling to 1 s) up to `timeout` while another program holds DuckDB's lock."""
    retrying = Retrying(
        retry=retry_if_exception(_locked_by_another_program),
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=0.05, max=1.0),
        reraise=True,
    )
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
