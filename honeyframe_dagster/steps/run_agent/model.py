"""`run_agent`: the step's model: it names an agent of its project, reads SQL or a dataset, writes its output table."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from honeyframe_dagster.model.hygiene import MAX_SQL_LENGTH
from honeyframe_dagster.model.identifiers import CatalogName, Identifier
from honeyframe_dagster.model.kinds import StepKind
from honeyframe_dagster.model.step_base import Reference, StepRetry, _Step
from honeyframe_dagster.model.tenancy import check_not_dbt, check_sql

if TYPE_CHECKING:
    from honeyframe_dagster.model.scenario import Catalog


class RunAgentStep(_Step):
    """Stream rows to an AI agent and write one result per row."""

    default_retry: ClassVar[StepRetry] = StepRetry(max_retries=2, delay_seconds=10, backoff="exponential")
    kind: Literal["run_agent"]
    agent: CatalogName
    input: str = Field(
        min_length=1, max_length=MAX_SQL_LENGTH, description="A SQL query over the warehouse, or a dataset id."
    )
    output_table: Identifier

    def references(self) -> list[Reference]:
        return [Reference("agents", "agent", self.agent, "agent")]

    def written_table(self, project_id: str, catalog: Catalog) -> tuple[str, str] | None:
        return self.output_table, "output_table"

    def check_tables(
        self, index: int, project_id: str, catalog: Catalog, recipes: Collection[str] | None, readable: Any
    ) -> None:
        """The output is no dbt node (not even a seed: a dataset may stand in for one, an agent's output not);
        SQL input (not a dataset id) passes the policy over what the project may read."""
        check_not_dbt(self.output_table, ("steps", index, "output_table"), recipes, "dbt model, seed or snapshot")
        if (project_id, self.input) not in catalog.datasets:
            check_sql(self.input, ("steps", index, "input"), readable)


KIND = StepKind(RunAgentStep, writes_warehouse=True, legacy_target="agent")
