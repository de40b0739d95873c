"""What an agent's core decides with: plain values, no environment (`AgentSettings.rules()`
builds them; each default and range lives there, once). The live parameters (KV
`agent_params`) replace some of them between two cycles."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AgentRules"]


@dataclass(frozen=True, slots=True)
class AgentRules:
    """Bands, triggers, the choice of options and the in-flight timeouts of one specialist
    agent (see `AgentSettings` for each field's meaning and unit)."""

    band_fraction: float
    target_fraction: float
    price_move: float
    timer_interval_s: float
    min_tenor_days: float
    max_tenor_days: float
    max_sd: float
    max_legs: int
    depth_fraction: float
    collar_fraction: float
    decision_timeout_s: float
    settle_timeout_s: float
    policy: str = "band"
    """band, or learned (a specialist that serves a checkpoint; the band is its fallback)."""
