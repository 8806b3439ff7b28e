"""The `run_agent` step kind: `model.py` (pydantic only), `op.py` (Dagster)."""
