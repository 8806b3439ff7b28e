"""What a connector hands to the warehouse: local files DuckDB reads, or rows from a database."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from honeyframe_dagster.resources.warehouse_access import Loader, quote

if TYPE_CHECKING:
    # Types only: a code location loads the connectors to build jobs, only a run worker loads rows.
    import duckdb

FileFormat = Literal["csv", "parquet", "json"]
_READERS: dict[str, str] = {"csv": "read_csv", "parquet": "read_parquet", "json": "read_json"}
# Python value type → DuckDB column type, for rows that come from a database driver (checked in order).
_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "BOOLEAN"),
    (int, "BIGINT"),
    (float, "DOUBLE"),
    (decimal.Decimal, "DOUBLE"),
    (dt.datetime, "TIMESTAMP"),
    (dt.date, "DATE"),
    (dt.time, "TIME"),
    (bytes, "BLOB"),
)


class ConnectorError(RuntimeError):
    """The connector could not fetch the dataset (source down, missing, refused); the message says which.

    `retryable`: whether trying again may help (a source that is down or slow). A refused host, a missing file or
    a missing variable fails the same way every time, so the step's retry policy does not apply to it.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class FileExtract:
    source: str | list[str]  # a local file, or the checked files a glob matched
    format: FileFormat


@dataclass(frozen=True)
class RowsExtract:
    columns: list[str]
    rows: list[tuple[Any, ...]]


Extract = FileExtract | RowsExtract


def column_type(values: list[Any]) -> str:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, dt.datetime) and sample.tzinfo is not None:
        return "TIMESTAMPTZ"
    return next((name for kind, name in _TYPES if isinstance(sample, kind)), "VARCHAR")


def _load_rows(extract: RowsExtract) -> Loader:
    def load(connection: duckdb.DuckDBPyConnection, table: str) -> None:
        types = [column_type([row[i] for row in extract.rows]) for i in range(len(extract.columns))]
        columns = ", ".join(f"{quote(name)} {kind}" for name, kind in zip(extract.columns, types, strict=True))
        connection.execute(f"CREATE TABLE {table} ({columns})")
        if extract.rows:
            marks = ", ".join("?" for _ in extract.columns)
            rows = [
                [str(v) if kind == "VARCHAR" and v is not None else v for v, kind in zip(row, types, strict=True)]
                for row in extract.rows
            ]
            connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    return load


def _load_file(extract: FileExtract) -> Loader:
    def load(connection: duckdb.DuckDBPyConnection, table: str) -> None:
        connection.execute(f"CREATE TABLE {table} AS SELECT * FROM {_READERS[extract.format]}(?)", [extract.source])

    return load


def loader(extract: Extract) -> Loader:
    return _load_file(extract) if isinstance(extract, FileExtract) else _load_rows(extract)
