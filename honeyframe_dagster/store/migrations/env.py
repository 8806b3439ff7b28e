"""Alembic environment: run by `honeyframe_dagster.store.schema.upgrade`, which passes the connection."""

from alembic import context

from honeyframe_dagster.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
