"""What a scenario job binds: only the resources its ops use, none of them with run config.

A resource's run-config fields become part of every job's config schema, which is most of a job's Dagster snapshot
and of the time to build it (docs/deploy.md has the figures). Here each resource is built from the settings of the
process that runs the step, and each step's config travels in the run's config (factory/run_config.py), so no
resource needs config: Dagster's UI shows what each job uses, and its launchpad no fields to fill.

The ops still name their resources by type (`scenarios: ScenarioStoreResource`): that is how Dagster knows which
keys an op requires (`required_resource_keys`), which is what `job_resources` binds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from dagster import (
    ExecutorDefinition,
    HookDefinition,
    InitResourceContext,
    IOManager,
    LoggerDefinition,
    OpDefinition,
    ResourceDefinition,
    colored_console_logger,
    in_process_executor,
    io_manager,
)
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager

from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.resources.warehouse import WarehouseResource
from honeyframe_dagster.settings import Settings, get_settings
from honeyframe_dagster.steps.ops import STEP_OPS

# Resource key → how to build it from the settings: the shared ones, then each step kind's (steps/<kind>/op.py).
BUILDERS: Mapping[str, Callable[[Settings], Any]] = {
    "scenarios": ScenarioStoreResource.from_settings,
    "warehouse": WarehouseResource.from_settings,
    **{key: build for entry in STEP_OPS.values() for key, build in entry.resources.items()},
}


@io_manager(description="Step outputs (every step's is `Nothing`), under the instance's storage directory.")
def step_outputs_io_manager(context: InitResourceContext) -> IOManager:
    # Dagster's default `fs_io_manager` with its `base_dir` default, minus the config field every job would carry.
    assert context.instance is not None
    return PickledObjectFilesystemIOManager(base_dir=context.instance.storage_directory())


@cache
def resource_definition(key: str) -> ResourceDefinition:
    """The resource `key`, built when a run starts from that process's settings (its environment)."""
    build = BUILDERS[key]
    summary = " ".join((build.__doc__ or "").split("\n\n")[0].split())  # the builder's first paragraph
    return ResourceDefinition(resource_fn=lambda _context: build(get_settings()), description=summary or None)


def job_resources(nodes: Iterable[OpDefinition], hooks: Iterable[HookDefinition] = ()) -> dict[str, ResourceDefinition]:
    """The resources that `nodes` and the hooks on them require, and the step-outputs IO manager."""
    keys = {key for node in nodes for key in node.required_resource_keys}
    keys |= {key for hook in hooks for key in hook.required_resource_keys}
    return {"io_manager": step_outputs_io_manager, **{key: resource_definition(key) for key in sorted(keys)}}


def location_resources() -> dict[str, ResourceDefinition]:
    """Every resource a scenario location's jobs may bind: what Dagster's UI lists under the location."""
    return {"io_manager": step_outputs_io_manager, **{key: resource_definition(key) for key in sorted(BUILDERS)}}


# Dagster's in-process executor and console logger with their defaults, exposing no config fields.
IN_PROCESS_EXECUTOR: ExecutorDefinition = in_process_executor.configured({}, name="in_process")
LOGGERS: dict[str, LoggerDefinition] = {"console": colored_console_logger.configured({})}
