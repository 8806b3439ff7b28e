"""scenarios are compiled into immutable versions

Every write compiles the scenarios it touches (store/versions.py) into `scenario_versions`; the scenario keeps its
current version, why it does not compile, its trigger kind, and what the reconciler last saw of its trigger in
Dagster. Existing scenarios are compiled by `honeyframe init` / `up` right after this migration (boot.py
`compile_pending`), which needs the whole model; this revision only changes the schema. Templates get a version.

Revision ID: 0007
Revises: 0006
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'scenario_versions',
        sa.Column('scenario_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('spec', sa.JSON(), nullable=False),
        sa.Column('spec_hash', sa.String(length=64), nullable=False),
        sa.Column('config_hash', sa.String(length=64), nullable=False),
        sa.Column('shape_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['scenario_id'], ['scenarios.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('scenario_id', 'version'),
    )
    # Plain ADD COLUMN (no batch copy): on SQLite a batch re-creates the table, and dropping the old `templates`
    # would cascade to every template instance.
    op.add_column('scenarios', sa.Column('version', sa.Integer(), nullable=True))
    op.add_column('scenarios', sa.Column('compile_error', sa.Text(), nullable=True))
    op.add_column('scenarios', sa.Column('trigger_kind', sa.String(length=16), nullable=True))
    op.add_column('scenarios', sa.Column('dagster_running', sa.Boolean(), nullable=True))
    op.add_column('templates', sa.Column('version', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    op.drop_column('templates', 'version')
    for column in ('dagster_running', 'trigger_kind', 'compile_error', 'version'):
        op.drop_column('scenarios', column)
    op.drop_table('scenario_versions')
