"""The documents `honeyframe apply` and the REST API accept (../shared/contract/documents.yaml)."""

from __future__ import annotations

import re
from pathlib import PureWindowsPath
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from honeyframe_dagster import net_policy
from honeyframe_dagster.model.calendars import Calendar
from honeyframe_dagster.model.errors import InvalidDocument, Loc, dotted
from honeyframe_dagster.model.hygiene import (
    INT64_MAX,
    MAX_NAME_LENGTH,
    MAX_SQL_LENGTH,
    JsonValue,
    Line,
    Name,
)
from honeyframe_dagster.model.identifiers import CatalogName, Identifier, ProjectId, Slug, WebUrl
from honeyframe_dagster.model.rendering import PROJECT_FIELDS, has_placeholder, references, render
from honeyframe_dagster.model.sla import Sla
from honeyframe_dagster.model.step_base import SecretName
from honeyframe_dagster.model.steps import (
    MAX_LIST_ITEMS,
    MAX_STEPS,
    MAX_TIMEOUT_SECONDS,
    STEP_ADAPTER,
    STEP_KINDS,
    EnvName,
    Step,
    TimeFilter,
    check_email,
)
from honeyframe_dagster.model.triggers import Trigger, check_timezone

MAX_PARAMETERS = 50
MAX_CARDS = 100
ScalarParameterType = Literal["string", "recipe_ref", "dashboard_ref", "dataset_ref", "email", "integer"]
ListParameterType = Literal["list[dashboard_ref]", "list[email]", "list[recipe_ref]", "list[string]"]
# One Literal (nested Literals flatten), so a wrong type is one error, not one per member of a union.
ParameterType = Literal[ScalarParameterType, ListParameterType]
MAX_LIST_PARAMETER_ITEMS = 100
# Stand-in values used to check a template's shape before it is instantiated for a project.
_SAMPLE_VALUES: dict[str, Any] = {
    "string": "sample",
    "recipe_ref": "sample_recipe",
    "dashboard_ref": "sample-dashboard",
    "dataset_ref": "sample_dataset",
    "email": "owner@example.com",
    "integer": 1,
}


def _sample_value(parameter_type: str) -> Any:
    item = _list_item_type(parameter_type)
    return [_SAMPLE_VALUES[item]] if item else _SAMPLE_VALUES[parameter_type]


def _list_item_type(parameter_type: str) -> str | None:
    """`list[email]` → `email`; None for a scalar type."""
    if parameter_type.startswith("list[") and parameter_type.endswith("]"):
        return parameter_type[5:-1]
    return None


SAMPLE_PROJECT = {"id": "sample", "name": "Sample", "owner_email": "owner@example.com", "timezone": "UTC"}


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Project(_Document):
    """A project: the tenant that owns scenarios, datasets, dashboards and agents."""

    kind: Literal["Project"] = "Project"
    id: ProjectId = Field(description="Lowercase letters, digits and '-'.")
    name: Name
    owner_email: str
    timezone: str | None = Field(default=None, description="Default timezone of the project's cron triggers.")
    secrets: list[SecretName] | None = Field(
        default=None,
        max_length=MAX_LIST_ITEMS,
        description="The HONEYFRAME_SECRET_* variables this project's documents may name (set by an admin only); "
        "absent: unchanged (none for a new project).",
    )

    _email = field_validator("owner_email")(lambda cls, v: check_email(v))
    _tz = field_validator("timezone")(lambda cls, v: None if v is None else check_timezone(v))
    _secrets = field_validator("secrets")(lambda cls, v: None if v is None else list(dict.fromkeys(v)))

    @property
    def granted(self) -> frozenset[str]:
        """The secrets granted to the project (model/secret_grants.py)."""
        return frozenset(self.secrets or ())

    def render_context(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in PROJECT_FIELDS}


