"""Every step kind, ONE line each, in the order the docs and error messages list them.

Imports no Dagster. Registered with the model layer (model/kinds.py), which builds the `Step` union
(model/steps.py), checks references (model/scenario.py) and converts legacy rows from it; steps/ops.py adds each
kind's op and resources. Adding a kind: a package `steps/<kind>/` with `model.py` (its model and `KIND`) and
`op.py` (its `OP`), one line below, and its section in docs/steps.md.
"""

from honeyframe_dagster.model.kinds import StepKind, register
from honeyframe_dagster.steps.notify_webhook import model as notify_webhook
from honeyframe_dagster.steps.run_agent import model as run_agent
from honeyframe_dagster.steps.run_python import model as run_python
from honeyframe_dagster.steps.run_recipe import model as run_recipe
from honeyframe_dagster.steps.send_email_report import model as send_email_report
from honeyframe_dagster.steps.sync_dataset import model as sync_dataset

KINDS: dict[str, StepKind] = register(
    run_recipe.KIND,
    sync_dataset.KIND,
    run_python.KIND,
    run_agent.KIND,
    send_email_report.KIND,
    notify_webhook.KIND,
)
