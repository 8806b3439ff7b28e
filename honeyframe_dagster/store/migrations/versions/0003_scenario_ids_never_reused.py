"""scenario ids are never reused (SQLite AUTOINCREMENT)

Run history lives in Dagster, found by the tag honeyframe/scenario_id; a deleted scenario's id must not be
handed to a new scenario, or the new one would inherit the old one's runs. Postgres sequences never reuse ids;
SQLite does unless the table is declared AUTOINCREMENT.

Revision ID: 0003
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARTIAL_INDEXES = (
    ("uq_scenarios_project_name", "template_slug IS NULL"),
    ("uq_scenarios_project_template", "template_slug IS NOT NULL"),
)


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("scenarios", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass
    # Reflection may drop the WHERE of partial indexes: recreate them exactly.
    for name, where in _PARTIAL_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
        columns = ["project_id", "name"] if name.endswith("_name") else ["project_id", "template_slug"]
        op.create_index(name, "scenarios", columns, unique=True, sqlite_where=sa.text(where))


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)
