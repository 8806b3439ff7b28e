"""Claims on warehouse tables: the first project to declare a table owns it (model/tenancy.py says why).

A claim is an INSERT that does nothing on conflict, then a read of the owner, inside the caller's transaction:
two concurrent writers naming one table cannot both own it (the primary key decides; on Postgres the second
INSERT waits for the first transaction and then sees its row). A claim lasts as long as its project: the table's
rows stay that project's data even when the dataset or step that wrote them changes.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.model.errors import Loc
from honeyframe_dagster.model.tenancy import TenancyError, table_key
from honeyframe_dagster.store.tables import WarehouseTableRow


def claim_tables(session: Session, project_id: str, tables: Mapping[str, Loc]) -> None:
    """Make the project the owner of each table (table -> the field path naming it); raises TenancyError naming
    the field when another project owns one. Nothing is committed here."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for table, where in tables.items():
        name = table_key(table)
        session.execute(
            insert(WarehouseTableRow)
            .values(name=name, project_id=project_id, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        owner = session.scalar(select(WarehouseTableRow.project_id).where(WarehouseTableRow.name == name))
        if owner != project_id:
            raise TenancyError.at(where, f"table '{table}' belongs to project '{owner}'", table)


def owned_tables(session: Session, project_id: str) -> frozenset[str]:
    statement = select(WarehouseTableRow.name).where(WarehouseTableRow.project_id == project_id)
    return frozenset(session.scalars(statement))


def foreign_tables(session: Session, project_id: str) -> frozenset[str]:
    """The tables other projects own: never readable by this one, even when a dbt seed has that name."""
    statement = select(WarehouseTableRow.name).where(WarehouseTableRow.project_id != project_id)
    return frozenset(session.scalars(statement))
