"""Wire the vega-agent: its specialist and settings into the shared agent service."""

from __future__ import annotations

from typing import Any

from hedgemesh.agentkit.bootstrap import build_agent
from hedgemesh.runtime import Service
from hedgemesh.vega_agent.config import VegaAgentSettings
from hedgemesh.vega_agent.domain.specialist import VegaSpecialist


def build(settings: VegaAgentSettings | None = None, **parts: Any) -> Service:
    """The vega-agent service (lease `vega-agent`); `parts` as `build_agent` takes them
    (scenario, clock, runtime, nats), each defaulting to the environment's settings."""
    settings = settings or VegaAgentSettings()
    return build_agent(VegaSpecialist(settings.vega_tenor_days), settings, **parts)
