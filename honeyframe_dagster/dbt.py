"""The dbt project: its manifest, the recipes it offers, and its models as Dagster assets."""

import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from filelock import FileLock

from honeyframe_dagster.settings import DBT_PROJECT_DIR

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
RECIPE_RESOURCE_TYPES = ("model", "seed", "snapshot")


class HoneyframeDbtTranslator(DagsterDbtTranslator):
    """dbt sources are warehouse tables that `sync_dataset` loads: their asset key is the table name."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["identifier"]])
        return super().get_asset_key(dbt_resource_props)


TRANSLATOR = HoneyframeDbtTranslator()


def dbt_cli() -> DbtCliResource:
    # The dbt of this interpreter's environment, found even when the venv's bin/ is not on PATH.
    executable = Path(sys.executable).with_name("dbt")
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(executable) if executable.exists() else "dbt",
    )


def _stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [
        p for p in DBT_PROJECT_DIR.rglob("*") if p.suffix in {".sql", ".yml", ".csv"} and "target" not in p.parts
    ]
    return any(path.stat().st_mtime > built for path in sources)


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than its files (one process at a time)."""
    if _stale(MANIFEST_PATH):
        MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(MANIFEST_PATH) + ".lock"):
            if _stale(MANIFEST_PATH):
                dbt_cli().cli(["parse"], target_path=MANIFEST_PATH.parent).wait()
    return MANIFEST_PATH


def keep_partial_parse(invocation_target: Path) -> None:
    """Save a build's partial-parse state as the project's, so the next build with the same profile (warehouse
    path) skips dbt's full re-parse; dagster-dbt seeds every invocation from the project's copy."""
    state = invocation_target / PARTIAL_PARSE_FILE
    if state.exists():
        staged = MANIFEST_PATH.with_name(f".{PARTIAL_PARSE_FILE}.{os.getpid()}")
        shutil.copyfile(state, staged)
        os.replace(staged, MANIFEST_PATH.with_name(PARTIAL_PARSE_FILE))


@cache
def load_manifest() -> dict[str, Any]:
    return json.loads(ensure_manifest().read_text())


def recipe_names(manifest: Mapping[str, Any]) -> frozenset[str]:
    """The names a `run_recipe` step may select: dbt models, seeds and snapshots."""
    return frozenset(
        node["name"] for node in manifest["nodes"].values() if node["resource_type"] in RECIPE_RESOURCE_TYPES
    )


def build_dbt_assets(manifest: Mapping[str, Any]) -> AssetsDefinition:
    """The whole dbt project as assets, so the UI shows its lineage and scenario runs fill its history."""

    @dbt_assets(manifest=manifest, dagster_dbt_translator=TRANSLATOR, name="dbt_project")
    def dbt_project_assets(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        yield from dbt.cli(["build"], context=context).stream()

    return dbt_project_assets
