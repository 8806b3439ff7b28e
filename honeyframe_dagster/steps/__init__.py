"""One shared op definition per step kind: every job reuses them, so each job costs Dagster's floor only."""

from dagster import Failure, In, Nothing, OpDefinition, OpExecutionContext, Out, op

from honeyframe_dagster.steps.run_recipe import run_recipe_op


def _not_implemented(kind: str) -> OpDefinition:
    @op(name=kind, ins={"after": In(Nothing)}, out=Out(Nothing))
    def _op(context: OpExecutionContext) -> None:
        raise Failure(f"step kind '{kind}' is not implemented yet")

    return _op


STEP_OPS: dict[str, OpDefinition] = {
    "run_recipe": run_recipe_op,
    **{kind: _not_implemented(kind) for kind in ("sync_dataset", "run_python", "run_agent", "send_email_report")},
}
