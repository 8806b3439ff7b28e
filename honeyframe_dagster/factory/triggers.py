"""A scenario's trigger as a Dagster schedule or sensor; its status follows the store's `enabled`.

A time trigger (cron, interval, run_at) whose instants fall on a cron grid (model/schedule_grid.py) is a schedule
`<job>_schedule`: Dagster's scheduler daemon computes its next tick from the cron string and calls the code
location only when a tick is due, so it costs nothing between its instants. At a tick the schedule fires the
instants due since the last one it handled (factory/trigger_state.py reads that from the schedule's previous tick
and its start), per the catch-up policy (model/catchup.py `due_instants`): the daemon itself evaluates only the
latest missed tick of a schedule without a partition set, so missed instants are ours to decide. A catch-up `all`
backlog beyond 25 runs is drained every `EVALUATION_SECONDS` by the location's one catch-up sensor.

A time trigger on a finer grid (start_at or run_at with seconds, an interval of 90 s) stays a sensor evaluated
every `EVALUATION_SECONDS` with a cursor: the last instant it handled. Upstream triggers are run-status sensors.
Every run has the instant as run key (never twice), its own `scheduled_for` tag and, for cron, the instant's
partition; overlap is decided at the instant (`_overlap`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cache

from dagster import (
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    JobDefinition,
    RunRequest,
    RunStatusSensorContext,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    TimeWindowPartitionsDefinition,
    run_status_sensor,
    schedule,
    sensor,
)

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.factory.expansion import Entity, expand, no_rows_key, run_key
from honeyframe_dagster.factory.overlap import active_runs, cancel_previous, describe, entity_serial_tags
from honeyframe_dagster.factory.run_config import run_config
from honeyframe_dagster.factory.trigger_state import (
    CATCHING_UP,
    Backlog,
    Progress,
    confirmed_until,
    dump_progress,
    fired_pairs,
    launch_spec,
    read_backlogs,
    read_progress,
    schedule_history,
    schedule_progress,
    schedule_running,
    sensor_clock,
    write_backlogs,
)
from honeyframe_dagster.model.catchup import MAX_CATCHUP_RUNS, Due, due_instants
from honeyframe_dagster.model.instants import next_instant
from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.model.schedule_grid import Grid, schedule_grid
from honeyframe_dagster.model.tags import ENTITY_TAG, SCHEDULED_FOR_TAG, VERSION_TAG
from honeyframe_dagster.model.triggers import Overlap

# Partitions (one per cron instant) reach back to here, so backfills can cover any past instant since.
PARTITIONS_START = dt.datetime(2025, 1, 1)
UPSTREAM_RUN_TAG = "honeyframe/upstream_run_id"
# How often the daemon evaluates a time sensor (and the catch-up sensor): an instant fires at most this long (plus
# the daemon's own loop) after it comes.
EVALUATION_SECONDS = 30
# The location's sensor that drains catch-up `all` backlogs of schedules (`catchup_sensor`).
CATCHUP_SENSOR = "honeyframe_catchup_sensor"


@cache
def cron_partitions(cron: str, timezone: str) -> TimeWindowPartitionsDefinition:
    """One partition per cron instant, keyed by that instant (end_offset=1: the instant's own window)."""
    minute, hour = cron.split()[:2]
    once_a_day = minute.isdigit() and hour.isdigit()
    return TimeWindowPartitionsDefinition(
        cron_schedule=cron,
        timezone=timezone,
        start=PARTITIONS_START,
        fmt="%Y-%m-%d" if once_a_day else "%Y-%m-%d-%H:%M",
        end_offset=1,
    )


def partition_key(spec: ScenarioSpec, instant: dt.datetime) -> str | None:
    """The partition of a cron instant (the window that starts at it); None for other kinds."""
    if spec.trigger.cron is None:
        return None
    return cron_partitions(spec.trigger.cron, spec.timezone).get_partition_key_for_timestamp(instant.timestamp())


def build_trigger(
    spec: ScenarioSpec, job: JobDefinition, name: str, upstream_job: JobDefinition | None
) -> SensorDefinition | ScheduleDefinition:
    """The trigger `name` (model/naming.py `trigger_name`, of the kind model/schedule_grid.py `trigger_kind` says)."""
    status = DefaultSensorStatus.RUNNING if spec.enabled else DefaultSensorStatus.STOPPED
    if spec.trigger.kind == "upstream":
        assert upstream_job is not None, "an upstream trigger needs its upstream job"
        return upstream_sensor(spec, job, name, upstream_job, status)
    grid = schedule_grid(spec.trigger, spec.timezone)
    if grid is None:
        return time_sensor(spec, job, name, status)
    return time_schedule(spec, job, name, grid)


def enabled_since(spec: ScenarioSpec, started: dt.datetime | None) -> dt.datetime | None:
    """When the trigger's cadence last (re)started: its version's `since` (the trigger last changed or the scenario
    was last enabled, model/compiled.py), or an explicit start in Dagster (the API's, the reconciler's or a user's
    in Dagster's UI), whichever is later. An edit of anything but the trigger keeps `since`, so an instant due
    before the edit still fires."""
    known = [t for t in (started, spec.since) if t is not None]
    return max(known, default=None)


def handled_until(
    spec: ScenarioSpec, handled: list[dt.datetime | None], started: dt.datetime | None, now: dt.datetime
) -> dt.datetime:
    """The instant from which instants are due: the latest of what was handled and the (re)start."""
    known = [t for t in (*handled, enabled_since(spec, started)) if t is not None]
    return max(known, default=now)


def time_sensor(spec: ScenarioSpec, job: JobDefinition, name: str, status: DefaultSensorStatus) -> SensorDefinition:
    @sensor(
        name=name,
        job=job,
        minimum_interval_seconds=EVALUATION_SECONDS,
        default_status=status,
        description=_description(spec),
    )
    def _time_trigger(context: SensorEvaluationContext) -> SensorResult:
        # The tick's own time as the daemon recorded it, not this process's clock (trigger_state.sensor_clock).
        clock = sensor_clock(context)
        now = clock.now
        cursor_at = dt.datetime.fromisoformat(context.cursor) if context.cursor else None
        since = handled_until(spec, [cursor_at], clock.started, now)
        due = due_instants(spec.trigger, spec.timezone, since, now, spec.calendar)
        cursor = due.handled_until.isoformat()
        if not due.fire:
            return SensorResult(skip_reason=_nothing_due(spec, due, now), cursor=cursor)
        requests, reason = _fire(context, spec, due.fire, due.catching_up)
        if not requests:
            return SensorResult(skip_reason=reason, cursor=cursor)
        return SensorResult(run_requests=requests, cursor=cursor)

    return _time_trigger


def _description(spec: ScenarioSpec) -> str:
    policies = f"catchup {spec.trigger.catchup}, overlap {spec.trigger.overlap}"
    fan_out = "; one run per row of expand_from (per entity)" if spec.trigger.expand_from is not None else ""
    return f"{spec.trigger.describe(spec.timezone)}; {policies}{fan_out}"


def time_schedule(spec: ScenarioSpec, job: JobDefinition, name: str, grid: Grid) -> ScheduleDefinition:
    """Ticks on the grid; each tick fires the instants due since the schedule last handled one (none at a grid
    point that is not an instant)."""

    @schedule(
        name=name,
        job=job,
        cron_schedule=grid.cron,
        execution_timezone=grid.timezone,
        default_status=DefaultScheduleStatus.RUNNING if spec.enabled else DefaultScheduleStatus.STOPPED,
        description=_description(spec),
    )
    def _tick(context: ScheduleEvaluationContext) -> SkipReason | list[RunRequest]:
        # The tick's scheduled time decides, however late and wherever it is evaluated: instants up to it are due,
        # and one is late by how long before it it came (a tick evaluated by hand has none: Dagster's clock).
        scheduled = context.scheduled_execution_time
        now = scheduled.astimezone(dt.UTC) if scheduled is not None else utcnow()
        history = schedule_history(context)
        instance = context.instance if context.instance_ref is not None else None
        backlog = None
        if instance is not None and spec.trigger.catchup == "all":
            backlog = read_backlogs(instance, [spec.id]).get(spec.id)
            # One this very tick handed over is not another's: the tick is evaluated again after an interruption
            # (the daemon died before its runs existed), and asks for the same runs.
            own = backlog is not None and not backlog.by_sensor and backlog.at == now
            if backlog is not None and backlog.active(now) and not own:
                return SkipReason(f"{CATCHING_UP} {CATCHUP_SENSOR} runs the missed instants after {backlog.until}")
        handled = [history.handled_until, confirmed_until(instance, spec.id, backlog) if instance else None]
        since = handled_until(spec, handled, history.started_at, now)
        due = due_instants(spec.trigger, spec.timezone, since, now, spec.calendar)
        left = _backlog_left(spec, due, now)
        if instance is not None and (left or (backlog is not None and backlog.open)):  # open one, or close a stale one
            # The batch's start, not its end: this tick's runs do not exist yet. Once they do, its run keys say how
            # far it got (trigger_state.schedule_progress), and the catch-up sensor goes on from there.
            write_backlogs(instance, {spec.id: Backlog(since, left, now, history.schedule)})
        if not due.fire:
            return SkipReason(_nothing_due(spec, due, now))
        this_tick = None
        if history.schedule is not None:  # evaluated by the daemon, which always passes the tick's time
            this_tick = (name, context.scheduled_execution_time.astimezone(dt.UTC).isoformat())
        done = fired_pairs(instance, spec.id, due.fire, this_tick) if instance is not None else set()
        requests, reason = _fire(context, spec, due.fire, due.catching_up, done)
        return requests if requests else SkipReason(reason)

    return _tick


def _backlog_left(spec: ScenarioSpec, due: Due, now: dt.datetime) -> bool:
    """Catch-up `all` fired its maximum and missed instants up to now remain."""
    if spec.trigger.catchup != "all" or len(due.fire) < MAX_CATCHUP_RUNS:
        return False
    following = next_instant(spec.trigger, spec.timezone, due.handled_until, spec.calendar)
    return following is not None and following <= now


def catchup_sensor(scheduled: Sequence[tuple[ScenarioSpec, JobDefinition]]) -> SensorDefinition | None:
    """One sensor per location that runs the backlogs schedules of catch-up `all` triggers leave (at most
    `MAX_CATCHUP_RUNS` per trigger and evaluation, as a time sensor would); None when no such trigger exists.
    Between backlogs an evaluation is one read of Dagster's key-value store.

    Its progress is its cursor, which Dagster commits with the tick's run requests and hands on once they are
    submitted; every run has a run key (`<job>:<instant>`), so an evaluation after a crash asks for the same runs
    and the daemon creates only those that are missing. The key-value rows it writes (`Backlog`) carry the progress
    its cursor had when handed to it: a backlog is closed one evaluation after its last batch, when those runs
    exist."""
    targets = {spec.id: (spec, job) for spec, job in scheduled if spec.trigger.catchup == "all"}
    if not targets:
        return None

    @sensor(
        name=CATCHUP_SENSOR,
        jobs=[job for _, job in targets.values()],
        minimum_interval_seconds=EVALUATION_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description="Runs the missed instants of catch-up `all` schedules beyond the 25 their tick ran",
    )
    def _drain(context: SensorEvaluationContext) -> SensorResult:
        clock = sensor_clock(context)
        now, instance = clock.now, context.instance
        # A batch every EVALUATION_SECONDS per trigger, counted from the last one (the schedule's tick or ours).
        pace = dt.timedelta(seconds=EVALUATION_SECONDS)
        stored = {i: b for i, b in read_backlogs(instance, targets).items() if b.open}
        # The progress the previous evaluation's runs made: Dagster hands the cursor on once they were submitted
        # (a crash before that leaves the previous one, and this evaluation asks for the same runs again).
        progress = read_progress(context.cursor)
        kept: dict[int, Progress] = {}  # this evaluation's cursor
        published: dict[int, Backlog] = {}  # the rows, with progress that committed records show only
        requests: list[RunRequest] = []
        waiting = 0
        for scenario_id, backlog in stored.items():
            spec, job = targets[scenario_id]
            mine = progress.get(scenario_id)
            if mine is not None and mine.until < backlog.until:
                mine = None  # an earlier backlog's
            if not backlog.by_sensor:
                # A schedule just handed it over: taken (timed by this sensor's clock from now on), then drained
                # from where the schedule's runs got.
                start = max(backlog.until, schedule_progress(instance, backlog.schedule) or backlog.until)
                published[scenario_id] = Backlog(backlog.until, True, now, backlog.schedule, True, clock.instigator)
                kept[scenario_id] = Progress(start, True)
                waiting += 1
                continue
            if mine is not None:
                until = mine.until
            else:  # no cursor of it (lost, or the take-over's tick did not finish): what the schedule ran
                until = max(backlog.until, schedule_progress(instance, backlog.schedule) or backlog.until)
            if (mine is not None and not mine.open) or not schedule_running(instance, backlog.schedule, spec.enabled):
                # Drained (its last runs exist now), or its schedule stopped: the schedule's again, from there.
                published[scenario_id] = Backlog(until, False, now, backlog.schedule, True, clock.instigator)
                continue
            if now - backlog.at < pace:
                kept[scenario_id] = Progress(until, True)
                waiting += 1
                continue
            due = due_instants(spec.trigger, spec.timezone, until, now, spec.calendar)
            done = fired_pairs(instance, spec.id, due.fire)
            if due.fire:
                requests += _fire(context, spec, due.fire, True, done, job.name)[0]
            kept[scenario_id] = Progress(due.handled_until, _backlog_left(spec, due, now))
            published[scenario_id] = Backlog(until, True, now, backlog.schedule, True, clock.instigator)
        write_backlogs(instance, published)
        cursor = dump_progress(kept)
        if requests:
            return SensorResult(run_requests=requests, cursor=cursor)
        reason = f"{waiting} backlog(s) waiting" if waiting else "backlogs closed" if stored else "no catch-up backlog"
        return SensorResult(skip_reason=reason, cursor=cursor)

    return _drain


def _iso(instants: list[dt.datetime]) -> str:
    return ", ".join(i.isoformat() for i in instants)


def _nothing_due(spec: ScenarioSpec, due: Due, now: dt.datetime) -> str:
    """The tick's reason: what the calendar excluded, what was dropped, else when the next instant comes."""
    if due.excluded is not None:
        return due.excluded
    if due.dropped_until is not None:
        return f"missed instants up to {due.dropped_until.isoformat()} not run (catchup: {spec.trigger.catchup})"
    upcoming = next_instant(spec.trigger, spec.timezone, now, spec.calendar)
    return f"next instant {upcoming.isoformat()}" if upcoming else "no instant left (one-shot trigger)"


def _fire(
    context: SensorEvaluationContext | ScheduleEvaluationContext,
    spec: ScenarioSpec,
    instants: list[dt.datetime],
    catching_up: bool,
    done: set[tuple[dt.datetime, str | None]] | None = None,
    job_name: str | None = None,
) -> tuple[list[RunRequest], str]:
    """The runs of these due instants (not those `done`: already made by a trigger), the overlap policy applied
    unless `catching_up`; with expand_from one per instant and entity, overlap and `done` per entity
    (factory/expansion.py: the query runs now; ExpansionError fails the tick). The reason when there is none."""
    done = done or set()
    found = expand(spec)
    if found is not None and not found:
        if context.instance_ref is not None:  # remembered for the SLA check: these instants expect no run
            context.instance.run_storage.set_cursor_values({no_rows_key(spec.id, i.isoformat()): "1" for i in instants})
        return [], f"expand_from returned no rows at {_iso(instants)}: no run"
    launched = launch_spec(spec)
    requests: list[RunRequest] = []
    held: list[str] = []
    for entity in _each(found):
        name = entity.key if entity is not None else None
        fire = [instant for instant in instants if (instant, name) not in done]
        if not fire:
            continue
        why = None if catching_up else _overlap(context, spec.id, spec.trigger.overlap, name)
        if why is not None:
            held.append(f"skipped {_iso(fire)}{f' for {name!r}' if name is not None else ''}: {why}")
            continue
        requests += [_request(launched, instant, job_name, entity) for instant in fire]
    if requests and held:
        context.log.info("; ".join(held))
    return requests, "; ".join(held) or f"already fired {_iso(instants)}"


def _each(found: list[Entity] | None) -> list[Entity | None]:
    """The entities to run (one run of no entity without expand_from)."""
    return list(found) if found is not None else [None]


def _request(
    spec: ScenarioSpec, instant: dt.datetime, job_name: str | None = None, entity: Entity | None = None
) -> RunRequest:
    """The run of one instant (and `entity`), with its version's config (`launch_spec`); `job_name` for the catch-up
    sensor, whose runs of many jobs need distinct keys."""
    base = instant.isoformat() if job_name is None else f"{job_name}:{instant.isoformat()}"
    tags = {SCHEDULED_FOR_TAG: instant.isoformat(), VERSION_TAG: str(spec.version)}
    if entity is not None:
        tags |= {ENTITY_TAG: entity.key, **entity_serial_tags(spec.id, spec.trigger.overlap, entity.key)}
    return RunRequest(
        run_key=run_key(base, entity),
        tags=tags,
        partition_key=partition_key(spec, instant),
        job_name=job_name,
        run_config=run_config(spec, entity.row if entity is not None else None),
    )


def _overlap(
    context: SensorEvaluationContext | RunStatusSensorContext | ScheduleEvaluationContext,
    scenario_id: int,
    policy: Overlap,
    entity: str | None = None,
) -> str | None:
    """Apply the overlap policy to the scenario's active runs (`entity`: that entity's); a reason when the new run
    must not start."""
    if policy in ("allow", "queue"):
        return None  # queue: the run queue holds the new run until the previous ends (factory/overlap.py)
    runs = active_runs(context.instance, scenario_id, entity)
    if not runs:
        return None
    if policy == "skip":
        return f"run {describe(runs)} of this scenario is still queued or in progress (overlap: skip)"
    canceled = cancel_previous(context.instance, runs)
    context.log.info("overlap cancel_previous: canceling %s", ", ".join(canceled) or "nothing")
    return None


def upstream_sensor(
    spec: ScenarioSpec, job: JobDefinition, name: str, upstream_job: JobDefinition, status: DefaultSensorStatus
) -> SensorDefinition:
    @run_status_sensor(
        name=name,
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[upstream_job],
        request_job=job,
        default_status=status,
    )
    def _on_upstream_success(context: RunStatusSensorContext) -> list[RunRequest] | SkipReason:
        upstream_run = context.dagster_run.run_id
        found = expand(spec)
        if found is not None and not found:
            return SkipReason(f"expand_from returned no rows at the success of upstream run {upstream_run}: no run")
        launched = launch_spec(spec)
        version = str(launched.version)
        requests, held = [], []
        for entity in _each(found):
            why = _overlap(context, spec.id, spec.trigger.overlap, entity.key if entity is not None else None)
            if why is not None:
                held.append(f"skipped the success of upstream run {upstream_run}: {why}")
                continue
            tags = {UPSTREAM_RUN_TAG: upstream_run, VERSION_TAG: version}
            if entity is not None:
                tags |= {ENTITY_TAG: entity.key, **entity_serial_tags(spec.id, spec.trigger.overlap, entity.key)}
            config = run_config(launched, entity.row if entity is not None else None)
            requests.append(RunRequest(run_key=run_key(upstream_run, entity), tags=tags, run_config=config))
        return requests or SkipReason("; ".join(held))

    return _on_upstream_success
