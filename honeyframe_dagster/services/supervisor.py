"""What `honeyframe up` becomes once it has planned: a lean supervisor of the stack's processes.

Planning (services/stack.py) needs the product's code: settings, the store, the shard count, the dbt manifest. Once
the plan is made, `honeyframe up` replaces itself (`os.execv`, same process id, same terminal and parent) with this
module run as a script, which imports the standard library only: the process that waits for Ctrl-C then holds about
15 MB instead of the 145 MB that the CLI's imports weigh. The plan comes in a JSON file that only this user can read
(it holds the processes' environments), removed as soon as it is read.

The supervisor starts the servers, then (once they answer) the clients; copies each process's output into
`$HONEYFRAME_HOME/logs/<process>.log` as plain text; records where the system answers (honeyframe_dagster/running.py
reads the record); and stops everything together on SIGTERM/SIGINT, when one process exits, or when its parent (`make
run`) goes away.

    python honeyframe_dagster/services/supervisor.py PLAN.json
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

HOST = "127.0.0.1"
# Terminal control sequences (colours, cursor moves): Dagster's loggers colour their lines even into a file.
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]")
# The record of where the system answers: honeyframe_dagster/running.py (`RUNNING_FILE`, `RunningSystem`) reads it.
RUNNING_FILE = "running.json"
# A process that is started again when it exits (a code server) waits this long first, doubled while it keeps exiting
# (up to the maximum); one that served RESTART_HEALTHY_SECONDS starts over from the minimum.
RESTART_PAUSE_SECONDS = (1.0, 60.0)
RESTART_HEALTHY_SECONDS = 120.0


def plain_text(line: bytes) -> bytes:
    """`line` without terminal control sequences: what a log file should hold."""
    return ANSI.sub(b"", line)


def copy_plain(source: IO[bytes], log_path: Path) -> None:
    """Append what a process writes to its log, line by line, as plain text (until the process and every child
    that shares its output have closed it)."""
    with source, log_path.open("ab") as log:
        for line in iter(source.readline, b""):
            log.write(plain_text(line))
            log.flush()


def say(message: str, stream: IO[str] | None = None) -> None:
    """Print a line for the terminal, if it is still there: with the reader of our output gone (a closed terminal,
    a killed pipe), writing fails, and that must not stop the supervisor from stopping its processes."""
    with contextlib.suppress(OSError):  # BrokenPipeError among them
        print(message, file=stream or sys.stdout, flush=True)


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL we built
            return response.status < 500
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool], what: str, timeout: float = 300, gone: Callable[[], str | None] | None = None
) -> None:
    """Until `check()`; RuntimeError after `timeout`, or at once when `gone()` says why it never will."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        why = gone() if gone is not None else None
        if why is not None:
            raise RuntimeError(f"{what} {why}")
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")


@dataclass(frozen=True)
class Ready:
    """How to tell that a process serves: its TCP port accepts (`port` on `host`), or `url` answers below 500."""

    port: int | None = None
    host: str = HOST
    url: str | None = None

    def __call__(self) -> bool:
        if self.url is not None:
            return http_ok(self.url)
        return self.port is not None and port_open(self.port, self.host)


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_dir: Path
    # Answers once the process serves (checked before the next group of processes starts).
    ready: Ready | None = None
    # Started again when it exits (a code server: the others serve nothing without it); otherwise its exit stops all.
    restart: bool = False
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    copier: threading.Thread | None = field(default=None, repr=False)
    started_at: float = field(default=0.0, repr=False)
    pause: float = field(default=RESTART_PAUSE_SECONDS[0], repr=False)
    # When an exited process that restarts is started again (monotonic); None while it runs.
    restart_at: float | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self, cwd: Path | None = None) -> None:
        say(f"[honeyframe] starting {self.name} (log: {self.log_path})")
        self.started_at, self.restart_at = time.monotonic(), None
        # Own process group, so that stopping it also stops the children it spawns (e.g. code server workers).
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=cwd,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.popen.stdout is not None
        self.copier = threading.Thread(
            target=copy_plain, args=(self.popen.stdout, self.log_path), name=f"log-{self.name}", daemon=True
        )
        self.copier.start()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)

    def exited(self) -> bool:
        return self.popen is not None and self.popen.poll() is not None

    def exited_while_starting(self) -> str | None:
        """Why it will never answer: it exited before it did (a port taken, a store behind: its log says)."""
        if not self.exited():
            return None
        return f"exited with {self.popen.returncode} while starting (see {self.log_path})"  # type: ignore[union-attr]

    def schedule_restart(self) -> float:
        """Note when to start it again; the pause it will wait."""
        if time.monotonic() - self.started_at > RESTART_HEALTHY_SECONDS:
            self.pause = RESTART_PAUSE_SECONDS[0]
        pause, self.pause = self.pause, min(RESTART_PAUSE_SECONDS[1], self.pause * 2)
        self.restart_at = time.monotonic() + pause
        return pause

    def to_json(self) -> dict[str, Any]:
        ready = None if self.ready is None else asdict(self.ready)
        fields = {"name": self.name, "argv": self.argv, "env": self.env, "log_dir": str(self.log_dir)}
        return {**fields, "ready": ready, "restart": self.restart}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Process:
        ready = None if data["ready"] is None else Ready(**data["ready"])
        fields = (data["name"], list(data["argv"]), dict(data["env"]), Path(data["log_dir"]), ready)
        return cls(*fields, restart=bool(data.get("restart")))


