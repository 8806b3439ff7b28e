"""Honeyframe Scheduler: a Dagster code location built from a scenario store (docs/architecture.md).

Importing any module of the package first registers the step kinds (steps/registry.py) with the model layer
(model/kinds.py), which builds the `Step` union from them: the model layer itself names no step kind.
"""

import honeyframe_dagster.steps.registry  # noqa: F401
