"""The dbt project: its manifest, the recipes it offers, and its models as Dagster assets."""

import importlib.metadata
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from filelock import FileLock
from packaging import version

from honeyframe_dagster.resources.warehouse import WarehouseResource
from honeyframe_dagster.settings import DBT_PROJECT_DIR

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
RECIPE_RESOURCE_TYPES = ("model", "seed", "snapshot")
# Tables that only dbt builds: no dataset may load into them (a dataset may stand in for a seed).
BUILT_RESOURCE_TYPES = ("model", "snapshot")


class HoneyframeDbtTranslator(DagsterDbtTranslator):
    """dbt sources are warehouse tables that `sync_dataset` loads: their asset key is the table name."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["identifier"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # The project's folders (seeds, staging, marts) are the lineage's layers in the UI.
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else super().get_group_name(dbt_resource_props)


TRANSLATOR = HoneyframeDbtTranslator()


class HoneyframeDbtResource(DbtCliResource):
    """DbtCliResource without two costs it pays on every invocation that we have no use for — together about
    7 s of a 14 s `run_recipe` step on these machines: a `dbt --version` subprocess (the version is that of the
    installed dbt-core) and an in-process dbt adapter with all macros loaded, which dagster-dbt only needs for
    column metadata and row counts."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


def dbt_cli() -> DbtCliResource:
    # The dbt of this interpreter's environment, found even when the venv's bin/ is not on PATH.
    executable = Path(sys.executable).with_name("dbt")
    return HoneyframeDbtResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(executable) if executable.exists() else "dbt",
    )


PROJECT_INPUTS = ("models", "seeds", "macros", "snapshots", "dbt_project.yml", "profiles.yml")


def _stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    inputs = [DBT_PROJECT_DIR / name for name in PROJECT_INPUTS]
    files = [f for p in inputs if p.exists() for f in ([p] if p.is_file() else p.rglob("*"))]
    return any(path.stat().st_mtime > built for path in files)


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than its files (one process at a time)."""
    if _stale(MANIFEST_PATH):
        MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(MANIFEST_PATH) + ".lock"):
            if _stale(MANIFEST_PATH):
                dbt_cli().cli(["parse"], target_path=MANIFEST_PATH.parent).wait()
    return MANIFEST_PATH


def finish_invocation(invocation_target: Path) -> None:
    """After a dbt build: save its partial-parse state as the project's, so the next build with the same profile
    (warehouse path) skips dbt's full re-parse (dagster-dbt seeds every invocation from the project's copy), then
    remove the invocation's own target folder, which dagster-dbt leaves behind for every run."""
    state = invocation_target / PARTIAL_PARSE_FILE
    if state.exists():
        staged = MANIFEST_PATH.with_name(f".{PARTIAL_PARSE_FILE}.{os.getpid()}")
        shutil.copyfile(state, staged)
        os.replace(staged, MANIFEST_PATH.with_name(PARTIAL_PARSE_FILE))
    shutil.rmtree(invocation_target, ignore_errors=True)


@cache
def load_manifest() -> dict[str, Any]:
    return json.loads(ensure_manifest().read_text())


def recipe_names(manifest: Mapping[str, Any]) -> frozenset[str]:
    """The names a `run_recipe` step may select: dbt models, seeds and snapshots."""
    return frozenset(
        node["name"] for node in manifest["nodes"].values() if node["resource_type"] in RECIPE_RESOURCE_TYPES
    )


def built_names(manifest: Mapping[str, Any]) -> frozenset[str]:
    """The tables only dbt writes: its models and snapshots (see model/tenancy.py)."""
    return frozenset(
        node["name"] for node in manifest["nodes"].values() if node["resource_type"] in BUILT_RESOURCE_TYPES
    )


def build_dbt_assets(manifest: Mapping[str, Any]) -> AssetsDefinition:
    """The whole dbt project as assets, so the UI shows its lineage and scenario runs fill its history."""

    @dbt_assets(manifest=manifest, dagster_dbt_translator=TRANSLATOR, name="dbt_project")
    def dbt_project_assets(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        yield from dbt_build(dbt, warehouse, ["build"], context=context)

    return dbt_project_assets


def dbt_build(dbt: DbtCliResource, warehouse: WarehouseResource, args: list[str], **cli_args: Any) -> Iterator[Any]:
    """A dbt command's Dagster events, run on the Honeyframe warehouse while holding its writers' lock (dbt opens
    the DuckDB file for the whole build, so parallel writers wait instead of failing)."""
    warehouse.export_for_dbt()
    with warehouse.exclusive():
        invocation = dbt.cli(args, **cli_args)
        yield from invocation.stream()
    finish_invocation(invocation.target_path)
