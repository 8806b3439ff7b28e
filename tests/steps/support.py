"""Helpers shared by the step-kind tests: run a scenario job, read its events, serve HTTP on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from tests.conftest import ApplyYaml


def run_scenario(
    apply_yaml: ApplyYaml,
    load_defs: Callable[[], Definitions],
    instance: DagsterInstance,
    documents: str,
    job_name: str,
    **kwargs: Any,
) -> ExecuteInProcessResult:
    assert apply_yaml(documents) == 0
    job = load_defs().get_job_def(job_name)
    return job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)


def events(result: ExecuteInProcessResult, event_type: str, step_key: str | None = None) -> list[Any]:
    return [
        e
        for e in result.all_events
        if e.event_type_value == event_type and (step_key is None or e.step_key == step_key)
    ]


def output_metadata(result: ExecuteInProcessResult, step_key: str) -> dict[str, Any]:
    (output,) = events(result, "STEP_OUTPUT", step_key)
    return {key: value.value for key, value in output.step_output_data.metadata.items()}


def failure_text(result: ExecuteInProcessResult, step_key: str) -> str:
    (failure,) = events(result, "STEP_FAILURE", step_key)
    data = failure.step_failure_data
    description = data.user_failure_data.description if data.user_failure_data else None
    return f"{data.error.to_string() if data.error else ''}\n{description or ''}"


def log_messages(instance: DagsterInstance, run_id: str) -> list[str]:
    """Every message of the run's event log, engine events and their error info included."""
    texts = []
    for entry in instance.all_logs(run_id):
        texts.append(entry.user_message or "")
        error = getattr(entry.dagster_event and entry.dagster_event.event_specific_data, "error", None)
        if error is not None:
            texts.append(error.to_string())
    return texts


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


# status, content type, body, and optionally more headers (e.g. a redirect's Location).
Reply = tuple[int, str, bytes] | tuple[int, str, bytes, dict[str, str]]
Handler = Callable[[BaseHTTPRequestHandler, str, bytes], Reply]


@contextmanager
def loopback_server(handle: Handler) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 (free port) answering with `handle(request, method, body)`; yields its URL."""

    class _Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            reply = handle(self, method, self.rfile.read(length) if length else b"")
            status, content_type, payload = reply[:3]
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (reply[3] if len(reply) > 3 else {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def as_json(status: int, body: Any) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body).encode()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (the port was just free)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
