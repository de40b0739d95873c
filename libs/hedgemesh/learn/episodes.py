"""The lab's episodes laid out for training: with a ladder hedge option (`HedgeOption(ladder=
True)`, a fresh option each decision, held to its expiry), the underlying making the delta zero
after each decision, free stock trades, no rates and option costs proportional to the units
traded, the engine's P&L of an episode is linear in the trades q_i in the option offered at each
decision i:

    pnl = base + Σ_i q_i · gain_i − Σ_i |q_i| · unit_cost_i

with base the P&L of the book hedged with the underlying alone, gain_i the P&L to the end of
one unit of option i bought at its price and delta-hedged with the underlying, unit_cost_i the
cost model's cost of one unit. What the policy sees at decision l (the gamma and vega of the
book and of the rungs bought before, the option's own greeks, the reference vol) needs
gamma[i, l] and vega[i, l], the greeks at decision l of one unit of option i. Everything comes
from the lab's own code: the config's path model and book (`hedgemesh.backtest.runner`), the
engine's book marks, `select` for the option offered, `bsm` for its greeks, the config's cost
model. `tests/learn/test_episodes.py` checks the identity against the engine itself.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from hedgemesh.backtest.books import BookArrays
from hedgemesh.backtest.config import BacktestConfig
from hedgemesh.backtest.costs import CostModel
from hedgemesh.backtest.engine import BookTrack
from hedgemesh.backtest.instruments import MarketPaths
from hedgemesh.backtest.runner import build_market
from hedgemesh.policies import HedgeOption, select
from hedgemesh.policies.gamma import MIN_GAMMA_TIMES_SPOT
from hedgemesh.policies.instruments import TIME_TOLERANCE
from hedgemesh.quant import bsm

__all__ = ["Episodes", "build_episodes", "check_trainable", "ladder_option", "lay_out"]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Episodes:
    """n episodes of N decisions (see the module doc). Arrays: base (n,); gain, unit_cost,
    book_gamma, book_vega, option_gamma, option_vega, usable (1.0 where the option may be
    traded), vol (n, N); gamma, vega (n, N, N) (vega None when not asked for); elapsed (N,)
    years since the first decision. Option greeks of 0 are stored as 1 where not usable."""

    base: Array
    gain: Array
    unit_cost: Array
    book_gamma: Array
    book_vega: Array
    option_gamma: Array
    option_vega: Array
    usable: Array
    vol: Array
    gamma: NDArray
    vega: NDArray | None
    elapsed: Array

    @property
    def n(self) -> int:
        return int(self.base.shape[0])

    @property
    def steps(self) -> int:
        return int(self.gain.shape[1])

    def take(self, index: NDArray[np.intp]) -> Episodes:
        """The episodes ``index`` (a batch)."""
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            keep = value is None or f.name == "elapsed"
            values[f.name] = value if keep else value[index]
        return Episodes(**values)


def ladder_option(config: BacktestConfig, name: str) -> HedgeOption:
    """The config's hedge option ``name``, which must be a ladder."""
    built = config.hedge_options
    if name not in built:
        raise ValueError(f"no hedge option {name!r} in the backtest config's hedge_options")
    option = HedgeOption(**built[name])
    if not option.ladder:
        raise ValueError(f"hedge option {name!r} must be a ladder (ladder: true) to train on")
    return option


def check_trainable(config: BacktestConfig) -> None:
    """Refuse what the linear P&L does not cover: rates or dividends, stock trades that cost,
    option costs that are not proportional to the units traded."""
    if config.market.rate != 0.0 or config.market.div != 0.0:
        raise ValueError("training needs market.rate = market.div = 0 (no carry)")
    costs = config.cost_model()
    spot, price = np.array([10.0, 100.0]), np.array([0.4, 3.0])
    if np.any(costs.cost(np.ones(2), spot, spot=spot, is_option=False) != 0.0):
        raise ValueError("training needs free stock trades (a cost on options only)")
    one = costs.cost(np.ones(2), price, spot=spot, is_option=True)
    three = costs.cost(3.0 * np.ones(2), price, spot=spot, is_option=True)
    if not np.allclose(three, 3.0 * one, rtol=1e-12, atol=0.0):
        raise ValueError("training needs option costs proportional to the units traded")


