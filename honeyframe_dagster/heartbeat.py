"""Scheduler heartbeat and health.

The heartbeat is a sensor, so the Dagster daemon's sensor loop writes it: when the daemon (or the code
location it evaluates) is down, the heartbeat stops, which a thread in some other process could not show.
"""

import datetime as dt
import logging
import socket
import time
from functools import cache

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.context import SCENARIO_TAG
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import SchedulerWorkerRow, utcnow

HEARTBEAT_SENSOR = "honeyframe_scheduler_heartbeat"
WRITE_ATTEMPTS = 3
RETRY_SECONDS = 1.0
# How long one write waits for a SQLite lock; short so that a locked store delays a tick, not the daemon.
SQLITE_LOCK_TIMEOUT_SECONDS = 2.0


@cache
def heartbeat_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": SQLITE_LOCK_TIMEOUT_SECONDS}, poolclass=NullPool)
    return get_engine(url)


def write_heartbeat(
    engine: Engine, worker_id: str, current_scenario_id: int | None, log: logging.Logger
) -> dt.datetime | None:
    """Upsert this worker's row; a failed write is logged with its reason and retried, never raised."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        seen = utcnow()
        try:
            with Session(engine) as session, session.begin():
                session.merge(
                    SchedulerWorkerRow(worker_id=worker_id, last_seen_at=seen, current_scenario_id=current_scenario_id)
                )
            return seen
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            if attempt == WRITE_ATTEMPTS:
                log.error("heartbeat of %s not written after %d attempts (%s)", worker_id, attempt, reason)
                return None
            log.warning("heartbeat of %s not written (%s); retrying (attempt %d)", worker_id, reason, attempt + 1)
            time.sleep(RETRY_SECONDS * attempt)
    return None


def running_scenario_id(instance: DagsterInstance) -> int | None:
    """A scenario with a run in progress (in any code location), or None."""
    for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED]), limit=100):
        tag = run.tags.get(SCENARIO_TAG)
        if tag is not None and tag.isdigit():
            return int(tag)
    return None


def worker_identity(context: SensorEvaluationContext) -> str:
    origin = context.code_location_origin
    return f"{socket.gethostname()}/{origin.location_name if origin else 'local'}"


def health(engine: Engine, window_seconds: float, now: dt.datetime | None = None) -> tuple[bool, dt.datetime | None]:
    """(alive, last_seen): alive when any worker beat within `window_seconds`; last_seen is the latest beat."""
    with Session(engine) as session:
        last_seen = session.scalar(select(func.max(SchedulerWorkerRow.last_seen_at)))
    if last_seen is None:
        return False, None
    age = ((now or utcnow()) - last_seen).total_seconds()
    return age <= window_seconds, last_seen


def scheduler_heartbeat_sensor(interval_seconds: float) -> SensorDefinition:
    @sensor(
        name=HEARTBEAT_SENSOR,
        minimum_interval_seconds=max(1, round(interval_seconds)),
        default_status=DefaultSensorStatus.RUNNING,
        description="Writes this scheduler's heartbeat to the store (scheduler_workers) while the daemon runs.",
    )
    def _heartbeat(context: SensorEvaluationContext) -> SkipReason:
        # One heartbeat per deployment (the warehouse location): a scenario running in any location counts.
        engine = heartbeat_engine(get_settings().store_url)
        worker_id = worker_identity(context)
        seen = write_heartbeat(engine, worker_id, running_scenario_id(context.instance), context.log)
        return SkipReason(f"heartbeat of {worker_id} at {seen.isoformat()}" if seen else "heartbeat not written")

    return _heartbeat
