"""The one place where the store and Dagster are made to agree: after every committed write, and periodically.

After a write (the API, `honeyframe apply`, the admin pages, template and matrix changes), `Reconciler.after_write`
reloads the code locations whose jobs changed, stops the triggers of deleted scenarios, sets each touched
trigger's status in Dagster to what the store says, and cancels the queued runs of what got disabled.

`Reconciler.reconcile` (every `HONEYFRAME_RECONCILE_SECONDS` in the API process) repairs drift both ways. For each
trigger it compares the store's `enabled` (E), the status Dagster has (A: its stored state, else the code's
default) and what the reconciler last set or saw there (`scenarios.dagster_running`, S):

- A == E: in sync (S := A);
- A != E and Dagster's state changed since it was last seen (a stored state, S != A): someone started or stopped it
  in Dagster's UI; the store adopts it, as a version by `dagster-ui` (a stop also cancels queued runs);
- A != E otherwise (a reload or a GraphQL call failed after a write): Dagster is set to E.

A write that states `enabled` itself (a PATCH with `enabled`, `apply`, enabling or disabling a matrix cell) wins
over Dagster's state; any other write keeps what Dagster's UI set.

E is the *desired* status (`desired_running`, the one place that decides it): `enabled`, unless the scenario's
project is paused (POST .../projects/{id}/pause), when every trigger of it is to be stopped. A paused project's
triggers are never repaired to running and a start or stop of one in Dagster's UI is never adopted: it is set back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable, TriggerRef
from honeyframe_dagster.model.naming import TriggerKind, location_name, shard_of, trigger_name
from honeyframe_dagster.model.tags import PROJECT_TAG, SCENARIO_TAG
from honeyframe_dagster.store.catalog import name_peers, stored_job_names
from honeyframe_dagster.store.service import Stopped
from honeyframe_dagster.store.tables import DeploymentSettingRow, ProjectRow, ScenarioRow
from honeyframe_dagster.store.versions import set_actor, set_enabled
from honeyframe_dagster.store.writes import lock_projects

log = logging.getLogger("honeyframe.reconciler")
DAGSTER_UI = "dagster-ui"
# deployment_settings rows: the scenarios found out of sync at the last periodic pass, and when it ran.
OUT_OF_SYNC_KEY = "reconcile_out_of_sync"
PASSED_AT_KEY = "reconcile_at"


@dataclass(frozen=True)
class Change:
    """What one committed write asks of Dagster."""

    # Projects whose jobs changed: their code locations reload.
    reload_projects: Collection[str] = ()
    # Scenarios whose trigger status is to follow the store.
    scenarios: Collection[int] = ()
    # Of those, the ones whose `enabled` the write stated: the store wins over Dagster's state.
    explicit: Collection[int] = ()
    # Scenarios the write disabled or deleted: their queued runs are canceled.
    stopped: Sequence[Stopped] = ()
    # Triggers of deleted scenarios: stopped before the reload (while the location still has them).
    deleted: Sequence[TriggerRef] = ()
    # Why queued runs are canceled ("disabled", "deleted", "disabled by apply").
    action: str = "disabled"
    # The warehouse location (datasets as assets) reloads too.
    warehouse: bool = False


@dataclass
class Outcome:
    """`ok`: Dagster follows the store; `canceled`: queued runs canceled (None: canceling failed)."""

    ok: bool = True
    canceled: int | None = 0
    reloaded: list[str] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)
    repaired: list[int] = field(default_factory=list)

    @property
    def out_of_sync(self) -> int:
        return len(self.adopted) + len(self.repaired)


@dataclass(frozen=True)
class _Trigger:
    scenario_id: int
    project_id: str
    # The desired status (`desired_running`): what Dagster is to run.
    enabled: bool
    seen: bool | None
    ref: TriggerRef
    # Its project is paused: Dagster's state is never adopted.
    paused: bool = False


def desired_running(enabled: bool, project_paused: bool) -> bool:
    """Whether a scenario's trigger is to run in Dagster: enabled, and its project not paused."""
    return enabled and not project_paused


