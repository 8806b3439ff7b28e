"""What `transactional` means for the warehouse writes of a parallel group.

A parallel group is a run of consecutive `parallel: true` steps; they run side by side and the next step waits
for all of them. The kinds whose registry entry says `writes_warehouse` (`sync_dataset` replaces its dataset's
table, `run_agent` upserts its output table by row key) write warehouse tables through `write_step_table`.

- `transactional: true` (the default) in a group of two or more steps: the step loads its rows into a staging
  table (`honeyframe_staging.r<run>_s<step>_<table>`) and records it in `honeyframe_staging.staged_writes`;
  nothing is visible yet. After the group, the factory adds an op `commit_steps_<first>_<last>` that publishes
  every staged table of the run in ONE DuckDB transaction, so readers see all of the group's tables change
  together. If any step of the group fails, the commit op is skipped (and so is every later step), a failure
  hook drops the run's staged tables and marks the run aborted (a sibling that finishes later discards its own
  staging table), and the previously published tables stay exactly as they were.
- `transactional: false`, or a step outside a parallel group: the step loads into a staging table and
  publishes it in the same transaction, on its own, as soon as it succeeds.

`run_recipe` (dbt) and `run_python` (an external process) write the warehouse themselves and are not staged:
their writes commit on their own whatever `transactional` says. Staged tables left by a run whose process died
are swept by the next group commit once Dagster reports that run finished.

Publishing replaces or upserts a table of `main`; it does so only for a table the run's project owns (the
`writable` tables, from the store's claims, see model/tenancy.py), so a run never replaces another project's
table nor a dbt model, whatever its steps or staged manifest say.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dagster import AssetKey, AssetMaterialization, MetadataValue, OpExecutionContext, Output

from honeyframe_dagster.model.steps import Step
from honeyframe_dagster.resources.warehouse import WarehouseResource
from honeyframe_dagster.resources.warehouse_access import Loader, quote
from honeyframe_dagster.steps.context import StepRun
from honeyframe_dagster.steps.registry import KINDS

if TYPE_CHECKING:
    # Types only: a code location loads this module to build jobs, only a run worker connects (warehouse_access.py).
    import duckdb

STAGING_SCHEMA = "honeyframe_staging"
MANIFEST = f"{STAGING_SCHEMA}.staged_writes"
ABORTED = f"{STAGING_SCHEMA}.aborted_runs"

# The materialization metadata of a write, given its row count.
Describe = Callable[[int], Mapping[str, Any]]


class ForeignTable(RuntimeError):
    """A publish into a table the run's project does not own; nothing was published."""


class GroupAborted(RuntimeError):
    """Another step of this step's transactional group failed; its staged rows were discarded."""


@dataclass(frozen=True)
class TableWrite:
    table: str
    key: str | None = None  # None: the rows replace the table; a column name: rows upsert by that key


@dataclass(frozen=True)
class Published:
    table: str
    metadata: Mapping[str, Any]


def stage_name(run_id: str, index: int, table: str) -> str:
    return f"r{run_id.replace('-', '')[:12]}_s{index + 1}_{table}"


def group_needs_commit(steps: Sequence[Step], group: Sequence[int]) -> bool:
    return len(group) > 1 and any(steps[i].transactional and KINDS[steps[i].kind].writes_warehouse for i in group)


def ensure_schema(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGING_SCHEMA}")
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS {MANIFEST} (run_id VARCHAR, step INTEGER, target VARCHAR, "
        "staging VARCHAR, merge_key VARCHAR, metadata VARCHAR)"
    )
    connection.execute(f"CREATE TABLE IF NOT EXISTS {ABORTED} (run_id VARCHAR PRIMARY KEY)")


def check_writable(tables: Collection[str], writable: Collection[str]) -> None:
    foreign = sorted(t for t in tables if t.lower() not in writable)
    if foreign:
        raise ForeignTable(f"table(s) {', '.join(foreign)} do not belong to this project; nothing was published")


