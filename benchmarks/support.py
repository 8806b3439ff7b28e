"""What the benchmark scripts share. Each runs as `.venv/bin/python benchmarks/<name>.py`, so this folder is on
`sys.path` and `from support import ...` finds this module."""

from __future__ import annotations

import httpx


def api_answers(url: str) -> bool:
    """The API at `url` answers its health check (200 ready, or 503 while it waits for the store or Dagster)."""
    try:
        return httpx.get(f"{url}/api/pipeline/scheduler/health", timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False
