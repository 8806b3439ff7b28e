"""The DuckDB warehouse that dbt, dataset syncs, agents and dashboards share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import ConfigurableResource

from honeyframe_dagster.resources.warehouse_access import (
    SqlLimits,
    sandboxed_read,
    warehouse_lock,
    write_transaction,
)
from honeyframe_dagster.settings import Settings, export_to_children

if TYPE_CHECKING:
    # Types only: a code location binds this resource to jobs, only a run worker connects (warehouse_access.py).
    import duckdb


class WarehouseResource(ConfigurableResource):
    """The DuckDB file, how long a writer waits for its lock, and the limits of user SQL; `from_settings` fills
    them from the settings."""

    warehouse_path: str
    lock_timeout_seconds: float
    sql_timeout_seconds: float = 120.0
    sql_memory_limit: str = "1GB"

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        """The DuckDB warehouse and the limits of user SQL (HONEYFRAME_WAREHOUSE, HONEYFRAME_SQL_*).

        HONEYFRAME_WAREHOUSE defaults to a file under HONEYFRAME_HOME; HONEYFRAME_WAREHOUSE_LOCK_TIMEOUT_SECONDS is how
        long a writer waits for the lock."""
        return cls(
            warehouse_path=str(settings.warehouse_path),
            lock_timeout_seconds=settings.warehouse_lock_timeout_seconds,
            sql_timeout_seconds=settings.sql_timeout_seconds,
            sql_memory_limit=settings.sql_memory_limit,
        )

    @property
    def path(self) -> Path:
        return Path(self.warehouse_path)

    def export_for_dbt(self) -> None:
        # dbt_project/profiles.yml reads the warehouse path from this variable in the dbt subprocess.
        export_to_children("HONEYFRAME_WAREHOUSE", str(self.path))

    def write(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """One short write transaction, serialized with every other Honeyframe writer (see warehouse_access)."""
        return write_transaction(self.path, self.lock_timeout_seconds)

    @property
    def sql_limits(self) -> SqlLimits:
        return SqlLimits(timeout_seconds=self.sql_timeout_seconds, memory_limit=self.sql_memory_limit)

    def read_sandboxed(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A read-only connection for SQL that users wrote, on a snapshot of the warehouse: no file or network
        access, memory and threads capped, configuration locked (wrap each query in `warehouse_access.within_limits`
        with `sql_limits`)."""
        return sandboxed_read(self.path, self.lock_timeout_seconds, self.sql_limits)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the writers' lock while another program (dbt) opens the warehouse itself."""
        with warehouse_lock(self.path, self.lock_timeout_seconds):
            yield
