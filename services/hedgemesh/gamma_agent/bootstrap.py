"""Wire the gamma-agent: its specialist and settings into the shared agent service."""

from __future__ import annotations

from typing import Any

from hedgemesh.agentkit.bootstrap import build_agent
from hedgemesh.gamma_agent.config import GammaAgentSettings
from hedgemesh.gamma_agent.domain.specialist import GammaSpecialist
from hedgemesh.runtime import Service


def build(settings: GammaAgentSettings | None = None, **parts: Any) -> Service:
    """The gamma-agent service (lease `gamma-agent`); `parts` as `build_agent` takes them
    (scenario, clock, runtime, nats), each defaulting to the environment's settings."""
    settings = settings or GammaAgentSettings()
    return build_agent(GammaSpecialist(settings.policy_tenor_days), settings, **parts)
