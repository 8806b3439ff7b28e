"""Where the running system answers: `honeyframe up` records its URLs under HONEYFRAME_HOME while it runs, and a
CLI command in another terminal (same HONEYFRAME_HOME) reads them when no setting says where Dagster is.

Which URL a command uses, first match wins: HONEYFRAME_DAGSTER_URL; HONEYFRAME_UI_PORT (the webserver on this
machine at that port); the URLs `honeyframe up` recorded, while the process that recorded them lives; the default
port. The environment is read by settings.py only: this module reads the settings and the recorded file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from honeyframe_dagster.settings import Settings

RUNNING_FILE = "running.json"
# The settings that tell the CLI where the system is (named in the messages of a command that cannot reach it).
WHERE_SETTINGS = "HONEYFRAME_DAGSTER_URL (or HONEYFRAME_UI_PORT) and HONEYFRAME_HOME"


@dataclass(frozen=True)
class RunningSystem:
    """What `honeyframe up` started here: the Dagster UI's and the REST API's URLs, and its own process id."""

    dagster_url: str
    api_url: str
    pid: int


def running_path(home: Path) -> Path:
    return home / RUNNING_FILE


def record_running(home: Path, system: RunningSystem) -> None:
    """Write the record atomically (a reader never sees half of it)."""
    path = running_path(home)
    staged = path.with_name(f".{RUNNING_FILE}.{os.getpid()}")
    staged.write_text(json.dumps(asdict(system), indent=2) + "\n")
    os.replace(staged, path)


def forget_running(home: Path, pid: int) -> None:
    """Remove the record if `pid` wrote it (another `honeyframe up` on this home keeps its own)."""
    recorded = _read(running_path(home))
    if recorded is not None and recorded.pid == pid:
        running_path(home).unlink(missing_ok=True)


def read_running(home: Path) -> RunningSystem | None:
    """The recorded system, None when there is none or the process that recorded it is gone (a stale record)."""
    recorded = _read(running_path(home))
    if recorded is None or not _alive(recorded.pid):
        return None
    return recorded


def _read(path: Path) -> RunningSystem | None:
    try:
        data = json.loads(path.read_text())
        return RunningSystem(str(data["dagster_url"]), str(data["api_url"]), int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dagster_url(settings: Settings) -> str:
    """The Dagster webserver a CLI command talks to ("" when HONEYFRAME_DAGSTER_URL="" says there is none)."""
    if settings.dagster_url is not None or "ui_port" in settings.model_fields_set:
        return settings.dagster_webserver_url
    recorded = read_running(settings.home_dir)
    return recorded.dagster_url if recorded is not None else settings.dagster_webserver_url


def api_url(settings: Settings) -> str:
    """The REST API's base URL: HONEYFRAME_API_PORT when set, else what `honeyframe up` recorded, else the default."""
    if "api_port" not in settings.model_fields_set:
        recorded = read_running(settings.home_dir)
        if recorded is not None:
            return recorded.api_url
    return f"http://127.0.0.1:{settings.api_port}"


def unreachable_hint(settings: Settings) -> str:
    """What to set when the system does not answer where a command looked."""
    recorded = read_running(settings.home_dir)
    found = (
        f"`honeyframe up` (pid {recorded.pid}) recorded it in {settings.home_dir}"
        if recorded is not None
        else f"no running `honeyframe up` is recorded in {settings.home_dir}"
    )
    return f"{found}; if the system runs elsewhere or on other ports, set {WHERE_SETTINGS} as it was started with"
