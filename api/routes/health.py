"""`/api/pipeline/scheduler/health`: is a scheduler worker alive (no auth; for probes)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from api.deps import SessionDep
from api.errors import log_store_outage, request_id_of
from api.schemas import Health
from honeyframe_dagster.store.engine import store_unavailable
from honeyframe_dagster.store.tables import SchedulerWorkerRow

router = APIRouter(prefix="/api/pipeline/scheduler", tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "No recent heartbeat, or the store is unreachable"}},
)
def health(request: Request, session: SessionDep) -> JSONResponse:
    """200 when any scheduler worker heartbeated within the health window (90 s by default), else 503
    (with `Retry-After`, `detail` and `request_id` when the store itself cannot be reached)."""
    try:
        last_seen = session.scalar(select(func.max(SchedulerWorkerRow.last_seen_at)))
    except (DBAPIError, SQLAlchemyTimeoutError) as exc:
        if not store_unavailable(exc):
            raise
        headers = log_store_outage(request, exc)
        unreachable = Health(
            alive=False, last_seen=None, detail="the store is unavailable", request_id=request_id_of(request)
        )
        return JSONResponse(unreachable.model_dump(mode="json"), status_code=503, headers=headers)
    if last_seen is not None and last_seen.tzinfo is None:
        last_seen = last_seen.replace(tzinfo=dt.UTC)
    window = dt.timedelta(seconds=request.app.state.settings.health_window_seconds)
    alive = last_seen is not None and dt.datetime.now(dt.UTC) - last_seen <= window
    body = Health(alive=alive, last_seen=last_seen)
    return JSONResponse(body.model_dump(mode="json", exclude_unset=True), status_code=200 if alive else 503)
