"""What every step op shares: its shape in a job (`step_op`), its scenario and its own step config at run time, and
showing them.

An op's config is the run's (factory/jobs.py `run_config`): the scenario version the run was launched with, never
the store's current state, so an edit after the launch does not change the run and a re-execution does the same.
A run without it (launched from Dagster's UI without config, or by a backfill) reads the version of its
`.dagster/honeyframe_version` tag, an immutable row of the store. Each step records its config and version in the run's
event log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dagster import Failure, Field, In, MetadataValue, Nothing, OpExecutionContext, Out, Permissive, op
from pydantic import ValidationError

from honeyframe_dagster.model.compiled import spec_from_run_config
from honeyframe_dagster.model.scenario import Catalog, ScenarioSpec, first_error
from honeyframe_dagster.model.secret_grants import SecretNotGranted, check_step
from honeyframe_dagster.model.step_base import is_deferred, step_groups
from honeyframe_dagster.model.steps import Step
from honeyframe_dagster.model.tags import SCENARIO_TAG, VERSION_TAG
from honeyframe_dagster.net_policy import redact_url
from honeyframe_dagster.resources.scenarios import ScenarioNotFound, ScenarioStoreResource
from honeyframe_dagster.steps.redaction import redacting
from honeyframe_dagster.steps.run_if import GUARDED_TAG, FailedStep, NotRun, decide, earlier_failures, guarding

_ALIAS = re.compile(r"^step_(\d+)_")
# Anything URL-shaped inside a config value (a connector URL, a link in a prompt): its userinfo and query values
# may be credentials.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")

StepT = TypeVar("StepT", bound=Step)
EntryT = TypeVar("EntryT")


# An op's run config: the scenario as its version says (model/compiled.py `spec_parts`), the step, and whether its
# writes wait for its group's commit. Optional: without it the op reads the version its run is tagged with.
STEP_CONFIG = {
    "scenario": Field(Permissive(), is_required=False, description="The scenario version this run does."),
    "step": Field(Permissive(), is_required=False, description="This step's config as that version says."),
    "deferred": Field(bool, is_required=False, default_value=False),
    "stage": Field(int, is_required=False, description="Position of the first step of this step's stage."),
}


def step_op(name: str, kind: str | None = None, configured: bool = True) -> Callable[[Callable[..., Any]], Any]:
    """The `@op` of a step kind's op (and, not `configured`, of a group's commit): no data in or out, only `after`,
    the ordering input the job wires to the previous stage (factory/jobs.py); `kind`: the tag Dagster's UI shows.
    Whatever the op logs, yields, returns or fails with has the secrets it may see redacted (steps/redaction.py);
    in a job with `run_if` steps it records its failure instead of raising (steps/run_if.py)."""
    decorate = op(
        name=name,
        ins={"after": In(Nothing)},
        out=Out(Nothing),
        tags={"kind": kind} if kind else None,
        config_schema=STEP_CONFIG if configured else None,
    )
    return lambda fn: decorate(redacting(guarding(fn)))


def step_alias(index: int, kind: str) -> str:
    """The op's name in its job: `step_<1-based position>_<kind>`; ops read their position back from it."""
    return f"step_{index + 1}_{kind}"


@dataclass(frozen=True)
class StepRun(Generic[StepT]):
    catalog: Catalog
    scenario: ScenarioSpec
    step: StepT
    index: int
    # Its writes wait for its transactional group's commit op (steps/transactional.py).
    deferred: bool = False
    # In a run with `run_if` steps: the steps of earlier stages that failed (steps/run_if.py).
    failures: tuple[FailedStep, ...] = ()

    def project_entry(self, known: Mapping[tuple[str, str], EntryT], noun: str, name: str) -> EntryT:
        """The scenario's project's `noun` called `name` in the catalog mapping `known`. The scenario was checked
        when written, so a missing one was deleted since: a Failure that retries would not mend."""
        project_id = self.scenario.project.id
        entry = known.get((project_id, name))
        if entry is None:
            raise Failure(f"{noun}: unknown {noun} '{name}' in project '{project_id}'", allow_retries=False)
        return entry


