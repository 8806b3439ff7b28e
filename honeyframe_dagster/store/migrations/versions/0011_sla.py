"""a scenario's sla, and the instants it missed

`scenarios.sla` holds the scenario's `sla` document (null: none); `sla_misses` one row per late instant: alerted
once, recovered once a late success was reported.

Revision ID: 0011
Revises: 0010
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN: a batch copy of `scenarios` on SQLite would drop it first, cascading to its versions.
    op.add_column('scenarios', sa.Column('sla', sa.JSON(), nullable=True))
    op.create_table(
        'sla_misses',
        sa.Column('scenario_id', sa.Integer(), sa.ForeignKey('scenarios.id', ondelete='CASCADE'), nullable=False),
        sa.Column('instant', sa.DateTime(timezone=True), nullable=False),
        sa.Column('state', sa.String(64), nullable=False),
        sa.Column('alerted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recovered_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('scenario_id', 'instant'),
    )


def downgrade() -> None:
    op.drop_table('sla_misses')
    op.drop_column('scenarios', 'sla')
