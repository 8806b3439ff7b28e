"""The DuckDB warehouse that dbt, dataset syncs, agents and dashboards share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from honeyframe_dagster.resources.warehouse_access import sandboxed_read, warehouse_lock, write_transaction
from honeyframe_dagster.settings import Settings, export_to_children


class WarehouseResource(ConfigurableResource):
    """The DuckDB file and how long a writer waits for its lock; `from_settings` fills both from the settings."""

    warehouse_path: str
    lock_timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        """HONEYFRAME_WAREHOUSE (default under HONEYFRAME_HOME) and HONEYFRAME_WAREHOUSE_LOCK_TIMEOUT_SECONDS."""
        return cls(
            warehouse_path=str(settings.warehouse_path), lock_timeout_seconds=settings.warehouse_lock_timeout_seconds
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

    def read_sandboxed(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A read-only connection for SQL that users wrote: no file or network access, configuration locked."""
        return sandboxed_read(self.path, self.lock_timeout_seconds)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the writers' lock while another program (dbt) opens the warehouse itself."""
        with warehouse_lock(self.path, self.lock_timeout_seconds):
            yield
