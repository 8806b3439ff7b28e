"""The one boot step that the CLI, the API and the code location all go through."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from honeyframe_dagster.legacy.drift import SchemaDriftError, check_drift
from honeyframe_dagster.legacy.migrate import migrate_legacy
from honeyframe_dagster.model.naming import in_shard
from honeyframe_dagster.model.scenario import Catalog
from honeyframe_dagster.settings import Settings
from honeyframe_dagster.store import schema
from honeyframe_dagster.store.catalog import load_catalog
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ProjectRow


def boot(settings: Settings) -> Engine:
    """Upgrade the store's schema, migrate legacy schedules, refuse to go on if any are left; return the engine.

    Raises `SchemaDriftError` (honeyframe_dagster.legacy.drift) naming the legacy tables that remain.
    """
    engine = get_engine(settings.store_url)
    schema.upgrade(engine)
    report = migrate_legacy(engine)
    check_drift(engine, report.failures)
    return engine


def open_store(settings: Settings) -> Engine:
    """The store as a process that may run several times at once (the API's uvicorn workers) opens it: only check
    a store that `honeyframe up` or `honeyframe init` already migrated, so that concurrent starts never race on a
    migration; migrate (boot) only a store that is behind or still has legacy tables (a lone API process)."""
    engine = get_engine(settings.store_url)
    if schema.is_current(engine):
        try:
            check_drift(engine)
            return engine
        except SchemaDriftError:
            pass
    return boot(settings)


def shard_catalog(engine: Engine, shard: tuple[int, int] | None) -> Catalog:
    """The projects of one shard; `ShardCountMismatch` when `shard` splits them differently than the store says."""
    from honeyframe_dagster.shards import check_shard

    with Session(engine) as session:
        check_shard(session, shard)
        if shard is None:
            return load_catalog(session)
        project_ids = [p for p in session.scalars(select(ProjectRow.id)) if in_shard(p, shard)]
        return load_catalog(session, project_ids)
