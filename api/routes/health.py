"""`/api/pipeline/scheduler/health`: is a scheduler worker alive (no auth; for probes)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from api.deps import SessionDep
from api.schemas import Health
from honeyframe_dagster.store.tables import SchedulerWorkerRow

router = APIRouter(prefix="/api/pipeline/scheduler", tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "No recent heartbeat"}})
def health(request: Request, session: SessionDep) -> JSONResponse:
    """200 when any scheduler worker heartbeated within the health window (90 s by default), else 503."""
    last_seen = session.scalar(select(func.max(SchedulerWorkerRow.last_seen_at)))
    if last_seen is not None and last_seen.tzinfo is None:
        last_seen = last_seen.replace(tzinfo=dt.UTC)
    window = dt.timedelta(seconds=request.app.state.settings.health_window_seconds)
    alive = last_seen is not None and dt.datetime.now(dt.UTC) - last_seen <= window
    body = Health(alive=alive, last_seen=last_seen)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if alive else 503)
