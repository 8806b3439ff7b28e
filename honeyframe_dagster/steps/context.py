"""What every step op shares: its shape in a job (`step_op`), finding its scenario and its own step config at run
time, and showing it.

The op reads its config from the store when it runs (job snapshots stay small), so each step records what it
resolved in the run's event log: the step's config and the version of the scenario's definition.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dagster import Failure, In, MetadataValue, Nothing, OpExecutionContext, Out, op

from honeyframe_dagster.model.scenario import Catalog, ScenarioError, ScenarioSpec
from honeyframe_dagster.model.steps import Step
from honeyframe_dagster.model.tags import SCENARIO_TAG
from honeyframe_dagster.net_policy import redact_url
from honeyframe_dagster.resources.scenarios import ScenarioNotFound, ScenarioStoreResource
from honeyframe_dagster.steps.redaction import redacting

_ALIAS = re.compile(r"^step_(\d+)_")
# Anything URL-shaped inside a config value (a connector URL, a link in a prompt): its userinfo and query values
# may be credentials.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")

StepT = TypeVar("StepT", bound=Step)
EntryT = TypeVar("EntryT")


def step_op(name: str, kind: str | None = None) -> Callable[[Callable[..., Any]], Any]:
    """The `@op` of a step kind's op (and of a group's commit): no data in or out, only `after`, the ordering input
    the job wires to the previous stage (factory/jobs.py); `kind`: the tag Dagster's UI shows. Whatever the op logs,
    yields, returns or fails with has the secrets it may see redacted (steps/redaction.py)."""
    decorate = op(name=name, ins={"after": In(Nothing)}, out=Out(Nothing), tags={"kind": kind} if kind else None)
    return lambda fn: decorate(redacting(fn))


def step_alias(index: int, kind: str) -> str:
    """The op's name in its job: `step_<1-based position>_<kind>`; ops read their position back from it."""
    return f"step_{index + 1}_{kind}"


@dataclass(frozen=True)
class StepRun(Generic[StepT]):
    catalog: Catalog
    scenario: ScenarioSpec
    step: StepT
    index: int

    def project_entry(self, known: Mapping[tuple[str, str], EntryT], noun: str, name: str) -> EntryT:
        """The scenario's project's `noun` called `name` in the catalog mapping `known`. The scenario was checked
        when loaded, so a missing one was deleted since: a Failure that retries would not mend."""
        project_id = self.scenario.project.id
        entry = known.get((project_id, name))
        if entry is None:
            raise Failure(f"{noun}: unknown {noun} '{name}' in project '{project_id}'", allow_retries=False)
        return entry


def current_step(context: OpExecutionContext, scenarios: ScenarioStoreResource, kind: type[StepT]) -> StepRun[StepT]:
    match = _ALIAS.match(context.op_handle.name)
    if match is None or SCENARIO_TAG not in context.run.tags:
        raise Failure(f"op '{context.op_handle.name}' is not a Honeyframe scenario step", allow_retries=False)
    scenario_id, index = int(context.run.tags[SCENARIO_TAG]), int(match.group(1)) - 1
    try:
        catalog, spec = scenarios.catalog_for(scenario_id)
    except (ScenarioNotFound, ScenarioError) as exc:
        # A scenario that is gone or broken stays so until someone edits it: retries would not help.
        raise Failure(f"scenario {scenario_id}: {exc}", allow_retries=False) from None
    step = spec.steps[index] if index < len(spec.steps) else None
    if not isinstance(step, kind):
        raise Failure(
            f"scenario {scenario_id} changed since this job was loaded (step {index + 1} is no longer "
            f"a {context.op_def.name} step); reload the code location",
            allow_retries=False,
        )
    _record_config(context, spec, step, index)
    return StepRun(catalog, spec, step, index)


def definition_version(spec: ScenarioSpec) -> str:
    """A short hash of the scenario as resolved (template rendered) and of its store row's last update."""
    resolved = {
        "scenario": spec.id,
        "template": spec.template_slug,
        "trigger": spec.trigger.model_dump(mode="json"),
        "timezone": spec.timezone,
        "owner": spec.owner,
        "steps": [step.model_dump(mode="json") for step in spec.steps],
        "updated_at": spec.record.updated_at.isoformat() if spec.record.updated_at else None,
    }
    return hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode()).hexdigest()[:12]


def redacted(value: Any) -> Any:
    """`value` (JSON data) with every URL's userinfo and query values masked. A step holds secrets' variable
    names only, never their values; this masks what a document author may have typed into a URL anyway."""
    if isinstance(value, str):
        return _URL.sub(lambda match: redact_url(match.group(0)), value)
    if isinstance(value, dict):
        return {key: redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return value


def _record_config(context: OpExecutionContext, spec: ScenarioSpec, step: Step, index: int) -> None:
    """The step's resolved config and the definition version, as metadata of the step's output (merged with what
    the op adds there) and, for a step that fails before its output, as a line of the run's log."""
    config = redacted(step.model_dump(mode="json"))
    version = definition_version(spec)
    updated = spec.record.updated_at.isoformat() if spec.record.updated_at else "unknown"
    context.add_output_metadata(
        {
            "step config": MetadataValue.json(config),
            "definition version": MetadataValue.text(version),
            "definition updated at": MetadataValue.text(updated),
        }
    )
    context.log.info(
        f"step {index + 1} of scenario {spec.id}, definition version {version} (updated {updated}): "
        f"{json.dumps(config, sort_keys=True)}"
    )
