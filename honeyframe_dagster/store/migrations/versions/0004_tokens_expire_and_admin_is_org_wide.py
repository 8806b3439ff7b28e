"""tokens expire and record their last use; an admin token is org-wide

Adds `api_tokens.expires_at` (None: never) and `api_tokens.last_used_at`.

Older versions accepted `honeyframe token create --admin --project X`, read as "admin of project X"; such a
token could still rewrite org-wide templates. An admin token is now org-wide and cannot list projects, so
every existing admin token that lists projects is demoted to a project token for those same projects: it
keeps acting on their scenarios and loses the admin endpoints (templates, the enable matrix). The demoted
tokens are named in a warning; create an org-wide admin token (`--admin` alone) where one is needed.

Revision ID: 0004
Revises: 0003
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("honeyframe.store")
_tokens = sa.table(
    "api_tokens",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("is_admin", sa.Boolean),
    sa.column("projects", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    admins = connection.execute(sa.select(_tokens.c.id, _tokens.c.name, _tokens.c.projects).where(_tokens.c.is_admin))
    demoted = [(row.id, row.name) for row in admins if row.projects]
    for token_id, _name in demoted:
        connection.execute(sa.update(_tokens).where(_tokens.c.id == token_id).values(is_admin=False))
    if demoted:
        log.warning(
            "admin tokens limited to projects are now project tokens (an admin token is org-wide): %s",
            ", ".join(name for _id, name in demoted),
        )


def downgrade() -> None:
    # Demoted tokens stay project tokens: re-promoting them would hand back admin rights.
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
