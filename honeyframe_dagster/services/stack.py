"""`honeyframe up`: the whole system on one machine — a code server per shard, Dagster webserver and daemon, REST
API and a local mail sink — started in order, supervised, and stopped together on SIGTERM/SIGINT. Across machines,
`--only code-server --shard i/n` starts one shard's code server and `--only ui` the webserver, daemon and API over
the code servers that HONEYFRAME_CODE_SERVERS names (docs/deploy.md).

This module plans: settings, store, shard count, ports, dbt manifest. Then `honeyframe up` hands over to the lean
supervisor (services/supervisor.py), which runs the plan in the same process. The terminal shows only what a person
needs: one line per process started, a summary once everything answers and one line when everything has stopped.
Each process writes its own output (Dagster's run events included) to `$HONEYFRAME_HOME/logs/<process>.log`, as plain
text (the colour codes Dagster's loggers write are taken out). The URLs of what runs here are recorded under
HONEYFRAME_HOME (honeyframe_dagster/running.py), so that the CLI in another terminal finds them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from honeyframe_dagster.boot import boot
from honeyframe_dagster.dbt import ensure_manifest
from honeyframe_dagster.model.naming import WAREHOUSE_LOCATION, location_names, shard_attribute, shard_location_name
from honeyframe_dagster.sample_data import follow_today
from honeyframe_dagster.services.instance_config import dagster_postgres_url, install_instance_yaml
from honeyframe_dagster.services.supervisor import HOST, Plan, Process, Ready, hand_over, port_open, wait_until
from honeyframe_dagster.settings import EXAMPLES_DIR, REPO_ROOT, Settings, child_environment, get_settings
from honeyframe_dagster.shards import check_shard, choose_count, save_count, stored_count
from honeyframe_dagster.store.tables import ProjectRow

# The CLI's apply: (paths, reload) -> exit status.
ApplyPaths = Callable[[list[Path], bool], int]

BIN = Path(sys.executable).parent
SCENARIOS_MODULE = "honeyframe_dagster.definitions"
# The dbt assets, datasets and heartbeat: one location per deployment, the only one that imports dagster-dbt.
WAREHOUSE_MODULE = "honeyframe_dagster.warehouse_definitions"


# Warnings every Dagster process prints on start that say nothing about this system (beta/preview APIs).
QUIET_WARNINGS = "ignore::UserWarning,ignore::DeprecationWarning,ignore::FutureWarning"


def port_free(host: str, port: int) -> bool:
    """Nothing listens on `port`: a test bind with SO_REUSEADDR, as the servers bind, so that a port whose last
    connections wait out TIME_WAIT (a restart right after Ctrl-C) counts as free; a listener still refuses it."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(host: str, listeners: list[tuple[str, int]]) -> None:
    """Refuse to start when two of our processes would share a port or one is taken already: otherwise one of them
    dies after the others have started, and the message is a gRPC bind error deep in its log."""
    owners: dict[int, str] = {}
    for what, port in listeners:
        if port in owners:
            raise ValueError(f"port {port} is set for both {owners[port]} and {what}: give each its own port")
        owners[port] = what
    for port, what in owners.items():
        if not port_free(host, port):
            raise ValueError(f"port {port} for {what} is in use on {host} by another program")


def prepare_dagster_home(settings: Settings, env: dict[str, str], migrate: bool = True) -> Path:
    """DAGSTER_HOME defaults to $HONEYFRAME_HOME/dagster with the repo's dagster.yaml; the schema is migrated
    before webserver and daemon start, since both starting on a fresh SQLite instance race on it (`migrate`: the
    host of webserver and daemon does it; a code-server host only reads the instance)."""
    home = settings.dagster_home_dir
    if settings.dagster_home is None:
        # Postgres storage (dagster-postgres) when configured, else SQLite files under DAGSTER_HOME.
        install_instance_yaml(settings, home)
    env["DAGSTER_HOME"] = str(home)
    if not migrate:
        return home
    migrated = subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, capture_output=True, text=True)
    if migrated.returncode != 0:
        raise RuntimeError(f"`dagster instance migrate` failed:\n{migrated.stdout}{migrated.stderr}")
    return home