def current_step(context: OpExecutionContext, scenarios: ScenarioStoreResource, kind: type[StepT]) -> StepRun[StepT]:
    """The step this op runs, as the run's version says; the project's datasets, dashboards and agents as the store
    holds them now (they are the project's, not the scenario's)."""
    match = _ALIAS.match(context.op_handle.name)
    tags = context.run.tags
    if match is None or SCENARIO_TAG not in tags:
        raise Failure(f"op '{context.op_handle.name}' is not a Honeyframe scenario step", allow_retries=False)
    scenario_id, index = int(tags[SCENARIO_TAG]), int(match.group(1)) - 1
    config = context.op_config or {}
    step: Step | None
    try:
        if config.get("step") and config.get("scenario"):
            spec, step = spec_from_run_config(config["scenario"], config["step"])
            deferred = bool(config.get("deferred"))
            stage = int(config.get("stage", index))
        else:
            version = int(tags[VERSION_TAG]) if tags.get(VERSION_TAG, "").isdigit() else None
            spec = scenarios.version_spec(scenario_id, version)
            step = spec.steps[index] if index < len(spec.steps) else None
            deferred = is_deferred(spec.steps, index) if step is not None else False
            stage = stage_start(spec.steps, index)
        catalog = scenarios.project_catalog(spec.project.id)
    except (ScenarioNotFound, ValidationError, KeyError, TypeError, ValueError) as exc:
        # A version that is gone or does not load stays so: retries would not help.
        raise Failure(f"scenario {scenario_id}: {_describe(exc)}", allow_retries=False) from None
    if not isinstance(step, kind):
        raise Failure(
            f"scenario {scenario_id} version {spec.version}: step {index + 1} is not a {context.op_def.name} step",
            allow_retries=False,
        )
    failures = _failures(context, step, stage)
    if step.has_entity:
        raise Failure(
            f"scenario {scenario_id}: this run has no entity's values for its {{{{ entity.COLUMN }}}} placeholders "
            "(launch it by the trigger or the API's run now, which expand_from's rows fill)",
            allow_retries=False,
        )
    # The project's grants as they are now (an admin may have revoked one since the version was written): checked
    # before the op reads any variable.
    project = catalog.projects.get(spec.project.id)
    try:
        if project is None:
            raise Failure(f"project '{spec.project.id}' is no longer in the store", allow_retries=False)
        check_step(step, index, project, catalog)
    except SecretNotGranted as exc:
        raise Failure(f"scenario {scenario_id}: {exc}", allow_retries=False) from None
    _record_config(context, spec, step, index)
    return StepRun(catalog, spec, step, index, deferred, failures)


def stage_start(steps: tuple[Step, ...], index: int) -> int:
    """The position of the first step of the stage `index` is in (its parallel group)."""
    return next((group[0] for group in step_groups(steps) if index in group), index)


def _failures(context: OpExecutionContext, step: Step, stage: int) -> tuple[FailedStep, ...]:
    """In a guarded run (steps/run_if.py): the earlier stages' failures; NotRun when the step's `run_if` says it
    does not run after them."""
    if GUARDED_TAG not in context.run.tags:
        return ()
    failures = earlier_failures(context.instance, context.run_id, stage)
    reason = decide(step.condition, failures)
    if reason is not None:
        raise NotRun(reason)
    return tuple(failures)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return f"its config does not load: {first_error(exc).line}"
    return str(exc) if isinstance(exc, ScenarioNotFound) else f"its run config does not load ({type(exc).__name__})"


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
    """The step's config and the scenario's version, as metadata of the step's output (merged with what the op adds
    there) and, for a step that fails before its output, as a line of the run's log."""
    config = redacted(step.model_dump(mode="json"))
    context.add_output_metadata(
        {"step config": MetadataValue.json(config), "scenario version": MetadataValue.int(spec.version)}
    )
    context.log.info(
        f"step {index + 1} of scenario {spec.id}, version {spec.version}: {json.dumps(config, sort_keys=True)}"
    )
