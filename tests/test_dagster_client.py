"""DagsterClient against a GraphQL server on loopback: what it sends, what it returns, and how it fails.

The real webserver is exercised by tests/api/test_dagster.py; here each of Dagster's answers (success, load
error, GraphQL error, HTTP error, silence) is served on purpose, in a fraction of a second.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from honeyframe_dagster import dagster_client
from honeyframe_dagster.dagster_client import REPOSITORY_NAME, DagsterClient, DagsterUnavailable, TriggerRef
from tests.steps.support import as_json, closed_port_url, loopback_server

Answer = Callable[[dict[str, Any]], tuple[int, str, bytes]]


class GraphQL:
    """Records each request's query and variables; answers with `answer(request)`."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, str, bytes]:
        payload = json.loads(body)
        self.requests.append(payload)
        return self.answer(payload)


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], tuple[DagsterClient, GraphQL]]]:
    """Starts a GraphQL server answering `answer` (stopped after the test); a DagsterClient pointing at it."""
    with ExitStack() as servers:

        def start(answer: Answer) -> tuple[DagsterClient, GraphQL]:
            graphql = GraphQL(answer)
            return DagsterClient(servers.enter_context(loopback_server(graphql))), graphql

        yield start


def data(**fields: Any) -> Answer:
    return lambda request: as_json(200, {"data": fields})


def test_launch_submits_the_job_of_the_location_with_its_tags(serve: Any) -> None:
    client, graphql = serve(data(launchPipelineExecution={"__typename": "LaunchRunSuccess", "run": {"runId": "r-1"}}))
    assert client.launch("shard_3", "acme_ops__nightly", {"honeyframe/scenario_id": "7"}) == "r-1"
    (request,) = graphql.requests
    params = request["variables"]["executionParams"]
    assert params["selector"]["repositoryLocationName"] == "shard_3"
    assert params["selector"]["repositoryName"] == REPOSITORY_NAME
    assert params["selector"]["pipelineName"] == "acme_ops__nightly"
    assert params["executionMetadata"] == {"tags": [{"key": "honeyframe/scenario_id", "value": "7"}]}


def test_a_refused_launch_names_dagster_s_answer_not_the_query(serve: Any) -> None:
    refused = {"__typename": "PythonError", "message": "job not found in location"}
    client, _ = serve(data(launchPipelineExecution=refused))
    with pytest.raises(DagsterUnavailable) as raised:
        client.launch("shard_3", "missing", {"honeyframe/scenario_id": "7"})
    assert str(raised.value) == "Dagster answered PythonError: job not found in location"


def reload_answers(reloaded: dict[str, Any]) -> Answer:
    """A location that is not a gRPC server (no host and port to ask directly): reloaded by the webserver."""
    entry = {"__typename": "WorkspaceLocationEntry", "versionKey": "1.5", "displayMetadata": [], "updatedTimestamp": 1}

    def answer(request: dict[str, Any]) -> tuple[int, str, bytes]:
        if "workspaceLocationEntryOrError" in request["query"]:
            return as_json(200, {"data": {"workspaceLocationEntryOrError": entry}})
        return as_json(200, {"data": {"reloadRepositoryLocation": reloaded}})

    return answer


def test_reload_succeeds_or_names_the_load_error(serve: Any) -> None:
    loaded = {"__typename": "WorkspaceLocationEntry", "locationOrLoadError": {"__typename": "RepositoryLocation"}}
    client, graphql = serve(reload_answers(loaded))
    client.reload("shard_1")
    assert [r["variables"] for r in graphql.requests] == [{"name": "shard_1"}, {"repositoryLocationName": "shard_1"}]

    broken = {
        "__typename": "WorkspaceLocationEntry",
        "locationOrLoadError": {"__typename": "PythonError", "message": "ImportError: no module x"},
    }
    client, _ = serve(reload_answers(broken))
    with pytest.raises(DagsterUnavailable, match="code location 'shard_1' failed to load: ImportError: no module x"):
        client.reload("shard_1")

    # The webserver answers null for a location its workspace does not have.
    client, _ = serve(data(workspaceLocationEntryOrError=None))
    with pytest.raises(DagsterUnavailable, match="answered RepositoryLocationNotFound: no code location 'shard_9'"):
        client.reload("shard_9")
    failing = {"__typename": "PythonError", "message": "the workspace did not load"}
    client, _ = serve(data(workspaceLocationEntryOrError=failing))
    with pytest.raises(DagsterUnavailable, match="answered PythonError: the workspace did not load"):
        client.reload("shard_9")


