"""What every step kind shares: the `_Step` base, retries, time filters, names, e-mail and secret checks.

The kinds themselves live in `honeyframe_dagster/steps/<kind>/model.py`; `model/steps.py` joins them into `Step`.
Nothing here imports a step kind, so a kind's model can import this module."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, NamedTuple, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from honeyframe_dagster.model.base import CompactModel
from honeyframe_dagster.model.entities import FIXED_FIELDS, SAMPLES, fields_with_entity, has_entity, sampled
from honeyframe_dagster.model.errors import Loc, ScenarioError
from honeyframe_dagster.model.suggest import did_you_mean
from honeyframe_dagster.settings import ENV_NAME_PATTERN, SECRET_PATTERN, check_env_name, check_secret_name

if TYPE_CHECKING:
    from honeyframe_dagster.model.scenario import Catalog

MAX_STEPS = 100
MAX_RECIPIENTS = 100
MAX_LIST_ITEMS = 100
# Conservative address check: no whitespace, no header-injection characters, one '@', a dotted or local domain.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
# The same check as a JSON-schema pattern for clients and fuzzers.
EMAIL_PATTERN = _EMAIL.pattern
RELATIVE_TIME_FILTERS = (
    "today",
    "yesterday",
    "last_7_days",
    "last_30_days",
    "last_week",
    "last_month",
    "week_to_date",
    "month_to_date",
    "year_to_date",
)


MAX_TIMEOUT_SECONDS = 86_400
MAX_SECRETS = 32


# The allowed-name rule lives with the settings, whose `secret()` applies it again when reading the variable.
# The patterns state the rule in the JSON schema (OpenAPI), so a client can know what is accepted.
EnvName = Annotated[str, AfterValidator(check_env_name), Field(json_schema_extra={"pattern": ENV_NAME_PATTERN})]
SecretName = Annotated[str, AfterValidator(check_secret_name), Field(json_schema_extra={"pattern": SECRET_PATTERN})]


def _integral(value: Any) -> Any:
    """3.0 is the integer 3 in JSON (and in the JSON schema's `integer`); 3.5, true or "3" stay refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def check_email(value: str) -> str:
    # fullmatch: `$` alone would let a trailing newline through (a header injection).
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.fullmatch(value):
        raise ValueError(f"invalid e-mail address {value!r}")
    return value


class StepRetry(BaseModel):
    """How often a failed step is tried again, mapped to Dagster's `RetryPolicy` (docs/scheduling.md).

    Strict types: `max_retries: true` or `jitter: "yes"` is a mistake to report, not a value to coerce."""

    model_config = ConfigDict(extra="forbid", strict=True)
    max_retries: Annotated[int, BeforeValidator(_integral)] = Field(
        default=0, ge=0, le=10, description="Retries after the first attempt (0-10)."
    )
    delay_seconds: float = Field(default=10, ge=1, le=3600, description="Wait before the first retry (1-3600 s).")
    backoff: Literal["exponential", "linear", "fixed"] = Field(
        default="exponential", description="How the wait grows between retries."
    )
    jitter: bool = Field(default=False, description="Spread retries randomly around the computed wait.")


NO_RETRY = StepRetry()


# Checked by check_email (the list's validator names the list and the value); the pattern documents it.
EmailText = Annotated[str, Field(json_schema_extra={"pattern": EMAIL_PATTERN, "maxLength": 254})]
Email = Annotated[EmailText, AfterValidator(check_email)]


# When a step runs (docs/steps.md, "Run conditions"): `success` (the default) only when no earlier step failed,
# `failure` only when one did, `always` in both cases.
RunIf = Literal["success", "failure", "always"]


class Reference(NamedTuple):
    """A project object a step names: it must exist in the step's project (`check_references`), and loading a
    scenario's catalog loads it (store/catalog.py)."""

    collection: Literal["datasets", "dashboards", "agents"]  # the Catalog attribute that holds it
    noun: str
    name: str
    field: str  # the step's field that names it


class _Step(CompactModel):
    # The kind's retries when its step says nothing; a kind's model sets its own.
    default_retry: ClassVar[StepRetry] = NO_RETRY
    if TYPE_CHECKING:
        kind: str  # each kind's model declares its own `Literal`

    retry: StepRetry | None = Field(default=None, description="Retries of this step; default depends on the kind.")
    parallel: bool = Field(default=False, description="Run alongside the neighbouring parallel steps.")
    transactional: bool = Field(
        default=True,
        description="In a parallel group: the group's warehouse writes become visible together, "
        "only when every step of the group succeeded. False: this step commits on its own.",
    )
    run_if: RunIf | None = Field(
        default=None,
        description="When the step runs: success (default: only when no earlier step failed), failure (only when "
        "one did) or always.",
    )

    @property
    def condition(self) -> RunIf:
        """The step's `run_if`, `success` when unset."""
        return self.run_if or "success"

    @property
    def has_entity(self) -> bool:
        """Whether a field holds an `{{ entity.COLUMN }}` placeholder (model/entities.py)."""
        return has_entity(self.model_dump(mode="json", exclude_none=True))

    @model_validator(mode="wrap")
    @classmethod
    def _entity_placeholders(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """A field holding `{{ entity.COLUMN }}` is validated with a sample in its place (the first of
        model/entities.py `SAMPLES` it accepts) and keeps the placeholder: each run renders it with its row."""
        if not isinstance(data, Mapping) or not has_entity(data):
            return handler(data)
        fields = fields_with_entity(data)
        fixed = [field for field in fields if field in FIXED_FIELDS]
        if fixed:
            raise ValueError(f"{fixed[0]} takes no {{{{ entity.COLUMN }}}} placeholder (it shapes the job)")
        choice: dict[str, int] = {}
        tried: list[ValidationError] = []
        while True:
            try:
                step = handler(sampled(data, choice))
                break
            except ValidationError as exc:
                errors = exc.errors()
                failing = {str(error["loc"][0]) for error in errors if error["loc"]}
                if not failing or not failing <= set(fields):
                    raise
                if not all(
                    _from_sample(error["input"], SAMPLES[choice.get(str(error["loc"][0]), 0)]) for error in errors
                ):
                    raise  # a value written as it is, not the sample in a placeholder's place
                tried.append(exc)
                if any(choice.get(field, 0) + 1 >= len(SAMPLES) for field in failing):
                    # No sample fits: the telling error is the last that is not about the sample's type (an
                    # address that fits beside another value that does not: `recipients: [{{…}}, oops]`).
                    raise next((e for e in reversed(tried) if not _type_errors(e)), tried[0]) from None
                choice.update({field: choice.get(field, 0) + 1 for field in failing})
        for field in fields:
            object.__setattr__(step, field, data[field])
        return step

    @property
    def retry_policy(self) -> StepRetry:
        """The step's own retry settings, else its kind's default."""
        return self.retry or self.default_retry

    # What a kind's model overrides for the checks that every step goes through (model/scenario.py, tenancy.py).

    def references(self) -> list[Reference]:
        """The datasets, dashboards and agents of its project that the step names."""
        return []

    def variables(self) -> list[tuple[Loc, str]]:
        """The environment variables the step names (a secret's name, never its value), each with its field; the
        project must be granted them (model/secret_grants.py)."""
        return []

    def written_table(self, project_id: str, catalog: Catalog) -> tuple[str, str] | None:
        """The warehouse table the step writes and the field that names it; None: none (or not known yet)."""
        return None

    def check_tables(
        self, index: int, project_id: str, catalog: Catalog, recipes: Collection[str] | None, readable: Any
    ) -> None:
        """The kind's own tenancy rules (model/tenancy.py `check_steps`, after the owners of every written table):
        TenancyError naming the field. `readable`: what the project's SQL may read (None: unchecked)."""


def _type_errors(exc: ValidationError) -> bool:
    return any(str(error["type"]).endswith("_type") for error in exc.errors())


def _from_sample(value: Any, sample: Any) -> bool:
    """Whether a failing value is (or holds) the sample standing in for a placeholder."""
    if isinstance(value, str) and isinstance(sample, str):
        return sample in value
    if isinstance(value, list | dict):
        items = value.values() if isinstance(value, dict) else value
        return any(_from_sample(item, sample) for item in items)
    return bool(value == sample)


class TimeRange(BaseModel):
    """A fixed time filter: from `start` (inclusive) to `end` (exclusive)."""

    model_config = ConfigDict(extra="forbid")
    start: dt.datetime
    end: dt.datetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"time_filter end {self.end.isoformat()} must be after start {self.start.isoformat()}")
        return self


def _one_time_filter(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One error that names the field, not one per member of the union (pydantic's `literal[...]` paths)."""
    if isinstance(value, dict):
        return TimeRange.model_validate(value)
    if isinstance(value, TimeRange) or (isinstance(value, str) and value in RELATIVE_TIME_FILTERS):
        return handler(value)
    raise ValueError(
        f"unknown time filter {value!r}: expected one of {', '.join(RELATIVE_TIME_FILTERS)}, or {{start, end}}"
    )


TimeFilter = Annotated[
    Literal[RELATIVE_TIME_FILTERS] | TimeRange,  # type: ignore[valid-type]
    WrapValidator(_one_time_filter),
]


def step_groups(steps: Sequence[_Step]) -> list[list[int]]:
    """Step indexes in execution stages: a run of consecutive `parallel: true` steps forms one stage."""
    groups: list[list[int]] = []
    for index, step in enumerate(steps):
        if step.parallel and groups and steps[groups[-1][0]].parallel:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def is_deferred(steps: Sequence[_Step], index: int) -> bool:
    """Whether this step's writes wait for its group's commit op (steps/transactional.py): it is transactional
    and runs beside others."""
    group = next(group for group in step_groups(steps) if index in group)
    return len(group) > 1 and steps[index].transactional


def check_in_project(known: Collection[tuple[str, str]], noun: str, project_id: str, name: str, loc: Loc) -> None:
    """A step's reference to a project's dataset, agent or dashboard: ScenarioError naming `loc` and `name` unless
    `known` (the catalog's `(project, name)` keys) holds it."""
    if (project_id, name) not in known:
        hint = did_you_mean(name, [known_name for project, known_name in known if project == project_id])
        raise ScenarioError.at(loc, f"unknown {noun} '{name}' in project '{project_id}'{hint}", name)
