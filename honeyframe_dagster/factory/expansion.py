"""Fan-out per entity: a trigger's `expand_from` query, run at each instant (and by the API's run now), gives one run
per row (docs/scheduling.md, "Fan-out per entity").

The query is checked against the project's SQL policy again (model/sql_policy.py: what its SQL may read as the
store says now) and runs like card SQL: read-only, on a sandboxed snapshot of the warehouse, within
HONEYFRAME_SQL_TIMEOUT_SECONDS and HONEYFRAME_SQL_MEMORY_LIMIT (resources/warehouse_access.py). Each row is an
`Entity`: its key (the `key` column, default the first) names the run (tag `honeyframe/entity`, run key
`<instant>|<key>`), its values fill the steps' `{{ entity.COLUMN }}` in that run's config (factory/run_config.py).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.model.sql_policy import SqlPolicyError, check_query
from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.resources.warehouse_access import SqlLimitExceeded, SqlLimits, sandboxed_read, within_limits
from honeyframe_dagster.settings import get_settings

WHERE = "trigger.expand_from.sql"
# What separates the instant (or upstream run) from the entity's key in a run key.
KEY_SEPARATOR = "|"


class ExpansionError(RuntimeError):
    """The query cannot give the runs: refused by the policy, failed, too many rows, or keys that are not unique.
    The tick fails with this message (no run is launched)."""


@dataclass(frozen=True)
class Entity:
    key: str
    row: Mapping[str, Any]


def no_rows_key(scenario_id: int, instant: str) -> str:
    """Dagster's key-value entry that says an instant's query returned no rows (so its SLA expects no run)."""
    return f"honeyframe/no_rows/{scenario_id}/{instant}"


def run_key(base: str, entity: Entity | None) -> str:
    return base if entity is None else f"{base}{KEY_SEPARATOR}{entity.key}"


def instant_of(run_key: str) -> str:
    """The instant part of a run key (an expanded run's key is `<instant>|<entity key>`)."""
    return run_key.split(KEY_SEPARATOR, 1)[0]


def _plain(value: Any) -> Any:
    """A value a run config (JSON) can carry."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def entities(columns: Sequence[str], rows: Sequence[Sequence[Any]], key: str | None, limit: int) -> list[Entity]:
    """The rows as entities; ExpansionError when there are more than `limit`, the key column is missing, or two rows
    share a key."""
    if len(rows) > limit:
        raise ExpansionError(
            f"{WHERE}: the query returned more than {limit} rows (HONEYFRAME_MAX_EXPANSION={limit}); no run launched"
        )
    if not columns:
        return []
    column = key or columns[0]
    if column not in columns:
        raise ExpansionError(f"{WHERE}: the query has no column '{column}' (trigger.expand_from.key)")
    found: dict[str, Entity] = {}
    for values in rows:
        row = {name: _plain(value) for name, value in zip(columns, values, strict=True)}
        name = "" if row[column] is None else str(row[column])
        if name in found:
            raise ExpansionError(f"{WHERE}: key column '{column}' has the value {name!r} twice; keys must be unique")
        found[name] = Entity(name, row)
    return list(found.values())


def query_rows(project_id: str, sql: str, limit: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and at most `limit` + 1 rows of the query, under the policy and limits of card SQL."""
    settings = get_settings()
    readable = ScenarioStoreResource(url=settings.store_url).readable_tables(project_id)
    try:
        check_query(sql, readable)
    except SqlPolicyError as exc:
        raise ExpansionError(f"{WHERE}: {exc}") from None
    limits = SqlLimits(timeout_seconds=settings.sql_timeout_seconds, memory_limit=settings.sql_memory_limit)
    try:
        path, timeout = settings.warehouse_path, settings.warehouse_lock_timeout_seconds
        with sandboxed_read(path, timeout, limits) as connection, within_limits(connection, limits):
            cursor = connection.execute(sql)
            columns = [str(column[0]) for column in cursor.description or []]
            rows = cursor.fetchmany(limit + 1)
    except SqlLimitExceeded as exc:
        raise ExpansionError(f"{WHERE}: {exc}") from None
    except Exception as exc:  # DuckDB's errors: a missing table, a type error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExpansionError(f"{WHERE}: the query failed ({first[:300]})") from None
    return columns, rows


def expand(spec: ScenarioSpec) -> list[Entity] | None:
    """The scenario's entities now; None when its trigger has no expand_from (one run, as always)."""
    expand_from = spec.trigger.expand_from
    if expand_from is None:
        return None
    limit = get_settings().max_expansion
    columns, rows = query_rows(spec.project.id, expand_from.sql, limit)
    return entities(columns, rows, expand_from.key, limit)


__all__ = ["no_rows_key", "Entity", "ExpansionError", "entities", "expand", "instant_of", "query_rows", "run_key"]
