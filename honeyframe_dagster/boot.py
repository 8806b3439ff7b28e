"""The one boot step that the CLI, the API and the code location all go through: `boot` migrates (the store's
schema, then the legacy schedules) in `honeyframe init`, `honeyframe up` and the API's start-up; `check_ready` is
its read-only counterpart for a code location, a run worker or anything else that imports the definitions: it
refuses a store that is not ready with the command that makes it so.
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from honeyframe_dagster.legacy.drift import SchemaDriftError, check_drift
from honeyframe_dagster.legacy.migrate import legacy_failures, migrate_legacy
from honeyframe_dagster.legacy.tables import present_legacy_tables
from honeyframe_dagster.model.compiled import CompiledScenarios
from honeyframe_dagster.model.naming import in_shard
from honeyframe_dagster.settings import Settings
from honeyframe_dagster.store import schema
from honeyframe_dagster.store.catalog import load_catalog
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow
from honeyframe_dagster.store.versions import compile_scenario, load_compiled, uncompiled
from honeyframe_dagster.store.writes import lock_projects


def boot(settings: Settings) -> Engine:
    """Upgrade the store's schema, migrate legacy schedules, refuse to go on if any are left; return the engine.

    Raises `SchemaDriftError` (honeyframe_dagster.legacy.drift) naming the legacy tables that remain.
    """
    engine = get_engine(settings.store_url)
    schema.upgrade(engine)
    report = migrate_legacy(engine)
    check_drift(engine, report.failures)
    compile_stored(engine)
    return engine


def compile_stored(engine: Engine) -> None:
    """Compile the scenarios never compiled: a store written before scenario versions existed (store/versions.py);
    their first version is by `upgrade`."""
    from honeyframe_dagster.dbt import load_manifest, recipe_names

    with Session(engine) as session, session.begin():
        rows = [row for row in uncompiled(session) if row.version is None and row.compile_error is None]
        if not rows:
            return
        projects = {row.project_id for row in rows}
        lock_projects(session, projects)
        catalog = load_catalog(session, projects)
        recipes = recipe_names(load_manifest())
        for row in rows:
            compile_scenario(session, row, catalog, recipes, "upgrade")


class StoreNotReady(RuntimeError):
    """The store's schema is behind this code (or was never created)."""


def check_ready(engine: Engine) -> None:
    """Raise `StoreNotReady` for a schema behind head, `SchemaDriftError` for legacy tables left; both say to run
    `honeyframe init`."""
    current, head = schema.current_revision(engine), schema.head_revision()
    if current != head:
        found = f"at revision {current}" if current else "not created"
        raise StoreNotReady(
            f"the scenario store ({engine.url.render_as_string(hide_password=True)}) is {found}, this code needs "
            f"revision {head}: run `honeyframe init` (or `honeyframe up`) to migrate it, then reload this code "
            "location"
        )
    with engine.connect() as connection:
        drift = bool(present_legacy_tables(connection))
    # Name the rows that block the migration, as `honeyframe init` would, without migrating anything here.
    check_drift(engine, legacy_failures(engine) if drift else ())


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


def shard_scenarios(engine: Engine, shard: tuple[int, int] | None) -> CompiledScenarios:
    """The compiled scenarios of one shard; `ShardCountMismatch` when `shard` splits the projects differently than
    the store says."""
    from honeyframe_dagster.shards import check_shard

    with Session(engine) as session:
        check_shard(session, shard)
        paused = set(session.scalars(select(ProjectRow.id).where(ProjectRow.paused_at.is_not(None))))
        if shard is None:
            return load_compiled(session, ScenarioRow.id.is_not(None)).stopped(paused)
        project_ids = [p for p in session.scalars(select(ProjectRow.id)) if in_shard(p, shard)]
        return load_compiled(session, ScenarioRow.project_id.in_(project_ids)).stopped(paused)
