"""A code location's server: Dagster's gRPC API server (`dagster api grpc`) that reloads in place.

`honeyframe up` runs one process for the shards' locations (each its own gRPC server on its own port, the imports
shared) and one for the `warehouse` location. Dagster's own choices both pay for a whole new process at every reload:
`dagster code-server start` is a proxy (~100 MB) that starts a fresh `dagster api grpc` child, and `dagster api grpc`
alone ignores `ReloadCode`. A reload then costs the child's imports (~1.5 s, more on busy cores), building every job
again and computing every job's snapshot again (~4 ms each), though an edit changes one scenario.

This server is Dagster's `DagsterApiServer` with `ReloadCode` served in place, as Dagster's own
`ReloadCodeWithState` does for state-backed components: the definitions are loaded again in this process (the
modules stay imported; `defs` reads the store again), swapped in atomically, and the server id changes, which is how
the webserver and the daemon notice a reload (Dagster's server watcher). The jobs whose compiled scenario did not
change are the same `JobDefinition` objects as before (honeyframe_dagster/definitions.py), so Dagster's cached
snapshot of each is reused, and so is the serialized reply to `ExternalJob` kept here (compressed): a reload builds,
snapshots and serializes the changed jobs only. The repository's snapshot is kept until the next reload: the daemon
and the webserver each load it after a reload (the webserver twice when asked through its reload mutation, as the
UI's Reload button does: the mutation's load, then its watcher seeing the new id).

- Runs are unaffected: each runs in its own process (Dagster's `StartRun`), started from the definitions that were
  current when it was launched, and stays cancelable here across reloads.
- Reloads asked for while one is under way are served by the next one (a reload covers every write committed before
  it started), so a burst of edits loads twice at most.
- A reload that fails (the store unreachable, say) fails the call and the previous definitions go on serving.
- A location whose first load failed serves that error (as `--lazy-load-user-code` does) until a reload succeeds.

    python -m honeyframe_dagster.services.code_server -m MODULE --location-name NAME -h HOST -p PORT
    python -m honeyframe_dagster.services.code_server -m MODULE -h HOST --location NAME:PORT[:ATTRIBUTE] ...
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from dagster import JobDefinition
from dagster._core.remote_origin import RemoteRepositoryOrigin
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import FuturesAwareThreadPoolExecutor
from dagster._grpc.__generated__ import dagster_api_pb2
from dagster._grpc.server import DagsterApiServer, DagsterGrpcServer, LoadedRepositories
from dagster._serdes import deserialize_value, serialize_value

LOGGER = "dagster.code_server"
# Loads of definitions in this process, one at a time (see ReloadingApiServer.reload).
LOADS = threading.Lock()


@dataclass
class _Reloads:
    """Tickets: a reload serves every request made before it started."""

    requested: int = 0
    done: int = 0
    error: str | None = None


class ReloadFailed(RuntimeError):
    """The definitions did not load again; the previous ones go on serving."""


class ReloadingApiServer(DagsterApiServer):
    """Dagster's API server whose `ReloadCode` loads the definitions again in this process (module docstring)."""

    def __init__(self, *, location_name: str, **kwargs: Any) -> None:
        super().__init__(location_name=location_name, **kwargs)
        self.location_name = location_name
        self._tickets = threading.Lock()
        self._reloads = _Reloads()
        # ExternalRepository replies of the current definitions, by request; emptied by each reload.
        self._repository_replies: dict[tuple[str, bool], str] = {}
        # Each job's ExternalJob reply (zlib), with the job it describes: valid while that job is the current one.
        self._job_replies: dict[str, tuple[JobDefinition, bytes]] = {}

    # -- reloads -----------------------------------------------------------------------------------------------

    def ReloadCode(  # noqa: N802 - Dagster's gRPC method name
        self, request: dagster_api_pb2.ReloadCodeRequest, context: grpc.ServicerContext
    ) -> dagster_api_pb2.ReloadCodeReply:
        started = time.monotonic()
        try:
            self.reload()
        except ReloadFailed as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"code location {self.location_name} did not reload: {exc}")
        self._logger.info("code location %s reloaded in %.1fs", self.location_name, time.monotonic() - started)
        return dagster_api_pb2.ReloadCodeReply()

    def reload(self) -> None:
        """Load the definitions again and serve them from now on; ReloadFailed keeps the previous ones."""
        with self._tickets:
            self._reloads.requested += 1
            ticket = self._reloads.requested
        # One load at a time in the process: Dagster's load context is process-wide, and this process may serve
        # several locations (and Dagster's own ReloadCodeWithState takes `_reload_lock`, which this lock covers).
        with LOADS, self._reload_lock:
            with self._tickets:
                if self._reloads.done >= ticket:
                    if self._reloads.error:
                        raise ReloadFailed(self._reloads.error)
                    return
                covers = self._reloads.requested
            try:
                loaded: LoadedRepositories | None = LoadedRepositories(
                    self._loadable_target_origin,
                    container_image=self._container_image,
                    entry_point=self._entry_point,
                    container_context=self._container_context,
                    code_location_name=self.location_name,
                )
                error = None
            except Exception as exc:  # noqa: BLE001 - whatever the load raised, the old definitions keep serving
                self._logger.exception("code location %s did not reload", self.location_name)
                # What failed, by name only: the text (paths, connection strings) stays in this server's log.
                loaded, error = None, f"{type(root_cause(exc)).__name__} (see the code location's log)"
            with self._tickets:
                self._reloads.done, self._reloads.error = covers, error
            if loaded is None:
                raise ReloadFailed(error)
            # Readers on other threads see the previous or the new definitions, never a mix.
            self._loaded_repositories = loaded
            self._repository_replies = {}
            self._serializable_load_error = None
            self._server_id = str(uuid.uuid4())
            self._job_replies = {
                name: kept for name, kept in self._job_replies.items() if self._current_job(name) is kept[0]
            }

    def _current_job(self, name: str) -> JobDefinition | None:
        loaded = self._loaded_repositories
        if loaded is None:
            return None
        for repository in loaded.definitions_by_name.values():
            if repository.has_job(name):
                return repository.get_job(name)
        return None

    # -- snapshots, kept -----------------------------------------------------------------------------------------

    def _get_serialized_external_repository_data(self, request: dagster_api_pb2.ExternalRepositoryRequest) -> str:
        key = (request.serialized_repository_python_origin, request.defer_snapshots)
        # Read before the definitions: a reload swaps the definitions first, then empties the replies.
        replies = self._repository_replies
        if key in replies:
            return replies[key]
        try:
            origin = deserialize_value(request.serialized_repository_python_origin, RemoteRepositoryOrigin)
            snapshot = RepositorySnap.from_def(
                self._get_repo_for_origin(origin), defer_snapshots=request.defer_snapshots
            )
            reply = serialize_value(snapshot)
        except Exception:  # noqa: BLE001 - Dagster's own method answers with the error, as it always does
            return super()._get_serialized_external_repository_data(request)
        replies[key] = reply
        return reply

    def ExternalJob(  # noqa: N802 - Dagster's gRPC method name
        self, request: dagster_api_pb2.ExternalJobRequest, context: grpc.ServicerContext
    ) -> dagster_api_pb2.ExternalJobReply:
        try:
            origin = deserialize_value(request.serialized_repository_origin, RemoteRepositoryOrigin)
            job = self._get_repo_for_origin(origin).get_job(request.job_name)
        except Exception:  # noqa: BLE001 - Dagster's own method answers with the error, as it always does
            return super().ExternalJob(request, context)
        kept = self._job_replies.get(request.job_name)
        if kept is not None and kept[0] is job:
            return dagster_api_pb2.ExternalJobReply(serialized_job_data=zlib.decompress(kept[1]).decode())
        reply = super().ExternalJob(request, context)
        if reply.serialized_job_data:
            self._job_replies[request.job_name] = (job, zlib.compress(reply.serialized_job_data.encode(), 1))
        return reply


