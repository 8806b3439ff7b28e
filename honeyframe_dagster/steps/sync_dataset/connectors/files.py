"""`file` connector: a CSV, Parquet or JSON file under HONEYFRAME_DATA_DIR, or a glob of them."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from honeyframe_dagster.model.documents import FileConnector
from honeyframe_dagster.steps.sync_dataset.connectors.extract import ConnectorError, FileExtract, FileFormat

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
        raise ConnectorError(
            f"connector.path {path!r}: cannot tell the format from {suffix!r}; set connector.format", retryable=False
        )
    return _SUFFIXES[suffix]


def fetch_file(connector: FileConnector, data_dir: Path, private: Sequence[Path] = ()) -> FileExtract:
    """The files `connector.path` matches under `data_dir` (HONEYFRAME_DATA_DIR), each resolved and checked.

    The model already refuses absolute paths, `~`, `..` and hidden components; here a match that is (or passes
    through) a symlink leading out of the data folder, or that lies in one of the `private` folders or files (the
    scheduler's own state: HONEYFRAME_HOME, the warehouse, DAGSTER_HOME, which may sit inside the data folder), is
    refused, and DuckDB reads exactly the checked files, never the pattern.
    """
    root = data_dir.resolve()
    private = [path.expanduser().resolve() for path in private]
    pattern = root / connector.path
    matches = sorted(glob.glob(str(pattern)))
    if not matches:
        raise ConnectorError(
            f"connector.path {connector.path!r}: no file matches it in HONEYFRAME_DATA_DIR", retryable=False
        )
    files: list[str] = []
    for match in matches:
        resolved = Path(match).resolve()
        if not resolved.is_relative_to(root):
            shown = str(Path(match).relative_to(root))
            raise ConnectorError(
                f"connector.path {connector.path!r}: {shown!r} leads outside HONEYFRAME_DATA_DIR (a symlink); refused",
                retryable=False,
            )
        if any(resolved.is_relative_to(path) for path in private):
            shown = str(Path(match).relative_to(root))
            raise ConnectorError(
                f"connector.path {connector.path!r}: {shown!r} is the scheduler's own state, not data; refused",
                retryable=False,
            )
        if resolved.is_file():
            files.append(str(resolved))
    if not files:
        raise ConnectorError(
            f"connector.path {connector.path!r}: matches no regular file in HONEYFRAME_DATA_DIR", retryable=False
        )
    return FileExtract(files, file_format(connector.path, connector.format))
