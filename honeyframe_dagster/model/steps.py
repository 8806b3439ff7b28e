"""The step kinds of a scenario, discriminated by `kind`: the union of the models registered in model/kinds.py
(by steps/registry.py).

Each kind's model lives in its package (`steps/<kind>/model.py`); what they share is in model/step_base.py and
re-exported here for the modules that speak of steps in general.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field, TypeAdapter

from honeyframe_dagster.model.kinds import registered
from honeyframe_dagster.model.step_base import (
    EMAIL_PATTERN,
    MAX_LIST_ITEMS,
    MAX_RECIPIENTS,
    MAX_STEPS,
    MAX_TIMEOUT_SECONDS,
    Email,
    EnvName,
    StepRetry,
    TimeFilter,
    TimeRange,
    _Step,
    check_email,
)

__all__ = [
    "EMAIL_PATTERN",
    "MAX_LIST_ITEMS",
    "MAX_RECIPIENTS",
    "MAX_STEPS",
    "MAX_TIMEOUT_SECONDS",
    "STEPS_ADAPTER",
    "STEP_ADAPTER",
    "STEP_KINDS",
    "Email",
    "EnvName",
    "Step",
    "StepRetry",
    "TimeFilter",
    "TimeRange",
    "check_email",
]

STEP_KINDS = tuple(registered())

if TYPE_CHECKING:
    # To a type checker a step is the shared base (every kind's model subclasses it); isinstance narrows.
    Step = _Step
else:
    Step = Annotated[Union[tuple(entry.model for entry in registered().values())], Field(discriminator="kind")]  # noqa: UP007
STEP_ADAPTER: TypeAdapter[Step] = TypeAdapter(Step)
STEPS_ADAPTER: TypeAdapter[list[Step]] = TypeAdapter(list[Step])
