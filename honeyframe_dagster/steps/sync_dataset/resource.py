"""Dataset connectors as a Dagster resource, filled from the settings by `connectors_resource`."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from honeyframe_dagster.model.documents import (
    Dataset,
    FileConnector,
    HttpConnector,
    PlatformConnector,
    SqlConnector,
)
from honeyframe_dagster.settings import Settings
from honeyframe_dagster.steps.sync_dataset.connectors import Extract
from honeyframe_dagster.steps.sync_dataset.connectors.files import fetch_file
from honeyframe_dagster.steps.sync_dataset.connectors.http import fetch_http
from honeyframe_dagster.steps.sync_dataset.connectors.platform import fetch_platform
from honeyframe_dagster.steps.sync_dataset.connectors.sql import fetch_sql


class ConnectorsResource(ConfigurableResource):
    """`data_dir` resolves relative file paths (HONEYFRAME_DATA_DIR); `timeout_seconds` bounds each platform
    request (HONEYFRAME_CONNECTOR_TIMEOUT_SECONDS).

    Secrets (database URLs, platform URLs) stay in the env vars that datasets name, never in run config.
    """

    data_dir: str
    timeout_seconds: float
    # The scheduler's own state (HONEYFRAME_HOME, the warehouse, DAGSTER_HOME): never read as a dataset.
    private_paths: list[str] = []

    def fetch(self, dataset: Dataset, workdir: Path) -> Extract:
        """Fetch the dataset's rows into `workdir` (or memory); raises ConnectorError naming what failed."""
        connector = dataset.connector
        match connector:
            case FileConnector():
                return fetch_file(
                    connector, Path(self.data_dir).expanduser().resolve(), [Path(p) for p in self.private_paths]
                )
            case HttpConnector():
                return fetch_http(connector.url, connector.format, workdir, connector.timeout_seconds)
            case SqlConnector():
                return fetch_sql(
                    connector, Path(self.data_dir).expanduser().resolve(), [Path(p) for p in self.private_paths]
                )
            case PlatformConnector():
                return fetch_platform(connector, workdir, self.timeout_seconds)
        raise AssertionError(f"unknown connector type {connector!r}")


def connectors_resource(settings: Settings) -> ConnectorsResource:
    """Where dataset connectors read files, and how long they wait (HONEYFRAME_DATA_DIR, …)."""
    private = [
        settings.home.expanduser().resolve(),
        settings.warehouse_path,
        *([settings.dagster_home] if settings.dagster_home else []),
    ]
    return ConnectorsResource(
        data_dir=str(settings.data_dir),
        timeout_seconds=settings.connector_timeout_seconds,
        private_paths=[str(path) for path in private],
    )
