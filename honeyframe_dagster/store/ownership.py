"""Claims on warehouse tables: the first project to declare a table owns it (model/tenancy.py says why).

A claim is an INSERT that does nothing on conflict, then a read of the owner, inside the caller's transaction:
two concurrent writers naming one table cannot both own it (the primary key decides; on Postgres the second
INSERT waits for the first transaction and then sees its row). Once a step of the project set out to write the
table (`mark_written`), the claim lasts as long as its project: the table's rows stay that project's data even
when the dataset or step that wrote them changes. A claim never written is released when no scenario or dataset
of its project names the table any more (`release_unnamed`), so a name cannot be squatted by declaring it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.model.errors import Loc
from honeyframe_dagster.model.scenario import ScenarioError, render_scenario
from honeyframe_dagster.model.tenancy import TenancyError, check_not_system, table_key
from honeyframe_dagster.store.catalog import load_catalog
from honeyframe_dagster.store.tables import WarehouseTableRow


def claim_tables(session: Session, project_id: str, tables: Mapping[str, Loc]) -> None:
    """Make the project the owner of each table (table -> the field path naming it); raises TenancyError naming
    the field when another project owns one, or when the name is reserved. Nothing is committed here."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for table, where in tables.items():
        check_not_system(table, where)
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


def mark_written(session: Session, project_id: str, tables: Collection[str]) -> None:
    """A step of the project is about to write these (claimed) tables: their claims are kept from now on."""
    names = [table_key(table) for table in tables]
    session.execute(
        update(WarehouseTableRow)
        .where(
            WarehouseTableRow.name.in_(names),
            WarehouseTableRow.project_id == project_id,
            WarehouseTableRow.written_at.is_(None),
        )
        .values(written_at=utcnow())
    )


def release_unnamed(session: Session, project_ids: Collection[str] | None) -> frozenset[str]:
    """Drop the claims of the projects (None: every project) that were never written and that no stored scenario
    (enabled or not) or dataset of the owner names any more; returns the names released. A project with a scenario
    that cannot be read keeps its claims (what it writes is not known). Call after the write, in its transaction."""
    statement = select(WarehouseTableRow.name, WarehouseTableRow.project_id).where(
        WarehouseTableRow.written_at.is_(None)
    )
    if project_ids is not None:
        statement = statement.where(WarehouseTableRow.project_id.in_(list(project_ids)))
    candidates: dict[str, set[str]] = {}
    for name, project_id in session.execute(statement):
        candidates.setdefault(project_id, set()).add(name)
    if not candidates:
        return frozenset()
    session.flush()
    catalog = load_catalog(session, list(candidates))
    for (project_id, _), dataset in catalog.datasets.items():
        candidates.get(project_id, set()).discard(table_key(dataset.table_name))
    for record in catalog.scenarios:
        named = candidates.get(record.project_id)
        if named is None:
            continue
        try:
            _, _, steps = render_scenario(record, catalog)
        except ScenarioError:
            del candidates[record.project_id]
            continue
        for step in steps:
            written = step.written_table(record.project_id, catalog)
            if written is not None:
                named.discard(table_key(written[0]))
    released = frozenset(name for names in candidates.values() for name in names)
    if released:
        session.execute(
            delete(WarehouseTableRow).where(
                WarehouseTableRow.name.in_(list(released)), WarehouseTableRow.written_at.is_(None)
            )
        )
    return released
