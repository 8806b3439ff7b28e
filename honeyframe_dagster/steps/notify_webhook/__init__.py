"""The `notify_webhook` step kind: `model.py` (pydantic only), `op.py` (Dagster)."""
