"""A code location's server: `dagster api grpc` as a child process behind a lean gRPC proxy that serves reloads.

`honeyframe up` runs one per code location instead of `dagster code-server start`. Dagster's code server is itself a
proxy in front of a `dagster api grpc` child, but it imports all of Dagster (~100 MB resident), heartbeats its child
every second and forwards every GetServerId (which the webserver and the daemon each ask every location every
second). This proxy imports only grpcio (run it as a script, not as `-m honeyframe_dagster...`: the package imports
Dagster): it forwards every call of Dagster's gRPC API to its child as raw bytes, without decoding them, and handles
itself what a reload needs:

- `ReloadCode` starts a fresh child on a new private port (a new import of the definitions), waits until it answers,
  switches the forwarding to it, and asks the old child to `ShutdownServer`: the old child refuses new runs, lets the
  runs it started finish, then exits. Reloads asked for while one is under way are served by the next one (a reload
  covers every write committed before it started), so a burst of edits imports twice at most. When the new child
  does not come up, the call fails and the old child goes on serving the old definitions.
- `GetServerId` answers the current child's id (fetched once when it started): it changes with each child, which is
  how the webserver and the daemon notice a reload (Dagster's server watcher).
- `CancelExecution` and `CanCancelExecution` go to every live child, newest first, until one knows the run: a run
  keeps running in the child that started it, which may be draining after a reload (the run's `dagster/grpc_info`
  tag names this proxy's address, not the child's). `GetCurrentRuns` lists the runs of every live child.
- `StartRun` goes to the current child; the old one is asked to shut down only once the `StartRun` calls already
  forwarded to it have answered (a run launched during a reload is never refused).
- `Heartbeat` is answered here; the proxy heartbeats its children itself, rarely, so that a child whose proxy died
  shuts down once its runs end. `ShutdownServer` shuts every child down, then the proxy exits.
- A current child that exits by itself (killed, crashed) is replaced, after a pause that grows while it keeps
  exiting.

Which calls exist and which stream is read from Dagster's own `dagster_api.proto` (found without importing Dagster),
so that a Dagster upgrade that adds a call is forwarded too.

    python honeyframe_dagster/services/grpc_proxy.py -m MODULE --location-name NAME -h HOST -p PORT
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import grpc

SERVICE = "api.DagsterApi"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
CHILD_HOST = "127.0.0.1"
# Dagster's default load timeout (`code_servers: local_startup_timeout`, the webserver's reload timeout).
STARTUP_TIMEOUT_SECONDS = 180.0
# The child shuts down (once its runs end) when no heartbeat came for HEARTBEAT_TIMEOUT: the proxy died.
HEARTBEAT_SECONDS = 30.0
HEARTBEAT_TIMEOUT_SECONDS = 180
# How long a retired child may take to answer the StartRun calls already sent to it before it is asked to stop.
START_RUN_DRAIN_SECONDS = 120.0
# A child that exits by itself is replaced after this pause, doubled while replacements keep exiting (up to the
# maximum); a child that served this long resets it.
RESTART_PAUSE_SECONDS = (1.0, 60.0)
RESTART_HEALTHY_SECONDS = 120.0
WORKERS = 32
# The snapshots a child serves (its repository, each job), which are the same for every caller since a child imports
# the definitions once, are kept for this long after it starts serving: a reload makes the webserver load the
# location twice (its reload, then its server watcher seeing the new server id) and the daemon once, and a child
# builds a job's snapshot anew for each call (Dagster caches none).
SNAPSHOT_CACHE_SECONDS = 120.0
SNAPSHOTS = ("ListRepositories", "ExternalRepository", "StreamingExternalRepository", "ExternalJob")

RPC = re.compile(r"\brpc\s+(\w+)\s*\(\s*(stream\s+)?[\w.]+\s*\)\s*returns\s*\(\s*(stream\s+)?[\w.]+\s*\)")


def log(name: str, message: str) -> None:
    print(f"[grpc-proxy {name}] {message}", file=sys.stderr, flush=True)


# -- Dagster's API, as its proto file declares it --------------------------------------------------------------------


def dagster_proto() -> Path:
    """Dagster's `dagster_api.proto` in the installed package (found without importing Dagster)."""
    spec = importlib.util.find_spec("dagster")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the dagster package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "_grpc" / "protos" / "dagster_api.proto"


