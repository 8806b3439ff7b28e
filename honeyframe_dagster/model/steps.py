"""The step kinds of a scenario, discriminated by `kind`."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from honeyframe_dagster.model.base import CompactModel
from honeyframe_dagster.model.hygiene import MAX_SQL_LENGTH, JsonValue, Line

STEP_KINDS = ("run_recipe", "sync_dataset", "run_python", "run_agent", "send_email_report", "notify_webhook")
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$"
PYTHON_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
TABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
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


SECRET_PATTERN = r"^HONEYFRAME_SECRET_[A-Z0-9_]+$"
# The documented variables a document may name besides HONEYFRAME_SECRET_* (../shared/contract/documents.yaml).
DOCUMENTED_ENV = ("HONEYFRAME_AGENT_BASE_URL", "HONEYFRAME_AGENT_API_KEY", "HONEYFRAME_PLATFORM_URL")
MAX_TIMEOUT_SECONDS = 86_400
MAX_SECRETS = 32


def check_env_name(value: str) -> str:
    """A variable a document may name: never the store's URL, SMTP credentials or anything else of the host."""
    if not (re.match(SECRET_PATTERN, value) or value in DOCUMENTED_ENV):
        raise ValueError(f"may name only HONEYFRAME_SECRET_* variables or {', '.join(DOCUMENTED_ENV)}, got {value!r}")
    return value


def check_secret_name(value: str) -> str:
    if not re.match(SECRET_PATTERN, value):
        raise ValueError(f"must name a HONEYFRAME_SECRET_* variable, got {value!r}")
    return value


EnvName = Annotated[str, AfterValidator(check_env_name)]
SecretName = Annotated[str, AfterValidator(check_secret_name)]


def check_email(value: str) -> str:
    # fullmatch: `$` alone would let a trailing newline through (a header injection).
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.fullmatch(value):
        raise ValueError(f"invalid e-mail address {value!r}")
    return value


class StepRetry(BaseModel):
    """How often a failed step is tried again, mapped to Dagster's `RetryPolicy` (docs/scheduling.md).

    Strict types: `max_retries: true` or `jitter: "yes"` is a mistake to report, not a value to coerce."""

    model_config = ConfigDict(extra="forbid", strict=True)
    max_retries: int = Field(default=0, ge=0, le=10, description="Retries after the first attempt (0-10).")
    delay_seconds: float = Field(default=10, ge=1, le=3600, description="Wait before the first retry (1-3600 s).")
    backoff: Literal["exponential", "linear", "fixed"] = Field(
        default="exponential", description="How the wait grows between retries."
    )
    jitter: bool = Field(default=False, description="Spread retries randomly around the computed wait.")


# A step kind's retries when its step says nothing (the product doc promises e-mail delivery retries).
DEFAULT_RETRIES: dict[str, StepRetry] = {
    "send_email_report": StepRetry(max_retries=3, delay_seconds=2, backoff="exponential"),
    "sync_dataset": StepRetry(max_retries=2, delay_seconds=10, backoff="exponential"),
    "run_agent": StepRetry(max_retries=2, delay_seconds=10, backoff="exponential"),
}
NO_RETRY = StepRetry()


# Checked by check_email (the list's validator names the list and the value); the pattern documents it.
EmailText = Annotated[str, Field(json_schema_extra={"pattern": EMAIL_PATTERN, "maxLength": 254})]
Email = Annotated[EmailText, AfterValidator(check_email)]


class _Step(CompactModel):
    retry: StepRetry | None = Field(default=None, description="Retries of this step; default depends on the kind.")
    parallel: bool = Field(default=False, description="Run alongside the neighbouring parallel steps.")
    transactional: bool = Field(
        default=True,
        description="In a parallel group: the group's warehouse writes become visible together, "
        "only when every step of the group succeeded. False: this step commits on its own.",
    )

    @property
    def retry_policy(self) -> StepRetry:
        """The step's own retry settings, else its kind's default."""
        kind = getattr(self, "kind", "")
        return self.retry or DEFAULT_RETRIES.get(kind, NO_RETRY)


class RunRecipeStep(_Step):
    """`dbt build` of one or more recipes (dbt models)."""

    schema_one_of = ({"required": ["recipe"]}, {"required": ["recipes"]})
    kind: Literal["run_recipe"]
    recipe: str | None = Field(default=None, pattern=NAME_PATTERN)
    recipes: list[Annotated[str, Field(pattern=NAME_PATTERN)]] | None = Field(
        default=None, max_length=MAX_LIST_ITEMS, json_schema_extra={"minItems": 1}
    )

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.recipe is None) == (self.recipes is None):
            raise ValueError("run_recipe needs exactly one of 'recipe' or 'recipes'")
        if self.recipes is not None and not self.recipes:
            raise ValueError("run_recipe 'recipes' must not be empty")
        return self

    @property
    def selection(self) -> list[str]:
        return [self.recipe] if self.recipe is not None else list(self.recipes or [])


class SyncDatasetStep(_Step):
    """Run a dataset's connector and (re)load it into the warehouse."""

    kind: Literal["sync_dataset"]
    dataset: str = Field(pattern=NAME_PATTERN)


class RunPythonStep(_Step):
    """Run a standalone Python recipe in a subprocess through Dagster Pipes."""

    kind: Literal["run_python"]
    recipe: str = Field(pattern=PYTHON_NAME_PATTERN)
    args: dict[str, JsonValue] = Field(default_factory=dict, max_length=MAX_LIST_ITEMS)
    timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_SECONDS, description="At most 24 h.")
    secrets: list[SecretName] = Field(
        default_factory=list,
        max_length=MAX_SECRETS,
        description="The HONEYFRAME_SECRET_* variables the recipe's process sees; it sees no other secret.",
    )


class RunAgentStep(_Step):
    """Stream rows to an AI agent and write one result per row."""

    kind: Literal["run_agent"]
    agent: str = Field(pattern=NAME_PATTERN)
    input: str = Field(
        min_length=1, max_length=MAX_SQL_LENGTH, description="A SQL query over the warehouse, or a dataset id."
    )
    output_table: str = Field(pattern=TABLE_PATTERN)


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


class SendEmailReportStep(_Step):
    """Render dashboards to PDF or HTML and e-mail them."""

    kind: Literal["send_email_report"]
    dashboard_ids: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(
        default_factory=list, max_length=MAX_LIST_ITEMS
    )
    recipients: list[EmailText] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    format: Literal["pdf", "html"] = "pdf"
    time_filter: TimeFilter | None = None
    subject: Line | None = Field(default=None, max_length=200)

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, values: list[str]) -> list[str]:
        return [check_email(value) for value in values]


class NotifyWebhookStep(_Step):
    """POST a JSON summary of the run so far to a webhook whose URL a HONEYFRAME_SECRET_* variable holds."""

    kind: Literal["notify_webhook"]
    url_env: SecretName = Field(description="The HONEYFRAME_SECRET_* variable holding the webhook URL.")
    format: Literal["json", "slack"] = "json"


Step = Annotated[
    RunRecipeStep | SyncDatasetStep | RunPythonStep | RunAgentStep | SendEmailReportStep | NotifyWebhookStep,
    Field(discriminator="kind"),
]
STEP_ADAPTER: TypeAdapter[Step] = TypeAdapter(Step)
STEPS_ADAPTER: TypeAdapter[list[Step]] = TypeAdapter(list[Step])
