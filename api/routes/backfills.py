"""`/api/scheduler/scenarios/{id}/backfill[s]`: run a time trigger's past instants of a range, from the API.

A backfill is recorded in the store (its instants, the version its runs run) and its runs are handed to Dagster
one per instant, after the answer: each with the version's run config (factory/run_config.py), the tags of a
scheduled run of that instant (`honeyframe/scheduled_for`, `.dagster/honeyframe_version`, the cron partition) and
`honeyframe/backfill` = the backfill's id, by which `GET …/backfills` counts their statuses. The runs wait their
turn in the run queue like any run of the scenario (docs/scheduling.md: `.dagster/honeyframe_serial`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from dagster._time import get_current_datetime
from fastapi import BackgroundTasks, HTTPException, Request, status
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.deps import BackendsDep, ProjectDep
from api.errors import ApiValidationError, dagster_unavailable, translated
from api.routes.runs import PARTITION_TAG, TRIGGER_TAG, launch, partition_key, require_dagster
from api.routing import Router
from api.schemas import BackfillAccepted, BackfillBody, BackfillList, BackfillPublic, problem_responses
from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable
from honeyframe_dagster.factory.jobs import scenario_tags
from honeyframe_dagster.factory.run_config import run_config
from honeyframe_dagster.model.instants import instants_between
from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.model.tags import BACKFILL_TAG, SCENARIO_TAG, SCHEDULED_FOR_TAG
from honeyframe_dagster.store import service
from honeyframe_dagster.store.tables import BackfillRow

log = logging.getLogger("honeyframe.api")
router = Router(
    prefix="/api/scheduler/scenarios", tags=["runs"], responses=problem_responses(400, 401, 403, 404, 422, 429, 503)
)
MAX_BACKFILL_INSTANTS = 500
_TICK = dt.timedelta(microseconds=1)


def _refuse(loc: Sequence[str], message: str, value: Any) -> ApiValidationError:
    return ApiValidationError([{"loc": ["body", *loc], "msg": message, "input": value}])


def backfill_instants(spec: ScenarioSpec, body: BackfillBody, now: dt.datetime) -> list[dt.datetime]:
    """The trigger's instants in [from, to] up to now, calendar applied; 422 naming what is wrong."""
    trigger = spec.trigger
    if trigger.upstream is not None or trigger.run_at is not None:
        kind = "upstream" if trigger.upstream is not None else "run_at"
        message = f"the scenario's trigger is {kind}: only cron and interval triggers have instants to backfill"
        raise _refuse([], message, None)
    for name, value in (("from", body.start), ("to", body.end)):
        if value.utcoffset() is None:
            raise _refuse([name], "needs a UTC offset (e.g. '2026-12-01T00:00:00Z')", value.isoformat())
    if body.end < body.start:
        raise _refuse(["to"], f"is before from ({body.start.isoformat()})", body.end.isoformat())
    if body.start > now:
        message = f"is in the future (now is {now.isoformat(timespec='seconds')}): only past instants backfill"
        raise _refuse(["from"], message, body.start.isoformat())
    end = min(body.end, now)
    try:
        found = instants_between(
            trigger, spec.timezone, body.start - _TICK, end, limit=MAX_BACKFILL_INSTANTS + 1, calendar=spec.calendar
        )
    except (OverflowError, ValueError):  # a range reaching out of the representable years
        raise _refuse(["from"], "is out of the range of instants (years 1–9999)", body.start.isoformat()) from None
    span = f"{body.start.isoformat()} … {body.end.isoformat()}"
    if len(found) > MAX_BACKFILL_INSTANTS:
        message = f"the range {span} has more than {MAX_BACKFILL_INSTANTS} instants; backfill a shorter range"
        raise _refuse(["to"], message, body.end.isoformat())
    if not found:
        raise _refuse(["to"], f"the range {span} has no instant of the trigger ({_describe(spec)})", None)
    return found


def _describe(spec: ScenarioSpec) -> str:
    words = spec.trigger.describe(spec.timezone)
    return f"{words}, calendar '{spec.calendar.id}'" if spec.calendar is not None else words


