"""Whether a code location may serve from the store: read-only checks, no migration.

Migrations, the legacy migration and the drift check run in `honeyframe init`, `honeyframe up` and the API's
start-up (honeyframe_dagster.boot); a code location, a run worker or anything else that imports the definitions
only reads, and refuses a store that is not ready with the command that makes it so.
"""

from __future__ import annotations

from sqlalchemy import Engine

from honeyframe_dagster.legacy.drift import check_drift
from honeyframe_dagster.legacy.migrate import legacy_failures
from honeyframe_dagster.legacy.tables import present_legacy_tables
from honeyframe_dagster.store import schema


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
