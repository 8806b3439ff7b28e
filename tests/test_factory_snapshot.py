"""A snapshot of everything the factory builds from `examples/`: any change to a job, op, dependency, trigger,
partitioning or warehouse asset shows up as a diff of `__snapshots__/test_factory_snapshot.ambr` in review.

After an intended change: `.venv/bin/pytest tests/test_factory_snapshot.py --snapshot-update`, then read the diff.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    Definitions,
    JobDefinition,
    OpDefinition,
    ResourceDefinition,
    RunStatusSensorDefinition,
    ScheduleDefinition,
    SensorDefinition,
    TimeWindowPartitionsDefinition,
)
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from honeyframe_dagster.cli import main as honeyframe

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def _partitions(job: JobDefinition) -> dict[str, Any] | None:
    partitions = job.partitions_def
    if partitions is None:
        return None
    assert isinstance(partitions, TimeWindowPartitionsDefinition), partitions
    return {
        "cron": partitions.cron_schedule,
        "timezone": partitions.timezone,
        "fmt": partitions.fmt,
        "start": partitions.start.isoformat(),
        "end_offset": partitions.end_offset,
    }


def _executor(job: JobDefinition) -> dict[str, Any]:
    executor = job.executor_def
    # A configured executor (the parallel one) holds its config in its config mapping.
    configured = executor.apply_config_mapping({}).value if executor.has_config_field else None
    return {"name": executor.name, "config": (configured or {}).get("config")}


def _config_fields(resource: ResourceDefinition) -> list[str] | str:
    """A resource's config fields, or the kind of its config when it has none (`Any`: nothing to fill)."""
    config_type = resource.config_schema.as_field().config_type
    fields = getattr(config_type, "fields", None)
    return sorted(fields) if fields is not None else config_type.kind.value


def _job(job: JobDefinition) -> dict[str, Any]:
    structure = job.graph.dependency_structure
    nodes = {}
    for node in sorted(job.graph.nodes, key=lambda n: n.name):
        policy = node.retry_policy or job.op_retry_policy
        assert isinstance(node.definition, OpDefinition), node  # the factory builds flat graphs of ops
        nodes[node.name] = {
            "op": node.definition.name,
            "after": sorted(o.node.name for o in structure.all_upstream_outputs_from_node(node.name)),
            "hooks": sorted(hook.name for hook in node.hook_defs),
            "retry": None
            if policy is None
            else {"max_retries": policy.max_retries, "delay": policy.delay, "backoff": str(policy.backoff)},
            "required_resources": sorted(node.definition.required_resource_keys),
        }
    return {
        "description": job.description,
        "tags": dict(sorted(job.tags.items())),
        "executor": _executor(job),
        "partitions": _partitions(job),
        "nodes": nodes,
        # Lean jobs: only the resources their ops use, none with a config field (factory/resources.py).
        "resources": {key: _config_fields(job.resource_defs[key]) for key in sorted(job.resource_defs)},
    }


def _sensor(sensor: SensorDefinition) -> dict[str, Any]:
    jobs = sorted(target.job_name for target in sensor.targets) if sensor.has_jobs else []
    described: dict[str, Any] = {
        "job": jobs[0] if len(jobs) == 1 else None,
        "type": sensor.sensor_type.value,
        "minimum_interval_seconds": sensor.minimum_interval_seconds,
        "default_status": sensor.default_status.value,
        "description": sensor.description,
    }
    if isinstance(sensor, RunStatusSensorDefinition):
        # Dagster keeps no public accessor for the jobs a run-status sensor watches.
        monitored = sensor._monitored_jobs  # noqa: SLF001
        assert all(isinstance(job, JobDefinition) for job in monitored), monitored
        described["monitored_jobs"] = sorted(job.name for job in monitored if isinstance(job, JobDefinition))
    if len(jobs) > 1:
        described["jobs"] = jobs
    return described


def _schedule(schedule: ScheduleDefinition) -> dict[str, Any]:
    return {
        "job": schedule.job_name,
        "cron": schedule.cron_schedule,
        "timezone": schedule.execution_timezone,
        "default_status": schedule.default_status.value,
        "description": schedule.description,
    }


def _location(defs: Definitions) -> dict[str, Any]:
    repository = defs.get_repository_def()
    return {
        "jobs": {job.name: _job(job) for job in sorted(repository.get_all_jobs(), key=lambda j: j.name)},
        "sensors": {s.name: _sensor(s) for s in sorted(repository.sensor_defs, key=lambda s: s.name)},
        "schedules": {s.name: _schedule(s) for s in sorted(repository.schedule_defs, key=lambda s: s.name)},
        "resources": {key: type(value).__name__ for key, value in sorted((defs.resources or {}).items())},
    }


def _assets(defs: Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    return {
        key.to_user_string(): {
            "group": graph.get(key).group_name,
            "deps": sorted(parent.to_user_string() for parent in graph.get(key).parent_keys),
        }
        for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
    }


@pytest.fixture
def examples_applied(hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The production retry delays, not the shortened ones tests run with (tests/conftest.py).
    monkeypatch.delenv("HONEYFRAME_RETRY_DELAY_SECONDS", raising=False)
    monkeypatch.delenv("HONEYFRAME_SMTP_RETRY_DELAY_SECONDS", raising=False)
    # Scenario ids (in the jobs' tags) are stable: a fresh store, and `apply` reads the files in name order.
    assert honeyframe(["apply", str(EXAMPLES_DIR)]) == 0


def test_the_factory_builds_from_the_examples_what_the_snapshot_shows(
    examples_applied: None,
    load_defs: Callable[[], Definitions],
    load_warehouse: Callable[[], Definitions],
    snapshot: SnapshotAssertion,
) -> None:
    warehouse = load_warehouse()
    built = {
        "scenarios": _location(load_defs()),
        "warehouse": {**_location(warehouse), "assets": _assets(warehouse)},
    }
    assert built == snapshot(extension_class=JSONSnapshotExtension)
