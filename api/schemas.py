"""Request and response bodies of the REST API; they share the scenario model's Trigger and Step types."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from honeyframe_dagster.model.base import CompactModel
from honeyframe_dagster.model.calendars import Holidays
from honeyframe_dagster.model.documents import MAX_PARAMETERS, Parameter
from honeyframe_dagster.model.hygiene import JsonValue, Line, Name
from honeyframe_dagster.model.identifiers import ProjectId
from honeyframe_dagster.model.sla import Sla
from honeyframe_dagster.model.step_base import SecretName
from honeyframe_dagster.model.steps import MAX_LIST_ITEMS, MAX_RECIPIENTS, MAX_STEPS, Email, Step
from honeyframe_dagster.model.triggers import Trigger, check_timezone, timezone_enum

# The JSON schema lists the timezones this server knows, as a trigger's `timezone` does.
Timezone = Annotated[str, AfterValidator(check_timezone), Field(json_schema_extra=timezone_enum)]
# A project's display name: one line of 1-200 characters, as in a Project document.
ProjectName = Name
RunTrigger = Literal["schedule", "sensor", "manual", "backfill"]
# Why a scenario or a project is paused: one line, at most 500 characters.
PauseNote = Annotated[Line, Field(max_length=500)]
MAX_PREVIEW, DEFAULT_PREVIEW = 100, 10
# The secrets a project's documents may name: set by an admin token only (a project token's change is 403).
ProjectSecrets = Annotated[
    list[SecretName],
    Field(
        max_length=MAX_LIST_ITEMS,
        description="The HONEYFRAME_SECRET_* variables this project's documents may name; an admin token only.",
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScenarioCreate(_Body):
    """A new scenario of the current project (`X-Project-Id`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "hourly-orders-sync",
                    "trigger": {"interval_seconds": 3600},
                    "steps": [
                        {"kind": "sync_dataset", "dataset": "orders"},
                        {"kind": "run_recipe", "recipes": ["stg_orders", "mart_revenue"]},
                    ],
                }
            ]
        }
    )

    name: Name = Field(description="Unique within the project.")
    enabled: bool = True
    owner: Email | None = Field(default=None, description="Renders reports as this user; default project owner.")
    trigger: Trigger
    steps: list[Step] = Field(
        min_length=1, max_length=MAX_STEPS, description="Run in order; consecutive `parallel` steps fan out."
    )
    sla: Sla | None = Field(default=None, description="Alert when an instant's run has not succeeded in time.")


class ScenarioUpdate(CompactModel):
    """Fields to change; absent fields stay (none may be null but `owner`). On a template instance only `enabled`
    may change."""

    schema_nullable = ("owner", "sla")
    schema_examples = ({"enabled": False}, {"trigger": {"cron": "0 6 * * 1-5"}})
    name: Name | None = None
    enabled: bool | None = None
    owner: Email | None = Field(default=None, description="null: reports render as the project owner again.")
    trigger: Trigger | None = None
    steps: list[Step] | None = Field(default=None, min_length=1, max_length=MAX_STEPS)
    sla: Sla | None = Field(default=None, description="null: no SLA alerts any more.")
    recipients: list[Email] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_RECIPIENTS,
        description="Replaces the recipients of every send_email_report step.",
    )
    pause_note: PauseNote | None = Field(
        default=None, description="With `enabled: false` (or on a disabled scenario): why it is paused."
    )


class DagsterRefs(BaseModel):
    """Where the scenario lives in Dagster, and the status Dagster itself reports for its trigger."""

    job_name: str
    trigger_name: str | None = Field(
        description="The trigger: schedule `<job>_schedule` for a time trigger on a cron grid, else sensor "
        "`<job>_sensor`; null when the scenario is broken."
    )
    trigger_status: Literal["RUNNING", "STOPPED", "UNKNOWN"] | None = Field(
        description="From the Dagster instance; UNKNOWN when Dagster cannot be reached."
    )


class _EntityRun(BaseModel):
    """A run whose `entity` (an expand_from row's key) is shown only when it has one."""

    @model_serializer(mode="wrap")
    def _omit_no_entity(self, handler: SerializerFunctionWrapHandler):
        # No return annotation: pydantic documents the output with the model's own schema.
        data = handler(self)
        if data.get("entity") is None:
            data.pop("entity", None)
        return data


class RunPublic(_EntityRun):
    """One run of a scenario, from Dagster's run storage."""

    run_id: str
    status: str = Field(description="Dagster's run status name, e.g. SUCCESS, FAILURE, STARTED, QUEUED.")
    trigger: RunTrigger
    scheduled_for: dt.datetime | None = Field(description="The schedule or interval instant the run is for.")
    entity: str | None = Field(
        default=None, description="The expand_from row the run is for (its key); absent for a run of no entity."
    )
    started_at: dt.datetime | None
    ended_at: dt.datetime | None


