"""`file` connector: a local CSV, Parquet or JSON file, or a glob of them."""

from __future__ import annotations

import glob
from pathlib import Path

from honeyframe_dagster.connectors.extract import ConnectorError, FileExtract, FileFormat
from honeyframe_dagster.model.documents import FileConnector

_SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


def file_format(path: str, declared: FileFormat | None) -> FileFormat:
    if declared is not None:
        return declared
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise ConnectorError(f"connector.path {path!r}: cannot tell the format from {suffix!r}; set connector.format")
    return _SUFFIXES[suffix]


def fetch_file(connector: FileConnector, data_dir: Path) -> FileExtract:
    """A relative path is resolved against `data_dir` (HONEYFRAME_DATA_DIR, default the repository root)."""
    path = Path(connector.path).expanduser()
    resolved = path if path.is_absolute() else data_dir / path
    if not glob.glob(str(resolved)):
        raise ConnectorError(f"connector.path {connector.path!r}: no file matches {str(resolved)!r}")
    return FileExtract(str(resolved), file_format(connector.path, connector.format))
