"""One shared op definition per step kind, with the resources it needs: every job reuses them, so each job costs
Dagster's floor only. Read from each kind's `op.py` (`OP`), in the order of steps/registry.py."""

from importlib import import_module

from honeyframe_dagster.steps.entry import StepOp
from honeyframe_dagster.steps.registry import KINDS

STEP_OPS: dict[str, StepOp] = {kind: import_module(f"{__package__}.{kind}.op").OP for kind in KINDS}
