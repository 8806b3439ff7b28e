"""Dataset connectors: each fetches a dataset's rows into an `Extract` that the warehouse loads in one go.

Fetching happens outside the warehouse lock (it may be slow); loading an `Extract` is one short transaction.
"""

from honeyframe_dagster.steps.sync_dataset.connectors.extract import (
    ConnectorError,
    Extract,
    FileExtract,
    RowsExtract,
    loader,
)

__all__ = ["ConnectorError", "Extract", "FileExtract", "RowsExtract", "loader"]
