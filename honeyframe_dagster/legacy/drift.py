"""Schema-drift check: legacy schedule tables left after the migration step mean an incomplete upgrade."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from honeyframe_dagster.legacy.migrate import RowFailure
from honeyframe_dagster.legacy.tables import DROP_SCRIPT, present_legacy_tables


class SchemaDriftError(RuntimeError):
    """Boot refuses to go on: both the legacy schedulers' tables and the Scheduler would schedule."""

    def __init__(self, tables: Sequence[str], failures: Sequence[RowFailure] = ()) -> None:
        self.tables, self.failures = list(tables), list(failures)
        lines = [
            f"incomplete upgrade: legacy schedule table(s) {', '.join(self.tables)} still exist in the store "
            "database, so the Scheduler refuses to start (it would schedule them twice)."
        ]
        if self.failures:
            lines.append(f"{len(self.failures)} legacy row(s) could not be migrated:")
            lines.extend(f"  {failure}" for failure in self.failures)
            lines.append("Fix or delete those rows and boot again (e.g. `honeyframe init`), or")
        else:
            lines.append("Boot again (e.g. `honeyframe init`) to finish the migration, or")
        lines.append(f"drop the tables by hand with {DROP_SCRIPT} once nothing in them is needed.")
        super().__init__("\n".join(lines))


def check_drift(engine: Engine, failures: Sequence[RowFailure] = ()) -> None:
    with engine.connect() as connection:
        tables = present_legacy_tables(connection)
    if tables:
        raise SchemaDriftError(tables, failures)
