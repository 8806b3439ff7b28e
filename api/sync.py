"""After a committed write: the reconciler (honeyframe_dagster/reconciler.py) makes Dagster follow the store.

The write is already committed when this runs, so a Dagster failure is not the client's error: it is logged and
reported in the `X-Honeyframe-Dagster-Sync` response header (`ok`, `failed` or `skipped` when no Dagster is
configured); the reconciler's next periodic pass catches Dagster up.

Disabling or deleting a scenario also cancels its QUEUED runs (runs in progress go on); the
`X-Honeyframe-Canceled-Runs` header says how many.
"""

from __future__ import annotations

from fastapi import Response
from sqlalchemy.orm import Session

from api.deps import store_released
from honeyframe_dagster.reconciler import Change, Reconciler

SYNC_HEADER = "X-Honeyframe-Dagster-Sync"
CANCELED_HEADER = "X-Honeyframe-Canceled-Runs"


def canceled_header_doc(code: int, description: str) -> dict[int | str, dict[str, object]]:
    """OpenAPI: the success answer of a write that may disable or delete a scenario carries the canceled count."""
    header = {
        "description": "Queued runs canceled because the scenario was disabled or deleted "
        "(only when it was; runs in progress go on)",
        "schema": {"type": "integer"},
    }
    return {code: {"description": description, "headers": {CANCELED_HEADER: header}}}


def sync_dagster(session: Session, reconciler: Reconciler | None, response: Response, change: Change) -> None:
    """Run the post-commit work of `change` and say how it went in the response's headers. The request's connection
    and store slot are given back while Dagster is waited on (api/deps.py `store_released`, which commits first); the
    session is usable again after."""
    if reconciler is None:
        response.headers[SYNC_HEADER] = "skipped"
        return
    with store_released(session):
        outcome = reconciler.after_write(change)
    if change.stopped:
        response.headers[CANCELED_HEADER] = str(outcome.canceled or 0)
    response.headers[SYNC_HEADER] = "ok" if outcome.ok else "failed"
