"""Wire the gamma-agent: its specialist and settings into the shared agent service."""

from __future__ import annotations

from typing import Any

from hedgemesh.agentkit.bootstrap import build_agent
from hedgemesh.gamma_agent.config import GammaAgentSettings
from hedgemesh.gamma_agent.domain.specialist import GammaSpecialist
from hedgemesh.policies.learned.serving import LearnedServing
from hedgemesh.runtime import Service


def build(settings: GammaAgentSettings | None = None, **parts: Any) -> Service:
    """The gamma-agent service (lease `gamma-agent`); `parts` as `build_agent` takes them
    (scenario, clock, runtime, nats), each defaulting to the environment's settings."""
    settings = settings or GammaAgentSettings()
    serving = LearnedServing(settings.checkpoint, budget_s=settings.learned_budget_ms / 1000.0)
    specialist = GammaSpecialist(settings.policy_tenor_days, serving=serving)
    return build_agent(specialist, settings, **parts)
