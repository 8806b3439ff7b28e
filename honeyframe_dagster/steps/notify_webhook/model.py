"""`notify_webhook`: the step's model (its URL is a secret's name, so there is nothing in the catalog to check)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from honeyframe_dagster.model.errors import Loc
from honeyframe_dagster.model.kinds import StepKind
from honeyframe_dagster.model.step_base import SecretName, _Step


class NotifyWebhookStep(_Step):
    """POST a JSON summary of the run so far to a webhook whose URL a HONEYFRAME_SECRET_* variable holds."""

    kind: Literal["notify_webhook"]
    url_env: SecretName = Field(
        description="The HONEYFRAME_SECRET_* variable holding the webhook URL, granted to the project (its secrets)."
    )
    format: Literal["json", "slack"] = "json"

    def variables(self) -> list[tuple[Loc, str]]:
        return [(("url_env",), self.url_env)]


KIND = StepKind(NotifyWebhookStep)
