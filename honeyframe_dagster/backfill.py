"""`honeyframe backfill`: queue runs for a cron scenario's past instants through Dagster's own backfill CLI.

It only adds what `dagster job backfill` needs and a person should not have to know: the absolute
DAGSTER_HOME of `honeyframe up`, the workspace of its code servers (or the repository's `workspace.yaml` when
the stack is not running), the scenario's code location, and the partition keys of the instants in a range.
"""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from dagster._utils.schedules import cron_string_iterator

from honeyframe_dagster.boot import boot, shard_scenarios
from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.dbt import load_manifest, recipe_names
from honeyframe_dagster.factory.plan import PlannedScenario, plan
from honeyframe_dagster.factory.triggers import cron_partitions
from honeyframe_dagster.model.naming import LOCATION_NAME, location_name
from honeyframe_dagster.settings import REPO_ROOT, Settings, child_environment, get_settings
from honeyframe_dagster.shards import location_count

BIN = Path(sys.executable).parent
# More runs than this in one call is almost always a wrong range; split it if it is not.
MAX_PARTITIONS = 1000


class BackfillError(ValueError):
    """A backfill that cannot be queued; the message says which argument is wrong."""


def find_scenario(settings: Settings, name: str) -> PlannedScenario:
    """A scenario by job name (`acme_sales__nightly`) or PROJECT/NAME (`acme-sales/nightly-mart-refresh`)."""
    planned = plan(shard_scenarios(boot(settings), None), recipe_names(load_manifest()))
    project, _, scenario = name.partition("/")
    for entry in planned:
        by_name = scenario and entry.record.project_id == project and entry.record.name == scenario
        if entry.job_name == name or by_name:
            return entry
    raise BackfillError(f"scenario: no scenario {name!r} (use a job name from `honeyframe list`, or PROJECT/NAME)")


def parse_bound(value: str, timezone: str, end: bool) -> dt.datetime:
    """An ISO date is the whole day in the scenario's timezone; a datetime without offset is in it too."""
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            start = dt.datetime.combine(day, dt.time(), ZoneInfo(timezone))
            return start + dt.timedelta(days=1) - dt.timedelta(microseconds=1) if end else start
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        flag = "--to" if end else "--from"
        raise BackfillError(f"{flag}: {value!r} is not an ISO 8601 date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))


def partition_keys(entry: PlannedScenario, start: str, end: str, now: dt.datetime) -> list[str]:
    spec = entry.spec
    if spec is None:
        raise BackfillError(f"scenario: {entry.error}")
    if spec.trigger.cron is None:
        raise BackfillError(
            f"scenario: '{entry.job_name}' has a trigger of kind {spec.trigger.kind}; only cron scenarios backfill"
        )
    low, high = parse_bound(start, spec.timezone, end=False), parse_bound(end, spec.timezone, end=True)
    high = min(high, now)
    if high < low:
        raise BackfillError(f"--to: {end!r} is before --from {start!r} (or in the future)")
    partitions = cron_partitions(spec.trigger.cron, spec.timezone)
    keys: list[str] = []
    for instant in cron_string_iterator(low.timestamp(), spec.trigger.cron, spec.timezone):
        if instant > high:
            break
        keys.append(instant.strftime(partitions.fmt))
        if len(keys) > MAX_PARTITIONS:
            raise BackfillError(f"--from/--to: more than {MAX_PARTITIONS} instants; backfill a shorter range")
    if not keys:
        raise BackfillError(f"--from/--to: '{entry.job_name}' has no instant between {start} and {end}")
    return keys


def workspace(settings: Settings, project_id: str) -> tuple[Path, str]:
    """The workspace file and the project's location in it: the running stack's code servers when they answer,
    else the repository's in-process workspace (one location, every project)."""
    grpc = settings.home_dir / "workspace.grpc.yaml"
    if grpc.exists():
        location = location_name(project_id, location_count(boot(settings), settings.code_locations or 1))
        servers = {
            entry["grpc_server"]["location_name"]: entry["grpc_server"]
            for entry in yaml.safe_load(grpc.read_text())["load_from"]
        }
        if location in servers:
            try:
                socket.create_connection((servers[location]["host"], servers[location]["port"]), 1).close()
                return grpc, location
            except OSError:
                pass
    return REPO_ROOT / "workspace.yaml", LOCATION_NAME


def backfill(scenario: str, start: str, end: str, dry_run: bool = False) -> int:
    settings = get_settings()
    entry = find_scenario(settings, scenario)
    keys = partition_keys(entry, start, end, utcnow())
    print(f"{entry.job_name}: {len(keys)} partition(s): {', '.join(keys)}")
    if dry_run:
        return 0
    home = settings.dagster_home_dir
    workspace_file, location = workspace(settings, entry.record.project_id)
    argv = [
        str(BIN / "dagster"),
        "job",
        "backfill",
        "-w",
        str(workspace_file),
        "-l",
        location,
        "-j",
        entry.job_name,
        "--partitions",
        ",".join(keys),
        "--noprompt",
    ]
    return subprocess.run(argv, env=child_environment({"DAGSTER_HOME": str(home)}), cwd=REPO_ROOT).returncode
