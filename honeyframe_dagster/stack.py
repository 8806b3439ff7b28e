"""`honeyframe up`: the whole system on one machine — code server(s), Dagster webserver and daemon, REST API and a
local mail sink — started in order, supervised, and stopped together on SIGTERM/SIGINT.

The terminal shows only what a person needs: one line per process started and a summary at the end. Each
process writes its own output (Dagster's run events included) to `$HONEYFRAME_HOME/logs/<process>.log`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from honeyframe_dagster.boot import boot
from honeyframe_dagster.dbt import ensure_manifest
from honeyframe_dagster.factory.naming import location_names
from honeyframe_dagster.settings import EXAMPLES_DIR, REPO_ROOT, Settings, get_settings
from honeyframe_dagster.store.tables import ProjectRow

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent


# Warnings every Dagster process prints on start that say nothing about this system (beta/preview APIs).
QUIET_WARNINGS = "ignore::UserWarning,ignore::DeprecationWarning,ignore::FutureWarning"


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_dir: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> None:
        print(f"[honeyframe] starting {self.name} (log: {self.log_path})", flush=True)
        with self.log_path.open("ab") as log:
            # Own process group, so that stopping it also stops the children it spawns (e.g. code server workers).
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=REPO_ROOT,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)


def wait_until(check: object, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL we built
            return response.status < 500
    except OSError:
        return False


def prepare_dagster_home(settings: Settings, env: dict[str, str]) -> Path:
    """DAGSTER_HOME defaults to $HONEYFRAME_HOME/dagster with the repo's dagster.yaml; the schema is migrated
    before webserver and daemon start, since both starting on a fresh SQLite instance race on it."""
    if "DAGSTER_HOME" in os.environ:
        home = Path(os.environ["DAGSTER_HOME"]).resolve()
    else:
        home = settings.home_dir / "dagster"
        home.mkdir(parents=True, exist_ok=True)
        # Postgres storage (dagster-postgres) when configured, else SQLite files under DAGSTER_HOME.
        config = "dagster.postgres.yaml" if os.environ.get("HONEYFRAME_DAGSTER_POSTGRES_URL") else "dagster.yaml"
        shutil.copyfile(REPO_ROOT / config, home / "dagster.yaml")
    env["DAGSTER_HOME"] = str(home)
    migrated = subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, capture_output=True, text=True)
    if migrated.returncode != 0:
        raise RuntimeError(f"`dagster instance migrate` failed:\n{migrated.stdout}{migrated.stderr}")
    return home


def load_examples_on_first_boot(settings: Settings) -> None:
    from honeyframe_dagster.cli import apply_paths

    with Session(boot(settings)) as session:
        empty = session.scalar(select(func.count()).select_from(ProjectRow)) == 0
    # Dagster is not started yet: nothing to reload, so nothing to say about it.
    if empty and apply_paths([EXAMPLES_DIR], reload=False) != 0:
        raise RuntimeError("the examples did not apply")


def write_workspace(settings: Settings, locations: list[tuple[str, int]]) -> Path:
    lines = ["load_from:"]
    for name, port in locations:
        lines += ["  - grpc_server:", f"      host: {HOST}", f"      port: {port}", f"      location_name: {name}"]
    path = settings.home_dir / "workspace.grpc.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def summary(settings: Settings, log_dir: Path, mail_sink: bool) -> str:
    """What `honeyframe up` prints once everything answers: where things are and what to do first."""
    lines = [
        "",
        "Honeyframe Scheduler is up.",
        f"  Dagster UI    http://{HOST}:{settings.ui_port}",
        f"  REST API      http://{HOST}:{settings.api_port}/docs",
        f"  Admin pages   http://{HOST}:{settings.api_port}/admin/templates",
    ]
    if mail_sink:
        lines.append(f"  Mail sink     smtp://{HOST}:{settings.smtp_port} (messages in {settings.home_dir / 'mail'})")
    lines += [
        f"  Logs          {log_dir}",
        "First API token:  .venv/bin/honeyframe token create --name me --admin",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def up() -> int:
    settings = get_settings()
    env = {
        **os.environ,
        "HONEYFRAME_HOME": str(settings.home_dir),
        "HONEYFRAME_DAGSTER_URL": f"http://{HOST}:{settings.ui_port}",
        "DAGSTER_DISABLE_TELEMETRY": "yes",
        "PYTHONWARNINGS": QUIET_WARNINGS,
    }
    log_dir = settings.home_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    boot(settings)
    ensure_manifest()
    load_examples_on_first_boot(settings)
    prepare_dagster_home(settings, env)

    count = settings.code_locations
    locations = [(name, settings.code_server_port + index) for index, name in enumerate(location_names(count))]
    code_servers = [
        Process(
            name,
            [
                str(BIN / "dagster"),
                "code-server",
                "start",
                "-m",
                "honeyframe_dagster.definitions",
                "-h",
                HOST,
                "-p",
                str(port),
                "--location-name",
                name,
            ],
            {**env, **({"HONEYFRAME_SHARD": f"{index}/{count}"} if count > 1 else {})},
            log_dir,
        )
        for index, (name, port) in enumerate(locations)
    ]
    workspace = str(write_workspace(settings, locations))
    processes = [
        *code_servers,
        Process(
            "dagster-webserver",
            [str(BIN / "dagster-webserver"), "-w", workspace, "-h", HOST, "-p", str(settings.ui_port)],
            env,
            log_dir,
        ),
        Process("dagster-daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], env, log_dir),
        Process(
            "api",
            [str(BIN / "uvicorn"), "api.main:app", "--host", HOST, "--port", str(settings.api_port)],
            env,
            log_dir,
        ),
    ]
    mail_sink = "HONEYFRAME_SMTP_HOST" not in os.environ
    if mail_sink:
        processes.insert(0, Process("mail-sink", [str(BIN / "honeyframe"), "mailsink"], env, log_dir))

    stopping = False
    # `make run` is our parent: if it is killed (SIGTERM to make does not reach us), stop as well.
    parent = os.getppid()

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for process in processes:
            process.start()
            if process in code_servers:
                port = dict(locations)[process.name]
                wait_until(lambda port=port: port_open(port), f"code server {process.name}")
        wait_until(lambda: http_ok(f"http://{HOST}:{settings.ui_port}/server_info"), "the Dagster webserver")
        wait_until(lambda: port_open(settings.api_port), "the REST API")
        print(summary(settings, log_dir, mail_sink), flush=True)
        while not stopping and os.getppid() == parent:
            exited = [p for p in processes if p.popen is not None and p.popen.poll() is not None]
            if exited:
                print(
                    f"[honeyframe] {exited[0].name} exited with {exited[0].popen.returncode}; stopping "  # type: ignore[union-attr]
                    f"(see {exited[0].log_path})",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            time.sleep(0.5)
        return 0
    finally:
        for process in reversed(processes):
            process.stop()
        deadline = time.monotonic() + 20
        for process in processes:
            if process.popen is not None:
                try:
                    process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
