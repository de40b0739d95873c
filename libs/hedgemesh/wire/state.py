"""Live desk state kept in JetStream KV: the trading state and the risk limits.

KV `limits` holds one `RiskLimits` per underlying (key: the underlying) and the desk-wide
`FirmLimits` under key `firm` (`FIRM_LIMITS_KEY`, lower case, so it never clashes with an
underlying's code).

Values are stored as these messages' JSON, so a reader validates them like any message.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from hedgemesh.wire.base import Id, WireModel
from hedgemesh.wire.codes import TradingState
from hedgemesh.wire.instruments import MAX_MONEY, Cost, Quantity, Underlying

#: Key of the desk-wide `FirmLimits` in KV `limits`.
FIRM_LIMITS_KEY = "firm"


class TradingStatus(WireModel):
    """The value of KV `trading_state` (key: `desk`, or an underlying to narrow it)."""

    kind: ClassVar[str] = "trading_status"

    state: TradingState
    reason: str = Field(default="", max_length=1024, description="Why, for a person.")
    changed_by: Id = Field(description="The operator or service that set it.")
    causation_id: Id | None = Field(default=None, description="The control command that set it.")


class RiskLimits(WireModel):
    """The value of KV `limits` for one underlying (key: the underlying)."""

    kind: ClassVar[str] = "risk_limits"

    underlying: Underlying
    max_abs_delta: float = Field(ge=0, le=MAX_MONEY, description="Units of the underlying.")
    max_abs_gamma: float = Field(
        ge=0, le=MAX_MONEY, description="Delta change per 1 currency unit move of the underlying."
    )
    max_abs_dollar_gamma_per_pct: float | None = Field(
        default=None,
        ge=0,
        le=MAX_MONEY,
        description="|gamma × spot² / 100|: change of dollar delta for a 1 % move (currency), "
        "comparable across underlyings; None: only max_abs_gamma applies. Both bind.",
    )
    max_abs_vega_per_vol_point: float = Field(
        ge=0, le=MAX_MONEY, description="Currency per volatility point (0.01)."
    )
    max_order_quantity: Quantity = Field(description="Contracts or units per order.")
    max_order_notional: Cost = Field(
        description="quantity × price × multiplier per order (currency)."
    )
    daily_cost_budget: Cost = Field(description="Spread and fees the desk may spend a day.")
    price_collar: float = Field(
        gt=0, le=1, description="Largest distance of a limit price from fair value (fraction)."
    )
    max_tick_age_s: float = Field(
        gt=0, le=86_400, description="Older market data is stale: no hedging on it (seconds)."
    )
    changed_by: Id = Field(description="The operator or service that set them.")
    causation_id: Id | None = Field(default=None, description="The control command that set them.")

    def gamma_limit(self, spot: float) -> float:
        """The binding limit on raw gamma at `spot`: `max_abs_gamma`, or the dollar gamma
        limit's equivalent (dollar gamma per 1 % × 100 / spot²) when that is tighter.

        >>> limits = RiskLimits(
        ...     underlying="NDX", max_abs_delta=1000, max_abs_gamma=3,
        ...     max_abs_dollar_gamma_per_pct=8.1e6, max_abs_vega_per_vol_point=1e5,
        ...     max_order_quantity=2000, max_order_notional=5e7, daily_cost_budget=3e5,
        ...     price_collar=0.1, max_tick_age_s=30, changed_by="doc",
        ... )
        >>> limits.gamma_limit(18_000.0), round(limits.gamma_limit(15_000.0), 6)
        (2.5, 3.0)
        """
        dollar = self.max_abs_dollar_gamma_per_pct
        if dollar is None or not spot > 0:
            return self.max_abs_gamma
        return min(self.max_abs_gamma, dollar * 100.0 / (spot * spot))


class FirmLimits(WireModel):
    """The value of KV `limits` under key `firm`: limits on the whole desk, all underlyings
    together (figures in currency, so that they add up across underlyings)."""

    kind: ClassVar[str] = "firm_limits"

    max_abs_dollar_delta: float = Field(
        ge=0, le=MAX_MONEY, description="|Σ delta × spot| over the underlyings (currency)."
    )
    max_abs_dollar_gamma_per_pct: float = Field(
        ge=0,
        le=MAX_MONEY,
        description="|Σ gamma × spot² / 100|: change of dollar delta for a 1 % move (currency).",
    )
    max_abs_vega_per_vol_point: float = Field(
        ge=0, le=MAX_MONEY, description="|Σ vega| per volatility point (0.01) (currency)."
    )
    max_gross_notional_per_cycle: Cost = Field(
        description="Σ |quantity| × price × multiplier of one hedge cycle's orders (currency)."
    )
    changed_by: Id = Field(description="The operator or service that set them.")
    causation_id: Id | None = Field(default=None, description="The control command that set them.")
