"""warehouse tables belong to one project

A warehouse table is claimed by the first project that declares it (a dataset's table, a run_agent output
table); see honeyframe_dagster/model/tenancy.py. Existing datasets and scenarios claim their tables here,
oldest first; a later claim on a table that is taken is left out (and refused when it is next applied or run).

Revision ID: 0006
Revises: 0005
"""
import datetime as dt
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _existing_claims(connection: sa.Connection) -> dict[str, str]:
    """Table (lower-case) -> project, from datasets and then hand-written scenarios' run_agent steps."""
    claims: dict[str, str] = {}
    datasets = connection.execute(sa.text("SELECT project_id, id, document FROM datasets ORDER BY created_at, id"))
    for project_id, dataset_id, document in datasets:
        document = _json(document)
        table = document.get("table") or dataset_id.replace("-", "_").replace(".", "_")
        claims.setdefault(table.lower(), project_id)
    scenarios = connection.execute(
        sa.text("SELECT project_id, steps FROM scenarios WHERE template_slug IS NULL ORDER BY id")
    )
    for project_id, steps in scenarios:
        for step in _json(steps) or []:
            if isinstance(step, dict) and step.get("kind") == "run_agent" and isinstance(step.get("output_table"), str):
                claims.setdefault(step["output_table"].lower(), project_id)
    return claims


def _json(value):  # type: ignore[no-untyped-def]
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    table = op.create_table(
        'warehouse_tables',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_index(op.f('ix_warehouse_tables_project_id'), 'warehouse_tables', ['project_id'], unique=False)
    connection = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    rows = [{"name": n, "project_id": p, "created_at": now} for n, p in _existing_claims(connection).items()]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index(op.f('ix_warehouse_tables_project_id'), table_name='warehouse_tables')
    op.drop_table('warehouse_tables')
