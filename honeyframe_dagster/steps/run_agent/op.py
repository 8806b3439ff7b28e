"""`run_agent`: every input row to an AI agent, one result per row in `output_table`.

The input is a dataset id of the project (its table is read whole) or a SQL query over the tables the project may
read (model/sql_policy.py, checked again here before it runs on a sandboxed read-only connection to a snapshot of
the warehouse, within HONEYFRAME_SQL_TIMEOUT_SECONDS and HONEYFRAME_SQL_MEMORY_LIMIT); more than
HONEYFRAME_AGENT_MAX_ROWS input rows fail the step before the first call. The
output table holds `row_key` (a hash of the input row: stable, so a re-run upserts instead of duplicating),
`input`, `output`, `error`, `agent`, `model` and `processed_at`. Failing rows are recorded with their error;
the step fails only when the share of failing rows exceeds HONEYFRAME_AGENT_FAILURE_RATIO.
"""

from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dagster import Failure, OpExecutionContext

from honeyframe_dagster.clock import utcnow
from honeyframe_dagster.model.scenario import Catalog
from honeyframe_dagster.model.tenancy import TenancyError, check_sql, table_key
from honeyframe_dagster.resources.scenarios import ScenarioStoreResource
from honeyframe_dagster.resources.warehouse import WarehouseResource
from honeyframe_dagster.resources.warehouse_access import Loader, SqlLimitExceeded, SqlLimits, quote, within_limits
from honeyframe_dagster.steps.context import current_step, step_op
from honeyframe_dagster.steps.entry import StepOp
from honeyframe_dagster.steps.run_agent.client import RowResult, complete_rows
from honeyframe_dagster.steps.run_agent.model import RunAgentStep
from honeyframe_dagster.steps.run_agent.resource import AgentEndpointMissing, AgentsResource, agents_resource
from honeyframe_dagster.steps.transactional import ForeignTable, TableWrite, write_step_table

if TYPE_CHECKING:
    # Types only: the op imports DuckDB when it runs (run_agent_op).
    import duckdb

OUTPUT_COLUMNS = (
    "row_key VARCHAR, input VARCHAR, output VARCHAR, error VARCHAR, agent VARCHAR, model VARCHAR, "
    "processed_at TIMESTAMP"
)


def input_query(step: RunAgentStep, project_id: str, catalog: Catalog, readable: Collection[str]) -> str:
    """A dataset id of the project reads its table; anything else is SQL that must pass the policy. Either way
    only `readable` tables are read (TenancyError)."""
    dataset = catalog.datasets.get((project_id, step.input))
    if dataset is not None:
        if table_key(dataset.table_name) not in readable:
            message = f"table '{dataset.table_name}' of dataset '{dataset.id}' is not the project's"
            raise TenancyError.at(("input",), message, step.input)
        return f"SELECT * FROM main.{quote(dataset.table_name)}"
    check_sql(step.input, ("input",), readable)
    return step.input


class TooManyRows(ValueError):
    """The input has more rows than HONEYFRAME_AGENT_MAX_ROWS."""


def read_rows(
    connection: "duckdb.DuckDBPyConnection", query: str, max_rows: int, limits: SqlLimits
) -> list[dict[str, Any]]:
    """At most `max_rows` rows (one more is fetched to tell: TooManyRows), the query within `limits`
    (SqlLimitExceeded)."""
    with within_limits(connection, limits):
        cursor = connection.execute(query)
        columns = [column[0] for column in cursor.description or []]
        rows = cursor.fetchmany(max_rows + 1)
    if len(rows) > max_rows:
        raise TooManyRows(
            f"input: more than {max_rows} rows (HONEYFRAME_AGENT_MAX_ROWS={max_rows}); no row was sent to the agent. "
            "Narrow the input, or raise the setting"
        )
    return [dict(zip(columns, row, strict=True)) for row in rows]


def results_loader(results: Sequence[RowResult], agent: str, model: str) -> Loader:
    now = utcnow().replace(tzinfo=None)

    def load(connection: "duckdb.DuckDBPyConnection", table: str) -> None:
        connection.execute(f"CREATE TABLE {table} ({OUTPUT_COLUMNS})")
        # The same input row twice has one key: keep one result per key.
        unique = {r.row_key: r for r in results}.values()
        rows = [[r.row_key, r.input, r.output, r.error, agent, model, now] for r in unique]
        if rows:
            connection.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    return load


@step_op("run_agent", "openai")
def run_agent_op(
    context: OpExecutionContext, scenarios: ScenarioStoreResource, agents: AgentsResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    import duckdb  # imported here: a code location loads this module to build jobs, only a run worker runs the op

    run = current_step(context, scenarios, RunAgentStep)
    step, project_id = run.step, run.scenario.project.id
    agent = run.project_entry(run.catalog.agents, "agent", step.agent)
    try:
        endpoint = agents.endpoint(agent)
    except AgentEndpointMissing as exc:
        raise Failure(str(exc), allow_retries=False) from None
    try:
        # The output table must be the project's (claimed now if no project has it yet) before anything runs.
        writable = scenarios.claim_tables(project_id, {step.output_table: ("output_table",)})
        query = input_query(step, project_id, run.catalog, writable | scenarios.readable_tables(project_id))
    except TenancyError as exc:
        raise Failure(f"project '{project_id}': {exc}", allow_retries=False) from None
    try:
        with warehouse.read_sandboxed() as connection:
            rows = read_rows(connection, query, agents.max_rows, warehouse.sql_limits)
    except (TooManyRows, SqlLimitExceeded) as exc:
        raise Failure(f"agent '{agent.id}': {exc}", allow_retries=False) from None
    except duckdb.Error as exc:
        raise Failure(f"input: cannot read {step.input!r}: {exc}") from None
    context.log.info(f"agent '{agent.id}': {len(rows)} row(s) in batches of {agents.batch_size}")
    results = complete_rows(
        endpoint,
        rows,
        batch_size=agents.batch_size,
        concurrency=agents.concurrency,
        progress=lambda done, total: context.log.info(f"agent '{agent.id}': {done}/{total} row(s) done"),
    )
    failed = [r for r in results if r.error is not None]
    for result in failed[:5]:
        context.log.warning(f"row {result.row_key}: {result.error}")

    def describe(count: int) -> dict[str, Any]:
        return {
            "rows processed": len(results),
            "rows failed": len(failed),
            "agent": agent.id,
            "table": step.output_table,
        }

    try:
        table, load = TableWrite(step.output_table, key="row_key"), results_loader(results, agent.id, agent.model)
        written = write_step_table(context, warehouse, run, table, load, describe, f"agent '{agent.id}'", writable)
    except ForeignTable as exc:
        raise Failure(f"project '{project_id}': {exc}", allow_retries=False) from None
    if written.discarded:
        yield written.output()
        return
    yield from written.materializations()
    ratio = len(failed) / len(results) if results else 0.0
    if ratio > agents.failure_ratio:
        raise Failure(
            f"agent '{agent.id}': {len(failed)} of {len(results)} row(s) failed ({ratio:.0%} > "
            f"HONEYFRAME_AGENT_FAILURE_RATIO {agents.failure_ratio:.0%}); first error: {failed[0].error}",
            metadata=dict(written.metadata),
        )
    yield written.output()


OP = StepOp(run_agent_op, {"agents": agents_resource})