def test_a_grpc_server_location_is_asked_to_reload_itself_and_an_unreachable_one_is_named(serve: Any) -> None:
    """With the server's address in the webserver's workspace, the client asks the server (no second load in the
    webserver); a server that cannot be reached is a DagsterUnavailable naming the location, not a hang."""
    address = [{"key": "host", "value": "127.0.0.1"}, {"key": "port", "value": closed_port_url().rsplit(":", 1)[1]}]
    entry = {"__typename": "WorkspaceLocationEntry", "versionKey": '["a", null]', "displayMetadata": address}
    client, graphql = serve(data(workspaceLocationEntryOrError=entry))
    with pytest.raises(DagsterUnavailable) as raised:
        client.reload("shard_1")
    assert "reloadRepositoryLocation" not in json.dumps(graphql.requests)
    assert str(raised.value) == f"code location 'shard_1' at 127.0.0.1:{address[1]['value']} unreachable (UNAVAILABLE)"


def test_sensor_state_start_and_stop_use_their_own_queries(serve: Any) -> None:
    def answer(request: dict[str, Any]) -> tuple[int, str, bytes]:
        query = request["query"]
        if "sensorOrError" in query:
            return as_json(200, {"data": {"sensorOrError": {"__typename": "Sensor", "sensorState": state}}})
        if "startSensor" in query:
            return as_json(200, {"data": {"startSensor": {"__typename": "Sensor", "sensorState": state}}})
        stopped = {"__typename": "StopSensorMutationResult", "instigationState": {"status": "STOPPED"}}
        return as_json(200, {"data": {"stopSensor": stopped}})

    state = {"id": "abc123", "status": "RUNNING"}
    client, graphql = serve(answer)
    trigger = TriggerRef("shard_2", "acme_ops__nightly_trigger")
    assert client.trigger_status_from_code(trigger) == ("RUNNING", "abc123")
    client.set_trigger_status(trigger, running=True)
    client.set_trigger_status(trigger, running=False)
    selector = {"repositoryLocationName": "shard_2", "repositoryName": REPOSITORY_NAME, "sensorName": trigger.name}
    assert [r["variables"] for r in graphql.requests] == [
        {"sensor": selector},
        {"selector": selector},
        {"sensor": selector},  # stopping needs the state id
        {"id": "abc123"},
    ]


def test_schedule_state_start_and_stop_use_the_schedule_queries(serve: Any) -> None:
    def answer(request: dict[str, Any]) -> tuple[int, str, bytes]:
        query = request["query"]
        if "scheduleOrError" in query:
            return as_json(200, {"data": {"scheduleOrError": {"__typename": "Schedule", "scheduleState": state}}})
        result = {"__typename": "ScheduleStateResult", "scheduleState": {"status": "RUNNING"}}
        if "startSchedule" in query:
            return as_json(200, {"data": {"startSchedule": result}})
        assert "stopRunningSchedule" in query
        return as_json(200, {"data": {"stopRunningSchedule": result}})

    state = {"id": "sch123", "status": "RUNNING"}
    client, graphql = serve(answer)
    trigger = TriggerRef("shard_2", "acme_ops__nightly_schedule", "schedule")
    assert client.trigger_status_from_code(trigger) == ("RUNNING", "sch123")
    client.set_trigger_status(trigger, running=True)
    client.set_trigger_status(trigger, running=False)
    selector = {"repositoryLocationName": "shard_2", "repositoryName": REPOSITORY_NAME, "scheduleName": trigger.name}
    assert [r["variables"] for r in graphql.requests] == [
        {"schedule": selector},
        {"selector": selector},
        {"schedule": selector},  # stopping needs the state id
        {"id": "sch123"},
    ]