class Reconciler:
    """Makes Dagster (through `client`) and the store (`engine`) agree; `locations`: how many code locations split
    the projects."""

    def __init__(self, client: DagsterClient, engine: Engine, locations: int) -> None:
        self.client, self.engine, self.locations = client, engine, locations

    # --- after a write ----------------------------------------------------------------------------------------

    def after_write(self, change: Change) -> Outcome:
        outcome = Outcome()
        # Queued runs are canceled before the reload (which can take a minute while the queue launches runs) and
        # again once the trigger is stopped (what it queued meanwhile).
        first = self._cancel(change.stopped, change.action)
        reloaded: set[str] = set()
        try:
            for trigger in change.deleted:
                self.client.set_trigger_status(trigger, False, reload_if_missing=False)
            locations = sorted({location_name(p, self.locations) for p in change.reload_projects})
            locations += ["warehouse"] if change.warehouse else []
            for location in locations:
                self.client.reload(location)
                reloaded.add(location)
            outcome.reloaded = sorted(reloaded)
            self._statuses(change.scenarios, set(change.explicit), reloaded, outcome)
        except DagsterUnavailable as exc:
            log.error("store written, but Dagster not updated (the next reconcile pass catches up): %s", exc)
            outcome.ok = False
        second = self._cancel(change.stopped, change.action)
        outcome.canceled = None if first is None or second is None else first + second
        if outcome.canceled is None:
            outcome.ok = False
        return outcome

    # --- the periodic pass ------------------------------------------------------------------------------------

    def reconcile(self) -> Outcome:
        """One pass over every scenario; records how many were out of sync (health, the admin ops tile)."""
        outcome = Outcome()
        try:
            self._statuses(None, set(), set(), outcome)
        except DagsterUnavailable as exc:
            log.warning("reconcile pass incomplete: %s", exc)
            outcome.ok = False
        self._record(outcome)
        return outcome

    def _record(self, outcome: Outcome) -> None:
        with Session(self.engine) as session, session.begin():
            for key, value in ((OUT_OF_SYNC_KEY, str(outcome.out_of_sync)), (PASSED_AT_KEY, utcnow().isoformat())):
                row = session.get(DeploymentSettingRow, key)
                if row is None:
                    session.add(DeploymentSettingRow(name=key, value=value))
                else:
                    row.value = value

    # --- statuses ---------------------------------------------------------------------------------------------

    def _statuses(
        self, scenario_ids: Collection[int] | None, explicit: set[int], reloaded: set[str], outcome: Outcome
    ) -> None:
        with Session(self.engine) as session:
            triggers = self._triggers(session, scenario_ids)
        if not triggers:
            return
        refs = [t.ref for t in triggers]
        stored = self.client.stored_statuses(refs)
        # A trigger without a stored state runs as its code says: the store's `enabled` when its location loaded
        # since the write; otherwise asked from the webserver, but only when the last status seen may be stale.
        unknown = [
            t.ref
            for t in triggers
            if t.ref.name not in stored and t.ref.location not in reloaded and t.seen != t.enabled
        ]
        from_code = self.client.trigger_statuses(unknown) if unknown else {}
        seen: dict[int, bool] = {}
        adopt: dict[int, bool] = {}
        for trigger in triggers:
            status = stored.get(trigger.ref.name) or from_code.get(trigger.ref.name)
            if status in ("RUNNING", "STOPPED"):
                running = status == "RUNNING"
            elif trigger.ref.location in reloaded or trigger.seen == trigger.enabled:
                running = trigger.enabled  # the code's default, loaded from the store (or as last seen)
            else:  # unknown (the webserver did not say): set it
                self.client.set_trigger_status(trigger.ref, trigger.enabled, reload_if_missing=False)
                seen[trigger.scenario_id] = trigger.enabled
                continue
            if running == trigger.enabled:
                if trigger.seen != running:
                    seen[trigger.scenario_id] = running
                continue
            changed_in_dagster = trigger.ref.name in stored and trigger.seen is not None and trigger.seen != running
            if changed_in_dagster and trigger.scenario_id not in explicit and not trigger.paused:
                adopt[trigger.scenario_id] = running
                continue
            self.client.set_trigger_status(trigger.ref, trigger.enabled, reload_if_missing=False)
            seen[trigger.scenario_id] = trigger.enabled
            if trigger.scenario_id not in explicit:
                outcome.repaired.append(trigger.scenario_id)
        self._save(seen, adopt, triggers, outcome)

    def _save(
        self, seen: Mapping[int, bool], adopt: Mapping[int, bool], triggers: list[_Trigger], out: Outcome
    ) -> None:
        if not seen and not adopt:
            return
        stopped: list[Stopped] = []
        with Session(self.engine) as session, session.begin():
            set_actor(session, DAGSTER_UI)
            if adopt:
                lock_projects(session, {t.project_id for t in triggers if t.scenario_id in adopt})
            for scenario_id, running in {**seen, **adopt}.items():
                row = session.get(ScenarioRow, scenario_id)
                if row is None:
                    continue
                row.dagster_running = running
                if scenario_id in adopt and set_enabled(session, row, running, DAGSTER_UI):
                    out.adopted.append(scenario_id)
                    log.info("scenario %d %s in Dagster's UI: the store follows", scenario_id, _word(running))
                    if not running:
                        stopped.append(Stopped(row.project_id, row.id, row.name))
        if stopped:
            self._cancel(stopped, "stopped in Dagster's UI")

    def _triggers(self, session: Session, scenario_ids: Collection[int] | None) -> list[_Trigger]:
        """The triggers the code locations have for these scenarios (None: all), named as the factory names them."""
        columns = (
            ScenarioRow.id,
            ScenarioRow.project_id,
            ScenarioRow.enabled,
            ScenarioRow.dagster_running,
            ScenarioRow.trigger_kind,
            ProjectRow.paused_at,
        )
        statement = (
            select(*columns)
            .join(ProjectRow, ProjectRow.id == ScenarioRow.project_id)
            .where(ScenarioRow.trigger_kind.is_not(None))
        )
        if scenario_ids is not None:
            if not scenario_ids:
                return []
            statement = statement.where(ScenarioRow.id.in_(list(scenario_ids)))
        rows = list(session.execute(statement).tuples())
        names = self._job_names(session, {project_id for _, project_id, *_ in rows})
        triggers = []
        for scenario_id, project_id, enabled, running, kind, paused_at in rows:
            job = names.get(scenario_id)
            if job is None or kind not in ("schedule", "sensor"):
                continue
            trigger_kind: TriggerKind = "schedule" if kind == "schedule" else "sensor"
            ref = TriggerRef(location_name(project_id, self.locations), trigger_name(job, trigger_kind), trigger_kind)
            paused = paused_at is not None
            desired = desired_running(enabled, paused)
            triggers.append(_Trigger(scenario_id, project_id, desired, running, ref, paused))
        return triggers

    def _job_names(self, session: Session, project_ids: Iterable[str]) -> dict[int, str]:
        names: dict[int, str] = {}
        done: set[str] = set()
        for project_id in sorted(project_ids):
            if project_id in done:
                continue
            shard = (shard_of(project_id, self.locations), self.locations) if self.locations > 1 else None
            peers = name_peers(session, project_id, shard)
            done.update(peers)
            names.update(stored_job_names(session, peers))
        return names

    def _cancel(self, stopped: Sequence[Stopped], action: str) -> int | None:
        """Cancel the queued runs of these scenarios; how many (None, logged: Dagster's run storage failed)."""
        canceled = 0
        try:
            for scenario in stopped:
                reason = (
                    f"Honeyframe: scenario {scenario.scenario_id} '{scenario.name}' of project "
                    f"'{scenario.project_id}' was {action}"
                )
                canceled += self.client.cancel_queued(_run_tags(scenario), reason)
        except DagsterUnavailable as exc:
            log.error("store written, but queued runs not canceled: %s", exc)
            return None
        return canceled


