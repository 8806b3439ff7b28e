"""The `sync_dataset` step kind: `model.py` (pydantic only), `op.py` (Dagster)."""
