"""`sync_dataset`: the step's model and the check that its dataset exists in the project."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from honeyframe_dagster.model.step_base import NAME_PATTERN, StepRetry, _Step, check_in_project
from honeyframe_dagster.steps.entry import StepKind

if TYPE_CHECKING:
    from honeyframe_dagster.model.scenario import Catalog


class SyncDatasetStep(_Step):
    """Run a dataset's connector and (re)load it into the warehouse."""

    default_retry: ClassVar[StepRetry] = StepRetry(max_retries=2, delay_seconds=10, backoff="exponential")
    kind: Literal["sync_dataset"]
    dataset: str = Field(pattern=NAME_PATTERN)


def check_references(
    step: SyncDatasetStep, index: int, project_id: str, catalog: Catalog, recipes: Collection[str] | None
) -> None:
    check_in_project(catalog.datasets, "dataset", project_id, step.dataset, ("steps", index, "dataset"))


KIND = StepKind(SyncDatasetStep, check_references, writes_warehouse=True, legacy_target="dataset")