def load_examples_on_first_boot(settings: Settings, apply_examples: ApplyPaths) -> None:
    with Session(boot(settings)) as session:
        empty = session.scalar(select(func.count()).select_from(ProjectRow)) == 0
    if not empty:
        return
    # Dagster is not started yet: nothing to reload, so nothing to say about it.
    if apply_examples([EXAMPLES_DIR], False) != 0:
        raise RuntimeError("the examples did not apply")
    # The examples' reports read the sample orders: from now on they end yesterday, whatever the day.
    follow_today(settings)


def connect_host(bind: str) -> str:
    """Where a process on this machine reaches a server bound to `bind` (a wildcard bind answers on loopback)."""
    return HOST if bind in ("0.0.0.0", "::", "") else bind  # noqa: S104 - recognising the wildcard, not binding it


# The local mail sink (`honeyframe mailsink`), run as a script: it needs aiosmtpd, not the CLI's imports.
MAIL_SINK = Path(__file__).with_name("mailsink.py")
# Dagster's daemon, refreshing its whole workspace hourly rather than every minute (services/dagster_daemon.py).
DAGSTER_DAEMON = Path(__file__).with_name("dagster_daemon.py")
# A code location's server (services/code_server.py).
CODE_SERVER = [sys.executable, "-m", "honeyframe_dagster.services.code_server"]


def code_server(name: str, module: str, host: str, port: int, env: dict[str, str], log_dir: Path) -> Process:
    """The location's server on `host:port` (services/code_server.py): it stays up across reloads, each reload
    loading `module`'s definitions again in place; the runs it launches (DefaultRunLauncher) run on its host. It
    listens once the first load is done; the supervisor starts it again should it exit."""
    ready = Ready(port=port, host=host)
    return Process(name, code_server_argv(name, module, host, port), env, log_dir, ready, restart=True)


def code_server_argv(name: str, module: str, host: str, port: int) -> list[str]:
    return [*CODE_SERVER, "-m", module, "--location-name", name, "-h", host, "-p", str(port)]


# The process serving every shard's location when `honeyframe up` runs them all on this machine.
SHARDS_PROCESS = "code-locations"


def shard_servers(locations: list[tuple[str, int]], host: str, env: dict[str, str], log_dir: Path) -> Process:
    """The shards' locations (name, port), all served by one code server process: Dagster and the product are
    imported once for all of them (~110 MB; each shard then costs its own definitions). Location i loads the
    scenario module's `shard_<i>_of_<n>`, so the process needs no HONEYFRAME_SHARD."""
    if len(locations) == 1:
        ((name, port),) = locations
        return code_server(name, SCENARIOS_MODULE, host, port, env, log_dir)
    count = len(locations)
    served = [f"{name}:{port}:{shard_attribute(i, count)}" for i, (name, port) in enumerate(locations)]
    argv = [*CODE_SERVER, "-m", SCENARIOS_MODULE, "-h", host, *(arg for spec in served for arg in ("--location", spec))]
    # Every port is bound before any serves: the last one answering means all do.
    return Process(SHARDS_PROCESS, argv, env, log_dir, Ready(port=locations[-1][1], host=host), restart=True)


def daemon_argv(workspace: Path) -> list[str]:
    return [sys.executable, str(DAGSTER_DAEMON), "run", "-w", str(workspace)]


def shard_env(env: dict[str, str], index: int, count: int) -> dict[str, str]:
    return {**env, "HONEYFRAME_SHARD": f"{index}/{count}"} if count > 1 else env


def write_workspace(settings: Settings, locations: list[tuple[str, str, int]]) -> Path:
    """The webserver's and daemon's workspace: one `grpc_server` entry (name, host, port) per code server."""
    lines = ["load_from:"]
    for name, host, port in locations:
        lines += ["  - grpc_server:", f"      host: {host}", f"      port: {port}", f"      location_name: {name}"]
    path = settings.home_dir / "workspace.grpc.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def ui_processes(settings: Settings, env: dict[str, str], workspace: Path, host: str, log_dir: Path) -> list[Process]:
    """Webserver, daemon and REST API: the pieces that serve people, on the host that owns the workspace."""
    ui = f"http://{connect_host(host)}:{settings.ui_port}"
    return [
        Process(
            "dagster-webserver",
            [str(BIN / "dagster-webserver"), "-w", str(workspace), "-h", host, "-p", str(settings.ui_port)],
            env,
            log_dir,
            ready=Ready(url=f"{ui}/server_info"),
        ),
        Process("dagster-daemon", daemon_argv(workspace), env, log_dir),
        Process(
            "api",
            # One worker per core: its start-up only checks the store, migrated by `up` before (boot.open_store).
            api_argv(host, settings.api_port, settings.api_workers or os.cpu_count() or 1),
            env,
            log_dir,
            ready=Ready(port=settings.api_port, host=connect_host(host)),
        ),
    ]


