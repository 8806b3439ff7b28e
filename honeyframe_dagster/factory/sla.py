"""SLA alerts (`sla: {finish_within_seconds, notify}`): one sensor per code location, `honeyframe_sla_sensor`,
checks every `EVALUATION_SECONDS` the instants whose deadline (instant + finish_within_seconds) has passed since
its last check (its cursor, per scenario).

An instant is met when a run for it (tag `honeyframe/scheduled_for`) succeeded (with `expand_from`: every entity's
latest run; an instant whose query returned no rows expects none). Otherwise it is a miss: recorded once in the
store (`sla_misses`, so one alert per instant even across restarts), alerted once (webhook and/or e-mail), its
runs tagged `honeyframe/sla_missed`, and named in the sensor's tick. Misses not yet recovered are looked at again
at each check: a late success is reported once as recovered. How it shows in Dagster: the sensor's ticks (the
skip reason lists what was missed and recovered) and the run tag.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.factory.expansion import no_rows_key
from honeyframe_dagster.factory.trigger_state import sensor_clock
from honeyframe_dagster.model.instants import instants_between
from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.model.tags import ENTITY_TAG, SCENARIO_TAG, SCHEDULED_FOR_TAG, SLA_MISSED_TAG
from honeyframe_dagster.reports.mail import compose
from honeyframe_dagster.reports.notice import dagster_run_url, sla_notice
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.notify_webhook.op import post
from honeyframe_dagster.steps.send_email_report.resource import mail_resource
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.sla import open_misses, record_miss
from honeyframe_dagster.store.tables import ScenarioRow

SLA_SENSOR = "honeyframe_sla_sensor"
EVALUATION_SECONDS = 30
# Instants checked per scenario and evaluation (the rest at the next ones).
MAX_CHECKED = 100


@dataclass(frozen=True)
class InstantState:
    met: bool
    state: str
    run_ids: tuple[str, ...] = ()


def instant_state(instance: DagsterInstance, spec: ScenarioSpec, instant: dt.datetime) -> InstantState:
    """Whether the instant's run (each entity's latest) succeeded, and what it is in words."""
    text = instant.isoformat()
    runs = instance.get_runs(RunsFilter(tags={SCENARIO_TAG: str(spec.id), SCHEDULED_FOR_TAG: text}))
    if not runs:
        if spec.trigger.expand_from is not None:
            marker = instance.run_storage.get_cursor_values({no_rows_key(spec.id, text)})
            if marker:
                return InstantState(True, "expand_from returned no rows")
        return InstantState(False, "never created")
    latest: dict[str | None, Any] = {}
    for run in runs:  # newest first
        latest.setdefault(run.tags.get(ENTITY_TAG), run)
    late = [run for run in latest.values() if run.status != DagsterRunStatus.SUCCESS]
    ids = tuple(run.run_id for run in latest.values())
    if not late:
        return InstantState(True, "SUCCESS", ids)
    shown = ", ".join(
        f"{run.run_id}{f' ({run.tags[ENTITY_TAG]})' if ENTITY_TAG in run.tags else ''} {run.status.value}"
        for run in late[:5]
    )
    return InstantState(False, shown + (f" and {len(late) - 5} more" if len(late) > 5 else ""), ids)


def due_checks(
    spec: ScenarioSpec, checked_until: dt.datetime | None, now: dt.datetime
) -> tuple[list[dt.datetime], dt.datetime]:
    """Instants whose deadline passed after `checked_until` (a first check starts from now: no older instant is
    replayed) and after the cadence's start (an instant of a disabled trigger never fired), up to `now`, oldest
    first; and the new `checked_until`."""
    assert spec.sla is not None
    deadline = now - dt.timedelta(seconds=spec.sla.finish_within_seconds)
    start = max(t for t in (checked_until or deadline, spec.since) if t is not None)
    if deadline <= start:
        return [], start
    instants = instants_between(spec.trigger, spec.timezone, start, deadline, limit=MAX_CHECKED)
    return instants, instants[-1] if len(instants) == MAX_CHECKED else deadline


def alert(spec: ScenarioSpec, instant: dt.datetime, state: InstantState, recovered: bool) -> list[str]:
    """Send the miss (or its recovery) to the sla's webhook and recipients; what failed, in words (never raises:
    one unreachable webhook must not stop the other scenarios' checks)."""
    assert spec.sla is not None
    notify, problems = spec.sla.notify, []
    event = "sla_recovered" if recovered else "sla_missed"
    if notify.webhook_env:
        url = get_settings().secret(notify.webhook_env)
        payload = {
            "event": event,
            "scenario": {"id": spec.id, "name": spec.record.name, "template": spec.template_slug},
            "project": {"id": spec.project.id, "name": spec.project.name},
            "instant": instant.isoformat(),
            "finish_within_seconds": spec.sla.finish_within_seconds,
            "state": state.state,
            "runs": [{"run_id": run_id, "run_url": dagster_run_url(run_id)} for run_id in state.run_ids],
        }
        try:
            if not url:
                raise ValueError(f"sla.notify.webhook_env: environment variable {notify.webhook_env} is not set")
            post(url, notify.webhook_env, payload)
        except Exception as exc:  # Failure from `post` names the variable, never the URL
            problems.append(str(getattr(exc, "description", None) or exc))
    if notify.recipients:
        problems += _mail(spec, instant, state, recovered, notify.recipients)
    return problems


