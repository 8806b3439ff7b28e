"""What a report shows: each dashboard's cards visible to the viewer, queried on the warehouse for a period."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honeyframe_dagster.model.documents import Card, Dashboard
from honeyframe_dagster.model.sql_policy import SqlPolicyError, bind_parameters, check_card_query
from honeyframe_dagster.reports.time_filters import Period
from honeyframe_dagster.resources.warehouse_access import SqlLimitExceeded, SqlLimits, sandboxed_read, within_limits

if TYPE_CHECKING:
    # DuckDB (~20 MB) is imported where cards are queried: a code location loads this module (the report step's
    # op) to build jobs, only a run worker queries the warehouse.
    import duckdb

# How many rows each display keeps: more would not be readable in an e-mail.
ROW_LIMITS = {"metric": 1, "table": 50, "bar": 30, "line": 400}


class ReportError(ValueError):
    """A report that cannot be built (bad card SQL, missing warehouse); retrying would not help."""


@dataclass(frozen=True)
class CardData:
    card: Card
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    truncated: bool


@dataclass(frozen=True)
class DashboardData:
    dashboard: Dashboard
    period: Period
    cards: list[CardData]
    hidden: int


def can_see(card: Card, viewer: str) -> bool:
    """No `visible_to` means everyone in the project; addresses compare case-insensitively."""
    return card.visible_to is None or viewer.casefold() in {who.casefold() for who in card.visible_to}


def check_card(dashboard: Dashboard, card: Card, readable: Collection[str] | None) -> None:
    """The policy for user SQL (model/sql_policy.py), checked again right before the card runs."""
    try:
        check_card_query(card.sql, readable)
    except SqlPolicyError as exc:
        raise ReportError(f"dashboard '{dashboard.id}', card '{card.title}': {exc}") from None


def query_card(
    connection: duckdb.DuckDBPyConnection, dashboard: Dashboard, card: Card, period: Period, limits: SqlLimits
) -> CardData:
    """One card's rows, within `limits`; `load_dashboards` has checked its SQL against the policy first."""
    import duckdb  # imported here: see the top

    sql, names = bind_parameters(card.sql)
    values = period.bind_values()
    limit = ROW_LIMITS[card.display]
    try:
        with within_limits(connection, limits):
            cursor = connection.execute(sql, {name: values[name] for name in names})
            if cursor.description is None:
                raise ReportError(f"dashboard '{dashboard.id}', card '{card.title}': the SQL returns no result set")
            rows = cursor.fetchmany(limit + 1)
    except (duckdb.Error, SqlLimitExceeded) as exc:
        raise ReportError(f"dashboard '{dashboard.id}', card '{card.title}': {exc}") from None
    columns = tuple(str(column[0]) for column in cursor.description)
    return CardData(card, columns, [tuple(row) for row in rows[:limit]], len(rows) > limit)


def load_dashboards(
    warehouse: Path,
    dashboards: Sequence[tuple[Dashboard, Period]],
    viewer: str,
    readable: Collection[str] | None = None,
    limits: SqlLimits | None = None,
    lock_timeout: float = 600.0,
) -> list[DashboardData]:
    """Query every card `viewer` may see; a card they may not see is never queried.

    Card SQL must be one read-only query over `readable` tables (model/sql_policy.py; the step passes the
    project's own and the dbt project's tables) and runs on a sandboxed read-only connection to a snapshot of the
    warehouse (taken under the writers' lock, waiting at most `lock_timeout`): it can read the warehouse but never
    change it, nor reach a file, nor keep a writer waiting; each card's query stops at `limits`.
    """
    import duckdb  # imported here: see the top

    limits = limits or SqlLimits()
    if not dashboards:
        return []
    for dashboard, _ in dashboards:
        for card in dashboard.cards:
            if can_see(card, viewer):
                check_card(dashboard, card, readable)
    # Before the first dbt run there is no warehouse file: cards that read no table still work (in memory),
    # and a card that reads one fails saying why.
    missing = not warehouse.exists()
    with ExitStack() as stack:
        try:
            connection = stack.enter_context(sandboxed_read(warehouse, lock_timeout, limits))
        except duckdb.Error as exc:
            raise ReportError(f"warehouse {warehouse} cannot be opened: {exc}") from None
        loaded = []
        for dashboard, period in dashboards:
            visible = [card for card in dashboard.cards if can_see(card, viewer)]
            try:
                cards = [query_card(connection, dashboard, card, period, limits) for card in visible]
            except ReportError as exc:
                if missing:
                    raise ReportError(
                        f"{exc} (the warehouse {warehouse} does not exist yet, so no table can be read: "
                        "build the dbt models first)"
                    ) from None
                raise
            loaded.append(DashboardData(dashboard, period, cards, len(dashboard.cards) - len(visible)))
    return loaded