class RunSummary(_EntityRun):
    """A scenario's newest run."""

    run_id: str
    status: str = Field(description="Dagster's run status name, e.g. SUCCESS, FAILURE, STARTED, QUEUED, CANCELED.")
    trigger: RunTrigger
    scheduled_for: dt.datetime | None = Field(description="The instant the run is for (a manual run: its launch).")
    entity: str | None = Field(
        default=None, description="The expand_from row the run is for (its key); absent for a run of no entity."
    )


class ScenarioPublic(BaseModel):
    """A scenario: a project's own, or a template instance (one cell of the enable matrix)."""

    id: int
    project_id: str
    name: str
    template_slug: str | None = Field(description="Set for a template instance; null for a project's own scenario.")
    trigger: Trigger | None
    steps: list[Step]
    enabled: bool
    owner: str | None
    next_run_at: dt.datetime | None = Field(
        description="The next instant the trigger fires (UTC, DST-exact); null when disabled, completed or upstream."
    )
    last_fired_at: dt.datetime | None = Field(
        default=None, description="When the trigger last created a run (not out-of-band runs); null if never."
    )
    last_run: RunSummary | None = Field(default=None, description="The newest run, whoever started it.")
    completed: bool = Field(default=False, description="A one-shot (run_at) trigger that has fired.")
    created_at: dt.datetime
    updated_at: dt.datetime
    dagster: DagsterRefs
    error: str | None = Field(default=None, description="Why the scenario cannot be built, if it cannot.")
    sla: Sla | None = Field(default=None, description="The scenario's SLA, if any.")
    sla_missed: list[dt.datetime] = Field(
        default_factory=list, description="Instants whose run had not succeeded within the SLA, newest first (20)."
    )
    version: int | None = Field(
        default=None,
        description="The scenario's current version (1 when created; every change that compiles adds one); "
        "null for a scenario that never compiled. `GET .../versions` lists them.",
    )
    pause_note: str | None = Field(default=None, description="Why it was disabled (PATCH with `pause_note`).")
    paused_by: str | None = Field(
        default=None, description="Who disabled it: the token's name, `apply` or `dagster-ui`; null while enabled."
    )
    paused_at: dt.datetime | None = Field(default=None, description="When it was disabled; null while enabled.")
    paused: bool = Field(
        default=False, description="Its project is paused: the trigger is stopped whatever `enabled` says."
    )


class ScenarioDetail(ScenarioPublic):
    """A scenario with its last 100 runs, newest first."""

    runs: list[RunPublic]


class VersionSummary(BaseModel):
    """One version of a scenario: when, by whom, and which fields changed from the version before."""

    version: int
    created_at: dt.datetime
    created_by: str = Field(
        description="The token's name, `apply`, `dagster-ui` (started or stopped in Dagster's UI), "
        "`template <slug> v<n>` (a template change), `upgrade` or `legacy migration`."
    )
    changes: list[str] = Field(description="Field paths changed from the previous version (`steps[1].recipients`).")


class VersionList(BaseModel):
    """A scenario's versions, newest first: all of them, or one page."""

    items: list[VersionSummary]
    total: int
    page: int | None = Field(description="The page shown; null when the whole list is shown.")
    page_size: int | None = Field(description="Versions per page; null when the whole list is shown.")


class VersionDetail(VersionSummary):
    """One version as it was resolved when written: what a run launched with it does."""

    id: int
    project_id: str
    name: str
    template_slug: str | None
    parameters: dict[str, Any]
    enabled: bool
    trigger: Trigger
    timezone: str = Field(description="The timezone the trigger's instants are computed in.")
    steps: list[Step]
    owner: str


class ScenarioList(BaseModel):
    """The scenarios of the current project, ordered by id: all of them, or one page."""

    items: list[ScenarioPublic]
    total: int = Field(description="How many scenarios the list has in all (after `step_kind`).")
    page: int | None = Field(description="The page shown; null when the whole list is shown.")
    page_size: int | None = Field(description="Scenarios per page; null when the whole list is shown.")


class RunPage(BaseModel):
    """One page of a scenario's run history, newest first."""

    items: list[RunPublic]
    page: int
    page_size: int
    total: int


class EntityRun(BaseModel):
    """One run of an expand_from entity."""

    entity: str
    run_id: str


