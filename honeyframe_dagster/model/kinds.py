"""The registry of step kinds that the model layer builds `Step` from (model/steps.py) and checks steps with.

The model layer names no step kind: `steps/registry.py` lists them (one line each) and registers them here, and
`honeyframe_dagster/__init__.py` imports that registry, so the kinds are registered before any module of the
package runs. `StepKind` is plain data about a kind's model (no Dagster); `steps/entry.py` holds its op's side.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, get_args

from honeyframe_dagster.model.step_base import _Step

if TYPE_CHECKING:
    from honeyframe_dagster.model.scenario import Catalog


class CheckReferences(Protocol):
    def __call__(
        self, step: Any, index: int, project_id: str, catalog: Catalog, recipes: Collection[str] | None
    ) -> None:
        """Raise ScenarioError (`steps[<index>].<field>: ...`) when the step names something the catalog lacks,
        beyond the project objects of `_Step.references` (checked for every kind).

        `recipes` are the dbt nodes a scenario may name; None when resolving without the dbt manifest (the
        checks that need the code location's files are skipped then)."""


@dataclass(frozen=True)
class StepKind:
    model: type[_Step]
    # None: the kind names nothing that must exist in the catalog but the project objects of `references()`.
    check_references: CheckReferences | None = None
    # Writes warehouse tables through steps/transactional.py, so a transactional parallel group commits them.
    writes_warehouse: bool = False
    # The step field a legacy `project_cron_jobs` row's `target` fills (legacy/convert.py); None: no such action.
    legacy_target: str | None = None

    @property
    def name(self) -> str:
        """The kind's `kind:` value, read from its model's `Literal`."""
        return str(get_args(self.model.model_fields["kind"].annotation)[0])


KINDS: dict[str, StepKind] = {}
"""Every registered kind by name, in the order steps/registry.py lists them."""


def register(*kinds: StepKind) -> dict[str, StepKind]:
    """Register the kinds (steps/registry.py, once); the registry."""
    for kind in kinds:
        KINDS.setdefault(kind.name, kind)
    return KINDS


def registered() -> dict[str, StepKind]:
    """The registry; ImportError when it is empty (the package's `__init__` registers the kinds first)."""
    if not KINDS:
        raise ImportError("no step kind is registered: honeyframe_dagster/__init__.py imports steps/registry.py")
    return KINDS
