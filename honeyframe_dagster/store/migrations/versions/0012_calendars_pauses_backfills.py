"""calendars, pause notes, paused projects and API backfills

`calendars` (org-wide with project_id NULL, or a project's own), the pause note, author and time of a disabled
scenario and of a paused project, and the backfills requested through the API.

Revision ID: 0012
Revises: 0011 (to become 0011 once that migration lands)
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'calendars',
        sa.Column('pk', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('id', sa.String(64), nullable=False),
        sa.Column('project_id', sa.String(64), sa.ForeignKey('projects.id', ondelete='CASCADE'), nullable=True),
        sa.Column('document', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_calendars_project_id', 'calendars', ['project_id'])
    op.create_index(
        'uq_calendars_project_id', 'calendars', ['project_id', 'id'], unique=True,
        sqlite_where=sa.text('project_id IS NOT NULL'), postgresql_where=sa.text('project_id IS NOT NULL'),
    )
    op.create_index(
        'uq_calendars_org_id', 'calendars', ['id'], unique=True,
        sqlite_where=sa.text('project_id IS NULL'), postgresql_where=sa.text('project_id IS NULL'),
    )
    op.create_table(
        'backfills',
        sa.Column('id', sa.String(32), primary_key=True),
        sa.Column('scenario_id', sa.Integer(), sa.ForeignKey('scenarios.id', ondelete='CASCADE'), nullable=False),
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('range_from', sa.DateTime(timezone=True), nullable=False),
        sa.Column('range_to', sa.DateTime(timezone=True), nullable=False),
        sa.Column('instants', sa.JSON(), nullable=False),
        sa.Column('launched', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(200), nullable=False),
    )
    op.create_index('ix_backfills_scenario_id', 'backfills', ['scenario_id'])
    # Plain ADD COLUMN, never a batch copy: on SQLite a re-created `projects` or `scenarios` would be dropped first,
    # and the drop cascades to every scenario, dataset, agent and version.
    for table in ('scenarios', 'projects'):
        op.add_column(table, sa.Column('pause_note', sa.Text(), nullable=True))
        op.add_column(table, sa.Column('paused_by', sa.String(200), nullable=True))
        op.add_column(table, sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in ('scenarios', 'projects'):
        for column in ('paused_at', 'paused_by', 'pause_note'):
            op.drop_column(table, column)
    op.drop_table('backfills')
    op.drop_table('calendars')
