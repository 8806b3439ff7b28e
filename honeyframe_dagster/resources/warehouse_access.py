"""Safe access to the DuckDB warehouse from several processes at once.

DuckDB lets one process at a time open a database file for writing. Parallel steps run in separate processes
(multiprocess executor), so every writer here takes a cross-process file lock next to the warehouse file and
holds it only for one short transaction; the slow parts of a step (fetching, calling an agent) run outside it.
Opening the file is also retried while another program (e.g. a reader outside Honeyframe) holds DuckDB's own
lock, so a busy warehouse delays a step instead of failing it.

SQL that project users write (card SQL, `run_agent` input) runs only on a sandboxed connection: read-only, with
external access off (no file functions, no `COPY`, no `ATTACH`, no extension install or load), a memory limit
and a thread cap, and the configuration locked so the SQL cannot change any of it. model/sql_policy.py refuses
such SQL before it runs; the sandbox is what holds if the policy ever misses something. That connection reads a
private snapshot of the warehouse file, copied under the writers' lock: DuckDB lets no process write a file that
another process has open, so a slow user query on the warehouse itself would make every writer wait (and fail
after its lock timeout). Each user query is interrupted after its time limit (`within_limits`).
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

if TYPE_CHECKING:
    # DuckDB (~20 MB) and tenacity are imported in the functions that connect: a code location imports this module
    # (through the steps' ops and resources) but opens the warehouse only when a trigger's `expand_from` query runs.
    import duckdb

# Linux's FICLONE ioctl: a copy-on-write clone of a file (btrfs, XFS, …), instant whatever its size.
_FICLONE = 0x40049409
# Fills the given (schema-qualified, quoted) table with new rows; the table does not exist yet.
Loader = Callable[["duckdb.DuckDBPyConnection", str], None]


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class SqlLimits:
    """What one user query may use: HONEYFRAME_SQL_TIMEOUT_SECONDS, HONEYFRAME_SQL_MEMORY_LIMIT, and a thread cap
    (so one query cannot take every core of the host)."""

    timeout_seconds: float = 120.0
    memory_limit: str = "1GB"
    threads: int = 2

    def config(self) -> dict[str, str | bool | int | float | list[str]]:
        # lock_configuration last: DuckDB applies the options in order, and refuses any change after it.
        return {
            "enable_external_access": False,
            "memory_limit": self.memory_limit,
            "threads": self.threads,
            "lock_configuration": True,
        }


class SqlLimitExceeded(RuntimeError):
    """A user query ran past HONEYFRAME_SQL_TIMEOUT_SECONDS (and was interrupted) or needed more memory than
    HONEYFRAME_SQL_MEMORY_LIMIT; the message names the setting."""


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


def connect_sandboxed(warehouse: Path, limits: SqlLimits | None = None) -> duckdb.DuckDBPyConnection:
    """A sandboxed read-only connection to `warehouse` (for user SQL: a snapshot, see `sandboxed_read`); a warehouse
    that does not exist yet (fresh install, before any dbt run or sync) is an empty in-memory database, so SQL that
    reads no table still works."""
    import duckdb  # imported here: see the top

    config = (limits or SqlLimits()).config()
    if not warehouse.exists():
        return duckdb.connect(":memory:", config=config)
    return duckdb.connect(str(warehouse), read_only=True, config=config)


@contextmanager
def within_limits(connection: duckdb.DuckDBPyConnection, limits: SqlLimits) -> Iterator[None]:
    """Interrupt what `connection` runs (a query, its fetches) once `limits.timeout_seconds` have passed; that, or
    running out of the connection's memory limit, is SqlLimitExceeded naming the setting. A watchdog timer calls
    DuckDB's `interrupt()`, which stops the query from another thread."""
    import duckdb  # imported here: see the top

    seconds, fired = limits.timeout_seconds, threading.Event()

    def stop() -> None:
        fired.set()
        connection.interrupt()

    watchdog = threading.Timer(seconds, stop)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    except duckdb.InterruptException:
        if fired.is_set():
            raise SqlLimitExceeded(
                f"the query was stopped after {seconds:g} s (HONEYFRAME_SQL_TIMEOUT_SECONDS={seconds:g})"
            ) from None
        raise
    except duckdb.OutOfMemoryException as exc:
        raise SqlLimitExceeded(
            f"the query needs more memory than HONEYFRAME_SQL_MEMORY_LIMIT={limits.memory_limit} "
            f"({str(exc).splitlines()[0]})"
        ) from None
    finally:
        watchdog.cancel()


def _locked_by_another_program(exc: BaseException) -> bool:
    import duckdb  # imported here: see the top

    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _connect_retrying(warehouse: Path, timeout: float, sandboxed: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the file (`sandboxed`: for user SQL), waiting (0.05 s doubling to 1 s) up to `timeout` while another
    program holds DuckDB's lock."""
    import duckdb  # imported here: see the top
    from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

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


def _copy(source: Path, target: Path) -> None:
    """A clone where the file system can (copy-on-write, no data copied), else a plain copy."""
    with source.open("rb") as src, target.open("wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            return
        except OSError:
            pass
    shutil.copyfile(source, target)


@contextmanager
def snapshot(warehouse: Path, timeout: float) -> Iterator[Path]:
    """A private copy of the warehouse as the last committed write left it, removed on exit; `warehouse` itself
    when it does not exist yet. The copy is taken under the writers' lock and while this process holds DuckDB's
    own (shared) lock on the file, so no writer, ours or another program's, is half-way through; writers wait only
    for the copy, never for the SQL that then reads it."""
    if not warehouse.exists():
        yield warehouse
        return
    folder = Path(tempfile.mkdtemp(prefix=f"{warehouse.name}.snapshot-", dir=warehouse.parent))
    try:
        copy = folder / warehouse.name
        with warehouse_lock(warehouse, timeout), _connect_retrying(warehouse, timeout, sandboxed=True):
            _copy(warehouse, copy)
            wal = warehouse.with_name(warehouse.name + ".wal")
            if wal.exists():
                _copy(wal, copy.with_name(copy.name + ".wal"))
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def sandboxed_read(
    warehouse: Path, timeout: float, limits: SqlLimits | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A sandboxed connection for user SQL (`limits`: memory, threads; each query's time with `within_limits`) on a
    snapshot of the warehouse: no writer waits while the SQL runs."""
    with snapshot(warehouse, timeout) as copy:
        connection = connect_sandboxed(copy, limits)
        try:
            yield connection
        finally:
            connection.close()