def _mail(
    spec: ScenarioSpec, instant: dt.datetime, state: InstantState, recovered: bool, recipients: list[str]
) -> list[str]:
    assert spec.sla is not None
    settings = get_settings()
    notice = sla_notice(
        spec.project.name, spec.record.name, instant.isoformat(), spec.sla.finish_within_seconds, state.state, recovered
    )
    mail = mail_resource(settings)
    try:
        mail.send(compose(mail.sender, recipients, notice.subject, notice.text, notice.html), recipients)
    except Exception as exc:  # DeliveryError, a refused header: said in the tick, the check goes on
        return [f"sla.notify.recipients: {exc}"]
    return []


def check(
    instance: DagsterInstance, session: Session, spec: ScenarioSpec, checked_until: dt.datetime | None, now: dt.datetime
) -> tuple[dt.datetime, list[str]]:
    """One scenario's check: new misses alerted once, open ones recovered once; the new cursor and what it did."""
    notes: list[str] = []
    instants, until = due_checks(spec, checked_until, now)
    for instant in instants:
        state = instant_state(instance, spec, instant)
        if state.met or not record_miss(session, spec.id, instant, state.state):
            continue
        session.commit()  # recorded before it is sent: never two alerts for one instant
        for run_id in state.run_ids:
            instance.add_run_tags(run_id, {SLA_MISSED_TAG: instant.isoformat()})
        problems = alert(spec, instant, state, recovered=False)
        notes.append(f"missed: scenario {spec.id} '{spec.record.name}' {instant.isoformat()} ({state.state})")
        notes += [f"  alert not delivered: {p}" for p in problems]
    for miss in open_misses(session, spec.id):
        state = instant_state(instance, spec, miss.instant)
        if not state.met:
            continue
        miss.recovered_at = utcnow()
        session.commit()
        problems = alert(spec, miss.instant, state, recovered=True)
        notes.append(f"recovered: scenario {spec.id} '{spec.record.name}' {miss.instant.isoformat()}")
        notes += [f"  notice not delivered: {p}" for p in problems]
    return until, notes


def sla_sensor(specs: Sequence[ScenarioSpec]) -> SensorDefinition | None:
    """The location's SLA sensor; None when no scenario of it has an `sla` (time triggers only)."""
    targets = {spec.id: spec for spec in specs if spec.sla is not None and spec.trigger.kind != "upstream"}
    if not targets:
        return None

    @sensor(
        name=SLA_SENSOR,
        minimum_interval_seconds=EVALUATION_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description="Alerts once per instant whose run has not succeeded within its scenario's sla",
    )
    def _sla(context: SensorEvaluationContext) -> SensorResult:
        now = sensor_clock(context).now
        cursor: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        notes: list[str] = []
        with Session(get_engine(get_settings().store_url)) as session:
            # Enabled as the store says now (a toggle reloads no location): a disabled trigger's instants never fire.
            rows = select(ScenarioRow.id, ScenarioRow.enabled).where(ScenarioRow.id.in_(list(targets)))
            enabled = dict(session.execute(rows).tuples().all())
            for scenario_id, spec in targets.items():
                if not enabled.get(scenario_id, False):
                    deadline = now - dt.timedelta(seconds=spec.sla.finish_within_seconds if spec.sla else 0)
                    cursor[str(scenario_id)] = deadline.isoformat()
                    continue
                known = cursor.get(str(scenario_id))
                checked = dt.datetime.fromisoformat(known) if known else None
                until, done = check(context.instance, session, spec, checked, now)
                cursor[str(scenario_id)] = until.isoformat()
                notes += done
        reason = "; ".join(notes) if notes else "no SLA missed"
        return SensorResult(skip_reason=reason[:4000], cursor=json.dumps(cursor, sort_keys=True))

    return _sla


__all__ = ["SLA_SENSOR", "InstantState", "check", "due_checks", "instant_state", "sla_sensor"]