def rpc_shapes(proto: str) -> dict[str, tuple[bool, bool]]:
    """Each call of the DagsterApi service: (whether the request streams, whether the reply streams)."""
    service = re.search(rf"\bservice\s+{SERVICE.split('.')[-1]}\s*\{{(.*?)\n\}}", proto, re.DOTALL)
    body = service.group(1) if service else ""
    return {name: (bool(ins), bool(outs)) for name, ins, outs in RPC.findall(body)}


# -- the few protobuf fields the proxy reads or writes: a string in field `number` -----------------------------------


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def string_field(data: bytes, number: int = 1) -> str:
    """The string field `number` of a protobuf message (its last occurrence, as protobuf reads it); '' if absent."""
    found, at = "", 0
    while at < len(data):
        key, at = _varint(data, at)
        kind = key & 7
        if kind == 0:
            _, at = _varint(data, at)
        elif kind == 1:
            at += 8
        elif kind == 5:
            at += 4
        elif kind == 2:
            length, at = _varint(data, at)
            if key >> 3 == number:
                found = data[at : at + length].decode()
            at += length
        else:
            raise ValueError(f"protobuf wire type {kind} not expected")
    return found


def string_message(value: str, number: int = 1) -> bytes:
    """A protobuf message whose only field, `number`, is the string `value`."""
    encoded = value.encode()
    out = bytearray([number << 3 | 2])
    length = len(encoded)
    while length >= 0x80:
        out.append(length & 0x7F | 0x80)
        length >>= 7
    out.append(length)
    return bytes(out) + encoded


def serialized(reply: bytes) -> dict[str, Any]:
    """The serdes JSON that a reply's field 1 carries (Dagster's `serialize_value`), as a dict."""
    text = string_field(reply)
    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


# -- the children ----------------------------------------------------------------------------------------------------


