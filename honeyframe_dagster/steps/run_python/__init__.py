"""The `run_python` step kind: `model.py` (pydantic only), `op.py` (Dagster)."""
