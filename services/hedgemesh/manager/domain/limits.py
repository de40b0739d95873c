"""The desk's live limits (KV `limits`) as the manager uses them, and how they change.

- `DeskLimits`: the `RiskLimits` of each underlying and the `FirmLimits`, with the KV revision
  each was read at (the `status` reply shows them).
- `fallback_limits`: limits for an underlying that has none, from amounts in currency at its
  spot (so the same settings fit an index at 5,000 and one at 18,000).
- `updated`: a `set_limit` command's partial change applied to the current value, validated by
  the wire model (a bad value is refused with the field named).
- `firm_factors`: what turns an underlying's greeks into the firm's currency figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from hedgemesh.wire.state import FIRM_LIMITS_KEY, FirmLimits, RiskLimits

__all__ = [
    "FIRM_LIMITS_KEY",
    "DeskLimits",
    "FallbackLimits",
    "fallback_limits",
    "firm_factors",
    "firm_vector",
    "updated",
]

L = TypeVar("L", RiskLimits, FirmLimits)

#: Fields a `set_limit` command may not change.
_FIXED = frozenset({"id", "ts", "underlying", "changed_by", "causation_id"})


@dataclass
class DeskLimits:
    """Limits per underlying and for the firm, with their KV revisions (0: not in KV)."""

    underlyings: dict[str, RiskLimits] = field(default_factory=dict)
    firm: FirmLimits | None = None
    revisions: dict[str, int] = field(default_factory=dict)

    def get(self, underlying: str) -> RiskLimits | None:
        return self.underlyings.get(underlying)

    def set(self, key: str, value: RiskLimits | FirmLimits, revision: int) -> bool:
        """Take a value read from KV; True when it is new (a higher revision, or first)."""
        if revision and revision <= self.revisions.get(key, 0):
            return False
        if isinstance(value, FirmLimits):
            self.firm = value
        else:
            self.underlyings[key] = value
        self.revisions[key] = revision
        return True

    def vector(
        self, underlying: str, delta_band_fraction: float, spot: float
    ) -> NDArray[np.float64]:
        """(delta band, gamma limit, vega limit) of an underlying that has limits; the gamma
        limit is the tighter of raw gamma and dollar gamma per 1 % at `spot`."""
        lim = self.underlyings[underlying]
        return np.array(
            [
                lim.max_abs_delta * delta_band_fraction,
                lim.gamma_limit(spot),
                lim.max_abs_vega_per_vol_point,
            ]
        )

    def status(self) -> dict[str, Any]:
        return {
            "revision": max(self.revisions.values(), default=0),
            "revisions": dict(sorted(self.revisions.items())),
            "underlyings": {
                u: lim.model_dump(mode="json", exclude={"id", "ts"})
                for u, lim in sorted(self.underlyings.items())
            },
            "firm": None
            if self.firm is None
            else self.firm.model_dump(mode="json", exclude={"id", "ts"}),
        }


def firm_factors(spot: float) -> NDArray[np.float64]:
    """(S, S²/100, 1): an underlying's (delta, gamma, vega) × these = its dollar delta,
    dollar gamma per 1 % and vega (as `hedgemesh.quant.book`)."""
    return np.array([spot, spot * spot / 100.0, 1.0])


def firm_vector(firm: FirmLimits) -> NDArray[np.float64]:
    return np.array(
        [
            firm.max_abs_dollar_delta,
            firm.max_abs_dollar_gamma_per_pct,
            firm.max_abs_vega_per_vol_point,
        ]
    )


@dataclass(frozen=True, slots=True)
class FallbackLimits:
    """Limits in currency for an underlying the scenario and KV give none."""

    dollar_delta: float
    dollar_gamma_per_pct: float
    vega_per_vol_point: float
    order_notional: float
    order_quantity: int
    daily_cost_budget: float
    price_collar: float
    max_tick_age_s: float


def fallback_limits(
    underlying: str, spot: float, fallback: FallbackLimits, changed_by: str
) -> RiskLimits:
    """`RiskLimits` from amounts in currency at `spot`: delta = dollar delta / S,
    gamma = dollar gamma per 1 % × 100 / S²."""
    if not spot > 0:
        raise ValueError(f"spot must be > 0, got {spot}")
    return RiskLimits(
        underlying=underlying,
        max_abs_delta=fallback.dollar_delta / spot,
        max_abs_gamma=fallback.dollar_gamma_per_pct * 100.0 / (spot * spot),
        max_abs_dollar_gamma_per_pct=fallback.dollar_gamma_per_pct,
        max_abs_vega_per_vol_point=fallback.vega_per_vol_point,
        max_order_quantity=fallback.order_quantity,
        max_order_notional=fallback.order_notional,
        daily_cost_budget=fallback.daily_cost_budget,
        price_collar=fallback.price_collar,
        max_tick_age_s=fallback.max_tick_age_s,
        changed_by=changed_by,
    )


def updated(current: L, changes: Mapping[str, Any], *, changed_by: str, causation_id: str) -> L:
    """`current` with `changes` applied (a new id and ts are the caller's), validated.

    Raises ValueError naming a field that does not exist or may not be changed, and the
    model's ValidationError for a bad value.
    """
    unknown = sorted(set(changes) - set(type(current).model_fields))
    fixed = sorted(set(changes) & _FIXED)
    if unknown or fixed:
        raise ValueError(
            f"cannot set {', '.join(unknown + fixed)}; settable: "
            f"{', '.join(sorted(set(type(current).model_fields) - _FIXED))}"
        )
    if not changes:
        raise ValueError("no limit to change")
    data = current.model_dump(exclude={"id", "ts"})
    data.update(changes, changed_by=changed_by, causation_id=causation_id)
    return type(current).model_validate(data)
