"""What a step kind's `op.py` gives steps/ops.py: `StepOp`, the Dagster side of a kind (its model's side,
`StepKind`, is in model/kinds.py), imported only where ops and resources are built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import ConfigurableResource, OpDefinition

    from honeyframe_dagster.settings import Settings


@dataclass(frozen=True)
class StepOp:
    op: OpDefinition
    # Resource key → how to build it from the settings (factory/definitions.py calls each once per location).
    resources: Mapping[str, Callable[[Settings], ConfigurableResource]] = field(default_factory=dict)
