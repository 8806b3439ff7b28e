"""`sql` connector: a query against any SQLAlchemy URL, read from the env var the dataset names."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from honeyframe_dagster.model.documents import SqlConnector
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.sync_dataset.connectors.extract import ConnectorError, RowsExtract


def _redact(message: str, url: str) -> str:
    """Driver errors may quote the URL; its password never leaves this function."""
    password = make_url(url).password
    message = message.replace(url, "<url>")
    return message.replace(str(password), "***") if password else message


def fetch_sql(connector: SqlConnector) -> RowsExtract:
    url = get_settings().secret(connector.url_env)
    if not url:
        raise ConnectorError(f"connector.url_env: environment variable {connector.url_env} is not set", retryable=False)
    try:
        engine = create_engine(url)
    except (ArgumentError, ValueError):
        raise ConnectorError(
            f"connector.url_env: {connector.url_env} does not hold a valid SQLAlchemy URL", retryable=False
        ) from None
    try:
        with engine.connect() as connection:
            result = connection.execute(text(connector.query))
            return RowsExtract(list(result.keys()), [tuple(row) for row in result])
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConnectorError(f"query via {connector.url_env} failed: {_redact(detail, url)}") from None
    finally:
        engine.dispose()
