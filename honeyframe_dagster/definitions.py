"""The code location: `dagster dev -m honeyframe_dagster.definitions` or `workspace.yaml` load `defs`."""

from __future__ import annotations

from dagster import Definitions

from honeyframe_dagster.boot import boot, shard_catalog
from honeyframe_dagster.dbt import load_manifest, recipe_names
from honeyframe_dagster.factory.definitions import build_definitions
from honeyframe_dagster.factory.plan import plan
from honeyframe_dagster.settings import get_settings


def load_definitions() -> Definitions:
    settings = get_settings()
    engine = boot(settings)
    manifest = load_manifest()
    catalog = shard_catalog(engine, settings.shard_slice)
    planned = plan(catalog, recipe_names(manifest), settings.shard_slice)
    return build_definitions(planned, manifest, catalog.datasets.values())


defs = load_definitions()
