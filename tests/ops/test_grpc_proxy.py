"""The code location's server (honeyframe_dagster/services/grpc_proxy.py): `dagster api grpc` behind the product's
lean proxy. Real processes on loopback, a Dagster instance in a temporary DAGSTER_HOME, a tiny definitions module
whose job waits for a file: a run started before a reload completes in the old child, a run the old child started
can be terminated after the reload, the server id changes with each reload, a child that dies is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin
from dagster._grpc.__generated__ import dagster_api_pb2
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import GetCurrentRunsResult
from dagster._serdes import deserialize_value
from dagster_shared.cli import WorkspaceOpts

from honeyframe_dagster.services import grpc_proxy
from honeyframe_dagster.services.grpc_proxy import dagster_proto, rpc_shapes, string_field, string_message
from tests.api.conftest import free_port, wait_for

PROXY = Path(grpc_proxy.__file__)
LOCATION = "proxied"

DEFINITIONS = """
import os
import time
from pathlib import Path

from dagster import Definitions, job, op

VERSION = Path("version.txt").read_text().strip()


@op
def wait_for_gate(context) -> None:
    gate = Path(os.environ["PROXY_TEST_GATE"])
    context.log.info(f"waiting in pid {os.getppid()}")
    deadline = time.monotonic() + 120
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


@job(description=f"version {VERSION}")
def gated() -> None:
    wait_for_gate()


