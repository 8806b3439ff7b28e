"""Run conditions (`run_if: success | failure | always`) within one Dagster run (docs/steps.md, "Run conditions").

Dagster skips every op downstream of a failed one, so a step that must run after a failure cannot be an op that
waits on a failed op. A job with a `failure` or `always` step is **guarded** (job tag `GUARDED_TAG`):

- each step's op records its own failure instead of raising (`guarding`, which `steps.context.step_op` wraps
  around every op): once its retries are spent, the error (secrets masked, cut to `MAX_ERROR`) goes into the op's
  output metadata (`step outcome: failure`, `error`) and an ERROR line of the log, and the op ends so that the next
  stage starts;
- each step decides at its start from the outcomes recorded by the steps of earlier stages (`earlier_failures`):
  a `success` step does not run after a failure, a `failure` step runs only after one, an `always` step runs in
  both cases; a step that does not run ends at once with `step outcome: not run` and the reason;
- the job's last op, `run_outcome` (`run_outcome_op`), fails the run naming every failed step, so the run's status
  is FAILURE when a step failed, as in an unguarded job.

A job without such a step is built and runs as before: a failure fails its op and skips the rest.
"""

import functools
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dagster import (
    DagsterEventType,
    DagsterInstance,
    Failure,
    In,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    RetryRequested,
    op,
)

from honeyframe_dagster.model.step_base import RunIf, _Step
from honeyframe_dagster.model.tags import HIDDEN_TAG_PREFIX
from honeyframe_dagster.steps.redaction import step_redactor

# Hidden (model/tags.py): only the ops read it.
GUARDED_TAG = f"{HIDDEN_TAG_PREFIX}honeyframe_run_if"
OUTCOME = "step outcome"
ERROR = "error"
MAX_ERROR = 500
RUN_OUTCOME = "run_outcome"
_STEP = re.compile(r"^step_(\d+)_")
_COMMIT = re.compile(r"^commit_steps_(\d+)_(\d+)$")


def is_guarded(steps: tuple[_Step, ...] | list[_Step]) -> bool:
    """Whether a scenario's job records failures instead of raising them: it has a `failure` or `always` step."""
    return any(step.condition != "success" for step in steps)


class NotRun(Exception):
    """A step whose `run_if` says it does not run in this run (the reason is its message)."""


@dataclass(frozen=True)
class FailedStep:
    step: str
    error: str

    def public(self) -> dict[str, str]:
        return {"step": self.step, "error": self.error}


def position(step_key: str) -> int | None:
    """The 0-based position of a step's op (`step_3_…` → 2; a group's commit op counts as its last step)."""
    if match := _STEP.match(step_key):
        return int(match.group(1)) - 1
    if match := _COMMIT.match(step_key):
        return int(match.group(2)) - 1
    return None


def recorded(instance: DagsterInstance, run_id: str) -> dict[str, tuple[str, str]]:
    """Each op's outcome as recorded in the run's event log: (`failure` | `not run` | `success`, error or reason);
    an op that Dagster itself saw fail is a failure too."""
    outcomes: dict[str, tuple[str, str]] = {}
    types = {DagsterEventType.STEP_OUTPUT, DagsterEventType.STEP_FAILURE}
    for record in instance.get_records_for_run(run_id, of_type=types).records:
        event = record.event_log_entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error if event.step_failure_data else None
            outcomes[event.step_key] = ("failure", _cut(error.message if error else "failed"))
            continue
        metadata = getattr(event.event_specific_data, "metadata", None) or {}
        outcome = metadata.get(OUTCOME)
        if outcome is not None:
            detail = metadata.get(ERROR)
            outcomes[event.step_key] = (str(outcome.value), str(detail.value) if detail is not None else "")
    return outcomes


def earlier_failures(instance: DagsterInstance, run_id: str, before: int) -> list[FailedStep]:
    """The failed steps at positions before `before` (the start of the asking step's stage), in order."""
    found = []
    for step_key, (outcome, error) in recorded(instance, run_id).items():
        at = position(step_key)
        if outcome == "failure" and at is not None and at < before:
            found.append((at, FailedStep(step_key, error)))
    return [failed for _, failed in sorted(found, key=lambda item: item[0])]


