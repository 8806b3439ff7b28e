"""`send_email_report`: the step's model: it names dashboards of its project, which it renders and e-mails."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from honeyframe_dagster.model.hygiene import Line
from honeyframe_dagster.model.identifiers import CatalogName
from honeyframe_dagster.model.kinds import StepKind
from honeyframe_dagster.model.step_base import (
    MAX_LIST_ITEMS,
    MAX_RECIPIENTS,
    EmailText,
    Reference,
    StepRetry,
    TimeFilter,
    _Step,
    check_email,
)


class SendEmailReportStep(_Step):
    """Render dashboards to PDF or HTML and e-mail them."""

    # The product doc promises e-mail delivery retries (factory/jobs.py: first delay from the settings).
    default_retry: ClassVar[StepRetry] = StepRetry(max_retries=3, delay_seconds=2, backoff="exponential")
    kind: Literal["send_email_report"]
    dashboard_ids: list[CatalogName] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    recipients: list[EmailText] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    format: Literal["pdf", "html"] = "pdf"
    time_filter: TimeFilter | None = None
    subject: Line | None = Field(default=None, max_length=200)

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, values: list[str]) -> list[str]:
        return [check_email(value) for value in values]

    def references(self) -> list[Reference]:
        return [Reference("dashboards", "dashboard", name, "dashboard_ids") for name in self.dashboard_ids]


KIND = StepKind(SendEmailReportStep)
