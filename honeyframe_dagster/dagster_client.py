"""Talking to Dagster from outside the code location: GraphQL for changes, the instance for reads.

Reloads and launches go through dagster-graphql's `DagsterGraphQLClient`; the calls it lacks (schedule and sensor
state, start and stop) send their own GraphQL over the same transport (gql + requests).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import requests
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.definitions.selector import InstigatorSelector
from dagster._core.errors import DagsterHomeNotSetError, DagsterUserCodeUnreachableError
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorTick, TickStatus
from dagster._core.storage.dagster_run import RunRecord
from dagster._core.storage.runs.schema import RunsTable, RunTagsTable
from dagster._core.storage.runs.sql_run_storage import SqlRunStorage
from dagster._core.storage.schedules.migration import SCHEDULE_JOBS_SELECTOR_ID
from dagster._core.storage.schedules.schema import InstigatorsTable
from dagster._core.storage.schedules.sql_schedule_storage import SqlScheduleStorage
from dagster._core.storage.tags import SCHEDULE_NAME_TAG, SENSOR_NAME_TAG
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError, ReloadRepositoryLocationStatus
from gql import Client, gql
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.requests import RequestsHTTPTransport
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from honeyframe_dagster.model.naming import TriggerKind
from honeyframe_dagster.model.tags import PROJECT_TAG, SCENARIO_TAG
from honeyframe_dagster.net_policy import redact_url

log = logging.getLogger("honeyframe.dagster")
# The repository a `Definitions` object becomes is always named this.
REPOSITORY_NAME = "__repository__"
# A reload re-imports the location; Dagster's own gRPC load timeout is 180 s.
RELOAD_TIMEOUT_SECONDS = 240
CALL_TIMEOUT_SECONDS = 30
# How often a reload asks the webserver whether it has loaded the location's new server id (its watcher asks the
# server every second).
RELOAD_POLL_SECONDS = 0.1
# Triggers whose status one GraphQL call asks the webserver for (a list of a thousand scenarios: a few calls).
STATUS_BATCH = 200
# How long a status the webserver computed from the code's default is reused (a read of a big list must not ask the
# webserver each time; a reload that changes a default is seen this much later, explicit statuses at once).
CODE_STATUS_SECONDS = 10.0


@dataclass(frozen=True)
class LatestRuns:
    """A scenario's newest run, and its newest run that its trigger (a schedule or sensor) created."""

    last: RunRecord | None = None
    last_fired: RunRecord | None = None


class DagsterUnavailable(RuntimeError):
    """The webserver could not be reached or answered with an error (message is safe to log)."""


class TriggerNotLoaded(DagsterUnavailable):
    """The location as loaded has no such trigger (e.g. the reload after the write that added it failed)."""


_NOT_LOADED = ("SensorNotFoundError", "ScheduleNotFoundError")


@dataclass(frozen=True)
class TriggerRef:
    """A scenario's trigger in a code location: a schedule or a sensor (factory/triggers.py `build_trigger`)."""

    location: str
    name: str
    kind: TriggerKind = "sensor"

    @property
    def graphql_type(self) -> str:
        return "Schedule" if self.kind == "schedule" else "Sensor"


@dataclass
class _ReloadState:
    """Tickets of one location's reloads: a reload covers every write committed before it started."""

    gate: threading.Lock = field(default_factory=threading.Lock)
    requested: int = 0
    done: int = 0
    error: str | None = None


