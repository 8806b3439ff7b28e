"""Dataset connectors as a Dagster resource, configured from the environment (settings.py)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from honeyframe_dagster.connectors import Extract
from honeyframe_dagster.connectors.files import fetch_file
from honeyframe_dagster.connectors.http import fetch_http
from honeyframe_dagster.connectors.platform import fetch_platform
from honeyframe_dagster.connectors.sql import fetch_sql
from honeyframe_dagster.model.documents import (
    Dataset,
    FileConnector,
    HttpConnector,
    PlatformConnector,
    SqlConnector,
)
from honeyframe_dagster.settings import get_settings


class ConnectorsResource(ConfigurableResource):
    """HONEYFRAME_DATA_DIR resolves relative file paths; HONEYFRAME_CONNECTOR_TIMEOUT_SECONDS bounds each request.

    Secrets (database URLs, platform URLs) stay in the env vars that datasets name, never in run config.
    """

    def fetch(self, dataset: Dataset, workdir: Path) -> Extract:
        """Fetch the dataset's rows into `workdir` (or memory); raises ConnectorError naming what failed."""
        settings = get_settings()
        connector = dataset.connector
        match connector:
            case FileConnector():
                return fetch_file(connector, settings.data_dir.expanduser().resolve())
            case HttpConnector():
                return fetch_http(connector.url, connector.format, workdir, connector.timeout_seconds)
            case SqlConnector():
                return fetch_sql(connector)
            case PlatformConnector():
                return fetch_platform(connector, workdir, settings.connector_timeout_seconds)
        raise AssertionError(f"unknown connector type {connector!r}")