@dataclass
class Plan:
    """The processes of a piece: `servers` start first and answer before `clients` start."""

    servers: list[Process]
    clients: list[Process]
    summary: str
    # Where the CLI in another terminal finds what this piece serves: the Dagster UI's and the REST API's URLs
    # (None: it serves no people, a code server), recorded under `home`.
    urls: tuple[str, str] | None = None
    home: Path | None = None
    # The working directory of every process (the repository).
    cwd: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "servers": [p.to_json() for p in self.servers],
            "clients": [p.to_json() for p in self.clients],
            "summary": self.summary,
            "urls": self.urls,
            "home": None if self.home is None else str(self.home),
            "cwd": None if self.cwd is None else str(self.cwd),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(
            [Process.from_json(p) for p in data["servers"]],
            [Process.from_json(p) for p in data["clients"]],
            str(data["summary"]),
            None if data["urls"] is None else (str(data["urls"][0]), str(data["urls"][1])),
            None if data["home"] is None else Path(data["home"]),
            None if data["cwd"] is None else Path(data["cwd"]),
        )


def record_running(home: Path, urls: tuple[str, str]) -> None:
    """Where this system answers, for the CLI in another terminal (running.py `read_running`), written atomically."""
    path = home / RUNNING_FILE
    staged = path.with_name(f".{RUNNING_FILE}.{os.getpid()}")
    staged.write_text(json.dumps({"dagster_url": urls[0], "api_url": urls[1], "pid": os.getpid()}, indent=2) + "\n")
    os.replace(staged, path)


def forget_running(home: Path) -> None:
    """Remove the record if this process wrote it (another `honeyframe up` on this home keeps its own)."""
    path = home / RUNNING_FILE
    try:
        recorded = json.loads(path.read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return
    if recorded == os.getpid():
        path.unlink(missing_ok=True)


def hand_over(plan: Plan, staging_dir: Path) -> NoReturn:
    """Replace this process with the supervisor of `plan` (never returns): the plan goes in a file that only this
    user can read, which the supervisor removes once read."""
    fd, path = _staged(staging_dir)
    with os.fdopen(fd, "w") as out:
        json.dump(plan.to_json(), out)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, str(Path(__file__).resolve()), path])


def _staged(directory: Path) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(prefix=".up-plan-", suffix=".json", dir=directory)


def supervise(plan: Plan) -> int:
    """Start the servers, then (once they answer) the clients; stop everything together on SIGTERM/SIGINT, when
    a process exits (one that restarts is started again instead), or when our parent (`make run`) goes away."""
    processes = [*plan.servers, *plan.clients]
    stopping = False
    # `make run` is our parent: if it is killed (SIGTERM to make does not reach us), stop as well.
    parent = os.getppid()

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for group in (plan.servers, plan.clients):
            # A group starts at once (code servers load in parallel), then every member must answer.
            for process in group:
                process.start(plan.cwd)
            for process in group:
                if process.ready is not None:
                    wait_until(process.ready, process.name, gone=process.exited_while_starting)
        if plan.urls is not None and plan.home is not None:
            record_running(plan.home, plan.urls)
        say(plan.summary)
        while not stopping and os.getppid() == parent:
            for process in (p for p in processes if p.exited()):
                code = process.popen.returncode  # type: ignore[union-attr]
                if not process.restart:
                    stopping_line = f"[honeyframe] {process.name} exited with {code}; stopping (see {process.log_path})"
                    say(stopping_line, sys.stderr)
                    return 1
                if process.restart_at is None:
                    pause = process.schedule_restart()
                    say(
                        f"[honeyframe] {process.name} exited with {code}; starting it again in {pause:.0f}s "
                        f"(see {process.log_path})",
                        sys.stderr,
                    )
                elif time.monotonic() >= process.restart_at:
                    process.start(plan.cwd)
            time.sleep(0.5)
        return 0
    finally:
        if plan.home is not None:
            forget_running(plan.home)
        say("[honeyframe] stopping")
        for process in reversed(processes):
            process.stop()
        deadline = time.monotonic() + 20
        for process in processes:
            if process.popen is not None:
                try:
                    process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.popen.wait()
            if process.copier is not None:
                process.copier.join(timeout=2)
        started = [p for p in processes if p.popen is not None]
        say(f"[honeyframe] everything has stopped ({len(started)} processes)")


def main(argv: list[str]) -> int:
    staged = Path(argv[0])
    try:
        plan = Plan.from_json(json.loads(staged.read_text()))
    finally:
        staged.unlink(missing_ok=True)
    return supervise(plan)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
