"""AI agents as a Dagster resource: endpoints from the env vars an Agent document names, limits from settings
(filled by `agents_resource`)."""

from __future__ import annotations

from dagster import ConfigurableResource

from honeyframe_dagster.model.documents import Agent
from honeyframe_dagster.net_policy import EgressRefused, check_url
from honeyframe_dagster.settings import Settings, get_settings
from honeyframe_dagster.steps.run_agent.client import Endpoint


class AgentEndpointMissing(LookupError):
    pass


class AgentsResource(ConfigurableResource):
    """Batch size, concurrency, timeout, failure ratio and most input rows: HONEYFRAME_AGENT_* (settings.py). No key
    in run config: an agent's key stays in the variable its document names."""

    batch_size: int
    concurrency: int
    failure_ratio: float
    timeout_seconds: float
    max_rows: int = 10_000

    def endpoint(self, agent: Agent) -> Endpoint:
        base_url = get_settings().secret(agent.base_url_env)
        if not base_url:
            raise AgentEndpointMissing(
                f"agent '{agent.id}': base_url_env: environment variable {agent.base_url_env} is not set"
            )
        try:
            check_url(base_url)
        except (EgressRefused, ValueError) as exc:
            # The URL itself stays out of the message: it may carry credentials.
            raise AgentEndpointMissing(f"agent '{agent.id}': base_url_env: {agent.base_url_env}: {exc}") from None
        return Endpoint(
            base_url=base_url,
            api_key=get_settings().secret(agent.api_key_env) or None,
            model=agent.model,
            system_prompt=agent.system_prompt,
            timeout=self.timeout_seconds,
        )


def agents_resource(settings: Settings) -> AgentsResource:
    """How agent steps call their models (HONEYFRAME_AGENT_*)."""
    return AgentsResource(
        batch_size=settings.agent_batch_size,
        concurrency=settings.agent_concurrency,
        failure_ratio=settings.agent_failure_ratio,
        timeout_seconds=settings.agent_timeout_seconds,
        max_rows=settings.agent_max_rows,
    )
