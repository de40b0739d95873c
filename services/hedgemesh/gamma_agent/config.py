"""Settings of the gamma-agent, from the environment (`HEDGEMESH_GAMMA_AGENT_<FIELD>`)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from hedgemesh.agentkit.config import AgentSettings


class GammaAgentSettings(AgentSettings):
    """Shorter-dated, near-the-money options (2 to 45 days, within one standard deviation);
    the policy's reference option is the `policy_tenor_days` at-the-money one."""

    model_config = SettingsConfigDict(
        env_prefix="HEDGEMESH_GAMMA_AGENT_",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
        populate_by_name=True,
    )

    policy_tenor_days: float = Field(
        default=14.0,
        gt=0,
        le=3650,
        description="Tenor of the at-the-money option `DeltaGamma` sizes the gamma change on.",
    )

    checkpoint: Path | None = Field(
        default=None,
        description="The learned policy's checkpoint folder (`hedgemesh train`), run when "
        "`policy` is learned; the band stands in while it is missing or fails its checks.",
    )
    learned_budget_ms: float = Field(
        default=5.0,
        gt=0,
        le=10_000,
        description="A learned decision slower than this (real ms) is replaced by the band's.",
    )

    @model_validator(mode="after")
    def _policy_option_lives(self) -> Self:
        if self.policy_tenor_days <= self.min_tenor_days:
            raise ValueError("policy_tenor_days must exceed min_tenor_days")
        return self
