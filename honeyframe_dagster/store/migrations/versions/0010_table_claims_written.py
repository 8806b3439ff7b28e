"""a table claim records whether the project wrote the table

A claim that no scenario or dataset names any more is released (store/ownership.py `release_unnamed`), unless
the project wrote the table: its rows stay that project's data. Every existing claim counts as written, since
which of them were is not known.

Revision ID: 0010
Revises: 0009
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('warehouse_tables') as batch:
        batch.add_column(sa.Column('written_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE warehouse_tables SET written_at = created_at"))


def downgrade() -> None:
    with op.batch_alter_table('warehouse_tables') as batch:
        batch.drop_column('written_at')
