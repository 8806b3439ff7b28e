"""Opening the warehouse while another program holds DuckDB's file lock: wait up to the timeout, then fail."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from pathlib import Path

import duckdb
import pytest

from honeyframe_dagster.resources.warehouse_access import _connect_retrying


def _hold(warehouse: str, seconds: float, ready: Event) -> None:
    with duckdb.connect(warehouse):
        ready.set()
        time.sleep(seconds)


def held_for(warehouse: Path, seconds: float) -> BaseProcess:
    """Another process with the file open for writing for `seconds` (DuckDB locks it against other processes)."""
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    holder = context.Process(target=_hold, args=(str(warehouse), seconds, ready))
    holder.start()
    assert ready.wait(30)
    return holder


def test_a_locked_warehouse_is_waited_for_until_released(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    holder = held_for(warehouse, 1.5)
    started = time.monotonic()
    connection = _connect_retrying(warehouse, timeout=30)
    waited = time.monotonic() - started
    connection.close()
    holder.join(10)
    assert 0.5 < waited < 10


def test_a_lock_held_past_the_timeout_fails_with_duckdb_s_error(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    holder = held_for(warehouse, 5)
    started = time.monotonic()
    with pytest.raises(duckdb.IOException, match="(?i)lock"):
        _connect_retrying(warehouse, timeout=0.5)
    assert time.monotonic() - started < 3
    holder.terminate()
    holder.join(10)


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(duckdb.Error):
        _connect_retrying(tmp_path, timeout=30)  # a directory, not a database file
    assert time.monotonic() - started < 2
