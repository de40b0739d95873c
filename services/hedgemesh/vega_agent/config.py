"""Settings of the vega-agent, from the environment (`HEDGEMESH_VEGA_AGENT_<FIELD>`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from hedgemesh.agentkit.config import AgentSettings


class VegaAgentSettings(AgentSettings):
    """Longer-dated options (from 20 days), within 0.75 standard deviations of the money; the
    book's total vega goes to the bucket of `vega_tenor_days`."""

    model_config = SettingsConfigDict(
        env_prefix="HEDGEMESH_VEGA_AGENT_",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
        populate_by_name=True,
    )

    min_tenor_days: float = Field(default=20.0, ge=0, le=3650)
    max_tenor_days: float = Field(default=400.0, gt=0, le=3650)
    max_sd: float = Field(default=0.75, gt=0, le=10)
    vega_tenor_days: float = Field(
        default=75.0,
        gt=0,
        le=3650,
        description="The expiry bucket holding this tenor takes the book's total vega when the "
        "buckets' own hedges leave it outside its band (60–90-day options by default).",
    )
