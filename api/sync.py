"""After a committed write: reload the code location, then make Dagster's trigger status follow the store.

The write is already committed when this runs, so a Dagster failure is not the client's error: it is logged and
reported in the `X-Honeyframe-Dagster-Sync` response header (`ok`, `failed` or `skipped` when no Dagster is
configured). The next successful write, or a restart of the code location, catches Dagster up.

Disabling or deleting a scenario also cancels its QUEUED runs (runs in progress go on); the
`X-Honeyframe-Canceled-Runs` header says how many.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fastapi import Response

from api.present import run_tags
from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable, TriggerRef
from honeyframe_dagster.store.service import Stopped

SYNC_HEADER = "X-Honeyframe-Dagster-Sync"
CANCELED_HEADER = "X-Honeyframe-Canceled-Runs"
log = logging.getLogger("honeyframe.api")


def canceled_header_doc(code: int, description: str) -> dict[int | str, dict[str, object]]:
    """OpenAPI: the success answer of a write that may disable or delete a scenario carries the canceled count."""
    header = {
        "description": "Queued runs canceled because the scenario was disabled or deleted "
        "(only when it was; runs in progress go on)",
        "schema": {"type": "integer"},
    }
    return {code: {"description": description, "headers": {CANCELED_HEADER: header}}}


@dataclass(frozen=True)
class CancelQueued:
    """The queued runs of a scenario that is being disabled or deleted, and the reason their event log gives."""

    tags: Mapping[str, str]
    reason: str


def cancel_queued(scenario: Stopped, action: str) -> CancelQueued:
    """The queued runs of a scenario the write service disabled or deleted."""
    reason = (
        f"Honeyframe: scenario {scenario.scenario_id} '{scenario.name}' of project '{scenario.project_id}' was {action}"
    )
    return CancelQueued(run_tags(scenario.project_id, scenario.scenario_id), reason)


def sync_dagster(
    client: DagsterClient | None,
    response: Response,
    locations: str | Sequence[str],
    statuses: Sequence[tuple[TriggerRef, bool]] = (),
    stop_first: Sequence[TriggerRef] = (),
    cancel: CancelQueued | None = None,
) -> None:
    """`stop_first`: triggers to stop before the reload (a deleted scenario's, while the location still has it).

    `cancel`: queued runs to cancel, before the reload (which can take a minute while the queue launches runs) and
    again once the trigger is stopped (what it queued meanwhile).
    """
    if client is None:
        response.headers[SYNC_HEADER] = "skipped"
        return
    # A failing cancellation does not keep the trigger running, nor a failing reload the runs queued.
    passes = [_cancel(client, cancel)]
    ok = True
    try:
        for trigger in stop_first:
            client.set_trigger_status(trigger, False)
        for location in [locations] if isinstance(locations, str) else locations:
            client.reload(location)
        for trigger, running in statuses:
            client.set_trigger_status(trigger, running)
    except DagsterUnavailable as exc:
        log.error("store written, but Dagster not updated: %s", exc)
        ok = False
    passes.append(_cancel(client, cancel))
    if cancel is not None:
        response.headers[CANCELED_HEADER] = str(sum(n for n in passes if n is not None))
    response.headers[SYNC_HEADER] = "ok" if ok and None not in passes else "failed"


def _cancel(client: DagsterClient, cancel: CancelQueued | None) -> int | None:
    """How many queued runs were canceled; None (logged) when Dagster's run storage failed."""
    if cancel is None:
        return 0
    try:
        return client.cancel_queued(cancel.tags, cancel.reason)
    except DagsterUnavailable as exc:
        log.error("store written, but queued runs not canceled: %s", exc)
        return None