def root_cause(exc: BaseException) -> BaseException:
    """The exception a chain of `raise ... from` wrappers (Dagster's user code boundary among them) started from."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


@dataclass(frozen=True)
class Location:
    """A code location this process serves: its name, its port and the attribute of the module it loads."""

    name: str
    port: int
    attribute: str = "defs"

    @classmethod
    def parse(cls, text: str) -> Location:
        """`NAME:PORT[:ATTRIBUTE]`."""
        name, _, rest = text.partition(":")
        port, _, attribute = rest.partition(":")
        if not name or not port.isdigit():
            raise argparse.ArgumentTypeError(f"expected NAME:PORT[:ATTRIBUTE], got {text!r}")
        return cls(name, int(port), attribute or "defs")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, add_help=False, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--help", action="help")
    parser.add_argument("-m", "--module", required=True, help="the module whose `defs` the location serves")
    parser.add_argument("-h", "--host", default="127.0.0.1")
    parser.add_argument("--location-name", help="one location: its name (with -p)")
    parser.add_argument("-p", "--port", type=int, help="one location: its port (with --location-name)")
    parser.add_argument(
        "--location",
        type=Location.parse,
        action="append",
        default=[],
        help="a location NAME:PORT[:ATTRIBUTE] (the module's `defs` unless ATTRIBUTE); repeat to serve several in "
        "one process, which then holds the imports once",
    )
    parser.add_argument("--max-workers", type=int, default=None, help="threads serving calls, per location")
    args = parser.parse_args(list(argv))
    if (args.location_name is None) != (args.port is None):
        parser.error("--location-name and -p go together")
    if args.location_name is not None:
        args.location.insert(0, Location(args.location_name, args.port))
    if not args.location:
        parser.error("name a location: --location-name NAME -p PORT, or --location NAME:PORT[:ATTRIBUTE]")
    return args


def api_server(
    args: argparse.Namespace, location: Location, logger: logging.Logger, termination: threading.Event
) -> DagsterGrpcServer:
    """One location's server, its definitions loaded (a load that fails is served as its error); it stops when
    `termination` is set."""
    threads = FuturesAwareThreadPoolExecutor(max_workers=args.max_workers)
    # As `dagster api grpc` does: run workers import the module from the same interpreter and directory, and the
    # image and container context a container run launcher needs come from the same variables.
    origin = LoadableTargetOrigin(
        executable_path=sys.executable,
        module_name=args.module,
        attribute=location.attribute,
        working_directory=os.getcwd(),
    )
    context = os.getenv("DAGSTER_CONTAINER_CONTEXT")
    servicer = ReloadingApiServer(
        server_termination_event=termination,
        logger=logger,
        server_threadpool_executor=threads,
        loadable_target_origin=origin,
        # A load that fails is served as the location's load error, as Dagster's code server does.
        lazy_load_user_code=True,
        location_name=location.name,
        container_image=os.getenv("DAGSTER_CURRENT_IMAGE"),
        container_context=json.loads(context) if context else None,
    )
    return DagsterGrpcServer(
        server_termination_event=termination,
        dagster_api_servicer=servicer,
        logger=logger,
        threadpool_executor=threads,
        host=args.host,
        port=location.port,
    )


def serve(args: argparse.Namespace) -> None:
    """Load every location (one after another: loads take the process-wide lock anyway), then serve them all until
    each has shut down (ShutdownServer) or the process is told to stop."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    logger = logging.getLogger(LOGGER)
    stops = [threading.Event() for _ in args.location]
    servers = []
    for location, stop in zip(args.location, stops, strict=True):
        with LOADS:
            servers.append(api_server(args, location, logger, stop))
        target = f"{args.module}:{location.attribute}"
        logger.info("code location %s: %s on %s:%s", location.name, target, args.host, location.port)
    # SIGTERM stops the servers whatever SIGINT's disposition. Set once they are built: building them goes through
    # Dagster's interrupt handling (dagster._utils.interrupts), which leaves SIGTERM handled as SIGINT is, and a
    # shell's background job inherits SIGINT ignored: SIGTERM would be ignored too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    serving = [threading.Thread(target=server.serve, name=f"serve-{i}") for i, server in enumerate(servers)]
    for thread in serving:
        thread.start()
    try:
        for thread in serving:
            thread.join()
    except KeyboardInterrupt:
        logger.info("code server interrupted: stopping %d location(s)", len(servers))
        for stop in stops:
            stop.set()
        for thread in serving:
            thread.join()


def main(argv: Sequence[str] | None = None) -> int:
    serve(parse(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