class Parameter(BaseModel):
    """A template parameter: `{{ param.NAME }}` in the template's steps, valued per project by the matrix."""

    model_config = ConfigDict(extra="forbid")
    name: Identifier
    type: ParameterType
    default: JsonValue = None

    def coerce(self, value: Any) -> Any:
        """Check one value against this parameter's type; the error names the parameter and value."""
        item_type = _list_item_type(self.type)
        loc: Loc = ("parameters", self.name)
        if item_type is None:
            return self._coerce_scalar(self.type, value, loc)
        if not isinstance(value, list):
            raise _parameter_error(loc, f"parameter '{self.name}' must be a list ({self.type}), got {value!r}", value)
        if len(value) > MAX_LIST_PARAMETER_ITEMS:
            message = f"parameter '{self.name}' has {len(value)} items; at most {MAX_LIST_PARAMETER_ITEMS}"
            raise _parameter_error(loc, message, value)
        return [self._coerce_scalar(item_type, item, (*loc, i)) for i, item in enumerate(value)]

    @staticmethod
    def _coerce_scalar(parameter_type: str, value: Any, loc: Loc) -> Any:
        name = dotted(loc[1:])
        if parameter_type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                if not (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
                    raise _parameter_error(loc, f"parameter '{name}' must be an integer, got {value!r}", value)
                value = int(value)
            if not -INT64_MAX - 1 <= value <= INT64_MAX:
                raise _parameter_error(loc, f"parameter '{name}' must fit a 64-bit integer, got {value}", value)
            return value
        if not isinstance(value, str) or not value:
            raise _parameter_error(loc, f"parameter '{name}' must be a non-empty string, got {value!r}", value)
        if parameter_type == "email":
            try:
                check_email(value)
            except ValueError as exc:
                raise _parameter_error(loc, f"parameter '{name}': {exc}", value) from None
        return value


def _parameter_error(loc: Loc, message: str, value: Any) -> InvalidDocument:
    """A bad parameter value: the message names the parameter itself, so it is also the CLI line."""
    return InvalidDocument.at(loc, message, value, line=message)


class Template(_Document):
    """An org-wide scenario shape with parameters, instantiated per project by the enable matrix."""

    kind: Literal["Template"] = "Template"
    slug: Slug
    display_name: Name
    default_enabled: bool = False
    parameters: list[Parameter] = Field(default_factory=list, max_length=MAX_PARAMETERS)
    trigger: Trigger
    steps: list[Annotated[dict[str, JsonValue], Field(json_schema_extra=_template_step_schema)]] = Field(
        min_length=1, max_length=MAX_STEPS, description="Step configs; may hold placeholders."
    )

    @model_validator(mode="after")
    def _check_shape(self) -> Self:
        names = [p.name for p in self.parameters]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate parameter names: {', '.join(duplicates)}")
        for index, parameter in enumerate(self.parameters):
            if parameter.default is not None:
                try:
                    parameter.coerce(parameter.default)
                except InvalidDocument as exc:
                    raise InvalidDocument.at(("parameters", index, "default"), str(exc), parameter.default) from None
        for namespace, name in references(self.steps):
            if namespace == "param" and name not in names:
                raise ValueError(f"steps refer to undefined parameter '{name}'")
        samples = {p.name: p.default if p.default not in (None, []) else _sample_value(p.type) for p in self.parameters}
        for index, raw in enumerate(self.steps):
            _check_step_shape(raw, index, samples)
        return self

    def instantiate(self, project: Project, values: dict[str, Any]) -> list[Step]:
        """The steps of this template for one project; raises naming the first bad parameter or field."""
        declared = {p.name: p for p in self.parameters}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            message = f"unknown parameter(s) for template '{self.slug}': {', '.join(unknown)}"
            raise _parameter_error(("parameters", unknown[0]), message, values[unknown[0]])
        params: dict[str, Any] = {}
        for name, parameter in declared.items():
            value = values.get(name, parameter.default)
            if value is None:
                message = f"parameter '{name}' of template '{self.slug}' has no value and no default"
                raise _parameter_error(("parameters", name), message, None)
            params[name] = parameter.coerce(value)
        rendered = render(self.steps, params, project.render_context())
        return [_rendered_step(step, index, self.steps[index]) for index, step in enumerate(rendered)]


def _rendered_step(rendered: dict[str, Any], index: int, raw: dict[str, Any]) -> Step:
    """One rendered step; an error names the step's field and the parameter that filled it (`recipients: []`)."""
    try:
        return STEP_ADAPTER.validate_python(rendered)
    except ValidationError as exc:
        error = exc.errors()[0]
    loc = ("steps", index, *error["loc"][1:])  # pydantic's first part is the discriminator's tag (the step kind)
    empty = error["type"] == "too_short" and error.get("input") in ([], "")
    message = "is empty after rendering" if empty else _message(error)
    field = raw.get(str(loc[2])) if len(loc) > 2 else None
    filled_by = sorted(name for namespace, name in references(field) if namespace == "param")
    if len(filled_by) != 1:
        raise InvalidDocument.at(loc, message, error.get("input"))
    # The step field came from one parameter: the error is that parameter's.
    line = f"{dotted(loc)}: {message} (parameter '{filled_by[0]}')"
    raise InvalidDocument.at(("parameters", filled_by[0]), line, error.get("input"), line)


def _message(error: Any) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def _template_step_schema(schema: dict[str, Any]) -> None:
    """A template step names its kind literally (its other fields may be placeholders, checked per instance)."""
    schema["required"] = ["kind"]
    schema["properties"] = {"kind": {"type": "string", "enum": list(STEP_KINDS)}}


def _check_step_shape(raw: dict[str, Any], index: int, samples: dict[str, Any]) -> None:
    kind = raw.get("kind")
    if kind not in STEP_KINDS:
        message = f"unknown step kind {kind!r} (expected one of {', '.join(STEP_KINDS)})"
        raise InvalidDocument.at(("steps", index, "kind"), message, kind)
    try:
        STEP_ADAPTER.validate_python(render(raw, samples, SAMPLE_PROJECT, ("steps", index)))
    except ValidationError as exc:
        for error in exc.errors():
            field = error["loc"][1] if len(error["loc"]) > 1 else None
            # A field whose value is a placeholder is checked when the template is instantiated.
            if field is not None and has_placeholder(raw.get(str(field))):
                continue
            raise InvalidDocument.at(("steps", index, *error["loc"][1:]), _message(error), error.get("input")) from None


class Matrix(_Document):
    """One cell of the per-project enable matrix."""

    kind: Literal["Matrix"] = "Matrix"
    template: Slug
    project: ProjectId
    enabled: bool = True
    parameters: dict[str, JsonValue] = Field(default_factory=dict, max_length=MAX_PARAMETERS)


class Scenario(_Document):
    """A project's own scenario: a trigger plus ordered steps."""

    kind: Literal["Scenario"] = "Scenario"
    project: ProjectId
    name: Name
    enabled: bool = True
    owner: str | None = Field(default=None, description="Renders reports as this user; default project owner.")
    trigger: Trigger
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    sla: Sla | None = Field(default=None, description="Alert when an instant's run has not succeeded in time.")

    _owner = field_validator("owner")(lambda cls, v: None if v is None else check_email(v))


def check_data_path(value: str) -> str:
    """A path that stays under HONEYFRAME_DATA_DIR as written; symlinks out of it are refused when reading."""
    if any(ord(c) < 32 for c in value):
        raise ValueError("must not contain control characters")
    if value.startswith(("/", "\\", "~")) or PureWindowsPath(value).drive:
        raise ValueError(f"must be relative to HONEYFRAME_DATA_DIR (no absolute path, no '~'), got {value!r}")
    components = re.split(r"[\\/]", value)
    if ".." in components:
        raise ValueError(f"must not contain a '..' component, got {value!r}")
    # Hidden files and folders are the scheduler's and the operator's, not data: with the defaults the data
    # folder is the repository, which holds `.honeyframe` (the SQLite store, the warehouse), `.env`, `.git`.
    if any(part.startswith(".") and part != "." for part in components):
        raise ValueError(f"must not name a hidden file or folder (a component starting with '.'), got {value!r}")
    return value


def check_reachable_url(value: str) -> str:
    """An http(s) URL whose host the connector policy allows (net_policy.py); DNS is checked when connecting."""
    try:
        net_policy.check_url(value)
    except net_policy.EgressRefused as exc:
        raise ValueError(str(exc)) from None
    return value


class FileConnector(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["file"]
    path: str = Field(
        min_length=1,
        max_length=1024,
        description="Path or glob of CSV, Parquet or JSON files under HONEYFRAME_DATA_DIR.",
    )
    format: Literal["csv", "parquet", "json"] | None = None

    _path = field_validator("path")(lambda cls, v: check_data_path(v))


class HttpConnector(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["http"]
    url: WebUrl = Field(max_length=2048)
    format: Literal["csv", "json"] = "csv"
    timeout_seconds: float = Field(default=60, gt=0, le=MAX_TIMEOUT_SECONDS)

    _url = field_validator("url")(lambda cls, v: check_reachable_url(v))


class SqlConnector(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["sql"]
    url_env: EnvName = Field(
        description="HONEYFRAME_SECRET_* variable (granted to the project) holding a SQLAlchemy URL."
    )
    query: str = Field(min_length=1, max_length=MAX_SQL_LENGTH)


class PlatformConnector(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["platform"]
    dataset_id: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    base_url_env: EnvName = "HONEYFRAME_PLATFORM_URL"
    timeout_seconds: float = Field(default=900, gt=0, le=MAX_TIMEOUT_SECONDS)
    poll_seconds: float = Field(default=2, gt=0, le=3600)


Connector = Annotated[FileConnector | HttpConnector | SqlConnector | PlatformConnector, Field(discriminator="type")]


class Dataset(_Document):
    """A project's dataset and the connector that fills it."""

    kind: Literal["Dataset"] = "Dataset"
    id: CatalogName
    project: ProjectId
    table: Identifier | None = None
    connector: Connector

    @property
    def table_name(self) -> str:
        return self.table or self.id.replace("-", "_").replace(".", "_")


# How a report shows a number: `currency:EUR`, `percent`, `integer` or `decimal:2`.
VALUE_FORMAT_PATTERN = r"^(currency:[A-Z]{3}|percent|integer|decimal:[0-9])$"


def check_value_format(value: str) -> str:
    if not re.fullmatch(VALUE_FORMAT_PATTERN, value):
        raise ValueError(
            f"unknown format {value!r}: expected currency:CODE (3 capital letters, e.g. currency:EUR), "
            "percent, integer or decimal:N (N a digit, e.g. decimal:2)"
        )
    return value


# The pattern is checked by check_value_format (a message people read) and documented in the JSON schema.
ValueFormat = Annotated[
    str,
    AfterValidator(check_value_format),
    Field(json_schema_extra={"pattern": VALUE_FORMAT_PATTERN}, examples=["currency:EUR", "percent", "decimal:2"]),
]


class Card(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Name
    display: Literal["metric", "table", "bar", "line"]
    sql: str = Field(min_length=1, max_length=MAX_SQL_LENGTH)
    visible_to: list[str] | None = Field(default=None, max_length=MAX_LIST_ITEMS)
    format: ValueFormat | None = Field(default=None, description="Format of every number of the card.")
    formats: dict[Annotated[str, Field(max_length=200)], ValueFormat] | None = Field(
        default=None, description="Per-column formats (column name → format); win over `format`."
    )

    _visible = field_validator("visible_to")(lambda cls, v: None if v is None else [check_email(x) for x in v])


class Dashboard(_Document):
    kind: Literal["Dashboard"] = "Dashboard"
    id: CatalogName
    project: ProjectId
    title: Name
    default_time_filter: TimeFilter = "last_30_days"
    cards: list[Card] = Field(default_factory=list, max_length=MAX_CARDS)


class Agent(_Document):
    kind: Literal["Agent"] = "Agent"
    id: CatalogName
    project: ProjectId
    model: Line = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    system_prompt: str = Field(default="", max_length=MAX_SQL_LENGTH)
    base_url_env: EnvName = "HONEYFRAME_AGENT_BASE_URL"
    api_key_env: EnvName = "HONEYFRAME_AGENT_API_KEY"


Document = Annotated[
    Project | Calendar | Template | Matrix | Scenario | Dataset | Dashboard | Agent, Field(discriminator="kind")
]
DOCUMENT_ADAPTER: TypeAdapter[Document] = TypeAdapter(Document)
DOCUMENT_KINDS = ("Project", "Calendar", "Template", "Matrix", "Scenario", "Dataset", "Dashboard", "Agent")

__all__ = [
    "Agent",
    "Calendar",
    "Card",
    "Dashboard",
    "Dataset",
    "Document",
    "DOCUMENT_ADAPTER",
    "Matrix",
    "Parameter",
    "Project",
    "Scenario",
    "Template",
]