defs = Definitions(jobs=[gated])
"""


def test_the_forwarded_calls_are_dagsters_with_their_streaming() -> None:
    """The proxy reads its calls from Dagster's proto file: the same as the service Dagster's clients use."""
    service = dagster_api_pb2.DESCRIPTOR.services_by_name["DagsterApi"]
    expected = {m.name: (m.client_streaming, m.server_streaming) for m in service.methods}
    assert rpc_shapes(dagster_proto().read_text()) == expected
    assert expected["StreamingExternalRepository"] == (False, True)
    assert expected["ReloadCode"] == (False, False)


def test_the_fields_it_reads_and_writes_are_protobufs() -> None:
    request = dagster_api_pb2.StartRunRequest(serialized_execute_run_args='{"run_id": "é' + "x" * 300 + '"}')
    assert string_field(request.SerializeToString()) == request.serialized_execute_run_args
    reply = dagster_api_pb2.GetCurrentRunsReply.FromString(string_message('{"current_runs": []}'))
    assert reply.serialized_current_runs == '{"current_runs": []}'
    mixed = dagster_api_pb2.PingReply(echo="a", serialized_server_utilization_metrics="{}").SerializeToString()
    assert (string_field(mixed, 1), string_field(mixed, 2)) == ("a", "{}")


def test_the_proxy_imports_no_dagster() -> None:
    """It runs as a script: neither Dagster nor the package (which imports Dagster) is imported."""
    check = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.startswith(('dagster', 'honeyframe'))))"
    )
    done = subprocess.run([sys.executable, "-c", check, str(PROXY)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


class Location:
    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.client = DagsterGrpcClient(port=port, host="127.0.0.1")
        self.instance = DagsterInstance.from_config(str(root / "dagster"))

    def server_id(self) -> str:
        return self.client.get_server_id()

    def description(self) -> str | None:
        from dagster._core.remote_representation.code_location import GrpcServerCodeLocation

        origin = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=self.port, location_name=LOCATION)
        with GrpcServerCodeLocation(origin, instance=self.instance) as location:
            return location.get_repository("__repository__").get_full_job("gated").description

    def launch(self) -> str:
        """As the daemon launches a run: the instance's DefaultRunLauncher calls StartRun on the location."""
        from dagster._cli.job import execute_launch_command

        run = execute_launch_command(
            instance=self.instance,
            workspace_opts=WorkspaceOpts(grpc_host="127.0.0.1", grpc_port=self.port),
            job_name="gated",
        )
        return run.run_id

    def status(self, run_id: str) -> DagsterRunStatus:
        run = self.instance.get_run_by_id(run_id)
        assert run is not None
        return run.status

    def current_runs(self) -> list[str]:
        return deserialize_value(self.client.get_current_runs(), GetCurrentRunsResult).current_runs


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.fixture
def location(tmp_path: Path) -> Iterator[tuple[Location, subprocess.Popen[bytes]]]:
    (tmp_path / "proxy_defs.py").write_text(DEFINITIONS)
    (tmp_path / "version.txt").write_text("1")
    (tmp_path / "dagster").mkdir()
    # Runs launch at once (no queue, no daemon): the DefaultRunLauncher calls StartRun on the location.
    (tmp_path / "dagster" / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nrun_coordinator:\n  module: dagster._core.run_coordinator\n"
        "  class: DefaultRunCoordinator\n"
    )
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "HONEYFRAME_"))},
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "PROXY_TEST_GATE": str(tmp_path / "gate"),
        "PYTHONWARNINGS": "ignore",
    }
    argv = [sys.executable, str(PROXY), "-m", "proxy_defs", "--location-name", LOCATION, "-h", "127.0.0.1"]
    with (tmp_path / "proxy.log").open("wb") as out:
        proxy = subprocess.Popen([*argv, "-p", str(port)], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    location = Location(tmp_path, port)
    try:
        wait_for(lambda: proxy.poll() is not None or _answers(location), "the proxy", timeout=120)
        assert proxy.poll() is None, (tmp_path / "proxy.log").read_text()
        yield location, proxy
    finally:
        proxy.send_signal(signal.SIGTERM)
        try:
            proxy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proxy.kill()
        location.instance.dispose()
        print((tmp_path / "proxy.log").read_text()[-4000:])


def _answers(location: Location) -> bool:
    try:
        location.client.ping("")
        return True
    except Exception:
        return False


def test_reload_switches_to_fresh_code_while_earlier_runs_finish_and_stay_cancelable(
    location: tuple[Location, subprocess.Popen[bytes]],
) -> None:
    loc, proxy = location
    first_id = loc.server_id()
    assert loc.server_id() == first_id
    assert loc.description() == "version 1"
    [first_child] = children(proxy.pid)

    # Two runs start in the first child and wait at the gate.
    finishing, canceled = loc.launch(), loc.launch()
    wait_for(lambda: {loc.status(finishing), loc.status(canceled)} == {DagsterRunStatus.STARTED}, "the runs start")
    assert set(loc.current_runs()) == {finishing, canceled}

    # A reload: a fresh child imports the new definitions; the server id changes.
    (loc.root / "version.txt").write_text("2")
    loc.client.reload_code(timeout=120)
    second_id = loc.server_id()
    assert second_id != first_id
    assert loc.description() == "version 2"
    # The first child drains: it keeps its runs, which the proxy still lists and can terminate.
    assert first_child in children(proxy.pid) and len(children(proxy.pid)) == 2
    assert set(loc.current_runs()) == {finishing, canceled}
    assert loc.instance.run_launcher.terminate(canceled)
    wait_for(lambda: loc.status(canceled) == DagsterRunStatus.CANCELED, "the termination", timeout=60)

    # A run launched now starts in the new child; the gate opens and every run ends.
    later = loc.launch()
    wait_for(lambda: loc.status(later) == DagsterRunStatus.STARTED, "the later run starts")
    (loc.root / "gate").touch()
    for run_id in (finishing, later):
        wait_for(lambda run_id=run_id: loc.status(run_id) == DagsterRunStatus.SUCCESS, f"run {run_id}", timeout=60)
    # Its runs done, the first child exits; the second serves on.
    wait_for(lambda: first_child not in children(proxy.pid), "the first child exits", timeout=60)
    assert loc.server_id() == second_id
    wait_for(lambda: loc.current_runs() == [], "the run workers exit", timeout=30)


def test_a_child_that_dies_is_replaced_under_a_new_server_id(
    location: tuple[Location, subprocess.Popen[bytes]],
) -> None:
    loc, proxy = location
    first_id = loc.server_id()
    [child] = children(proxy.pid)
    os.kill(child, signal.SIGKILL)

    def replaced() -> bool:
        try:
            return loc.server_id() != first_id
        except Exception:
            return False

    wait_for(replaced, "a fresh child", timeout=120)
    assert loc.description() == "version 1"
    assert child not in children(proxy.pid)


def test_shutdown_server_stops_the_proxy_once_its_runs_end(
    location: tuple[Location, subprocess.Popen[bytes]],
) -> None:
    loc, proxy = location
    run_id = loc.launch()
    wait_for(lambda: loc.status(run_id) == DagsterRunStatus.STARTED, "the run starts")
    loc.client.shutdown_server()
    time.sleep(3)
    assert proxy.poll() is None  # its run goes on
    (loc.root / "gate").touch()
    wait_for(lambda: loc.status(run_id) == DagsterRunStatus.SUCCESS, "the run", timeout=60)
    assert proxy.wait(timeout=60) == 0
