"""Settings of the gamma-agent, from the environment (`HEDGEMESH_GAMMA_AGENT_<FIELD>`)."""

from __future__ import annotations

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

    @model_validator(mode="after")
    def _policy_option_lives(self) -> Self:
        if self.policy_tenor_days <= self.min_tenor_days:
            raise ValueError("policy_tenor_days must exceed min_tenor_days")
        return self
