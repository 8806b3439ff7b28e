"""The `run_recipe` step kind: `model.py` (pydantic only), `op.py` (Dagster)."""
