"""`/api/pipeline/scheduler/health`: is a scheduler worker alive (no auth; for probes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import Session

from api.deps import SessionDep
from api.errors import log_store_outage, request_id_of
from api.routing import Router
from api.schemas import Health
from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.reconciler import last_pass
from honeyframe_dagster.store.engine import store_unavailable
from honeyframe_dagster.store.tables import SchedulerWorkerRow

router = Router(prefix="/api/pipeline/scheduler", tags=["health"])
# Two missed beats of the default 30 s heartbeat still count as green; amber lasts up to the health window.
GREEN_SECONDS = 60.0
HeartbeatStatus = Literal["green", "amber", "red"]


@dataclass(frozen=True)
class Heartbeat:
    """The newest heartbeat of any scheduler worker, and its colour on the operations tile."""

    last_seen: dt.datetime | None
    status: HeartbeatStatus

    @property
    def alive(self) -> bool:
        return self.status != "red"


def heartbeat(session: Session, window_seconds: float, now: dt.datetime | None = None) -> Heartbeat:
    """green: at most 60 s old; amber: at most `window_seconds` (the health window, 90 s by default); else red."""
    last_seen = session.scalar(select(func.max(SchedulerWorkerRow.last_seen_at)))
    if last_seen is None:
        return Heartbeat(None, "red")
    if last_seen.tzinfo is None:
        last_seen = last_seen.replace(tzinfo=dt.UTC)
    age = ((now or utcnow()) - last_seen).total_seconds()
    green = min(GREEN_SECONDS, window_seconds)  # a window under 60 s has no amber: alive is never red
    status: HeartbeatStatus = "green" if age <= green else "amber" if age <= window_seconds else "red"
    return Heartbeat(last_seen, status)


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "No recent heartbeat, or the store is unreachable"}},
)
def health(request: Request, session: SessionDep) -> JSONResponse:
    """200 when any scheduler worker heartbeated within the health window (90 s by default), else 503
    (with `Retry-After`, `detail` and `request_id` when the store itself cannot be reached).

    `status` colours the heartbeat's age: green up to 60 s, amber up to the window, red beyond (or none).
    """
    try:
        beat = heartbeat(session, request.app.state.settings.health_window_seconds)
    except (DBAPIError, SQLAlchemyTimeoutError) as exc:
        if not store_unavailable(exc):
            raise
        headers = log_store_outage(request, exc)
        unreachable = Health(
            alive=False,
            last_seen=None,
            status="red",
            detail="the store is unavailable",
            request_id=request_id_of(request),
        )
        return JSONResponse(unreachable.model_dump(mode="json", exclude_unset=True), status_code=503, headers=headers)
    body = Health(alive=beat.alive, last_seen=beat.last_seen, status=beat.status)
    out_of_sync, reconciled_at = last_pass(session)
    if out_of_sync is not None and reconciled_at is not None:  # shown once the reconciler has made a pass
        body.out_of_sync, body.reconciled_at = out_of_sync, dt.datetime.fromisoformat(reconciled_at)
    return JSONResponse(body.model_dump(mode="json", exclude_unset=True), status_code=200 if beat.alive else 503)
