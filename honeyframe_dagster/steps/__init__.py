"""One shared op definition per step kind: every job reuses them, so each job costs Dagster's floor only."""

from dagster import OpDefinition

from honeyframe_dagster.steps.notify_webhook import notify_webhook_op
from honeyframe_dagster.steps.run_agent import run_agent_op
from honeyframe_dagster.steps.run_python import run_python_op
from honeyframe_dagster.steps.run_recipe import run_recipe_op
from honeyframe_dagster.steps.send_email_report import send_email_report_op
from honeyframe_dagster.steps.sync_dataset import sync_dataset_op

STEP_OPS: dict[str, OpDefinition] = {
    "run_recipe": run_recipe_op,
    "send_email_report": send_email_report_op,
    "sync_dataset": sync_dataset_op,
    "run_python": run_python_op,
    "run_agent": run_agent_op,
    "notify_webhook": notify_webhook_op,
}
