"""A scenario as a Dagster job: the shared step ops, aliased per step and wired in order."""

from __future__ import annotations

from functools import cache

from dagster import (
    Backoff,
    DependencyDefinition,
    ExecutorDefinition,
    GraphDefinition,
    Jitter,
    JobDefinition,
    MultiDependencyDefinition,
    NodeInvocation,
    RetryPolicy,
    multiprocess_executor,
)

from honeyframe_dagster.factory.overlap import serial_tags
from honeyframe_dagster.factory.resources import IN_PROCESS_EXECUTOR, LOGGERS, job_resources
from honeyframe_dagster.factory.triggers import cron_partitions
from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.model.step_base import step_groups
from honeyframe_dagster.model.steps import Step
from honeyframe_dagster.model.tags import PROJECT_TAG, SCENARIO_TAG, TEMPLATE_TAG, VERSION_TAG
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.steps.commit import abort_staged_writes, commit_alias, commit_group_op
from honeyframe_dagster.steps.context import step_alias
from honeyframe_dagster.steps.ops import STEP_OPS
from honeyframe_dagster.steps.run_if import GUARDED_TAG, RUN_OUTCOME, is_guarded, run_outcome_op
from honeyframe_dagster.steps.transactional import group_needs_commit


def scenario_tags(spec: ScenarioSpec) -> dict[str, str]:
    tags = {
        SCENARIO_TAG: str(spec.id),
        PROJECT_TAG: spec.project.id,
        VERSION_TAG: str(spec.version),
        **serial_tags(spec.id, spec.trigger.overlap),
    }
    if spec.template_slug is not None:
        tags[TEMPLATE_TAG] = spec.template_slug
    if is_guarded(spec.steps):
        tags[GUARDED_TAG] = "guarded"
    return tags


BACKOFFS = {"exponential": Backoff.EXPONENTIAL, "linear": Backoff.LINEAR, "fixed": None}


def retry_policy(step: Step) -> RetryPolicy | None:
    """The step's `retry_policy` as Dagster's; None when it never retries.

    A step without its own `retry` takes its kind's default, whose first delay is the operator's: a report step's
    HONEYFRAME_SMTP_RETRY_DELAY_SECONDS (the mail server's knob), any other's HONEYFRAME_RETRY_DELAY_SECONDS when set.
    """
    policy = step.retry_policy
    if policy.max_retries == 0:
        return None
    delay = policy.delay_seconds
    if step.retry is None:
        settings = get_settings()
        if step.kind == "send_email_report":
            delay = settings.smtp_retry_delay_seconds
        elif settings.retry_delay_seconds is not None:
            delay = settings.retry_delay_seconds
    return RetryPolicy(
        max_retries=policy.max_retries,
        delay=delay,
        backoff=BACKOFFS[policy.backoff],
        jitter=Jitter.PLUS_MINUS if policy.jitter else None,
    )


# Step processes fork from a server that has already imported these (not the definitions: no store connection
# may be shared across a fork), which saves each step most of a fresh interpreter's start-up.
FORKSERVER_PRELOAD = ["dagster._core.executor.multiprocess", "honeyframe_dagster.factory.definitions"]


@cache
def parallel_executor(width: int) -> ExecutorDefinition:
    """A process per op, as many at once as the widest group (the default, one per core, would queue them)."""
    return multiprocess_executor.configured(
        {"max_concurrent": width, "start_method": {"forkserver": {"preload_modules": FORKSERVER_PRELOAD}}}
    )


def build_job(spec: ScenarioSpec, name: str) -> JobDefinition:
    dependencies: dict[NodeInvocation, dict[str, MultiDependencyDefinition]] = {}
    previous: list[str] = []
    has_commit = False
    for group in step_groups(spec.steps):
        aliases = [step_alias(index, spec.steps[index].kind) for index in group]
        # A transactional group publishes its staged writes in one commit op after it (steps/transactional.py).
        transactional = group_needs_commit(spec.steps, group)
        hooks = {abort_staged_writes} if transactional else None
        for index, alias in zip(group, aliases, strict=True):
            upstream = [DependencyDefinition(before, "result") for before in previous]
            step = spec.steps[index]
            invocation = NodeInvocation(name=step.kind, alias=alias, hook_defs=hooks, retry_policy=retry_policy(step))
            dependencies[invocation] = {"after": MultiDependencyDefinition(upstream)} if upstream else {}
        previous = aliases
        if transactional:
            commit = NodeInvocation(name=commit_group_op.name, alias=commit_alias(group))
            dependencies[commit] = {"after": MultiDependencyDefinition([DependencyDefinition(a) for a in aliases])}
            previous, has_commit = [commit_alias(group)], True
    guarded = is_guarded(spec.steps)
    if guarded:  # the last op fails the run when a step failed (steps/run_if.py)
        last = MultiDependencyDefinition([DependencyDefinition(before) for before in previous])
        dependencies[NodeInvocation(name=RUN_OUTCOME)] = {"after": last}
    kinds = sorted({step.kind for step in spec.steps})
    node_defs = [
        *(STEP_OPS[kind].op for kind in kinds),
        *([commit_group_op] if has_commit else []),
        *([run_outcome_op] if guarded else []),
    ]
    graph = GraphDefinition(
        name=name,
        node_defs=node_defs,
        dependencies=dependencies,
        description=f"{spec.record.name} ({spec.project.name})",
    )
    widest_group = max(len(group) for group in step_groups(spec.steps))
    return graph.to_job(
        name=name,
        tags=scenario_tags(spec),
        partitions_def=cron_partitions(spec.trigger.cron, spec.timezone) if spec.trigger.cron else None,
        # A process per op only where steps really run side by side; otherwise one process is much faster.
        executor_def=parallel_executor(widest_group) if widest_group > 1 else IN_PROCESS_EXECUTOR,
        # Only what its ops use, and no config fields: a lean snapshot (factory/resources.py).
        resource_defs=job_resources(node_defs, {hook for node in dependencies for hook in node.hook_defs or ()}),
        logger_defs=LOGGERS,
    )
