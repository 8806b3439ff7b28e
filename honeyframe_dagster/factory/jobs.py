"""A scenario as a Dagster job: the shared step ops, aliased per step and wired in order."""

from __future__ import annotations

from dagster import (
    DependencyDefinition,
    GraphDefinition,
    JobDefinition,
    MultiDependencyDefinition,
    NodeInvocation,
    in_process_executor,
    multiprocess_executor,
)

from honeyframe_dagster.factory.triggers import cron_partitions
from honeyframe_dagster.model.scenario import ScenarioSpec
from honeyframe_dagster.model.steps import Step
from honeyframe_dagster.steps import STEP_OPS
from honeyframe_dagster.steps.context import PROJECT_TAG, SCENARIO_TAG, TEMPLATE_TAG, step_alias


def step_groups(steps: tuple[Step, ...]) -> list[list[int]]:
    """Step indexes in execution stages: a run of consecutive `parallel: true` steps forms one stage."""
    groups: list[list[int]] = []
    for index, step in enumerate(steps):
        if step.parallel and groups and steps[groups[-1][0]].parallel:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def scenario_tags(spec: ScenarioSpec) -> dict[str, str]:
    tags = {SCENARIO_TAG: str(spec.id), PROJECT_TAG: spec.project.id}
    if spec.template_slug is not None:
        tags[TEMPLATE_TAG] = spec.template_slug
    return tags


def build_job(spec: ScenarioSpec, name: str) -> JobDefinition:
    dependencies: dict[NodeInvocation, dict[str, MultiDependencyDefinition]] = {}
    previous: list[str] = []
    for group in step_groups(spec.steps):
        aliases = [step_alias(index, spec.steps[index].kind) for index in group]
        for index, alias in zip(group, aliases, strict=True):
            upstream = [DependencyDefinition(before, "result") for before in previous]
            invocation = NodeInvocation(name=spec.steps[index].kind, alias=alias)
            dependencies[invocation] = {"after": MultiDependencyDefinition(upstream)} if upstream else {}
        previous = aliases
    kinds = sorted({step.kind for step in spec.steps})
    graph = GraphDefinition(
        name=name,
        node_defs=[STEP_OPS[kind] for kind in kinds],
        dependencies=dependencies,
        description=f"{spec.record.name} ({spec.project.name})",
    )
    has_parallel_group = any(len(group) > 1 for group in step_groups(spec.steps))
    return graph.to_job(
        name=name,
        tags=scenario_tags(spec),
        partitions_def=cron_partitions(spec.trigger.cron, spec.timezone) if spec.trigger.cron else None,
        # A process per op only where steps really run side by side; otherwise one process is much faster.
        executor_def=multiprocess_executor if has_parallel_group else in_process_executor,
    )
