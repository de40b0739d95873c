"""Market data: the underlying's ticks and the implied-volatility surface (raw SVI per expiry)."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Self

from pydantic import Field, model_validator

from hedgemesh.wire import subjects
from hedgemesh.wire.base import Seq, UtcDatetime, WireModel, WireValue
from hedgemesh.wire.instruments import Price, Underlying

Rate = Annotated[float, Field(ge=-1.0, le=1.0)]
"""A continuously compounded rate per year (0.05 is 5%)."""

#: Slack on the smallest total variance (years · vol²), so that rounding at the w ≥ 0 boundary
#: is not an error; the same as `hedgemesh.quant.svi` allows.
MIN_TOTAL_VARIANCE_TOLERANCE = 1e-12


class Tick(WireModel):
    """A price of the underlying. Rule: `bid <= ask` when both are given."""

    kind: ClassVar[str] = "tick"
    subject_pattern: ClassVar[str] = subjects.ALL_TICKS
    sequence_key: ClassVar[str | None] = "underlying"

    underlying: Underlying
    price: Price = Field(description="Reference price: last trade or mid (currency units).")
    seq: Seq = Field(
        description="Per underlying and producer run; increases by one per tick (a gap is a loss)."
    )
    bid: Price | None = Field(default=None, description="Best bid (currency units).")
    ask: Price | None = Field(default=None, description="Best ask (currency units).")

    @model_validator(mode="after")
    def _bid_not_above_ask(self) -> Self:
        if self.bid is not None and self.ask is not None and self.bid > self.ask:
            raise ValueError(f"bid {self.bid} is above ask {self.ask}")
        return self

    @property
    def publish_subject(self) -> str:
        return subjects.tick(self.underlying)


class SviSlice(WireValue):
    """One expiry of the surface in raw SVI: total implied variance at log-moneyness
    k = ln(K / forward) is w(k) = a + b·(rho·(k − m) + √((k − m)² + sigma²)), and the implied
    volatility is √(w(k) / t).

    Rules: b ≥ 0, |rho| < 1, sigma > 0, and the smallest total variance
    a + b·sigma·√(1 − rho²) is ≥ 0 (to within `MIN_TOTAL_VARIANCE_TOLERANCE`).
    """

    expiry: UtcDatetime = Field(description="When the options of this slice expire (UTC).")
    t: float = Field(gt=0, le=100, description="Time to expiry from the surface's `ts` (years).")
    forward: Price = Field(description="Forward price of the underlying to `expiry` (currency).")
    a: float = Field(description="Level of total variance (years · vol²).")
    b: float = Field(ge=0, description="Slope of the wings (total variance per unit of k).")
    rho: float = Field(gt=-1, lt=1, description="Skew: rotation of the smile, in (−1, 1).")
    m: float = Field(description="Horizontal shift of the smile (log-moneyness).")
    sigma: float = Field(gt=0, description="Curvature at the vertex (log-moneyness).")

    @model_validator(mode="after")
    def _total_variance_non_negative(self) -> Self:
        if self.min_total_variance < -MIN_TOTAL_VARIANCE_TOLERANCE:
            raise ValueError(
                f"a + b·sigma·√(1 − rho²) = {self.min_total_variance:.6g} is negative: "
                "the total variance would be negative near k = m"
            )
        return self

    @property
    def min_total_variance(self) -> float:
        """The smallest total variance of the slice, a + b·sigma·√(1 − rho²) (years · vol²)."""
        return self.a + self.b * self.sigma * math.sqrt(1.0 - self.rho * self.rho)


class Surface(WireModel):
    """The implied-volatility surface of one underlying: one SVI slice per expiry.

    Rules: slices in strictly increasing expiry and t, every expiry after `ts`.
    """

    kind: ClassVar[str] = "surface"
    subject_pattern: ClassVar[str] = subjects.ALL_SURFACES
    sequence_key: ClassVar[str | None] = "underlying"

    underlying: Underlying
    spot: Price = Field(description="Spot price the surface was built on (currency units).")
    rate: Rate = Field(description="Risk-free rate, continuously compounded (per year).")
    div: Rate = Field(description="Dividend (or carry) yield, continuously compounded (per year).")
    slices: list[SviSlice] = Field(min_length=1, max_length=64)
    seq: Seq = Field(description="Per underlying and producer run; increases by one per surface.")
    depth_multiplier: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Depth of the venue's books relative to normal (1): below 1 in a scheduled "
        "liquidity drought. The execution service scales its liquidity providers' depth by it.",
    )

    @model_validator(mode="after")
    def _slices_in_order(self) -> Self:
        if self.slices[0].expiry <= self.ts:
            raise ValueError("the first slice expires at or before the surface's ts")
        for before, after in zip(self.slices, self.slices[1:], strict=False):
            if after.expiry <= before.expiry or after.t <= before.t:
                raise ValueError("slices must be in strictly increasing expiry and t")
        return self

    @property
    def publish_subject(self) -> str:
        return subjects.surface(self.underlying)