# How long uvicorn keeps an idle keep-alive connection: longer than clients and proxies keep one (httpx 5 s, nginx
# and load balancers 60 s). At uvicorn's default (5 s, the same as httpx's), a request sent as the server closed the
# connection for idleness was reset (httpx.ReadError under load).
API_KEEP_ALIVE_SECONDS = 75


def api_argv(host: str, port: int, workers: int) -> list[str]:
    """uvicorn as `honeyframe up` runs the REST API (benchmarks/scale.py runs it the same way)."""
    argv = [str(BIN / "uvicorn"), "api.main:app", "--host", host, "--port", str(port), "--workers", str(workers)]
    return [*argv, "--timeout-keep-alive", str(API_KEEP_ALIVE_SECONDS)]


def summary(settings: Settings, log_dir: Path, mail_sink: bool, host: str = HOST) -> str:
    """What `honeyframe up` prints once everything answers: where things are and what to do first."""
    where = connect_host(host)
    lines = [
        "",
        "Honeyframe Scheduler is up.",
        f"  Dagster UI    http://{where}:{settings.ui_port}",
        f"  REST API      http://{where}:{settings.api_port}/docs",
        f"  Admin pages   http://{where}:{settings.api_port}/admin/templates",
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


def running_here(settings: Settings, host: str) -> tuple[tuple[str, str], Path]:
    """The URLs this `honeyframe up` serves (the Dagster UI's, the REST API's), and the home they are recorded in."""
    where = connect_host(host)
    return (f"http://{where}:{settings.ui_port}", f"http://{where}:{settings.api_port}"), settings.home_dir


@dataclass(frozen=True)
class Piece:
    """What `honeyframe up` starts: `all` on this machine, one shard's `code-server`, or the `ui` host's processes
    (webserver, daemon, API) over the code servers of HONEYFRAME_CODE_SERVERS (docs/deploy.md)."""

    only: str = "all"
    host: str = HOST
    port: int | None = None
    shard: tuple[int, int] | None = None


def plan_all(
    settings: Settings, engine: Engine, env: dict[str, str], piece: Piece, log_dir: Path, apply_examples: ApplyPaths
) -> Plan:
    ensure_manifest()
    load_examples_on_first_boot(settings, apply_examples)
    choice = choose_count(engine, settings.code_locations, settings.pairs_per_location, may_grow=True)
    print(f"[honeyframe] {choice.describe()}", flush=True)
    count, host = choice.count, piece.host
    locations = [(name, host, settings.code_server_port + index) for index, name in enumerate(location_names(count))]
    mail_sink = not settings.smtp_configured
    code_servers = f"HONEYFRAME_CODE_SERVER_PORT ({settings.code_server_port}) and the {count} port(s) after it"
    check_ports(
        host,
        [
            *((f"code location {name} ({code_servers})", port) for name, _, port in locations),
            (f"code location {WAREHOUSE_LOCATION} ({code_servers})", settings.code_server_port + count),
            ("the Dagster UI (HONEYFRAME_UI_PORT)", settings.ui_port),
            ("the REST API (HONEYFRAME_API_PORT)", settings.api_port),
            *([("the mail sink (HONEYFRAME_SMTP_PORT)", settings.smtp_port)] if mail_sink else []),
        ],
    )
    prepare_dagster_home(settings, env)
    servers = [shard_servers([(name, port) for name, _, port in locations], host, env, log_dir)]
    locations.append((WAREHOUSE_LOCATION, host, settings.code_server_port + count))
    servers.append(code_server(WAREHOUSE_LOCATION, WAREHOUSE_MODULE, host, locations[-1][2], env, log_dir))
    workspace = write_workspace(settings, [(name, connect_host(host), port) for name, _, port in locations])
    clients = ui_processes(settings, env, workspace, host, log_dir)
    if mail_sink:
        sink = [sys.executable, str(MAIL_SINK), HOST, str(settings.smtp_port), str(settings.home_dir / "mail")]
        servers.insert(0, Process("mail-sink", sink, env, log_dir))
    return Plan(servers, clients, summary(settings, log_dir, mail_sink, host), *running_here(settings, host), REPO_ROOT)


def plan_code_server(settings: Settings, engine: Engine, env: dict[str, str], piece: Piece, log_dir: Path) -> Plan:
    assert piece.shard is not None
    index, count = piece.shard
    with Session(engine) as session, session.begin():
        # The first piece to start chooses the count when none was; every other must agree with it.
        if stored_count(session) is None:
            save_count(session, count)
        check_shard(session, piece.shard)
    ensure_manifest()
    prepare_dagster_home(settings, env, migrate=False)
    name, port = shard_location_name(index, count), piece.port or settings.code_server_port + index
    server = code_server(name, SCENARIOS_MODULE, piece.host, port, shard_env(env, index, count), log_dir)
    text = f"\nCode location {name} (shard {index}/{count}) is up on {piece.host}:{port}; log: {server.log_path}\n"
    return Plan([server], [], text, cwd=REPO_ROOT)


def plan_ui(settings: Settings, engine: Engine, env: dict[str, str], piece: Piece, log_dir: Path) -> Plan:
    if not settings.code_servers:
        raise ValueError("HONEYFRAME_CODE_SERVERS is not set: name the code servers, host:port in shard order")
    addresses = settings.code_server_addresses
    count = len(addresses)
    with Session(engine) as session, session.begin():
        stored = stored_count(session)
        if stored is None:
            save_count(session, count)
        elif stored != count:
            raise ValueError(
                f"HONEYFRAME_CODE_SERVERS names {count} code server(s), but the store splits the projects over "
                f"{stored}: list one per shard, or change the count with `honeyframe shards --set N`"
            )
    prepare_dagster_home(settings, env)
    ensure_manifest()
    locations = [(shard_location_name(i, count), host, port) for i, (host, port) in enumerate(addresses)]
    for name, host, port in locations:
        wait_until(partial(port_open, port, host), f"code server {name} at {host}:{port}")
    # The warehouse location runs next to the webserver and daemon: one per deployment, whatever the shards.
    warehouse = code_server(WAREHOUSE_LOCATION, WAREHOUSE_MODULE, piece.host, settings.code_server_port, env, log_dir)
    workspace = write_workspace(
        settings, [*locations, (WAREHOUSE_LOCATION, connect_host(piece.host), settings.code_server_port)]
    )
    return Plan(
        [warehouse],
        ui_processes(settings, env, workspace, piece.host, log_dir),
        summary(settings, log_dir, False, piece.host),
        *running_here(settings, piece.host),
        REPO_ROOT,
    )


def up(piece: Piece, apply_examples: ApplyPaths) -> int:
    """Run `piece` of the stack; `apply_examples(paths, reload)` (the CLI's apply) loads examples/ into an empty
    store on the first `honeyframe up`."""
    settings = get_settings()
    env = child_environment(
        {
            "HONEYFRAME_HOME": str(settings.home_dir),
            "DAGSTER_DISABLE_TELEMETRY": "yes",
            "PYTHONWARNINGS": QUIET_WARNINGS,
        }
    )
    if settings.dagster_postgres_url:
        # Every Dagster process of every piece (and the run workers they start) reads the instance through it.
        env["HONEYFRAME_DAGSTER_POSTGRES_URL"] = dagster_postgres_url(settings.dagster_postgres_url)
    if piece.only != "code-server":
        env["HONEYFRAME_DAGSTER_URL"] = f"http://{connect_host(piece.host)}:{settings.ui_port}"
    log_dir = settings.home_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    engine = boot(settings)
    try:
        plans: dict[str, Callable[[Settings, Engine, dict[str, str], Piece, Path], Plan]] = {
            "all": partial(plan_all, apply_examples=apply_examples),
            "code-server": plan_code_server,
            "ui": plan_ui,
        }
        plan = plans[piece.only](settings, engine, env, piece, log_dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine.dispose()
    # This process becomes the lean supervisor of the plan (same process id): the product's code is not needed
    # to wait for Ctrl-C.
    hand_over(plan, settings.home_dir)
