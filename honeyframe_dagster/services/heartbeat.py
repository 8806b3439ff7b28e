"""Scheduler heartbeat and health.

The heartbeat is a sensor, so the Dagster daemon's sensor loop writes it: when the daemon (or the code
location it evaluates) is down, the heartbeat stops, which a thread in some other process could not show.
"""

import datetime as dt
import logging
import socket
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
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_incrementing

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.model.tags import SCENARIO_TAG
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import SchedulerWorkerRow

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
    """Upsert this worker's row; a failed write is logged with its reason and retried, never raised.

    Up to WRITE_ATTEMPTS attempts, waiting RETRY_SECONDS times the attempt number between them.
    """

    def retrying_soon(state: RetryCallState) -> None:
        attempt = state.attempt_number + 1
        log.warning("heartbeat of %s not written (%s); retrying (attempt %d)", worker_id, _reason(state), attempt)

    def given_up(state: RetryCallState) -> None:
        log.error("heartbeat of %s not written after %d attempts (%s)", worker_id, state.attempt_number, _reason(state))

    retrying = Retrying(
        retry=retry_if_exception_type(SQLAlchemyError),
        stop=stop_after_attempt(WRITE_ATTEMPTS),
        wait=wait_incrementing(start=RETRY_SECONDS, increment=RETRY_SECONDS),
        before_sleep=retrying_soon,
        retry_error_callback=given_up,
    )
    return retrying(_write_once, engine, worker_id, current_scenario_id)


def _write_once(engine: Engine, worker_id: str, current_scenario_id: int | None) -> dt.datetime:
    seen = utcnow()
    with Session(engine) as session, session.begin():
        row = SchedulerWorkerRow(worker_id=worker_id, last_seen_at=seen, current_scenario_id=current_scenario_id)
        session.merge(row)
    return seen


def _reason(state: RetryCallState) -> str:
    """The failed write's first line (the driver's message when there is one: no SQL, no parameters)."""
    exc = state.outcome.exception() if state.outcome else None
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]


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