# Raw GraphQL where DagsterGraphQLClient has no method (it reads no sensor or schedule state, cannot start or stop
# one): the trigger's status and state id, start, stop. `_ok` reads each answer's __typename and an error's message.
_STATE_QUERY = """
query TriggerState($sensor: SensorSelector!) {
  sensorOrError(sensorSelector: $sensor) {
    __typename ... on Sensor { sensorState { id status } } ... on PythonError { message }
  }
}
"""
_SCHEDULE_STATE_QUERY = """
query TriggerState($schedule: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $schedule) {
    __typename ... on Schedule { scheduleState { id status } } ... on PythonError { message }
  }
}
"""
_LOCATION_QUERY = """
query Location($name: String!) {
  workspaceLocationEntryOrError(name: $name) {
    __typename
    ... on WorkspaceLocationEntry {
      versionKey updatedTimestamp displayMetadata { key value }
      locationOrLoadError { __typename ... on PythonError { message } }
    }
    ... on PythonError { message }
  }
}
"""
_START_SCHEDULE = """
mutation Start($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message }
    ... on ScheduleNotFoundError { message }
  }
}
"""
_STOP_SCHEDULE = """
mutation Stop($id: String!) {
  stopRunningSchedule(id: $id) {
    __typename ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message }
  }
}
"""
_START_SENSOR = """
mutation Start($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename ... on Sensor { sensorState { status } } ... on PythonError { message }
    ... on SensorNotFoundError { message }
  }
}
"""
_STOP_SENSOR = """
mutation Stop($id: String!) {
  stopSensor(id: $id) {
    __typename ... on StopSensorMutationResult { instigationState { status } } ... on PythonError { message }
  }
}
"""


@dataclass(frozen=True)
class _Mutations:
    """Starting and stopping one trigger kind: each mutation and the field and type of its successful answer."""

    start: str
    start_answer: tuple[str, str]
    stop: str
    stop_answer: tuple[str, str]


# The state query of a kind takes `${kind}` and answers `{kind}OrError { {kind}State }` (TriggerRef.kind).
_STATE_QUERIES = {"schedule": _SCHEDULE_STATE_QUERY, "sensor": _STATE_QUERY}
_MUTATIONS = {
    "schedule": _Mutations(
        _START_SCHEDULE,
        ("startSchedule", "ScheduleStateResult"),
        _STOP_SCHEDULE,
        ("stopRunningSchedule", "ScheduleStateResult"),
    ),
    "sensor": _Mutations(
        _START_SENSOR, ("startSensor", "Sensor"), _STOP_SENSOR, ("stopSensor", "StopSensorMutationResult")
    ),
}


