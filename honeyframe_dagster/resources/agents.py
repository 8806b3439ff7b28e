"""AI agents as a Dagster resource: endpoints from the env vars an Agent document names, limits from settings."""

from __future__ import annotations

import os

from dagster import ConfigurableResource

from honeyframe_dagster.agent_client import Endpoint
from honeyframe_dagster.model.documents import Agent
from honeyframe_dagster.net_policy import EgressRefused, check_url
from honeyframe_dagster.settings import get_settings


class AgentEndpointMissing(LookupError):
    pass


class AgentsResource(ConfigurableResource):
    """Batch size, concurrency, timeout and failure ratio: HONEYFRAME_AGENT_* (settings.py). No key in run config."""

    def endpoint(self, agent: Agent) -> Endpoint:
        base_url = os.environ.get(agent.base_url_env)
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
            api_key=os.environ.get(agent.api_key_env) or None,
            model=agent.model,
            system_prompt=agent.system_prompt,
            timeout=get_settings().agent_timeout_seconds,
        )

    @property
    def batch_size(self) -> int:
        return get_settings().agent_batch_size

    @property
    def concurrency(self) -> int:
        return get_settings().agent_concurrency

    @property
    def failure_ratio(self) -> float:
        return get_settings().agent_failure_ratio