def test_statuses_of_schedules_and_sensors_come_in_one_request(serve: Any, tmp_path: Path) -> None:
    def answer(request: dict[str, Any]) -> tuple[int, str, bytes]:
        assert "t0: scheduleOrError(scheduleSelector: $s0)" in request["query"]
        assert "$s1: SensorSelector!" in request["query"]
        t0 = {"__typename": "Schedule", "scheduleState": {"status": "RUNNING"}}
        t1 = {"__typename": "Sensor", "sensorState": {"status": "STOPPED"}}
        return as_json(200, {"data": {"t0": t0, "t1": t1}})

    client, graphql = serve(answer)
    client.dagster_home = tmp_path
    triggers = [TriggerRef("shard_1", "a_schedule", "schedule"), TriggerRef("shard_1", "b_sensor", "sensor")]
    assert client.trigger_statuses(triggers) == {"a_schedule": "RUNNING", "b_sensor": "STOPPED"}
    (request,) = graphql.requests
    assert request["variables"]["s0"]["scheduleName"] == "a_schedule"


def test_graphql_errors_and_http_errors_are_unavailable_without_the_query(serve: Any) -> None:
    client, _ = serve(lambda request: as_json(200, {"errors": [{"message": "Unknown argument 'x'"}]}))
    with pytest.raises(DagsterUnavailable) as raised:
        client.launch("shard_1", "job", {"honeyframe/scenario_id": "1"})
    assert str(raised.value) == "Dagster GraphQL error: Unknown argument 'x'"

    client, _ = serve(lambda request: (502, "text/html", b"<html>proxy error</html>"))
    for call in (lambda: client.reload("shard_1"), lambda: client.trigger_status_from_code(TriggerRef("a", "b"))):
        with pytest.raises(DagsterUnavailable) as raised:
            call()
        assert str(raised.value) == "Dagster GraphQL error: HTTP 502"

    client, _ = serve(lambda request: (200, "application/json", b"not json"))
    with pytest.raises(DagsterUnavailable, match=r"unexpected answer \(TransportProtocolError\)"):
        client.reload("shard_1")


def test_an_unreachable_webserver_is_named_without_its_credentials() -> None:
    url = closed_port_url().replace("http://", "http://admin:s3cret@")
    client = DagsterClient(url)
    for call in (lambda: client.launch("l", "j", {}), lambda: client.set_trigger_status(TriggerRef("l", "s"), True)):
        with pytest.raises(DagsterUnavailable) as raised:
            call()
        assert "unreachable: ConnectionError" in str(raised.value)
        assert "s3cret" not in str(raised.value) and "admin" not in str(raised.value)


def test_a_silent_webserver_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dagster_client, "CALL_TIMEOUT_SECONDS", 1)
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = DagsterClient(f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        with pytest.raises(DagsterUnavailable, match="unreachable: ReadTimeout"):
            client.trigger_status_from_code(TriggerRef("l", "s"))
    assert time.monotonic() - started < 5


def test_calls_from_several_threads_at_once_each_get_their_answer(serve: Any) -> None:
    """API requests share one client; gql's transport refuses a second caller while connected."""

    def slow_launch(request: dict[str, Any]) -> tuple[int, str, bytes]:
        time.sleep(0.3)
        job = request["variables"]["executionParams"]["selector"]["pipelineName"]
        return as_json(
            200, {"data": {"launchPipelineExecution": {"__typename": "LaunchRunSuccess", "run": {"runId": job}}}}
        )

    client, _ = serve(slow_launch)
    results: dict[str, str] = {}
    threads = [
        threading.Thread(target=lambda name=f"job_{i}": results.__setitem__(name, client.launch("l", name, {})))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == {f"job_{i}": f"job_{i}" for i in range(4)}


def test_statuses_of_triggers_without_a_stored_state_come_in_one_request(serve: Any, tmp_path: Path) -> None:
    def answer(request: dict[str, Any]) -> tuple[int, str, bytes]:
        return as_json(
            200,
            {
                "data": {
                    "t0": {"__typename": "Sensor", "sensorState": {"status": "RUNNING"}},
                    "t1": {"__typename": "Sensor", "sensorState": {"status": "STOPPED"}},
                    "t2": {"__typename": "SensorNotFoundError"},
                }
            },
        )

    client, graphql = serve(answer)
    client.dagster_home = tmp_path  # an empty instance: nothing stored
    triggers = [TriggerRef("shard_1", name) for name in ("a", "b", "c")]
    assert client.trigger_statuses(triggers) == {"a": "RUNNING", "b": "STOPPED", "c": "UNKNOWN"}
    (request,) = graphql.requests
    assert request["variables"]["s2"]["sensorName"] == "c"
