"""After a committed write: reload the code location, then make Dagster's trigger status follow the store.

The write is already committed when this runs, so a Dagster failure is not the client's error: it is logged and
reported in the `X-Honeyframe-Dagster-Sync` response header (`ok`, `failed` or `skipped` when no Dagster is
configured). The next successful write, or a restart of the code location, catches Dagster up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import Response

from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable, TriggerRef

SYNC_HEADER = "X-Honeyframe-Dagster-Sync"
log = logging.getLogger("honeyframe.api")


def sync_dagster(
    client: DagsterClient | None,
    response: Response,
    locations: str | Sequence[str],
    statuses: Sequence[tuple[TriggerRef, bool]] = (),
    stop_first: Sequence[TriggerRef] = (),
) -> None:
    """`stop_first`: triggers to stop before the reload (a deleted scenario's, while the location still has it)."""
    if client is None:
        response.headers[SYNC_HEADER] = "skipped"
        return
    try:
        for trigger in stop_first:
            client.set_trigger_status(trigger, False)
        for location in [locations] if isinstance(locations, str) else locations:
            client.reload(location)
        for trigger, running in statuses:
            client.set_trigger_status(trigger, running)
    except DagsterUnavailable as exc:
        log.error("store written, but Dagster not updated: %s", exc)
        response.headers[SYNC_HEADER] = "failed"
        return
    response.headers[SYNC_HEADER] = "ok"