def message_limits() -> list[tuple[str, int]]:
    """Dagster's gRPC message size limits (DAGSTER_GRPC_MAX_RX_BYTES / _SEND_BYTES, 100 MB by default)."""
    rx = int(os.environ.get("DAGSTER_GRPC_MAX_RX_BYTES") or 100 * 10**6)
    send = int(os.environ.get("DAGSTER_GRPC_MAX_SEND_BYTES") or 100 * 10**6)
    return [("grpc.max_receive_message_length", max(rx, send)), ("grpc.max_send_message_length", max(rx, send))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((CHILD_HOST, 0))
        return int(probe.getsockname()[1])


class ChildFailed(RuntimeError):
    """A child did not come up: it exited or did not answer in time."""


@dataclass
class Child:
    """One `dagster api grpc` process: the definitions as they were when it started."""

    popen: subprocess.Popen[bytes]
    port: int
    channel: grpc.Channel
    server_id_reply: bytes = b""
    # StartRun calls forwarded and not answered yet (guarded by the proxy's lock).
    starting: int = 0
    started_at: float = field(default_factory=time.monotonic)
    retired: bool = False
    exited: bool = False
    # Replies to SNAPSHOTS calls by (method, request), while SNAPSHOT_CACHE_SECONDS last (then None).
    snapshots: dict[tuple[str, bytes], Any] | None = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def unary(self, method: str, request: bytes, timeout: float | None) -> bytes:
        call = self.channel.unary_unary(f"/{SERVICE}/{method}")
        return bytes(call(request, timeout=timeout))

    def wait_ready(self, deadline: float, stopping: threading.Event) -> None:
        """Until the child listens (Dagster's server binds its port once the definitions are imported) and
        answers GetServerId; ChildFailed if it exits first, `deadline` (monotonic) passes or the proxy stops."""
        while True:
            if stopping.is_set():
                raise ChildFailed("the proxy is stopping")
            if self.popen.poll() is not None:
                raise ChildFailed(f"`dagster api grpc` exited with {self.popen.returncode} while starting")
            if time.monotonic() > deadline:
                raise ChildFailed("`dagster api grpc` did not answer in time")
            try:
                with socket.create_connection((CHILD_HOST, self.port), timeout=1):
                    pass
            except OSError:
                time.sleep(0.1)
                continue
            try:
                self.server_id_reply = self.unary("GetServerId", b"", timeout=10)
                return
            except grpc.RpcError:
                time.sleep(0.1)

    def close(self) -> None:
        self.snapshots = None
        self.channel.close()

    def forget_snapshots(self) -> None:
        self.snapshots = None
        release_memory()


def release_memory() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing): the snapshots just
    dropped were megabytes, which the allocator would otherwise keep for this process."""
    import ctypes

    try:
        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # this process's own symbols, libc's among them
    except OSError:
        return
    if trim is not None:
        trim(0)


def child_channel(port: int) -> grpc.Channel:
    # Reconnect fast: the child is on this machine, and a reload waits for it.
    options = [*message_limits(), ("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]
    return grpc.insecure_channel(f"{CHILD_HOST}:{port}", options=options)


# -- the proxy -------------------------------------------------------------------------------------------------------


@dataclass
class _Reloads:
    """Tickets: a reload serves every request made before it started."""

    requested: int = 0
    done: int = 0
    error: str | None = None


class Proxy(grpc.GenericRpcHandler):
    """Forwards DagsterApi calls to the current child; reloads, cancellations and shutdown as the module says."""

    def __init__(
        self,
        name: str,
        command: Callable[[int], list[str]],
        shapes: dict[str, tuple[bool, bool]],
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.name = name
        self.command = command
        self.startup_timeout = startup_timeout
        self.heartbeat_seconds = heartbeat_seconds
        self.current: Child | None = None
        self.children: list[Child] = []
        self.lock = threading.Condition()
        self.reload_gate = threading.Lock()
        self.reloads = _Reloads()
        self.stopping = threading.Event()
        self.finished = threading.Event()
        self.restart_pause = RESTART_PAUSE_SECONDS[0]
        own: dict[str, Callable[..., Any]] = {
            "ReloadCode": self._reload_code,
            "GetServerId": self._server_id,
            "Heartbeat": lambda request, _context: request,  # PingRequest and PingReply: `string echo = 1`
            "StartRun": self._start_run,
            "CancelExecution": self._cancel,
            "CanCancelExecution": self._can_cancel,
            "GetCurrentRuns": self._current_runs,
            "ShutdownServer": self._shutdown_server,
        }
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}
        for method, (streams_in, streams_out) in shapes.items():
            path = f"/{SERVICE}/{method}"
            if method in own and not (streams_in or streams_out):
                self.handlers[path] = grpc.unary_unary_rpc_method_handler(own[method])
            else:
                self.handlers[path] = self._forwarder(path, streams_in, streams_out)
        # The gRPC health service Dagster's server also serves (`dagster api grpc-health-check`).
        self.handlers[HEALTH_CHECK] = self._forwarder(HEALTH_CHECK, False, False)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        return self.handlers.get(handler_call_details.method)

    # -- forwarding ------------------------------------------------------------------------------------------------

    def _child(self, context: grpc.ServicerContext) -> Child:
        child = self.current
        if child is None or child.exited:
            abort(context, grpc.StatusCode.UNAVAILABLE, f"code location {self.name}: no code server is running")
        assert child is not None
        return child

    def _forwarder(self, path: str, streams_in: bool, streams_out: bool) -> grpc.RpcMethodHandler:
        method = path.rsplit("/", 1)[-1]
        cached = method in SNAPSHOTS and not streams_in

        def call(request: Any, context: grpc.ServicerContext) -> Any:
            child = self._child(context)
            timeout = context.time_remaining()
            snapshots = child.snapshots if cached else None
            if snapshots is not None and (method, request) in snapshots:
                return snapshots[method, request]
            try:
                if streams_in and streams_out:
                    return child.channel.stream_stream(path)(request, timeout=timeout)
                if streams_in:
                    return child.channel.stream_unary(path)(request, timeout=timeout)
                reply = child.channel.unary_unary(path)(request, timeout=timeout)
            except grpc.RpcError as exc:
                abort_like(context, exc)
            # A job's reply holds its snapshot (field 1) or the error of building it: only a snapshot is kept.
            if snapshots is not None and (method != "ExternalJob" or string_field(reply, 1)):
                snapshots[method, request] = reply
            return reply

        def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            child = self._child(context)
            timeout = context.time_remaining()
            snapshots = child.snapshots if cached else None
            if snapshots is not None and (method, request) in snapshots:
                yield from snapshots[method, request]
                return
            chunks = []
            try:
                if streams_in:
                    yield from child.channel.stream_stream(path)(request, timeout=timeout)
                    return
                for chunk in child.channel.unary_stream(path)(request, timeout=timeout):
                    chunks.append(chunk)
                    yield chunk
            except grpc.RpcError as exc:
                abort_like(context, exc)
            if snapshots is not None:
                snapshots[method, request] = chunks

        if streams_out:
            if streams_in:
                return grpc.stream_stream_rpc_method_handler(stream)
            return grpc.unary_stream_rpc_method_handler(stream)
        if streams_in:
            return grpc.stream_unary_rpc_method_handler(call)
        return grpc.unary_unary_rpc_method_handler(call)

    def _server_id(self, _request: bytes, context: grpc.ServicerContext) -> bytes:
        return self._child(context).server_id_reply

    def _start_run(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self.lock:
            child = self._child(context)
            child.starting += 1
        try:
            return child.unary("StartRun", request, context.time_remaining())
        except grpc.RpcError as exc:
            abort_like(context, exc)
        finally:
            with self.lock:
                child.starting -= 1
                self.lock.notify_all()

    def live(self) -> list[Child]:
        """The children that still run, newest first."""
        with self.lock:
            return [c for c in reversed(self.children) if not c.exited]

    def first_with(self, key: str, request: bytes, method: str, context: grpc.ServicerContext) -> bytes:
        """`method` asked of every live child, newest first, until one's result says `key`; else the current
        child's answer (the run is unknown: it ended, or it was never started here)."""
        answers = []
        for child in self.live():
            try:
                reply = child.unary(method, request, context.time_remaining())
            except grpc.RpcError:
                continue
            if serialized(reply).get(key):
                return reply
            answers.append(reply)
        if not answers:
            abort(context, grpc.StatusCode.UNAVAILABLE, f"code location {self.name}: no code server answered")
        return answers[0]

    def _cancel(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        return self.first_with("success", request, "CancelExecution", context)

    def _can_cancel(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        return self.first_with("can_cancel", request, "CanCancelExecution", context)

    def _current_runs(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        runs: list[str] = []
        result: dict[str, Any] = {}
        for child in self.live():
            try:
                result = serialized(child.unary("GetCurrentRuns", request, context.time_remaining()))
            except grpc.RpcError:
                continue
            runs += [run for run in result.get("current_runs") or [] if run not in runs]
        if not result:
            abort(context, grpc.StatusCode.UNAVAILABLE, f"code location {self.name}: no code server answered")
        return string_message(json.dumps({**result, "current_runs": runs}))

    # -- children --------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """The first child; raises ChildFailed when it does not come up."""
        child = self._spawn()
        with self.lock:
            self.current = child
            self.children.append(child)
        threading.Thread(target=self._heartbeats, name="heartbeats", daemon=True).start()

    def _spawn(self) -> Child:
        deadline = time.monotonic() + self.startup_timeout
        for attempt in range(3):
            port = free_port()
            # Its output goes where the proxy's goes (the location's log); not a session of its own, so that
            # stopping the proxy's process group stops it and its runs.
            popen = subprocess.Popen(self.command(port), stdin=subprocess.DEVNULL)
            child = Child(popen, port, child_channel(port))
            try:
                child.wait_ready(deadline, self.stopping)
            except ChildFailed as exc:
                child.close()
                if popen.poll() is None:
                    popen.kill()
                popen.wait()
                # Another program took the port between our probe and the child's bind: try another port.
                if attempt < 2 and popen.returncode > 0 and not self.stopping.is_set() and time.monotonic() < deadline:
                    log(self.name, f"{exc}; starting it again")
                    continue
                raise
            threading.Thread(target=self._watch, args=(child,), name=f"watch-{popen.pid}", daemon=True).start()
            forget = threading.Timer(SNAPSHOT_CACHE_SECONDS, child.forget_snapshots)
            forget.daemon = True
            forget.start()
            log(self.name, f"`dagster api grpc` pid {popen.pid} serves on port {port}")
            return child
        raise ChildFailed("`dagster api grpc` did not start")

    def reload(self) -> None:
        """A fresh child serves from now on; the old one finishes its runs, then exits. Raises ChildFailed (the old
        child goes on serving)."""
        with self.lock:
            self.reloads.requested += 1
            ticket = self.reloads.requested
        with self.reload_gate:
            with self.lock:
                if self.reloads.done >= ticket:
                    if self.reloads.error:
                        raise ChildFailed(self.reloads.error)
                    return
                covers = self.reloads.requested
            try:
                fresh = self._spawn()
                error = None
            except ChildFailed as exc:
                error = str(exc)
            with self.lock:
                self.reloads.done, self.reloads.error = covers, error
                if error is not None:
                    raise ChildFailed(error)
                old, self.current = self.current, fresh
                self.children.append(fresh)
            if old is not None:
                old.retired = True
                threading.Thread(target=self._retire, args=(old,), name=f"retire-{old.pid}", daemon=True).start()

    def _retire(self, old: Child) -> None:
        with self.lock:
            # StartRun calls already sent to it: a server told to shut down refuses to start a run.
            self.lock.wait_for(lambda: old.starting == 0, timeout=START_RUN_DRAIN_SECONDS)
        try:
            old.unary("ShutdownServer", b"", timeout=15)
            log(self.name, f"`dagster api grpc` pid {old.pid} exits once its runs end")
        except grpc.RpcError as exc:
            log(self.name, f"`dagster api grpc` pid {old.pid} did not take ShutdownServer ({exc.code()}); stopping it")
            if old.popen.poll() is None:
                old.popen.terminate()

    def _watch(self, child: Child) -> None:
        """Wait for `child` to exit; a current child that exits by itself is replaced."""
        code = child.popen.wait()
        with self.lock:
            child.exited = True
            if child in self.children:
                self.children.remove(child)
            self.lock.notify_all()
            replace = child is self.current and not self.stopping.is_set()
        child.close()
        if not replace:
            log(self.name, f"`dagster api grpc` pid {child.pid} exited ({code})")
            if self.stopping.is_set() and not self.live():
                self.finished.set()
            return
        served = time.monotonic() - child.started_at
        if served > RESTART_HEALTHY_SECONDS:
            self.restart_pause = RESTART_PAUSE_SECONDS[0]
        log(self.name, f"`dagster api grpc` pid {child.pid} exited ({code}); replacing it in {self.restart_pause:.0f}s")
        threading.Thread(target=self._replace, args=(child,), name="replace", daemon=True).start()

    def _replace(self, dead: Child) -> None:
        while not self.stopping.is_set() and self.current is dead:
            self.stopping.wait(self.restart_pause)
            self.restart_pause = min(RESTART_PAUSE_SECONDS[1], self.restart_pause * 2)
            if self.stopping.is_set():
                return
            try:
                self.reload()
            except ChildFailed as exc:
                log(self.name, f"replacing the code server failed: {exc}")

    def _heartbeats(self) -> None:
        while not self.stopping.wait(self.heartbeat_seconds):
            for child in self.live():
                if not child.retired:
                    with contextlib.suppress(grpc.RpcError):
                        child.unary("Heartbeat", b"", timeout=10)

    # -- Dagster's calls that the proxy serves ---------------------------------------------------------------------

    def _reload_code(self, _request: bytes, context: grpc.ServicerContext) -> bytes:
        started = time.monotonic()
        try:
            self.reload()
        except ChildFailed as exc:
            abort(context, grpc.StatusCode.UNAVAILABLE, f"code location {self.name} did not reload: {exc}")
        log(self.name, f"reloaded in {time.monotonic() - started:.1f}s")
        return b""  # ReloadCodeReply with no error

    def _shutdown_server(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.stopping.set()
        reply = None
        for child in self.live():
            try:
                answer = child.unary("ShutdownServer", request, context.time_remaining())
                reply = reply or answer
            except grpc.RpcError:
                if not child.exited:
                    child.popen.terminate()
        if not self.live():
            self.finished.set()
        log(self.name, "ShutdownServer: exiting once the runs of its code servers end")
        if reply is None:
            abort(context, grpc.StatusCode.UNAVAILABLE, f"code location {self.name}: no code server answered")
        return bytes(reply)

    def stop(self, grace: float = 20) -> None:
        """Stop every child (SIGTERM, then SIGKILL after `grace` seconds)."""
        self.stopping.set()
        children = self.live()
        for child in children:
            child.popen.terminate()
        deadline = time.monotonic() + grace
        for child in children:
            try:
                child.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.popen.kill()


def abort_like(context: grpc.ServicerContext, exc: grpc.RpcError) -> NoReturn:
    """End the call as the child ended it (status and message)."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    abort(context, code, details or "")


def abort(context: grpc.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    context.abort(code, details)  # raises
    raise AssertionError("grpc's ServicerContext.abort returned")


# -- the process -----------------------------------------------------------------------------------------------------


def child_command(args: argparse.Namespace) -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        return [
            args.dagster,
            "api",
            "grpc",
            # An import that fails is served as the location's load error, as Dagster's code server does.
            "--lazy-load-user-code",
            "--host",
            CHILD_HOST,
            "--port",
            str(port),
            "--heartbeat",
            "--heartbeat-timeout",
            str(HEARTBEAT_TIMEOUT_SECONDS),
            "--location-name",
            args.location_name,
            "-m",
            args.module,
        ]

    return command


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse(argv: Iterable[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, add_help=False)
    parser.add_argument("--help", action="help")
    parser.add_argument("-m", "--module", required=True)
    parser.add_argument("--location-name", required=True)
    parser.add_argument("-h", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--dagster", default=str(Path(sys.executable).parent / "dagster"))
    parser.add_argument("--startup-timeout", type=float, default=STARTUP_TIMEOUT_SECONDS)
    return parser.parse_args(list(argv))


def main(argv: Iterable[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    shapes = rpc_shapes(dagster_proto().read_text())
    if "ReloadCode" not in shapes:
        raise RuntimeError(f"no DagsterApi service in {dagster_proto()}")
    proxy = Proxy(args.location_name, child_command(args), shapes, startup_timeout=args.startup_timeout)

    # SIGTERM, SIGINT, or ShutdownServer once every child has exited: the proxy stops.
    def stop(_signum: int, _frame: object) -> None:
        proxy.stopping.set()
        proxy.finished.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        proxy.start()
    except ChildFailed as exc:
        log(args.location_name, str(exc))
        return 1
    server = grpc.server(
        ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="rpc"),
        handlers=[proxy],
        options=[*message_limits(), ("grpc.so_reuseport", 0)],
    )
    server.add_insecure_port(address(args.host, args.port))
    server.start()
    log(args.location_name, f"serves {args.module} on {address(args.host, args.port)}")
    while not proxy.finished.wait(3600):
        pass
    server.stop(grace=5)
    proxy.stop()
    log(args.location_name, "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