class Periodic:
    """`reconciler.reconcile()` every `seconds` in a daemon thread of a long-running process (the API), until
    `stop()`; a failing pass is logged and the next one tries again."""

    def __init__(self, reconciler: Reconciler, seconds: float) -> None:
        self.reconciler, self.seconds = reconciler, seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="honeyframe-reconciler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stopped.wait(self.seconds):
            try:
                self.reconciler.reconcile()
            except Exception:  # a store outage, a bug in one pass: the next pass runs all the same
                log.exception("reconcile pass failed")


def _run_tags(stopped: Stopped) -> dict[str, str]:
    return {SCENARIO_TAG: str(stopped.scenario_id), PROJECT_TAG: stopped.project_id}


def _word(running: bool) -> str:
    return "started" if running else "stopped"


def last_pass(session: Session) -> tuple[int | None, str | None]:
    """(scenarios out of sync, when) of the last periodic pass; (None, None) before the first."""
    count = session.get(DeploymentSettingRow, OUT_OF_SYNC_KEY)
    at = session.get(DeploymentSettingRow, PASSED_AT_KEY)
    return (int(count.value) if count is not None else None, at.value if at is not None else None)


__all__ = ["DAGSTER_UI", "Change", "Outcome", "Periodic", "Reconciler", "desired_running", "last_pass"]