class DagsterClient:
    """One webserver (GraphQL at `url`) serving the code locations, and the instance of DAGSTER_HOME."""

    def __init__(self, url: str, dagster_home: Path | None = None) -> None:
        """`dagster_home`: the instance to read, when not the one DAGSTER_HOME names."""
        self.url = url.rstrip("/") + "/graphql"
        self.dagster_home = dagster_home
        self._counter_lock = threading.Lock()
        self._reloads: dict[str, _ReloadState] = {}
        self._instigators_indexed = False
        self._code_statuses: dict[TriggerRef, tuple[float, str]] = {}

    def close(self) -> None:
        """Nothing to release: each call opens (and closes) its own HTTP session."""

    @cached_property
    def instance(self) -> DagsterInstance:
        if self.dagster_home is not None:
            return DagsterInstance.from_config(str(self.dagster_home))
        try:
            return DagsterInstance.get()
        except DagsterHomeNotSetError:
            raise DagsterUnavailable("DAGSTER_HOME is not set: no Dagster instance to read") from None

    # -- GraphQL -------------------------------------------------------------------------------------------------

    def _transport(self, timeout: int) -> RequestsHTTPTransport:
        # A fresh transport per call: gql's sync transport holds one session at a time and refuses a second
        # caller while it is connected, and API requests call from several threads at once.
        return RequestsHTTPTransport(url=self.url, timeout=timeout, retries=0)

    def _client(self, timeout: int) -> DagsterGraphQLClient:
        return DagsterGraphQLClient(urlsplit(self.url).hostname or "localhost", transport=self._transport(timeout))

    def _call(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """A query DagsterGraphQLClient has no method for, with the same transport and errors."""
        with self._answers():
            return dict(
                Client(transport=self._transport(CALL_TIMEOUT_SECONDS)).execute(
                    gql(query), variable_values=dict(variables)
                )
            )

    @contextmanager
    def _answers(self) -> Iterator[None]:
        """Any transport or GraphQL failure as DagsterUnavailable, with a message safe to log: the client's own
        messages repeat the query and its variables, so only the failure's kind and Dagster's answer are kept."""
        try:
            yield
        except DagsterGraphQLClientError as exc:
            if exc.__cause__ is not None:  # the client wraps whatever gql or requests raised
                raise DagsterUnavailable(self._failure(exc.__cause__)) from None
            kind, detail = (*exc.args, "", "")[:2]  # (answer type, Dagster's message) from the answer itself
            raise DagsterUnavailable(f"Dagster answered {kind}: {detail}") from None
        except (TransportError, KeyError, TypeError) as exc:  # KeyError, TypeError: an answer of unexpected shape
            raise DagsterUnavailable(self._failure(exc)) from None

    def _failure(self, exc: BaseException) -> str:
        if isinstance(exc, TransportQueryError):
            messages = "; ".join(str(e.get("message")) for e in exc.errors or []) or "no message"
            return f"Dagster GraphQL error: {messages}"
        if isinstance(exc, TransportServerError):
            return f"Dagster GraphQL error: HTTP {exc.code}"
        if isinstance(exc, (TransportConnectionFailed, requests.RequestException)):
            reason = exc.__cause__ or exc  # gql wraps requests' error (ConnectionError, ReadTimeout...)
            return f"Dagster webserver at {redact_url(self.url)} unreachable: {type(reason).__name__}"
        return f"Dagster GraphQL error: unexpected answer ({type(exc).__name__})"

    @staticmethod
    def _ok(result: Mapping[str, Any], *expected: str) -> Mapping[str, Any]:
        if result["__typename"] in _NOT_LOADED and result["__typename"] not in expected:
            raise TriggerNotLoaded(f"Dagster answered {result['__typename']}: {result.get('message', '')}")
        if result["__typename"] not in expected:
            raise DagsterUnavailable(f"Dagster answered {result['__typename']}: {result.get('message', '')}")
        return result

    def reload(self, location: str) -> None:
        """Reload a location so that webserver and daemon serve the store as it is now.

        Concurrent writers share reloads: a caller whose write committed before a reload started is covered by it.
        """
        with self._counter_lock:
            state = self._reloads.setdefault(location, _ReloadState())
            state.requested += 1
            ticket = state.requested
        with state.gate:
            if state.done >= ticket:
                if state.error:
                    raise DagsterUnavailable(state.error)
                return
            with self._counter_lock:
                covers = state.requested
            try:
                self._reload_once(location)
                state.error = None
            except DagsterUnavailable as exc:
                state.error = str(exc)
                raise
            finally:
                state.done = covers

    def _reload_once(self, location: str) -> None:
        entry = self._location_entry(location)
        metadata = {item["key"]: item["value"] for item in entry.get("displayMetadata") or []}
        if "host" in metadata and "port" in metadata:
            self._reload_in_place(location, metadata["host"], int(metadata["port"]))
            return
        with self._answers():
            info = self._client(RELOAD_TIMEOUT_SECONDS).reload_repository_location(location)
        if info.status == ReloadRepositoryLocationStatus.SUCCESS:
            return
        if info.failure_type == "PythonError":
            raise DagsterUnavailable(f"code location '{location}' failed to load: {info.message}")
        raise DagsterUnavailable(f"Dagster answered {info.failure_type}: {info.message}")

    def _location_entry(self, location: str) -> Mapping[str, Any]:
        entry = self._call(_LOCATION_QUERY, {"name": location})["workspaceLocationEntryOrError"]
        if entry is None:  # the webserver's workspace has no such location
            raise DagsterUnavailable(f"Dagster answered RepositoryLocationNotFound: no code location '{location}'")
        return self._ok(entry, "WorkspaceLocationEntry")

    def _reload_in_place(self, location: str, host: str, port: int) -> None:
        """A gRPC server location (services/code_server.py): ask the server itself to reload, then wait until the
        webserver has loaded the new server id. Asking the webserver instead (its reload mutation) makes it load
        the location twice: once for the mutation, once more when its server watcher sees the id change."""
        from dagster._grpc.client import DagsterGrpcClient

        asked = time.time()
        client = DagsterGrpcClient(host=host, port=port)
        try:
            client.reload_code(timeout=RELOAD_TIMEOUT_SECONDS)
            server_id = client.get_server_id(timeout=CALL_TIMEOUT_SECONDS)
        except DagsterUserCodeUnreachableError as exc:
            cause = exc.__cause__
            details = str(cause.details()) if isinstance(cause, grpc.RpcError) else ""
            if details.startswith("code location"):  # the server's own refusal (services/code_server.py)
                raise DagsterUnavailable(details) from None
            code = cause.code().name if isinstance(cause, grpc.RpcError) else type(cause).__name__
            raise DagsterUnavailable(f"code location '{location}' at {host}:{port} unreachable ({code})") from None
        deadline = time.monotonic() + RELOAD_TIMEOUT_SECONDS
        while True:
            entry = self._location_entry(location)
            loaded = entry.get("locationOrLoadError") or {}
            current = _server_id(entry.get("versionKey")) == server_id
            # A load error of this reload: the new server id's, or one the webserver met after we asked.
            if loaded.get("__typename") == "PythonError" and (
                current or float(entry.get("updatedTimestamp") or 0) > asked
            ):
                raise DagsterUnavailable(f"code location '{location}' failed to load: {loaded.get('message')}")
            if current:
                return
            if time.monotonic() > deadline:
                raise DagsterUnavailable(f"the Dagster webserver did not load code location '{location}' in time")
            time.sleep(RELOAD_POLL_SECONDS)

    def _selector(self, trigger: TriggerRef) -> dict[str, Any]:
        return {
            "repositoryLocationName": trigger.location,
            "repositoryName": REPOSITORY_NAME,
            f"{trigger.kind}Name": trigger.name,
        }

    def trigger_status_from_code(self, trigger: TriggerRef) -> tuple[str, str]:
        """(status, state id) as the webserver computes it, code default included."""
        data = self._call(_STATE_QUERIES[trigger.kind], {trigger.kind: self._selector(trigger)})
        state = self._ok(data[f"{trigger.kind}OrError"], trigger.graphql_type)[f"{trigger.kind}State"]
        return str(state["status"]), str(state["id"])

    def set_trigger_status(self, trigger: TriggerRef, running: bool, reload_if_missing: bool = True) -> None:
        """Store RUNNING or STOPPED in the instance, so it wins over an earlier toggle and the code default.

        Starting records the start time, from which the sensor resumes its cadence (no missed instants). A status
        change reloads nothing, unless the location has not loaded the trigger yet and `reload_if_missing`: then
        it is reloaded once (a write whose reload failed is caught up here) and the status set again.
        """
        try:
            self._set_trigger_status(trigger, running)
        except TriggerNotLoaded:
            if not reload_if_missing:
                raise
            self.reload(trigger.location)
            self._set_trigger_status(trigger, running)

    def _set_trigger_status(self, trigger: TriggerRef, running: bool) -> None:
        mutations = _MUTATIONS[trigger.kind]
        if running:
            field, answer = mutations.start_answer
            self._ok(self._call(mutations.start, {"selector": self._selector(trigger)})[field], answer)
            return
        _, state_id = self.trigger_status_from_code(trigger)  # stopping needs the state's id
        field, answer = mutations.stop_answer
        self._ok(self._call(mutations.stop, {"id": state_id})[field], answer)

    def launch(
        self, location: str, job_name: str, tags: Mapping[str, str], run_config: Mapping[str, Any] | None = None
    ) -> str:
        with self._answers():
            return self._client(CALL_TIMEOUT_SECONDS).submit_job_execution(
                job_name,
                repository_location_name=location,
                repository_name=REPOSITORY_NAME,
                tags=dict(tags),
                run_config=dict(run_config or {}),
            )

    # -- instance reads ------------------------------------------------------------------------------------------

    def stored_statuses(self, triggers: Sequence[TriggerRef]) -> dict[str, str]:
        """Explicit RUNNING/STOPPED states stored in the instance, by trigger name (no code location needed), in
        one query however many triggers."""
        by_selector = {
            InstigatorSelector(location_name=t.location, repository_name=REPOSITORY_NAME, name=t.name).get_id(): t
            for t in triggers
        }
        if not by_selector:
            return {}
        storage = self.instance.schedule_storage
        with _storage("schedule storage"):
            if isinstance(storage, SqlScheduleStorage) and self._indexed_instigators(storage):
                query = select(InstigatorsTable.c.selector_id, InstigatorsTable.c.status).where(
                    InstigatorsTable.c.selector_id.in_(list(by_selector))
                )
                rows = [(selector_id, status) for selector_id, status in storage.execute(query)]
            else:
                states = [self.instance.get_instigator_state("", selector_id) for selector_id in by_selector]
                rows = [(state.selector_id, state.status.value) for state in states if state is not None]
        explicit = (InstigatorStatus.RUNNING.value, InstigatorStatus.STOPPED.value)
        return {by_selector[selector_id].name: status for selector_id, status in rows if status in explicit}

    def _indexed_instigators(self, storage: SqlScheduleStorage) -> bool:
        """Whether the instance keeps instigator states in their own table, keyed by selector id (checked once)."""
        if not self._instigators_indexed:
            self._instigators_indexed = storage.has_instigators_table() and storage.has_built_index(
                SCHEDULE_JOBS_SELECTOR_ID
            )
        return self._instigators_indexed

    def trigger_statuses(self, triggers: Sequence[TriggerRef]) -> dict[str, str]:
        """Dagster's status of each trigger: the instance's stored state, else what the webserver computes (the
        code's default), asked for all of them in one GraphQL call and kept for CODE_STATUS_SECONDS.

        Every API write stores an explicit status, so only triggers never written through the API (e.g. applied
        from YAML) fall back to the code's default, which changes only when their location reloads."""
        statuses = self.stored_statuses(triggers)
        now = time.monotonic()
        unset = []
        for trigger in triggers:
            if trigger.name in statuses:
                continue
            known = self._code_statuses.get(trigger)
            if known is not None and now - known[0] < CODE_STATUS_SECONDS:
                statuses[trigger.name] = known[1]
            else:
                unset.append(trigger)
        for chunk in (unset[i : i + STATUS_BATCH] for i in range(0, len(unset), STATUS_BATCH)):
            found = self._statuses_from_code(chunk)
            statuses.update(found)
            if len(self._code_statuses) > 50_000:
                self._code_statuses.clear()
            self._code_statuses.update({t: (now, found[t.name]) for t in chunk if found[t.name] != "UNKNOWN"})
        return statuses

    def _statuses_from_code(self, triggers: Sequence[TriggerRef]) -> dict[str, str]:
        # Raw GraphQL: DagsterGraphQLClient reads no sensor or schedule state (one aliased field per trigger, one
        # request).
        fields = " ".join(
            f"t{i}: {t.kind}OrError({t.kind}Selector: $s{i}) "
            f"{{ __typename ... on {t.graphql_type} {{ {t.kind}State {{ status }} }} }}"
            for i, t in enumerate(triggers)
        )
        declared = ", ".join(f"$s{i}: {t.graphql_type}Selector!" for i, t in enumerate(triggers))
        variables = {f"s{i}": self._selector(t) for i, t in enumerate(triggers)}
        try:
            data = self._call(f"query TriggerStates({declared}) {{ {fields} }}", variables)
        except DagsterUnavailable as exc:
            log.warning("trigger statuses of %d triggers unknown: %s", len(triggers), exc)
            return {t.name: "UNKNOWN" for t in triggers}
        found = {}
        for i, trigger in enumerate(triggers):
            result = data.get(f"t{i}") or {}
            if result.get("__typename") == trigger.graphql_type:
                found[trigger.name] = str(result[f"{trigger.kind}State"]["status"])
            else:
                log.warning("trigger status of %s unknown: Dagster answered %s", trigger.name, result.get("__typename"))
                found[trigger.name] = "UNKNOWN"
        return found

    def run_records(self, tags: Mapping[str, str], offset: int, limit: int) -> list[RunRecord]:
        """Runs with these tags, newest first, from Dagster's run storage."""
        filters = RunsFilter(tags=dict(tags))
        cursor = None
        if offset:
            ids = self.instance.get_run_ids(filters, limit=offset)
            if len(ids) < offset:
                return []
            cursor = ids[-1]
        return list(self.instance.get_run_records(filters, limit=limit, cursor=cursor))

    def run_count(self, tags: Mapping[str, str]) -> int:
        return self.instance.get_runs_count(RunsFilter(tags=dict(tags)))

    def latest_runs(self, project_id: str, scenario_ids: Sequence[int]) -> dict[int, LatestRuns]:
        """Each scenario's newest run and newest trigger-created run, in two queries however many scenarios."""
        if not scenario_ids:
            return {}
        with _storage("run storage"):
            return self._latest_runs(project_id, scenario_ids)

    def _latest_runs(self, project_id: str, scenario_ids: Sequence[int]) -> dict[int, LatestRuns]:
        storage = self.instance.run_storage
        if not isinstance(storage, SqlRunStorage):
            raise DagsterUnavailable(f"Dagster's run storage {type(storage).__name__} is not SQL: cannot batch reads")
        scenario, project, fired = RunTagsTable.alias("scenario"), RunTagsTable.alias("project"), RunTagsTable.alias()
        runs = RunsTable.c
        newest = (
            select(
                scenario.c.value.label("scenario_id"),
                func.max(runs.id).label("last"),
                func.max(case((fired.c.run_id.is_not(None), runs.id))).label("last_fired"),
            )
            .select_from(
                RunsTable.join(
                    scenario,
                    and_(
                        scenario.c.run_id == runs.run_id,
                        scenario.c.key == SCENARIO_TAG,
                        scenario.c.value.in_([str(i) for i in scenario_ids]),
                    ),
                )
                .join(
                    project,
                    and_(project.c.run_id == runs.run_id, project.c.key == PROJECT_TAG, project.c.value == project_id),
                )
                .outerjoin(
                    fired,
                    and_(fired.c.run_id == runs.run_id, fired.c.key.in_([SCHEDULE_NAME_TAG, SENSOR_NAME_TAG])),
                )
            )
            .group_by(scenario.c.value)
            .subquery()
        )
        last, last_fired = RunsTable.alias("last_run"), RunsTable.alias("last_fired_run")
        query = select(newest.c.scenario_id, last.c.run_id, last_fired.c.run_id.label("fired_run_id")).select_from(
            newest.join(last, last.c.id == newest.c.last).outerjoin(last_fired, last_fired.c.id == newest.c.last_fired)
        )
        rows = [(int(row["scenario_id"]), row["run_id"], row["fired_run_id"]) for row in storage.fetchall(query)]
        wanted = sorted({run_id for _, *ids in rows for run_id in ids if run_id is not None})
        # An empty `run_ids` filter would match every run.
        found_records = self.instance.get_run_records(RunsFilter(run_ids=wanted)) if wanted else []
        records = {r.dagster_run.run_id: r for r in found_records}
        found = {
            i: LatestRuns(records.get(run), records.get(fired_run) if fired_run else None) for i, run, fired_run in rows
        }
        return {i: found.get(i, LatestRuns()) for i in scenario_ids}

    def ticks(self, trigger: TriggerRef, limit: int, statuses: Sequence[TickStatus]) -> Sequence[InstigatorTick]:
        """The trigger's recent evaluations, newest first, from Dagster's tick history."""
        selector_id = InstigatorSelector(
            location_name=trigger.location, repository_name=REPOSITORY_NAME, name=trigger.name
        ).get_id()
        with _storage("tick history"):
            return self.instance.get_ticks("", selector_id, limit=limit, statuses=list(statuses))

    def cancel_queued(self, tags: Mapping[str, str], reason: str) -> int:
        """Mark the QUEUED runs with these tags CANCELED, `reason` in each run's event log; returns how many.

        Runs in progress go on. As `QueuedRunCoordinator.cancel_run` does, but with our reason: the run becomes
        CANCELING first, so a daemon about to dequeue it skips it.
        """
        canceled = 0
        with _storage("run storage"):
            queued = self.instance.get_runs(RunsFilter(tags=dict(tags), statuses=[DagsterRunStatus.QUEUED]))
            for listed in queued:
                run = self.instance.get_run_by_id(listed.run_id)
                if run is None or run.status != DagsterRunStatus.QUEUED:  # launched meanwhile: it goes on
                    continue
                self.instance.report_run_canceling(run, message=reason)
                self.instance.report_run_canceled(run, message=reason)
                canceled += 1
        return canceled


def _server_id(version_key: object) -> str | None:
    """The server id in a gRPC location's version key (Dagster writes `[server id, image]` as JSON)."""
    try:
        value = json.loads(str(version_key))
    except ValueError:
        return None
    return str(value[0]) if isinstance(value, list) and value else None


@contextmanager
def _storage(what: str) -> Iterator[None]:
    """A failing read or write of Dagster's storage (database down, locked SQLite file) as DagsterUnavailable."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        raise DagsterUnavailable(f"Dagster's {what} failed: {type(exc).__name__}") from None
