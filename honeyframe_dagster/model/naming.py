"""Deterministic Dagster names for scenarios, checked unique."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, Literal, Protocol

# What Dagster instigator a scenario's trigger is (factory/triggers.py `build_trigger`).
TriggerKind = Literal["schedule", "sensor"]
_NOT_IDENTIFIER = re.compile(r"[^a-z0-9]+")


class Named(Protocol):
    """What a job name depends on (a ScenarioRecord)."""

    @property
    def id(self) -> int: ...
    @property
    def project_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def template_slug(self) -> str | None: ...


# A name is computed at every read that names jobs, for every scenario of the project: the same few texts, over and
# over (a pure function of the text).
@lru_cache(maxsize=65_536)
def _identifier(text: str) -> str:
    return _NOT_IDENTIFIER.sub("_", text.lower()).strip("_") or "scenario"


def project_identifier(project_id: str) -> str:
    """The prefix of a project's job names; different ids may share it (`a-b`, `a--b`), and so clash."""
    return _identifier(project_id)


def base_job_name(record: Named) -> str:
    return _base_name(record.project_id, record.template_slug or record.name)


def _base_name(project_id: str, text: str) -> str:
    """`<project>__<template slug or scenario name>`, before any clash suffix."""
    return f"{project_identifier(project_id)}__{_identifier(text)}"


def job_names(records: Iterable[Named]) -> dict[int, str]:
    """`<project>__<template slug or scenario name>`; a clash (e.g. 'a b' and 'a-b') gets `_<id>` on the newer
    (`_<id>_2`, … when that is taken too).

    Only `id`, `project_id`, `name` and `template_slug` matter: a name depends on the scenarios of the projects
    with the same identifier in the same code location (store/catalog.py `name_peers`), nothing else."""
    return assign_job_names(sorted((r.id, r.project_id, r.template_slug or r.name) for r in records))


def assign_job_names(scenarios: Iterable[Sequence[Any]]) -> dict[int, str]:
    """`job_names` of (id, project id, template slug or else name) rows in id order (store/catalog.py
    `stored_job_names` reads them so)."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    for scenario_id, project_id, text in scenarios:
        base = name = _base_name(project_id, text)
        # The suffixed name may itself be taken (`x`, then `x 3`, then `X` with id 3): Dagster would refuse the
        # duplicate and the whole code location, every project's schedules with it, would fail to load.
        attempt = 1
        while name in taken:
            name = f"{base}_{scenario_id}" + (f"_{attempt}" if attempt > 1 else "")
            attempt += 1
        taken.add(name)
        names[scenario_id] = name
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


def shard_attribute(index: int, count: int) -> str:
    """The attribute of the scenario module (honeyframe_dagster/definitions.py) that loads shard `index` of `count`,
    whatever HONEYFRAME_SHARD says: how one code server process serves several shards."""
    return f"shard_{index}_of_{count}"


def location_names(count: int) -> list[str]:
    """The code locations `make run` starts for `count` shards (HONEYFRAME_CODE_LOCATIONS)."""
    return [shard_location_name(index, count) for index in range(max(count, 1))]


def location_name(project_id: str, count: int) -> str:
    """The code location serving a project."""
    return shard_location_name(shard_of(project_id, max(count, 1)), count)
