"""The code location's server (honeyframe_dagster/services/code_server.py): Dagster's API server reloading in place.
Real processes on loopback, a Dagster instance in a temporary DAGSTER_HOME, a tiny definitions module whose job
waits for a file: a reload serves the new definitions under a new server id in the same process, runs started
before it finish and stay cancelable, unchanged jobs keep their snapshot, a failed reload keeps the old definitions,
and ShutdownServer lets the runs end first."""

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
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin
from dagster._core.remote_representation.code_location import GrpcServerCodeLocation
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import GetCurrentRunsResult
from dagster._serdes import deserialize_value
from dagster_shared.cli import WorkspaceOpts

from tests.api.conftest import free_port, wait_for

LOCATION = "in_place"

# `defs` is loaded again at every reload (a `@definitions` function, as the product's locations are): the job
# `gated` follows version.txt; `steady` is built once per process and reused, as the factory reuses unchanged jobs;
# a file named `broken` makes the load fail.
DEFINITIONS = """
import os
import time
from pathlib import Path

from dagster import Definitions, definitions, job, op


@op
def wait_for_gate(context) -> None:
    gate = Path(os.environ["CODE_SERVER_TEST_GATE"])
    deadline = time.monotonic() + 120
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


@op
def nothing() -> None:
    pass


@job
def steady() -> None:
    nothing()


@definitions
def defs() -> Definitions:
    if Path("broken").exists():
        raise RuntimeError("the store is unreachable")
    version = Path("version.txt").read_text().strip()

    @job(description=f"version {version}")
    def gated() -> None:
        wait_for_gate()

    return Definitions(jobs=[gated, steady])
"""


class Location:
    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.client = DagsterGrpcClient(port=port, host="127.0.0.1")
        self.instance = DagsterInstance.from_config(str(root / "dagster"))

    def server_id(self) -> str:
        return self.client.get_server_id()

    def jobs(self) -> dict[str, tuple[str | None, str]]:
        """Each job's description and snapshot id, as the webserver and the daemon load them."""
        origin = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=self.port, location_name=LOCATION)
        with GrpcServerCodeLocation(origin, instance=self.instance) as location:
            repository = location.get_repository("__repository__")
            return {job.name: (job.description, job.identifying_job_snapshot_id) for job in repository.get_all_jobs()}

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


@pytest.fixture
def location(tmp_path: Path) -> Iterator[tuple[Location, subprocess.Popen[bytes]]]:
    (tmp_path / "in_place_defs.py").write_text(DEFINITIONS)
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
        "CODE_SERVER_TEST_GATE": str(tmp_path / "gate"),
        "PYTHONPATH": str(tmp_path),
        "PYTHONWARNINGS": "ignore",
    }
    server = ["-m", "honeyframe_dagster.services.code_server", "-m", "in_place_defs", "--location-name", LOCATION]
    with (tmp_path / "server.log").open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *server, "-h", "127.0.0.1", "-p", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    location = Location(tmp_path, port)
    try:
        wait_for(lambda: process.poll() is not None or _answers(location), "the code server", timeout=120)
        assert process.poll() is None, (tmp_path / "server.log").read_text()
        yield location, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        location.instance.dispose()
        print((tmp_path / "server.log").read_text()[-4000:])


def _answers(location: Location) -> bool:
    try:
        location.client.ping("")
        return True
    except Exception:
        return False


def test_a_reload_in_place_serves_new_code_while_earlier_runs_finish_and_stay_cancelable(
    location: tuple[Location, subprocess.Popen[bytes]],
) -> None:
    loc, process = location
    first_id = loc.server_id()
    before = loc.jobs()
    assert before["gated"][0] == "version 1"

    # Two runs start and wait at the gate.
    finishing, canceled = loc.launch(), loc.launch()
    wait_for(lambda: {loc.status(finishing), loc.status(canceled)} == {DagsterRunStatus.STARTED}, "the runs start")

    # A reload: the same process serves the new definitions under a new server id.
    (loc.root / "version.txt").write_text("2")
    loc.client.reload_code(timeout=120)
    second_id = loc.server_id()
    assert second_id != first_id
    after = loc.jobs()
    assert after["gated"][0] == "version 2" and after["gated"][1] != before["gated"][1]
    # The unchanged job is the same snapshot.
    assert after["steady"] == before["steady"]
    assert process.poll() is None
    # The runs started before it go on, listed and cancelable.
    assert set(loc.current_runs()) == {finishing, canceled}
    assert loc.instance.run_launcher.terminate(canceled)
    wait_for(lambda: loc.status(canceled) == DagsterRunStatus.CANCELED, "the termination", timeout=60)

    # A run launched now uses the new code; the gate opens and every run ends.
    later = loc.launch()
    assert loc.instance.get_run_by_id(later).job_snapshot_id == after["gated"][1]  # type: ignore[union-attr]
    (loc.root / "gate").touch()
    for run_id in (finishing, later):
        wait_for(lambda run_id=run_id: loc.status(run_id) == DagsterRunStatus.SUCCESS, f"run {run_id}", timeout=60)
    wait_for(lambda: loc.current_runs() == [], "the run workers exit", timeout=30)
    assert loc.server_id() == second_id


