"""Live agent parameters kept in JetStream KV `agent_params` (key: the agent's service name,
`gamma-agent` or `vega-agent`).

Each field overrides the agent's setting of the same name from its environment
(`hedgemesh.agentkit.config.AgentSettings`); a field left None keeps that setting. Only
parameters that are safe to change between two cycles are here: the bands, the triggers, the
choice of legs and an `enabled` switch (False: the agent proposes nothing). The ranges are the
settings' own, and the two band fractions go together, so that every value this model accepts
can be applied by an agent whatever its environment says.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

from pydantic import Field, StrictBool, field_validator, model_validator

from hedgemesh.wire.base import Id, Token, WireModel, WireValue
from hedgemesh.wire.ops import HedgePolicy

#: The agent services whose parameters live in KV `agent_params`.
AGENTS = ("gamma-agent", "vega-agent")


def whole(value: Any) -> Any:
    """`3.0` as 3: a JSON Schema integer may be written so; strict mode would refuse it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class ParamValues(WireValue):
    """The parameters alone, each None where the environment's setting stays in force."""

    enabled: StrictBool | None = Field(
        default=None, description="False: the agent proposes nothing (its cycles still run)."
    )
    band_fraction: float | None = Field(
        default=None, gt=0, le=1, description="Of the limit: the agent acts past it."
    )
    target_fraction: float | None = Field(
        default=None, ge=0, le=1, description="Of the limit: where a hedge brings the greek."
    )
    price_move: float | None = Field(
        default=None, ge=0, le=1, description="Relative spot move that re-hedges; 0: off."
    )
    timer_interval_s: float | None = Field(
        default=None, ge=0, le=86_400 * 30, description="Re-hedge this often (clock s); 0: off."
    )
    max_legs: int | None = Field(default=None, ge=1, le=32, description="Options per proposal.")
    depth_fraction: float | None = Field(
        default=None, gt=0, le=100, description="A leg takes at most this share of its depth."
    )
    collar_fraction: float | None = Field(
        default=None, gt=0, le=1, description="Share of the limits' price collar a leg may use."
    )
    policy: Literal["band", "learned"] | None = Field(
        default=None,
        description="band, or learned (the gamma-agent's checkpoint, the band as its fallback).",
    )

    _whole_legs = field_validator("max_legs", mode="before")(whole)

    def overrides(self) -> dict[str, Any]:
        """The settings this value changes, by name (the fields that are set)."""
        return {name: value for name in PARAMETERS if (value := getattr(self, name)) is not None}


#: The parameter fields, in their order.
PARAMETERS: tuple[str, ...] = tuple(ParamValues.model_fields)


class AgentParams(WireModel, ParamValues):
    """The value of KV `agent_params` for one agent (key: the agent)."""

    kind: ClassVar[str] = "agent_params"

    agent: Token = Field(description="The agent service these parameters are for.")
    changed_by: Id = Field(description="The operator or service that set them.")

    @model_validator(mode="after")
    def _bands_nest(self) -> Self:
        band, target = self.band_fraction, self.target_fraction
        if (band is None) != (target is None):
            raise ValueError("band_fraction and target_fraction are set together")
        if band is not None and target is not None and target > band:
            raise ValueError("target_fraction must not exceed band_fraction")
        if self.policy == HedgePolicy.LEARNED and self.agent != "gamma-agent":
            raise ValueError(f"policy: {self.agent} has no learned policy (gamma-agent has)")
        return self