def build_episodes(
    config: BacktestConfig,
    hedge: HedgeOption,
    n: int,
    rng: np.random.Generator,
    *,
    with_vega: bool = False,
    dtype: type = np.float32,
) -> Episodes:
    """``n`` episodes of ``config``'s environment with paths and client trades drawn from
    ``rng`` (never the config's own seed), for a policy trading the ladder ``hedge``. The
    (n, N, N) greeks are stored as ``dtype``."""
    check_trainable(config)
    sized = config.with_overrides(n_paths=n)
    market = build_market(sized, rng)
    book_seed = int(rng.integers(0, 2**63 - 1))
    book = sized.book.book(book_seed).materialise(market)
    return lay_out(market, book, hedge, config.cost_model(), with_vega=with_vega, dtype=dtype)


def lay_out(
    market: MarketPaths,
    book: BookArrays,
    hedge: HedgeOption,
    costs: CostModel | None,
    *,
    with_vega: bool = False,
    dtype: type = np.float64,
) -> Episodes:
    """The episodes of ``book`` on ``market`` for a policy trading the ladder ``hedge`` with
    option costs ``costs`` (proportional; `check_trainable`)."""
    n, steps = market.n_paths, market.n_steps
    base = np.zeros(n)  # the book's P&L and the underlying's, delta-hedged at each decision
    s, times = market.spot, market.times
    carry = market.rate - market.div
    track = BookTrack(book, market)
    strike, expiry = np.ones((n, steps)), np.zeros((n, steps))
    price0 = np.zeros((n, steps))
    gain = np.zeros((n, steps))
    value_end = np.zeros((n, steps))
    alive = np.zeros((n, steps), dtype=bool)
    gamma: NDArray = np.zeros((n, steps, steps), dtype=dtype)
    vega: NDArray | None = np.zeros((n, steps, steps), dtype=dtype) if with_vega else None
    book_gamma, book_vega, vol = (np.zeros((n, steps)) for _ in range(3))
    held_before = np.zeros(n)
    for i in range(steps + 1):
        t = float(times[i])
        step = track.step(i)
        if i > 0:
            base += step.value_held - held_before
        held_before = step.value_after
        if i < steps:
            base -= step.exposure.delta * (s[:, i + 1] - s[:, i])
            strike[:, i], expiry[:, i] = select(hedge, s[:, i], t)
            book_gamma[:, i], book_vega[:, i] = step.exposure.gamma, step.exposure.vega
            vol[:, i] = step.vol
        k = min(i + 1, steps)
        tau = np.maximum(expiry[:, :k] - t, 0.0)
        option_vol = market.vol.option_vols(i, s[:, i], strike[:, :k], tau, carry)
        g = bsm.greeks(
            s[:, i][:, None], strike[:, :k], tau, market.rate, market.div, option_vol, hedge.is_call
        )
        expiring = alive[:, :k] & (expiry[:, :k] <= t + TIME_TOLERANCE)
        if i == steps:
            expiring = alive[:, :k]
        value_end[:, :k] = np.where(expiring, g.price, value_end[:, :k])
        alive[:, :k] &= ~expiring
        if i == steps:
            break
        alive[:, i] = True
        price0[:, i] = g.price[:, i]
        gamma[:, :k, i] = np.where(alive[:, :k], g.gamma, 0.0)
        if vega is not None:
            vega[:, :k, i] = np.where(alive[:, :k], g.vega, 0.0)
        gain[:, :k] -= np.where(alive[:, :k], g.delta, 0.0) * (s[:, i + 1] - s[:, i])[:, None]
    gain += value_end - price0
    diag = np.arange(steps)
    option_gamma = gamma[:, diag, diag].astype(np.float64)
    usable = (np.abs(option_gamma * s[:, :steps]) >= MIN_GAMMA_TIMES_SPOT).astype(np.float64)
    option_vega = np.zeros((n, steps)) if vega is None else vega[:, diag, diag].astype(np.float64)
    unit_cost = (
        np.zeros((n, steps))
        if costs is None
        else costs.cost(np.ones((n, steps)), price0, spot=s[:, :steps], is_option=True)
    )
    return Episodes(
        base=np.asarray(base, dtype=np.float64),
        gain=gain,
        unit_cost=unit_cost,
        book_gamma=book_gamma,
        book_vega=book_vega,
        option_gamma=np.where(usable > 0.0, option_gamma, 1.0),
        option_vega=np.where(option_vega != 0.0, option_vega, 1.0),
        usable=usable,
        vol=vol,
        gamma=gamma,
        vega=vega,
        elapsed=np.asarray(times[:steps] - times[0], dtype=np.float64),
    )
