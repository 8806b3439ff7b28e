"""What a step kind's package gives the registries (steps/registry.py, steps/ops.py).

`StepKind` is plain data about the model and imports no Dagster, so the model layer (and a run worker that only
validates documents) can read it; `StepOp` is the Dagster side, imported only where ops and resources are built.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, get_args

from honeyframe_dagster.model.step_base import _Step

if TYPE_CHECKING:
    from dagster import ConfigurableResource, OpDefinition

    from honeyframe_dagster.model.scenario import Catalog
    from honeyframe_dagster.settings import Settings


class CheckReferences(Protocol):
    def __call__(
        self, step: Any, index: int, project_id: str, catalog: Catalog, recipes: Collection[str] | None
    ) -> None:
        """Raise ScenarioError (`steps[<index>].<field>: ...`) when the step names something the catalog lacks.

        `recipes` are the dbt nodes a scenario may name; None when resolving without the dbt manifest (the
        checks that need the code location's files are skipped then)."""


@dataclass(frozen=True)
class StepKind:
    model: type[_Step]
    # None: the kind names nothing that must exist in the catalog.
    check_references: CheckReferences | None = None
    # Writes warehouse tables through steps/transactional.py, so a transactional parallel group commits them.
    writes_warehouse: bool = False
    # The step field a legacy `project_cron_jobs` row's `target` fills (legacy/convert.py); None: no such action.
    legacy_target: str | None = None

    @property
    def name(self) -> str:
        """The kind's `kind:` value, read from its model's `Literal`."""
        return str(get_args(self.model.model_fields["kind"].annotation)[0])


@dataclass(frozen=True)
class StepOp:
    op: OpDefinition
    # Resource key → how to build it from the settings (factory/definitions.py calls each once per location).
    resources: Mapping[str, Callable[[Settings], ConfigurableResource]] = field(default_factory=dict)
