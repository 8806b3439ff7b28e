"""`send_email_report`: the step's model and the check that its dashboards exist in the project."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field, field_validator

from honeyframe_dagster.model.hygiene import Line
from honeyframe_dagster.model.step_base import (
    MAX_LIST_ITEMS,
    MAX_RECIPIENTS,
    NAME_PATTERN,
    EmailText,
    StepRetry,
    TimeFilter,
    _Step,
    check_email,
    check_in_project,
)
from honeyframe_dagster.steps.entry import StepKind

if TYPE_CHECKING:
    from honeyframe_dagster.model.scenario import Catalog


class SendEmailReportStep(_Step):
    """Render dashboards to PDF or HTML and e-mail them."""

    # The product doc promises e-mail delivery retries (factory/jobs.py: first delay from the settings).
    default_retry: ClassVar[StepRetry] = StepRetry(max_retries=3, delay_seconds=2, backoff="exponential")
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


def check_references(
    step: SendEmailReportStep, index: int, project_id: str, catalog: Catalog, recipes: Collection[str] | None
) -> None:
    for dashboard in step.dashboard_ids:
        check_in_project(catalog.dashboards, "dashboard", project_id, dashboard, ("steps", index, "dashboard_ids"))


KIND = StepKind(SendEmailReportStep, check_references)
