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
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['scenario_id'], ['scenarios.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('scenario_id', 'version'),
    )
    with op.batch_alter_table('scenarios') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('compile_error', sa.Text(), nullable=True))
        batch.add_column(sa.Column('trigger_kind', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('dagster_running', sa.Boolean(), nullable=True))
    with op.batch_alter_table('templates') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('templates') as batch:
        batch.drop_column('version')
    with op.batch_alter_table('scenarios') as batch:
        batch.drop_column('dagster_running')
        batch.drop_column('trigger_kind')
        batch.drop_column('compile_error')
        batch.drop_column('version')
    op.drop_table('scenario_versions')
