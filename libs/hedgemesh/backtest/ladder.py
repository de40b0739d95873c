"""A ladder of freshly struck hedge options: the options a policy bought at earlier decisions
with a `HedgeOption(ladder=True)`, each held to its expiry (never sold back).

At every decision the engine offers the policy a fresh option (struck and dated by
`hedgemesh.policies.select`) with a holding of 0; what the policy buys or sells of it becomes
a rung of the ladder. The rungs are marked at every step like the book's options (their value
changes are hedge P&L), settle at intrinsic value at their expiry (no trade, no cost), and
their greeks join the book's exposure in the state the policy sees next: Cao et al.'s
"portfolio" (the book and the hedges done so far) whose gamma a fraction or a band of the
gamma-neutral trade in today's fresh option offsets.

J. Cao, J. Chen, S. Farghadani, J. Hull, Z. Poulos, Z. Wang, J. Yuan, "Gamma and vega hedging
using deep distributional reinforcement learning", Frontiers in Artificial Intelligence 6,
2023.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hedgemesh.backtest.instruments import MarketPaths
from hedgemesh.policies.instruments import TIME_TOLERANCE
from hedgemesh.policies.state import Exposure, OptionSet
from hedgemesh.quant import bsm

__all__ = ["Ladder"]

Array = NDArray[np.float64]


class Ladder:
    """The rungs of one ladder hedge on n paths: per path and rung (one per decision, at most
    ``max_rungs``), the strike, the expiry (years), the quantity (units of the underlying) and
    the last mark."""

    def __init__(self, n: int, max_rungs: int, is_call: bool) -> None:
        self.strike = np.ones((n, max_rungs))
        self.expiry = np.zeros((n, max_rungs))
        self.quantity = np.zeros((n, max_rungs))
        self.price = np.zeros((n, max_rungs))
        self.is_call = bool(is_call)
        self.count = 0
        self._greeks: bsm.Greeks | None = None
        self._marked = 0  # rungs of the last mark (a rung added since is not in its greeks)
        self._tau = np.zeros((n, 0))
        self._vol = np.zeros((n, 0))

    def mark(self, market: MarketPaths, i: int, spot: Array, t: float) -> tuple[Array, Array]:
        """Mark the rungs at step ``i`` (time ``t``, ``spot`` (n,)): returns (the hedge P&L of
        the step, the cash their expiries settle), both (n,); expired rungs are then empty."""
        n, r = spot.shape[0], self.count
        if r == 0:
            return np.zeros(n), np.zeros(n)
        strike, q = self.strike[:, :r], self.quantity[:, :r]
        tau = np.maximum(self.expiry[:, :r] - t, 0.0)
        vol = market.vol.option_vols(i, spot, strike, tau, market.rate - market.div)
        g = bsm.greeks(spot[:, None], strike, tau, market.rate, market.div, vol, self.is_call)
        pnl = (q * (g.price - self.price[:, :r])).sum(axis=1)
        expired = (self.expiry[:, :r] <= t + TIME_TOLERANCE) & (q != 0.0)
        settled = np.where(expired, q * g.price, 0.0).sum(axis=1)
        q[expired] = 0.0
        self.price[:, :r] = g.price
        self._greeks, self._tau, self._vol = g, tau, np.broadcast_to(vol, tau.shape)
        self._marked = r
        return pnl, settled

    def value(self) -> Array:
        """The rungs' value at their last mark, per path (n,)."""
        return (self.quantity[:, : self.count] * self.price[:, : self.count]).sum(axis=1)

    def exposure(self) -> Exposure | None:
        """The rungs' greeks at their last mark (n,), or None before the first rung."""
        if self._marked == 0 or self._greeks is None:
            return None
        q, g = self.quantity[:, : self._marked], self._greeks
        return Exposure(
            (q * g.delta).sum(axis=1), (q * g.gamma).sum(axis=1), (q * g.vega).sum(axis=1)
        )

    def options(self) -> OptionSet | None:
        """The rungs as an `OptionSet` (n, rungs) at their last mark, or None before the first."""
        if self._marked == 0 or self._greeks is None:
            return None
        r = self._marked
        is_call = np.full((1, r), self.is_call)
        return OptionSet(self.strike[:, :r], self._tau, is_call, self.quantity[:, :r], self._vol)

    def add(self, strike: Array, expiry: Array, quantity: Array, price: Array) -> None:
        """A new rung on every path: what the policy traded of the fresh option (strike, expiry
        in years, quantity, the price it traded at), all (n,)."""
        if self.count >= self.strike.shape[1]:
            raise ValueError("Ladder: more rungs than decisions")
        j = self.count
        self.strike[:, j], self.expiry[:, j] = strike, expiry
        self.quantity[:, j], self.price[:, j] = quantity, price
        self.count += 1