class RunAccepted(BaseModel):
    """An out-of-band run was handed to Dagster (with expand_from: the first of `runs`)."""

    run_id: str
    runs: list[EntityRun] = Field(default_factory=list, description="With expand_from: each entity's run.")
    scheduled_for: dt.datetime = Field(description="The instant the run is for: now, or the instant rerun.")
    partition: str | None = Field(description="Its partition (cron scenarios, reruns of an instant); else null.")
    parameters: dict[str, Any] | None = Field(default=None, description="The parameter overrides of this run.")


class RunBody(_Body):
    """An out-of-band run: for now (no body), or a rerun of one past instant of the trigger; a template instance's
    run may override parameter values for this run only."""

    scheduled_for: dt.datetime | None = Field(
        default=None,
        description="A past instant of the scenario's trigger (ISO 8601 with an offset) to run again, "
        "with that instant's partition and report period.",
        examples=["2026-11-30T02:00:00+00:00"],
    )
    parameters: dict[str, JsonValue] | None = Field(
        default=None,
        max_length=MAX_PARAMETERS,
        description="A template instance only: parameter values for this run (over the stored ones), checked as the "
        "matrix checks them; never stored. The run's `honeyframe/parameters` tag shows them.",
    )
    entity: str | None = Field(
        default=None,
        max_length=1000,
        description="With trigger.expand_from: run only this entity (the key of one row); default every row.",
        examples=["emea"],
    )


TickOutcome = Literal["fired", "skipped", "failed"]


class TickPublic(BaseModel):
    """One evaluation of the scenario's trigger, from Dagster's tick history."""

    time: dt.datetime = Field(description="When the trigger was evaluated (UTC).")
    outcome: TickOutcome
    reason: str | None = Field(description="Why it skipped (e.g. overlap, catch-up) or failed; null when fired.")
    run_ids: list[str] = Field(description="The runs it created.")


class TickList(BaseModel):
    """Recent evaluations of the scenario's trigger, newest first."""

    items: list[TickPublic]


class MatrixCell(BaseModel):
    """A template's state for one project."""

    project_id: str
    scenario_id: int
    enabled: bool
    parameters: dict[str, Any]


class TemplatePublic(BaseModel):
    """An org-wide template with its per-project matrix."""

    slug: str
    display_name: str
    default_enabled: bool
    parameters: list[Parameter]
    trigger: Trigger
    steps: list[dict[str, Any]]
    matrix: list[MatrixCell]


class TemplateList(BaseModel):
    """Every template."""

    items: list[TemplatePublic]


class EnableBody(_Body):
    """Parameter values of this template for this project (merged over the stored ones)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"parameters": {"mart_recipe": "mart_revenue"}}]})

    parameters: dict[str, JsonValue] = Field(default_factory=dict, max_length=MAX_PARAMETERS)


class ProjectCreate(_Body):
    """A new project (admin). It starts with every `default_enabled` template enabled."""

    id: ProjectId = Field(description="Lowercase letters, digits and '-'; cannot change.")
    name: ProjectName
    owner_email: Email
    timezone: Timezone | None = Field(default=None, description="Default timezone of the project's cron triggers.")
    secrets: ProjectSecrets = Field(default_factory=list)


class ProjectUpdate(CompactModel):
    """Fields to change; absent fields stay (none may be null but `timezone`). `timezone: null` falls back to the
    org default. `secrets` replaces the project's grants (an admin token only: 403 for a project token)."""

    schema_nullable = ("timezone",)

    name: ProjectName | None = None
    owner_email: Email | None = None
    timezone: Timezone | None = None
    secrets: ProjectSecrets | None = None


class ProjectPublic(BaseModel):
    """A project: the tenant that owns scenarios, datasets, dashboards and agents."""

    id: str
    name: str
    owner_email: str
    timezone: str | None
    secrets: list[str] = Field(description="The HONEYFRAME_SECRET_* variables its documents may name.")
    created_at: dt.datetime
    updated_at: dt.datetime
    paused_at: dt.datetime | None = Field(default=None, description="When it was paused; null when not paused.")
    paused_by: str | None = Field(default=None, description="The token that paused it.")
    pause_note: str | None = Field(default=None, description="Why it is paused.")


class ProjectList(BaseModel):
    """The projects the token may act on."""

    items: list[ProjectPublic]


class PauseBody(_Body):
    """Why the project is paused (shown with it)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "warehouse migration weekend"}]})
    note: PauseNote | None = None


class CalendarPublic(BaseModel):
    """A calendar: org-wide (`project` null) or a project's own."""

    id: str
    project: str | None
    business_days: bool
    holidays: Holidays | None
    exclude: list[dt.date]
    include: list[dt.date]
    created_at: dt.datetime
    updated_at: dt.datetime


