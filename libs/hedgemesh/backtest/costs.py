"""Transaction cost models: what a trade costs, vectorised over arrays of trades.

Every model is a frozen dataclass with one method,

    cost(traded_qty, price, *, spot=None, is_option=False) -> array of currency, always ≥ 0,

broadcasting its arguments together:

- traded_qty: signed quantity traded, in units of the instrument (shares of the underlying, or
  options each on one unit of the underlying — apply contract multipliers before);
- price: the instrument's price per unit (the stock price, or the option premium), ≥ 0;
- spot: the underlying's price, for costs on an option's underlying notional (defaults to
  `price`, which is right for the underlying itself);
- is_option: True where the trade is in an option, False where it is in the underlying.

Models and formulas (q the traded quantity, P the price, S the spot; rates are decimals, so
0.0005 = 5 bp):

- `NotionalCost(stock_rate, option_rate)`: stock_rate·|q|·P for the underlying,
  option_rate·|q|·S for options (a fee on the underlying notional the options control);
- `PremiumCost(option_rate)`: option_rate·|q|·P on options (a fee on the premium paid or
  received), nothing on the underlying;
- `FixedCost(stock_fee, option_fee)`: a fee per trade in currency, charged where |q| > 0;
- `SpreadImpactCost(half_spread, eta, sigma_daily, adv, applies_to)`: crossing half the
  bid–ask spread plus square-root market impact,
  |q|·half_spread + η·σ_daily·P·|q|·√(|q|/ADV), with half_spread in currency per unit,
  σ_daily the daily return volatility (a decimal, 0.0126 ≈ 20 % a year), ADV the average daily
  volume in the same units as q, and η a dimensionless impact coefficient of order one. The
  impact per unit, η·σ_daily·P·√(|q|/ADV), is the square-root law (Almgren et al. 2005,
  Tóth et al. 2011); the total grows as |q|^{3/2};
- `CompositeCost(parts)`: the sum of several models (also written `a + b`).

`make_costs(config)` builds a model from a mapping such as
`{"notional": {"stock_rate": 0.0005}, "fixed": {"option_fee": 1.0}}` (the backtest config).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "COST_MODELS",
    "CompositeCost",
    "CostModel",
    "FixedCost",
    "NotionalCost",
    "PremiumCost",
    "SpreadImpactCost",
    "make_costs",
]

Array = NDArray[np.float64]
AppliesTo = Literal["stock", "option", "all"]


class CostModel:
    """Base of the cost models: `cost`, addition into a `CompositeCost`, parameter checks."""

    __slots__ = ()
    #: Parameters that must be finite and ≥ 0 (all float fields unless a subclass says).
    _non_negative: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name in self._non_negative:
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(
                    f"{type(self).__name__} {name} must be finite and >= 0, got {value}"
                )
            object.__setattr__(self, name, value)

    def cost(
        self,
        traded_qty: ArrayLike,
        price: ArrayLike,
        *,
        spot: ArrayLike | None = None,
        is_option: ArrayLike = False,
    ) -> Array:
        """Cost in currency (≥ 0) of each trade; arguments broadcast (see the module)."""
        q = np.abs(np.asarray(traded_qty, dtype=np.float64))
        p = np.asarray(price, dtype=np.float64)
        s = p if spot is None else np.asarray(spot, dtype=np.float64)
        option = np.asarray(is_option, dtype=np.bool_)
        shape = np.broadcast_shapes(q.shape, p.shape, s.shape, option.shape)
        total = np.asarray(self._cost(q, p, s, option), dtype=np.float64)
        return total if total.shape == shape else np.broadcast_to(total, shape).copy()

    def _cost(self, q: Array, p: Array, s: Array, option: NDArray[np.bool_]) -> Array:
        raise NotImplementedError

    def __add__(self, other: CostModel) -> CompositeCost:
        if not isinstance(other, CostModel):
            return NotImplemented
        return CompositeCost(_parts(self) + _parts(other))


def _by_kind(option: NDArray[np.bool_], stock_value: Any, option_value: Any) -> Any:
    """stock_value where the trade is in the underlying, option_value where in an option."""
    if option.ndim == 0:
        return option_value if option else stock_value
    return np.where(option, option_value, stock_value)


def _parts(model: CostModel) -> tuple[CostModel, ...]:
    return model.parts if isinstance(model, CompositeCost) else (model,)


@dataclass(frozen=True, slots=True)
class NotionalCost(CostModel):
    """stock_rate·|q|·P on the underlying, option_rate·|q|·S on options (decimals ≥ 0)."""

    stock_rate: float = 0.0
    option_rate: float = 0.0
    _non_negative: ClassVar[tuple[str, ...]] = ("stock_rate", "option_rate")

    def _cost(self, q: Array, p: Array, s: Array, option: NDArray[np.bool_]) -> Array:
        return q * _by_kind(option, self.stock_rate * p, self.option_rate * s)


@dataclass(frozen=True, slots=True)
class PremiumCost(CostModel):
    """option_rate·|q|·P on options (P the premium per unit); nothing on the underlying."""

    option_rate: float = 0.0
    _non_negative: ClassVar[tuple[str, ...]] = ("option_rate",)

    def _cost(self, q: Array, p: Array, s: Array, option: NDArray[np.bool_]) -> Array:
        return q * p * _by_kind(option, 0.0, self.option_rate)


@dataclass(frozen=True, slots=True)
class FixedCost(CostModel):
    """A fee per trade (currency): stock_fee or option_fee wherever |q| > tolerance."""

    stock_fee: float = 0.0
    option_fee: float = 0.0
    tolerance: float = 0.0
    _non_negative: ClassVar[tuple[str, ...]] = ("stock_fee", "option_fee", "tolerance")

    def _cost(self, q: Array, p: Array, s: Array, option: NDArray[np.bool_]) -> Array:
        return np.where(q > self.tolerance, _by_kind(option, self.stock_fee, self.option_fee), 0.0)


@dataclass(frozen=True, slots=True)
class SpreadImpactCost(CostModel):
    """|q|·half_spread + η·σ_daily·P·|q|·√(|q|/ADV) on the trades `applies_to` selects.

    half_spread: currency per unit (≥ 0); eta: impact coefficient (≥ 0, dimensionless);
    sigma_daily: daily return vol (decimal ≥ 0); adv: average daily volume in units of q (> 0;
    the default, infinity, means no impact);
    applies_to: "stock" (default), "option" or "all".
    """

    half_spread: float = 0.0
    eta: float = 0.0
    sigma_daily: float = 0.0
    adv: float = math.inf
    applies_to: AppliesTo = "stock"
    _non_negative: ClassVar[tuple[str, ...]] = ("half_spread", "eta", "sigma_daily")

    def __post_init__(self) -> None:
        CostModel.__post_init__(self)
        object.__setattr__(self, "adv", float(self.adv))
        if not self.adv > 0.0:  # +inf is allowed: no impact
            raise ValueError(f"SpreadImpactCost adv must be > 0, got {self.adv}")
        if self.applies_to not in ("stock", "option", "all"):
            raise ValueError(
                f"SpreadImpactCost applies_to must be 'stock', 'option' or 'all', "
                f"got {self.applies_to!r}"
            )

    def _cost(self, q: Array, p: Array, s: Array, option: NDArray[np.bool_]) -> Array:
        per_unit = self.half_spread + self.eta * self.sigma_daily * p * np.sqrt(q / self.adv)
        total = q * per_unit
        if self.applies_to == "all":
            return total
        on_options = self.applies_to == "option"
        return total * _by_kind(option, not on_options, on_options)


@dataclass(frozen=True, slots=True)
class CompositeCost(CostModel):
    """The sum of several cost models (an empty composite costs nothing)."""

    parts: tuple[CostModel, ...] = ()

    def __post_init__(self) -> None:
        parts = tuple(self.parts)
        for part in parts:
            if not isinstance(part, CostModel):
                raise TypeError(f"CompositeCost parts must be cost models, got {part!r}")
        object.__setattr__(self, "parts", parts)

    def _cost(self, q: Array, p: Array, s: Array, option: NDArray[np.bool_]) -> Array:
        total = np.zeros(np.broadcast_shapes(q.shape, p.shape, s.shape, option.shape))
        for part in self.parts:
            total = total + part._cost(q, p, s, option)
        return total


#: Cost models by the key a config uses.
COST_MODELS: dict[str, type[CostModel]] = {
    "notional": NotionalCost,
    "premium": PremiumCost,
    "fixed": FixedCost,
    "spread_impact": SpreadImpactCost,
}


def make_costs(config: Mapping[str, Mapping[str, Any]] | None) -> CostModel:
    """A `CompositeCost` of the models a config names, keyed as in `COST_MODELS`, each with
    its parameters: `{"notional": {"stock_rate": 0.001}, "fixed": {"stock_fee": 5.0}}`. None or
    an empty mapping costs nothing. Unknown models or parameters raise ValueError."""
    parts: list[CostModel] = []
    for key, params in (config or {}).items():
        cls = COST_MODELS.get(key)
        if cls is None:
            raise ValueError(f"unknown cost model {key!r}; choose from {sorted(COST_MODELS)}")
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(params or {}) - known
        if unknown:
            raise ValueError(
                f"cost model {key!r} has no parameter {sorted(unknown)}; it takes {sorted(known)}"
            )
        parts.append(cls(**(params or {})))
    return CompositeCost(tuple(parts))
