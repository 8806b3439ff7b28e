"""The `send_email_report` step kind: `model.py` (pydantic only), `op.py` (Dagster)."""
