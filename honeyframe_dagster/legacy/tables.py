"""Which legacy schedule tables a database still holds."""

from __future__ import annotations

from sqlalchemy import Connection, inspect

# The three schedule surfaces of old installs (../shared/legacy/legacy_schema.sql), in migration order.
LEGACY_TABLES = ("report_schedules", "pipeline_schedules", "project_cron_jobs")
DROP_SCRIPT = "scripts/migrations/drop_pipeline_schedules.sql"


def present_legacy_tables(connection: Connection) -> list[str]:
    names = set(inspect(connection).get_table_names())
    return [table for table in LEGACY_TABLES if table in names]
