"""A scenario's service level (`sla`): the run for each instant must have succeeded within `finish_within_seconds`
of the instant, else one alert goes out (factory/sla.py checks it; docs/scheduling.md, "SLA alerts")."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from honeyframe_dagster.model.errors import Loc
from honeyframe_dagster.model.step_base import MAX_RECIPIENTS, Email, SecretName

MIN_SLA_SECONDS = 60
MAX_SLA_SECONDS = 7 * 86_400


class SlaNotify(BaseModel):
    """Who hears of a late instant: a webhook (its URL in a granted secret), e-mail recipients, or both."""

    model_config = ConfigDict(extra="forbid")
    webhook_env: SecretName | None = Field(
        default=None, description="The HONEYFRAME_SECRET_* variable holding the webhook URL, granted to the project."
    )
    recipients: list[Email] | None = Field(default=None, min_length=1, max_length=MAX_RECIPIENTS)

    @model_validator(mode="after")
    def _someone(self) -> Self:
        if self.webhook_env is None and not self.recipients:
            raise ValueError("notify needs webhook_env, recipients or both")
        return self


class Sla(BaseModel):
    """Alert when the run of an instant has not succeeded `finish_within_seconds` after it."""

    model_config = ConfigDict(extra="forbid")
    finish_within_seconds: int = Field(ge=MIN_SLA_SECONDS, le=MAX_SLA_SECONDS)
    notify: SlaNotify

    def variables(self) -> list[tuple[Loc, str]]:
        """The secret it names, with its field (model/secret_grants.py)."""
        webhook = self.notify.webhook_env
        return [(("sla", "notify", "webhook_env"), webhook)] if webhook else []

    def dump(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_none=True)


__all__ = ["MAX_SLA_SECONDS", "MIN_SLA_SECONDS", "Sla", "SlaNotify"]