def publish(connection: duckdb.DuckDBPyConnection, staging: str, write: TableWrite, writable: Collection[str]) -> None:
    """Make the staged rows visible in `main.<table>` (inside the caller's transaction) and drop the staging.
    Raises ForeignTable unless the table is one of `writable` (the project's own, lower-case)."""
    check_writable([write.table], writable)
    target = f"main.{quote(write.table)}"
    if write.key is None:
        connection.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {staging}")
    else:
        key = quote(write.key)
        connection.execute(f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM {staging} LIMIT 0")
        connection.execute(f"DELETE FROM {target} WHERE {key} IN (SELECT {key} FROM {staging})")
        connection.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {staging}")
    connection.execute(f"DROP TABLE {staging}")


def write_table(
    connection: duckdb.DuckDBPyConnection,
    write: TableWrite,
    load: Loader,
    describe: Describe,
    *,
    run_id: str,
    index: int,
    deferred: bool,
    writable: Collection[str] = frozenset(),
) -> int:
    """Load rows through a staging table; publish now, or record them for the group commit. Returns the row count.
    Publishing now needs the table among `writable`, the project's own tables (see `publish`).

    A deferred write keeps `describe(rows)` with it, so the commit op reports the materialization when the rows
    really become visible.
    """
    ensure_schema(connection)
    name = stage_name(run_id, index, write.table)
    staging = f"{STAGING_SCHEMA}.{quote(name)}"
    connection.execute(f"DROP TABLE IF EXISTS {staging}")  # a retried step replaces what it staged before
    load(connection, staging)
    rows = connection.execute(f"SELECT count(*) FROM {staging}").fetchone()[0]  # type: ignore[index]
    if not deferred:
        publish(connection, staging, write, writable)
        return int(rows)
    if connection.execute(f"SELECT 1 FROM {ABORTED} WHERE run_id = ?", [run_id]).fetchone():
        connection.execute(f"DROP TABLE {staging}")
        raise GroupAborted(f"another step of this transactional group failed; {rows} staged row(s) discarded")
    connection.execute(f"DELETE FROM {MANIFEST} WHERE run_id = ? AND step = ?", [run_id, index])
    connection.execute(
        f"INSERT INTO {MANIFEST} VALUES (?, ?, ?, ?, ?, ?)",
        [run_id, index, write.table, name, write.key, json.dumps(dict(describe(int(rows))), default=str)],
    )
    return int(rows)


@dataclass(frozen=True)
class StepWrite:
    """What a step's `write_step_table` did, as the events its op yields."""

    table: str
    metadata: Mapping[str, Any]
    deferred: bool
    discarded: bool = False

    def materializations(self) -> list[AssetMaterialization]:
        """The table's materialization when its rows are visible now; a deferred write's comes from the commit op."""
        if self.deferred or self.discarded:
            return []
        return [AssetMaterialization(asset_key=AssetKey([self.table]), metadata=dict(self.metadata))]

    def output(self) -> Output[None]:
        if self.discarded:
            return Output(None, metadata={"published": MetadataValue.text("discarded: group failed")})
        published = MetadataValue.text("with group" if self.deferred else "now")
        return Output(None, metadata={**self.metadata, "published": published})


def write_step_table(
    context: OpExecutionContext,
    warehouse: WarehouseResource,
    run: StepRun[Any],
    write: TableWrite,
    load: Loader,
    describe: Describe,
    where: str,
    writable: Collection[str],
) -> StepWrite:
    """The write of a `writes_warehouse` step: staged, then published now or with its transactional group.

    A sibling's failure (`GroupAborted`) is not this step's: it is logged and the write reported as discarded,
    so the group's failing step is the one the run reports. Warehouse errors and ForeignTable propagate to the op."""
    index = run.index
    deferred = run.deferred
    try:
        with warehouse.write() as connection:
            rows = write_table(
                connection,
                write,
                load,
                describe,
                run_id=context.run_id,
                index=index,
                deferred=deferred,
                writable=writable,
            )
    except GroupAborted as exc:
        context.log.warning(f"{where}: {exc}")
        return StepWrite(write.table, {}, deferred, discarded=True)
    if deferred:
        context.log.info(f"{rows} row(s) staged; they become visible when the whole parallel group succeeded")
    return StepWrite(write.table, describe(rows), deferred)


def commit_run(connection: duckdb.DuckDBPyConnection, run_id: str, writable: Collection[str]) -> list[Published]:
    """Publish every staged write of the run (in the caller's one transaction); all or nothing: ForeignTable if
    any target is not among `writable`, the run's project's own tables."""
    ensure_schema(connection)
    staged = connection.execute(
        f"SELECT staging, target, merge_key, metadata FROM {MANIFEST} WHERE run_id = ? ORDER BY step", [run_id]
    ).fetchall()
    check_writable([target for _, target, _, _ in staged], writable)
    for name, target, key, _ in staged:
        publish(connection, f"{STAGING_SCHEMA}.{quote(name)}", TableWrite(target, key), writable)
    connection.execute(f"DELETE FROM {MANIFEST} WHERE run_id = ?", [run_id])
    return [Published(target, json.loads(metadata or "{}")) for _, target, _, metadata in staged]


def _drop_staged(connection: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    names = [
        row[0] for row in connection.execute(f"SELECT staging FROM {MANIFEST} WHERE run_id = ?", [run_id]).fetchall()
    ]
    for name in names:
        connection.execute(f"DROP TABLE IF EXISTS {STAGING_SCHEMA}.{quote(name)}")
    connection.execute(f"DELETE FROM {MANIFEST} WHERE run_id = ?", [run_id])
    return names


def abort_run(connection: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Drop the run's staged tables and refuse its later staged writes; returns the dropped staging tables."""
    ensure_schema(connection)
    names = _drop_staged(connection, run_id)
    connection.execute(f"INSERT OR IGNORE INTO {ABORTED} VALUES (?)", [run_id])
    return names


def sweep(connection: duckdb.DuckDBPyConnection, current_run_id: str, is_finished: Callable[[str], bool]) -> list[str]:
    """Forget finished runs: drop tables they staged but never committed (e.g. killed) and their abort marks."""
    ensure_schema(connection)
    runs = connection.execute(f"SELECT run_id FROM {MANIFEST} UNION SELECT run_id FROM {ABORTED}").fetchall()
    dropped: list[str] = []
    for (run_id,) in runs:
        if run_id != current_run_id and is_finished(run_id):
            dropped += _drop_staged(connection, run_id)
            connection.execute(f"DELETE FROM {ABORTED} WHERE run_id = ?", [run_id])
    return dropped
