"""`sync_dataset`: the step's model: it names a dataset of its project, and writes that dataset's table."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from honeyframe_dagster.model.identifiers import CatalogName
from honeyframe_dagster.model.kinds import StepKind
from honeyframe_dagster.model.step_base import Reference, StepRetry, _Step

if TYPE_CHECKING:
    from honeyframe_dagster.model.scenario import Catalog


class SyncDatasetStep(_Step):
    """Run a dataset's connector and (re)load it into the warehouse."""

    default_retry: ClassVar[StepRetry] = StepRetry(max_retries=2, delay_seconds=10, backoff="exponential")
    kind: Literal["sync_dataset"]
    dataset: CatalogName

    def references(self) -> list[Reference]:
        return [Reference("datasets", "dataset", self.dataset, "dataset")]

    def written_table(self, project_id: str, catalog: Catalog) -> tuple[str, str] | None:
        """The dataset's table (an unknown dataset fails as a reference)."""
        dataset = catalog.datasets.get((project_id, self.dataset))
        return None if dataset is None else (dataset.table_name, "dataset")


KIND = StepKind(SyncDatasetStep, writes_warehouse=True, legacy_target="dataset")
