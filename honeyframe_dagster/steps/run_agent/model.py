"""`run_agent`: the step's model and the check that its agent exists in the project."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from honeyframe_dagster.model.hygiene import MAX_SQL_LENGTH
from honeyframe_dagster.model.step_base import NAME_PATTERN, TABLE_PATTERN, StepRetry, _Step, check_in_project
from honeyframe_dagster.steps.entry import StepKind

if TYPE_CHECKING:
    from honeyframe_dagster.model.scenario import Catalog


class RunAgentStep(_Step):
    """Stream rows to an AI agent and write one result per row."""

    default_retry: ClassVar[StepRetry] = StepRetry(max_retries=2, delay_seconds=10, backoff="exponential")
    kind: Literal["run_agent"]
    agent: str = Field(pattern=NAME_PATTERN)
    input: str = Field(
        min_length=1, max_length=MAX_SQL_LENGTH, description="A SQL query over the warehouse, or a dataset id."
    )
    output_table: str = Field(pattern=TABLE_PATTERN)


def check_references(
    step: RunAgentStep, index: int, project_id: str, catalog: Catalog, recipes: Collection[str] | None
) -> None:
    check_in_project(catalog.agents, "agent", project_id, step.agent, ("steps", index, "agent"))


KIND = StepKind(RunAgentStep, check_references, writes_warehouse=True, legacy_target="agent")