@router.post(
    "/{scenario_id}/backfill",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BackfillAccepted,
    responses=problem_responses(409, 413, 415),
)
def create_backfill(
    request: Request,
    scenario_id: int,
    body: BackfillBody,
    project_id: ProjectDep,
    backends: BackendsDep,
    tasks: BackgroundTasks,
) -> BackfillAccepted:
    """Run every instant of the trigger in [from, to] (at most 500, calendar applied; instants still to come are
    left out) with the scenario's current version; one run per instant, tagged `honeyframe/backfill`."""
    plan = backends.plan_stored(project_id, scenario_id)
    entry = plan.entries[scenario_id]
    if entry.spec is None:
        raise HTTPException(409, f"scenario {scenario_id} cannot run: {entry.error}")
    spec = entry.spec
    instants = backfill_instants(spec, body, get_current_datetime())
    client = require_dagster(backends.dagster)
    with translated():
        row = service.scenario_row(backends.session, project_id, scenario_id)
        backfill = service.record_backfill(backends.session, row, spec.version, (body.start, body.end), instants)
    backfill_id = backfill.id
    backends.session.commit()
    engine = request.app.state.engine
    tasks.add_task(launch_runs, engine, client, plan.location, entry.job_name, spec, backfill_id, instants)
    return BackfillAccepted(backfill_id=backfill_id, instants=len(instants))


def launch_runs(
    engine: Engine,
    client: DagsterClient,
    location: str,
    job_name: str,
    spec: ScenarioSpec,
    backfill_id: str,
    instants: Sequence[dt.datetime],
) -> None:
    """Hand the backfill's runs to Dagster, oldest first; how many were, and why it stopped, go to its row."""
    config, launched, error = run_config(spec), 0, None
    for instant in instants:
        tags = {
            **scenario_tags(spec),
            TRIGGER_TAG: "backfill",
            BACKFILL_TAG: backfill_id,
            SCHEDULED_FOR_TAG: instant.isoformat(),
        }
        partition = partition_key(spec, instant)
        if partition is not None:
            tags[PARTITION_TAG] = partition
        try:
            launch(client, location, job_name, tags, config)
        except DagsterUnavailable as exc:
            log.error("backfill %s: launching the run of %s failed: %s", backfill_id, instant.isoformat(), exc)
            error = f"Dagster could not launch the run of {instant.isoformat()}; see the server log"
            break
        launched += 1
    with Session(engine) as session, session.begin():
        row = session.get(BackfillRow, backfill_id)
        if row is not None:
            row.launched, row.error = launched, error


@router.get("/{scenario_id}/backfills", response_model=BackfillList)
def list_backfills(request: Request, scenario_id: int, project_id: ProjectDep, backends: BackendsDep) -> BackfillList:
    """The scenario's backfills, newest first, with their runs' statuses from Dagster."""
    with translated():
        service.scenario_row(backends.session, project_id, scenario_id)
    rows = backends.session.scalars(
        select(BackfillRow).where(BackfillRow.scenario_id == scenario_id).order_by(BackfillRow.created_at.desc())
    )
    items = []
    for row in rows:
        runs: Counter[str] = Counter()
        if backends.dagster is not None:
            tags = {BACKFILL_TAG: row.id, SCENARIO_TAG: str(scenario_id)}
            try:
                records = backends.dagster.run_records(tags, 0, MAX_BACKFILL_INSTANTS)
            except DagsterUnavailable as exc:
                raise dagster_unavailable(request, "Dagster's run storage is unavailable", exc) from None
            runs.update(record.dagster_run.status.value for record in records)
        items.append(backfill_public(row, dict(runs)))
    return BackfillList(items=items)


def backfill_public(row: BackfillRow, runs: dict[str, int]) -> BackfillPublic:
    return BackfillPublic(
        backfill_id=row.id,
        start=row.range_from,
        end=row.range_to,
        instants=len(row.instants or []),
        version=row.version,
        launched=row.launched,
        status=backfill_status(row, runs),
        runs=runs,
        error=row.error,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def backfill_status(row: BackfillRow, runs: dict[str, int]) -> Any:
    """launching (runs still being handed over), failed, canceled, completed, running or queued."""
    total, planned = sum(runs.values()), len(row.instants or [])
    if row.error is not None or runs.get("FAILURE"):
        return "failed"
    if row.launched < planned or total < planned:
        return "launching"
    if runs.get("SUCCESS", 0) == total:
        return "completed"
    if runs.get("CANCELED") or runs.get("CANCELING"):
        return "canceled"
    if runs.get("STARTED") or runs.get("STARTING") or runs.get("SUCCESS"):
        return "running"
    return "queued"