class CalendarList(BaseModel):
    """The org's calendars and those of the projects the token may act on."""

    items: list[CalendarPublic]


class PreviewBody(_Body):
    """A trigger to preview in the current project (`X-Project-Id`: its timezone and calendars apply)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"trigger": {"cron": "0 6 * * 1-5", "timezone": "Europe/Berlin"}, "count": 5}]}
    )
    trigger: Trigger
    count: int = Field(default=DEFAULT_PREVIEW, ge=1, le=MAX_PREVIEW, description="How many instants (1–100).")
    after: dt.datetime | None = Field(default=None, description="Instants after this one (default now).")


class PreviewResult(BaseModel):
    """The trigger's next instants, as its schedule or sensor would fire them."""

    instants: list[dt.datetime] = Field(description="UTC, oldest first; fewer than asked when the trigger ends.")
    timezone: str = Field(description="The timezone the instants are computed in.")


class BackfillBody(_Body):
    """The range whose instants to run (both ends included; ISO 8601 with an offset)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={"examples": [{"from": "2026-12-01T00:00:00Z", "to": "2026-12-07T00:00:00Z"}]},
    )
    start: dt.datetime = Field(alias="from")
    end: dt.datetime = Field(alias="to")


class BackfillAccepted(BaseModel):
    """A backfill was recorded and its runs handed to Dagster."""

    backfill_id: str
    instants: int = Field(description="How many instants (one run each) it covers, calendar applied.")


class BackfillPublic(BaseModel):
    """A backfill and the status of its runs."""

    model_config = ConfigDict(populate_by_name=True)
    backfill_id: str
    start: dt.datetime = Field(alias="from", serialization_alias="from")
    end: dt.datetime = Field(alias="to", serialization_alias="to")
    instants: int
    version: int = Field(description="The scenario version its runs run.")
    launched: int = Field(description="Runs handed to Dagster so far.")
    status: Literal["launching", "queued", "running", "completed", "failed", "canceled"]
    runs: dict[str, int] = Field(description="Its runs by Dagster status.")
    error: str | None = None
    created_at: dt.datetime
    created_by: str


class BackfillList(BaseModel):
    """The scenario's backfills, newest first."""

    items: list[BackfillPublic]


class Health(BaseModel):
    """Whether a scheduler worker heartbeated within the health window, and the operations tile's colour;
    `detail` and `request_id` only when the store itself could not be reached."""

    alive: bool
    last_seen: dt.datetime | None
    status: Literal["green", "amber", "red"] = Field(
        description="green: heartbeat at most 60 s old; amber: within the health window (90 s); red: older or none."
    )
    out_of_sync: int | None = Field(
        default=None,
        description="Scenarios whose trigger status in Dagster disagreed with the store at the reconciler's last "
        "pass (repaired or adopted then); absent before the first pass.",
    )
    reconciled_at: dt.datetime | None = Field(default=None, description="When that pass ran.")
    detail: str | None = None
    request_id: str | None = None


class ErrorItem(BaseModel):
    """One problem: where (`loc`, e.g. ["body", "trigger", "cron"]), what, and the offending value."""

    loc: list[str | int]
    msg: str
    input: Any = None


class ValidationProblem(BaseModel):
    """422: nothing was stored; `detail` names every problem."""

    detail: list[ErrorItem]


class Problem(BaseModel):
    """4xx/5xx other than validation; a 5xx carries the request id that the server log has too."""

    detail: str
    request_id: str | None = None


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers of a router: 422 is a ValidationProblem, others a Problem."""
    described = {
        400: "The X-Project-Id header is missing",
        401: "Missing or unknown bearer token",
        403: "The token may not act on this project, or is not an admin token",
        404: "No such scenario, project or template (also: another project's scenario)",
        409: "Conflicts with the store (duplicate name, upstream of another scenario, template instance) or with "
        "a concurrent write",
        413: "Request body over 1 MiB",
        415: "A request body that is not JSON (Content-Type must be application/json)",
        422: "Invalid input; nothing was stored",
        429: "The token sent more requests within a minute than HONEYFRAME_RATE_LIMIT_PER_MINUTE allows",
        503: "Dagster or the store could not be reached (a store outage also sends Retry-After)",
    }
    responses: dict[int | str, dict[str, Any]] = {
        code: {"model": ValidationProblem if code == 422 else Problem, "description": described[code]} for code in codes
    }
    if 429 in responses:
        responses[429]["headers"] = {
            "Retry-After": {"description": "Seconds to wait before the next request", "schema": {"type": "integer"}}
        }
    return responses