def test_a_failed_reload_fails_the_call_and_keeps_serving_the_previous_definitions(
    location: tuple[Location, subprocess.Popen[bytes]],
) -> None:
    loc, _ = location
    first_id = loc.server_id()
    (loc.root / "version.txt").write_text("2")
    (loc.root / "broken").touch()
    with pytest.raises(DagsterUserCodeUnreachableError) as failed:
        loc.client.reload_code(timeout=120)
    assert "did not reload: RuntimeError (see the code location's log)" in str(failed.value.__cause__)
    assert "the store is" not in str(failed.value.__cause__)
    assert loc.server_id() == first_id
    assert loc.jobs()["gated"][0] == "version 1"

    (loc.root / "broken").unlink()
    loc.client.reload_code(timeout=120)
    assert loc.server_id() != first_id
    assert loc.jobs()["gated"][0] == "version 2"


def test_shutdown_server_stops_it_once_its_runs_end(location: tuple[Location, subprocess.Popen[bytes]]) -> None:
    loc, process = location
    run_id = loc.launch()
    wait_for(lambda: loc.status(run_id) == DagsterRunStatus.STARTED, "the run starts")
    loc.client.shutdown_server()
    time.sleep(3)
    assert process.poll() is None  # its run goes on
    (loc.root / "gate").touch()
    wait_for(lambda: loc.status(run_id) == DagsterRunStatus.SUCCESS, "the run", timeout=60)
    assert process.wait(timeout=60) == 0


def _jobs_of(port: int, location: str, instance: DagsterInstance) -> set[str]:
    origin = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=port, location_name=location)
    with GrpcServerCodeLocation(origin, instance=instance) as loaded:
        return {job.name for job in loaded.get_repository("__repository__").get_all_jobs()}


def test_one_process_serves_each_shard_as_its_own_location(hf_home: Path, tmp_path: Path) -> None:
    """`honeyframe up` serves every shard from one process (services/stack.py `shard_servers`): each location loads
    only its shard's projects, whatever HONEYFRAME_SHARD says, and a reload of one leaves the other as it was."""
    from honeyframe_dagster.cli import main as honeyframe
    from honeyframe_dagster.definitions import load_definitions
    from honeyframe_dagster.model.naming import location_name, shard_attribute, shard_location_name

    examples = Path(__file__).resolve().parents[2] / "examples"
    assert honeyframe(["apply", str(examples)]) == 0
    assert honeyframe(["shards", "--set", "2"]) == 0
    everything = {job.name: job for job in load_definitions().get_repository_def().get_all_jobs()}
    (tmp_path / "dagster").mkdir()
    (tmp_path / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ports = [free_port(), free_port()]
    names = [shard_location_name(i, 2) for i in range(2)]
    served = [f"{names[i]}:{ports[i]}:{shard_attribute(i, 2)}" for i in range(2)]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")},
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "HONEYFRAME_SHARD": "0/2",  # ignored: each location names its shard
        "PYTHONWARNINGS": "ignore",
    }
    argv = [sys.executable, "-m", "honeyframe_dagster.services.code_server", "-m", "honeyframe_dagster.definitions"]
    argv += ["-h", "127.0.0.1", *(arg for spec in served for arg in ("--location", spec))]
    with (tmp_path / "server.log").open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_ignore_sigint)
    instance = DagsterInstance.from_config(str(tmp_path / "dagster"))
    try:
        clients = [DagsterGrpcClient(port=port, host="127.0.0.1") for port in ports]
        wait_for(lambda: all(_pings(c) for c in clients) or process.poll() is not None, "both locations", 120)
        assert process.poll() is None, (tmp_path / "server.log").read_text()
        jobs = [_jobs_of(ports[i], names[i], instance) for i in range(2)]
        assert jobs[0] and jobs[1] and not jobs[0] & jobs[1]
        assert jobs[0] | jobs[1] == {name for name in everything if not name.startswith("__")}
        for i in range(2):
            projects = {everything[name].tags["honeyframe/project_id"] for name in jobs[i]}
            assert {location_name(project, 2) for project in projects} == {names[i]}

        ids = [client.get_server_id() for client in clients]
        clients[0].reload_code(timeout=120)
        assert clients[0].get_server_id() != ids[0]
        assert clients[1].get_server_id() == ids[1]
        assert _jobs_of(ports[0], names[0], instance) == jobs[0]
    finally:
        process.terminate()
        try:
            # At once, even started with SIGINT ignored (as a shell's background job is, and so is this test's).
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            instance.dispose()
        print((tmp_path / "server.log").read_text()[-3000:])


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pings(client: DagsterGrpcClient) -> bool:
    try:
        client.ping("")
        return True
    except Exception:
        return False
