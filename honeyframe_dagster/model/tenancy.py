"""Warehouse tenancy: which tables of the shared DuckDB warehouse a project may read and write.

A warehouse table belongs to at most one project (the store's `warehouse_tables`, claimed when a dataset or a
scenario that writes it is written, see store/ownership.py). A project
- writes only tables it owns: its datasets' tables (`sync_dataset`) and its `run_agent` output tables; never
  another project's table, never a dbt model or snapshot (org-wide, built by `run_recipe`), and a `run_agent`
  output never a dbt seed either;
- reads (card SQL, `run_agent` input) its own tables and the dbt project's models, seeds and snapshots.
A dataset may load a dbt *source* (that is what sources are for) or stand in for a dbt seed (the contract's
`raw_orders`); the table then belongs to the dataset's project, and what dbt builds from it is org-wide.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from honeyframe_dagster.model.errors import InvalidDocument, Loc
from honeyframe_dagster.model.sql_policy import SqlPolicyError, check_card_query, check_query, is_system_table

if TYPE_CHECKING:
    # Types only: a step kind's model imports this module (its `check_tables`), before the documents exist.
    from honeyframe_dagster.model.documents import Dashboard, Dataset
    from honeyframe_dagster.model.scenario import Catalog
    from honeyframe_dagster.model.steps import Step


class TenancyError(InvalidDocument):
    """A read or write outside the project's own tables, located at the field that names the table."""


def table_key(table: str) -> str:
    """DuckDB resolves table names case-insensitively: ownership and reads compare lower-case names."""
    return table.lower()


def own_tables(catalog: Catalog, project_id: str) -> frozenset[str]:
    """The tables the project owns, as claimed in the store (a dataset's table is claimed when it is applied)."""
    return frozenset(name for name, owner in catalog.table_owners.items() if owner == project_id)


def readable_tables(catalog: Catalog, project_id: str, recipes: Collection[str] | None) -> frozenset[str] | None:
    """What the project's SQL may read: its own tables and the dbt project's, but for a seed that another
    project's dataset stands in for (that table is the other project's data). None when the dbt names are unknown
    (then table names go unchecked)."""
    if recipes is None:
        return None
    shared = {table_key(r) for r in recipes if catalog.table_owners.get(table_key(r), project_id) == project_id}
    return own_tables(catalog, project_id) | shared


def written_tables(steps: Sequence[Step], project_id: str, catalog: Catalog) -> dict[str, Loc]:
    """The warehouse tables a scenario's steps write, each with the field path that names it."""
    written: dict[str, Loc] = {}
    for index, step in enumerate(steps):
        if (table := step.written_table(project_id, catalog)) is not None:
            written.setdefault(table[0], ("steps", index, table[1]))
    return written


def check_owner(table: str, where: Loc, project_id: str, catalog: Catalog) -> None:
    """Not another project's table, as far as the catalog knows (the store's claim decides: store/ownership.py)."""
    owner = catalog.table_owners.get(table_key(table))
    if owner is not None and owner != project_id:
        raise TenancyError.at(where, f"table '{table}' belongs to project '{owner}'", table)


# Names of DuckDB's catalogs and schemas, and prefixes of its (and its compatibility layers') system views: never a
# project's table, so no project can squat them or make one stand for a catalog in its SQL.
RESERVED_TABLES = frozenset({"main", "information_schema", "pg_catalog", "temp", "system"})
RESERVED_PREFIXES = ("duckdb_", "pg_", "sqlite_")


def check_not_system(table: str, where: Loc) -> None:
    """Not a reserved name (RESERVED_TABLES, RESERVED_PREFIXES), nor a name DuckDB also resolves to a catalog view
    (`pragma_database_list`…): claiming that would make the view "the project's own table" to its SQL before the
    table exists, and list every project's tables."""
    if is_system_table(table):
        raise TenancyError.at(where, f"table '{table}' is a DuckDB system view name; choose another name", table)
    key = table_key(table)
    if key in RESERVED_TABLES or key.startswith(RESERVED_PREFIXES):
        reserved = ", ".join(sorted(RESERVED_TABLES)) + ", " + ", ".join(f"{p}*" for p in RESERVED_PREFIXES)
        raise TenancyError.at(where, f"table '{table}' is a reserved name ({reserved}); choose another name", table)


def check_not_dbt(table: str, where: Loc, dbt: Collection[str] | None, what: str) -> None:
    if dbt is not None and table_key(table) in {table_key(name) for name in dbt}:
        raise TenancyError.at(where, f"table '{table}' is a {what}; only dbt writes it", table)


def check_steps(steps: Sequence[Step], project_id: str, catalog: Catalog, recipes: Collection[str] | None) -> None:
    """Every table the steps write is the project's to write; then each step's own rules (`_Step.check_tables`:
    a `run_agent` output no dbt node, its SQL input within the policy; a dataset's table was checked against dbt
    when the dataset was applied)."""
    written = written_tables(steps, project_id, catalog)
    for table, where in written.items():
        check_not_system(table, where)
        check_owner(table, where, project_id, catalog)
    readable = readable_tables(catalog, project_id, recipes)
    if readable is not None:
        readable |= {table_key(t) for t in written}
    for index, step in enumerate(steps):
        step.check_tables(index, project_id, catalog, recipes, readable)


def check_dataset(dataset: Dataset, catalog: Catalog, dbt_built: Collection[str] | None) -> None:
    """A dataset's table: not a dbt model or snapshot (`dbt_built`; it may stand in for a seed), not another
    project's."""
    check_not_system(dataset.table_name, ("table",))
    check_not_dbt(dataset.table_name, ("table",), dbt_built, "dbt model or snapshot")
    check_owner(dataset.table_name, ("table",), dataset.project, catalog)


def check_dashboard(dashboard: Dashboard, readable: Collection[str] | None) -> None:
    for index, card in enumerate(dashboard.cards):
        check_sql(card.sql, ("cards", index, "sql"), readable, card=True)


def check_sql(sql: str, where: Loc, readable: Collection[str] | None, card: bool = False) -> frozenset[str]:
    """The policy on `sql` (`card`: as written and as run with its `:start`/`:end` bound)."""
    try:
        return check_card_query(sql, readable) if card else check_query(sql, readable)
    except SqlPolicyError as exc:
        raise TenancyError.at(where, str(exc), sql) from None
