"""Deterministic Dagster names for scenarios, checked unique."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from typing import Literal

from honeyframe_dagster.model.scenario import ScenarioRecord

# What Dagster instigator a scenario's trigger is (factory/triggers.py `build_trigger`).
TriggerKind = Literal["schedule", "sensor"]
_NOT_IDENTIFIER = re.compile(r"[^a-z0-9]+")


def _identifier(text: str) -> str:
    return _NOT_IDENTIFIER.sub("_", text.lower()).strip("_") or "scenario"


def project_identifier(project_id: str) -> str:
    """The prefix of a project's job names; different ids may share it (`a-b`, `a--b`), and so clash."""
    return _identifier(project_id)


def base_job_name(record: ScenarioRecord) -> str:
    return f"{project_identifier(record.project_id)}__{_identifier(record.template_slug or record.name)}"


def job_names(records: Iterable[ScenarioRecord]) -> dict[int, str]:
    """`<project>__<template slug or scenario name>`; a clash (e.g. 'a b' and 'a-b') gets `_<id>` on the newer
    (`_<id>_2`, … when that is taken too).

    Only `id`, `project_id`, `name` and `template_slug` matter: a name depends on the scenarios of the projects
    with the same identifier in the same code location (store/catalog.py `name_peers`), nothing else."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    for record in sorted(records, key=lambda r: r.id):
        base = name = base_job_name(record)
        # The suffixed name may itself be taken (`x`, then `x 3`, then `X` with id 3): Dagster would refuse the
        # duplicate and the whole code location, every project's schedules with it, would fail to load.
        attempt = 1
        while name in taken:
            name = f"{base}_{record.id}" + (f"_{attempt}" if attempt > 1 else "")
            attempt += 1
        taken.add(name)
        names[record.id] = name
    return names


def trigger_name(job_name: str, kind: TriggerKind) -> str:
    """`<job>_schedule` for a time trigger on a cron grid (model/schedule_grid.py), else `<job>_sensor`."""
    return f"{job_name}_{kind}"


def in_shard(project_id: str, shard: tuple[int, int] | None) -> bool:
    """Stable across processes and machines (crc32, never Python's salted hash())."""
    return shard is None or shard_of(project_id, shard[1]) == shard[0]


LOCATION_NAME = "honeyframe"
# The dbt assets, datasets and the heartbeat: one location per deployment (honeyframe_dagster.warehouse_definitions).
WAREHOUSE_LOCATION = "warehouse"


def shard_of(project_id: str, count: int) -> int:
    return zlib.crc32(project_id.encode()) % count


def shard_location_name(index: int, count: int) -> str:
    return LOCATION_NAME if count <= 1 else f"{LOCATION_NAME}_{index}"


def location_names(count: int) -> list[str]:
    """The code locations `make run` starts for `count` shards (HONEYFRAME_CODE_LOCATIONS)."""
    return [shard_location_name(index, count) for index in range(max(count, 1))]


def location_name(project_id: str, count: int) -> str:
    """The code location serving a project."""
    return shard_location_name(shard_of(project_id, max(count, 1)), count)