def all_failures(instance: DagsterInstance, run_id: str) -> list[FailedStep]:
    return earlier_failures(instance, run_id, 10**6)


def decide(condition: RunIf, failures: list[FailedStep]) -> str | None:
    """Why a step with this `run_if` does not run after these failures; None: it runs."""
    if condition == "success" and failures:
        names = ", ".join(f.step for f in failures)
        return f"not run: an earlier step failed ({names}) and this step runs on success only"
    if condition == "failure" and not failures:
        return "not run: no earlier step failed (run_if: failure)"
    return None


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def error_summary(exc: BaseException) -> str:
    """The error as later steps and notifications see it: secrets masked before it is cut."""
    text = exc.description if isinstance(exc, Failure) and exc.description else f"{type(exc).__name__}: {exc}"
    return _cut(step_redactor().text(text))


def _retries_left(context: OpExecutionContext, exc: Exception) -> bool:
    """Whether Dagster will try the op again (its retry policy), so the failure is not final yet."""
    if isinstance(exc, RetryRequested):
        return True
    if isinstance(exc, Failure) and not exc.allow_retries:
        return False
    step_context = getattr(context, "_step_execution_context", None)
    policy = getattr(step_context, "op_retry_policy", None)
    return policy is not None and context.retry_number < policy.max_retries


def _not_run(context: OpExecutionContext, reason: str) -> Output[None]:
    context.log.info(reason)
    return Output(None, metadata={OUTCOME: "not run", ERROR: MetadataValue.text(reason)})


def _failed(context: OpExecutionContext, exc: Exception) -> Output[None]:
    summary = error_summary(exc)
    context.log.error(f"step failed: {summary} (recorded: the steps after it decide by their run_if)")
    return Output(None, metadata={OUTCOME: "failure", ERROR: MetadataValue.text(summary)})


def guarding(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` (an op's function, `context` first) that, in a guarded run, ends with its outcome recorded instead of
    raising once its retries are spent, and ends at once when its `run_if` says it does not run (NotRun)."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(context: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            if GUARDED_TAG not in context.run.tags:
                yield from fn(context, *args, **kwargs)
                return
            try:
                yield from fn(context, *args, **kwargs)
            except NotRun as exc:
                yield _not_run(context, str(exc))
            except Exception as exc:
                if _retries_left(context, exc):
                    raise
                yield _failed(context, exc)

        return generator

    @functools.wraps(fn)
    def function(context: Any, *args: Any, **kwargs: Any) -> Any:
        if GUARDED_TAG not in context.run.tags:
            return fn(context, *args, **kwargs)
        try:
            return fn(context, *args, **kwargs)
        except NotRun as exc:
            return _not_run(context, str(exc))
        except Exception as exc:
            if _retries_left(context, exc):
                raise
            return _failed(context, exc)

    return function


@op(name=RUN_OUTCOME, ins={"after": In(Nothing)}, out=Out(Nothing), tags={"kind": "honeyframe"})
def run_outcome_op(context: OpExecutionContext) -> Output[None]:
    """The last op of a guarded job: fails the run when a step failed, naming each with its error."""
    failures = all_failures(context.instance, context.run_id)
    if failures:
        names = [f.step for f in failures]
        raise Failure(
            f"Steps failed: {names}",
            metadata={"failed steps": MetadataValue.json([f.public() for f in failures])},
            allow_retries=False,
        )
    return Output(None, metadata={"failed steps": 0})


__all__ = [
    "ERROR",
    "GUARDED_TAG",
    "OUTCOME",
    "RUN_OUTCOME",
    "FailedStep",
    "NotRun",
    "all_failures",
    "decide",
    "earlier_failures",
    "error_summary",
    "guarding",
    "is_guarded",
    "position",
    "recorded",
    "run_outcome_op",
]
