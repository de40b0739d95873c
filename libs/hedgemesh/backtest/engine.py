"""The vectorised backtest: hedge a book on every path at once, one loop over time steps.

    from hedgemesh.backtest import books, engine
    from hedgemesh.backtest.costs import NotionalCost
    from hedgemesh.backtest.instruments import MarketPaths
    from hedgemesh.policies import DeltaInterval, WhalleyWilmott
    from hedgemesh.quant.paths import GBM

    paths = GBM(mu=0.05, sigma=0.2).simulate(100.0, 1 / 365, 60, 100_000, rng)
    market = MarketPaths.of(paths, rate=0.03, vol=0.2)    # or a VolSurface, HestonVol, "path"
    book = books.single_option(strike=100.0, expiry=90 / 365, quantity=-100.0)
    result = engine.run(market, book, DeltaInterval(), NotionalCost(stock_rate=0.001))
    results = engine.compare(market, book, [DeltaInterval(), WhalleyWilmott()], costs)
    results["whalley_wilmott"].summary()   # mean, std, var95, cvar95, …, cost_mean, turnover

`BacktestResult` holds per-path arrays (pnl, cost, turnover, n_trades and the P&L parts),
the mean holdings per step, and the recorded `SamplePath` s (holdings, trades, rolls, greeks,
wealth of chosen paths, for plots).

At each time t_i (i = 0 … N) of the market, on every path together:

1. cash earns interest, e^{r Δt} − 1, and the underlying held earns its dividend yield,
   S_{i−1}(e^{q Δt} − 1) per unit ("carry");
2. the book is marked at t_i (Black–Scholes–Merton at the market's vol source); new positions
   arrive at fair value (the premium goes to cash), expiring ones settle at intrinsic value;
3. hedge options are marked; one that is due to roll (`hedgemesh.policies.roll_due`) is sold
   back at its price (a trade, with its cost) and a fresh one chosen with zero held; the
   rungs of a ladder (`HedgeOption(ladder=True)`, `hedgemesh.backtest.ladder`) are marked and
   settled, and a fresh ladder option is offered at every decision;
4. for i < N the policy decides from the `HedgeState`; the trades (target − holdings) are done
   at the instruments' prices, their cost (the cost model's) is paid from cash;
   what was traded of a fresh ladder option becomes a rung held to its expiry, whose greeks
   join the book's in the states the policy sees next;
5. at t_N everything still held is marked to market (no liquidation cost).

Per path, the hedged P&L is the terminal wealth cash + book value + hedge value (in currency
of the end date; the book's premiums are in the cash). It splits exactly into
book P&L (Σ book value changes) + hedge P&L (Σ holdings × price changes) + carry − costs.
Expiries between two times settle at the later one (use a grid that contains them).

Units: prices in currency, quantities in units of the underlying (options: contracts ×
multiplier), times in years (ACT/365). Turnover is traded notional in currency (|units| ×
price: the spot for the underlying, the premium for options).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hedgemesh.backtest import metrics
from hedgemesh.backtest.books import Book, BookArrays, single_option
from hedgemesh.backtest.costs import CostModel
from hedgemesh.backtest.instruments import ConstantVol, MarketPaths
from hedgemesh.backtest.ladder import Ladder
from hedgemesh.policies import instruments as hedge_choice
from hedgemesh.policies.base import Policy
from hedgemesh.policies.delta import DeltaInterval
from hedgemesh.policies.instruments import TIME_TOLERANCE
from hedgemesh.policies.state import (
    Exposure,
    HedgeMemory,
    HedgeState,
    OptionSet,
    book_exposure,
    book_horizon,
    priced_instruments,
    remember,
)
from hedgemesh.quant import bsm
from hedgemesh.quant.paths import GBM

__all__ = [
    "BacktestResult",
    "BookStep",
    "BookTrack",
    "SamplePath",
    "StdCostRatio",
    "compare",
    "hull_delta_hedging",
    "run",
    "std_cost_over_price",
]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class SamplePath:
    """One path's story, for plots: times (N + 1,), spot (N + 1,), holdings after each
    decision (N, k) (the hedge ratios), the policy's trades (N, k), the units closed by rolls
    before the decision (N, k; option columns only), the book's greeks at each decision (N,),
    the net delta after trading (N,), and wealth (N + 1,) after each step."""

    path: int
    times: Array
    spot: Array
    holdings: Array
    trades: Array
    closed: Array
    book_delta: Array
    book_gamma: Array
    book_vega: Array
    net_delta: Array
    wealth: Array
    instruments: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """One policy on every path: arrays (n,) and what is needed to summarise them.

    pnl: hedged P&L, terminal wealth in currency of the end date. cost: transaction costs paid.
    turnover: traded notional (currency). n_trades: instrument trades (rolls included).
    book_pnl, hedge_pnl, carry: the parts of pnl (pnl = book_pnl + hedge_pnl + carry − cost).
    discount: e^{−r T} from the end date to the start. mean_holdings: mean holdings per
    decision across paths (N, k). samples: the recorded paths. instruments: column labels.
    """

    name: str
    policy: Policy
    pnl: Array
    cost: Array
    turnover: Array
    n_trades: NDArray[np.int64]
    book_pnl: Array
    hedge_pnl: Array
    carry: Array
    discount: float
    times: Array
    instruments: tuple[str, ...]
    mean_holdings: Array
    samples: tuple[SamplePath, ...] = ()

    @property
    def pnl_pv(self) -> Array:
        """Hedged P&L discounted to the start (Hull's "cost of writing and hedging" is its
        negative)."""
        return self.pnl * self.discount

    def summary(self, *, k: float = 1.0, levels: Iterable[float] = (0.95, 0.99)) -> dict:
        """`metrics.summarise` of the P&L, costs and turnover, plus trades per path."""
        out = metrics.summarise(self.pnl, self.cost, self.turnover, k=k, levels=levels)
        out["trades_mean"] = float(self.n_trades.mean())
        return out


@dataclass(frozen=True, eq=False)
class BookStep:
    """The book at one time, shared by every policy hedging it: value of the positions held
    over the last step (marked now), premiums of arrivals (the book's own units of the
    underlying arrive at the start, at spot), settlements of expiries, the value held from now
    on, and the options (alive from now on) with their greeks."""

    value_held: Array
    premium: Array
    settlement: Array
    value_after: Array
    options: OptionSet | None
    greeks: bsm.Greeks | None
    underlying: Array
    exposure: Exposure
    horizon: Array
    vol: Array


class BookTrack:
    """Marks the book at each step (one bsm pass over the positions alive or touched)."""

    def __init__(self, arrays: BookArrays, market: MarketPaths) -> None:
        self.a = arrays
        self.m = market
        self.carry = market.rate - market.div
        self.underlying = np.full(market.n_paths, float(arrays.underlying))

    def step(self, i: int) -> BookStep:
        a, m = self.a, self.m
        t = float(m.times[i])
        before = float(m.times[i - 1]) if i > 0 else -math.inf
        s = m.spot[:, i]
        n = s.shape[0]
        started_before = a.start <= before + TIME_TOLERANCE
        started_now = a.start <= t + TIME_TOLERANCE
        held = started_before & (a.expiry > before + TIME_TOLERANCE)
        arriving = started_now & ~started_before
        alive = started_now & (a.expiry > t + TIME_TOLERANCE)
        touched = held | arriving
        cols = np.flatnonzero(touched.any(axis=0))
        stock = self.underlying * s  # the book's own units of the underlying, marked at spot
        opening = stock if i == 0 else np.zeros(n)
        if cols.size == 0:
            zero = np.zeros(n)
            ref = m.vol.reference(i, s, zero, self.carry)
            exposure = Exposure(self.underlying.copy(), zero, zero.copy())
            held_value = zero if i == 0 else stock
            return BookStep(
                held_value, opening, zero, stock, None, None, self.underlying, exposure, zero, ref
            )
        strike, expiry, qty = (x[:, cols] for x in (a.strike, a.expiry, a.quantity))
        is_call = a.is_call[:, cols]
        held, arriving, alive = held[:, cols], arriving[:, cols], alive[:, cols]
        tau = np.maximum(expiry - t, 0.0)
        vol = m.vol.option_vols(i, s, strike, tau, self.carry)
        g = bsm.greeks(s[:, None], strike, tau, m.rate, m.div, vol, is_call)
        qv = qty * g.price
        options = OptionSet(strike, np.broadcast_to(tau, qv.shape), is_call, qty * alive, vol)
        horizon = book_horizon(options, g.gamma)
        return BookStep(
            value_held=(qv * held).sum(axis=1) + (stock - opening),
            premium=(qv * arriving).sum(axis=1) + opening,
            settlement=(qv * (touched[:, cols] & ~alive)).sum(axis=1),
            value_after=(qv * alive).sum(axis=1) + stock,
            options=options,
            greeks=g,
            underlying=self.underlying,
            exposure=book_exposure(options.quantity, g, self.underlying),
            horizon=horizon,
            vol=m.vol.reference(i, s, horizon, self.carry),
        )


@dataclass
class _Slots:
    """The hedge options one policy holds: per path, strike, expiry and choice time (k − 1)."""

    specs: tuple[hedge_choice.HedgeOption, ...]
    n: int
    strike: Array = field(init=False)
    expiry: Array = field(init=False)
    chosen: Array = field(init=False)
    is_call: NDArray[np.bool_] = field(init=False)

    def __post_init__(self) -> None:
        j = len(self.specs)
        self.strike = np.ones((self.n, j))
        self.expiry = np.zeros((self.n, j))
        self.chosen = np.full((self.n, j), np.nan)
        self.is_call = np.array([[s.is_call for s in self.specs]], dtype=bool).reshape(1, j)

    def options(self, market: MarketPaths, i: int, s: Array, t: float) -> OptionSet:
        tau = np.maximum(self.expiry - t, 0.0)
        carry = market.rate - market.div
        vol = market.vol.option_vols(i, s, self.strike, tau, carry)
        return OptionSet(self.strike, tau, self.is_call, np.zeros_like(tau), vol)


class _Hedger:
    """One policy's holdings, cash, memory and running totals over the paths."""

    def __init__(
        self,
        policy: Policy,
        market: MarketPaths,
        costs: CostModel | None,
        samples: Sequence[int],
    ) -> None:
        n, k = market.n_paths, policy.n_instruments
        self.policy, self.market, self.costs = policy, market, costs
        self.hold = np.zeros((n, k))
        self.price = np.zeros((n, k))
        self.cash = np.zeros(n)
        self.memory = HedgeMemory.empty(n)
        self.slots = _Slots(policy.hedge_options, n)
        self.ladders = {
            j: Ladder(n, market.n_steps, spec.is_call)
            for j, spec in enumerate(policy.hedge_options)
            if spec.ladder
        }
        self.is_option = np.arange(k) > 0
        self.total = {name: np.zeros(n) for name in ("cost", "turnover", "book", "hedge", "carry")}
        self.n_trades = np.zeros(n, dtype=np.int64)
        self.prev_book = np.zeros(n)
        self.book_units: Array | float = 0.0
        self.pnl = np.zeros(n)
        self.mean_holdings = np.zeros((market.n_steps, k))
        self.samples = [int(p) for p in samples if 0 <= int(p) < n]
        steps = market.n_steps
        self.rec: dict[str, Array] = {
            "holdings": np.zeros((len(self.samples), steps, k)),
            "trades": np.zeros((len(self.samples), steps, k)),
            "closed": np.zeros((len(self.samples), steps, k)),
            "greeks": np.zeros((len(self.samples), steps, 4)),
            "wealth": np.zeros((len(self.samples), steps + 1)),
        }

    def _trade(self, trades: Array, prices: Array, spot: Array, is_option: Any) -> None:
        """Buy ``trades`` (n, c) at ``prices`` (n, c): cash, costs, turnover, trade count."""
        notional = trades * prices
        self.cash -= notional.sum(axis=1)
        self.total["turnover"] += np.abs(notional).sum(axis=1)
        self.n_trades += np.count_nonzero(trades, axis=1)
        if self.costs is not None:
            paid = self.costs.cost(trades, prices, spot=spot[:, None], is_option=is_option)
            paid = paid.sum(axis=1)
            self.cash -= paid
            self.total["cost"] += paid

    def _carry(self, i: int) -> None:
        m = self.market
        dt = float(m.times[i] - m.times[i - 1])
        interest = self.cash * math.expm1(m.rate * dt)
        units = self.hold[:, 0] + self.book_units  # hedge and book units earn the dividend
        dividends = units * m.spot[:, i - 1] * math.expm1(m.div * dt)
        self.cash += interest + dividends
        self.total["carry"] += interest + dividends

    def _mark_options(self, i: int, s: Array, t: float) -> Array:
        """Mark the hedge options held, book their P&L, settle the expired, roll the due."""
        slots, m = self.slots, self.market
        if not slots.specs:
            return np.zeros((s.shape[0], 0))
        opts = slots.options(m, i, s, t)
        vol = np.broadcast_to(opts.vol, opts.strike.shape)
        price = bsm.price(s[:, None], opts.strike, opts.tau, m.rate, m.div, opts.vol, opts.is_call)
        held = self.hold[:, 1:]
        chosen = ~np.isnan(slots.chosen)
        if i > 0:
            self.total["hedge"] += np.where(chosen, held * (price - self.price[:, 1:]), 0.0).sum(1)
        for ladder in self.ladders.values():
            pnl, settled = ladder.mark(m, i, s, t)
            self.total["hedge"] += pnl
            self.cash += settled
        expired = chosen & (slots.expiry <= t + TIME_TOLERANCE)
        if expired.any():  # settled at intrinsic value: no trade, no cost
            self.cash += np.where(expired, held * price, 0.0).sum(axis=1)
            held[expired] = 0.0
        if i == m.n_steps:
            return price
        for j, spec in enumerate(slots.specs):
            due = hedge_choice.roll_due(
                spec, slots.chosen[:, j], slots.expiry[:, j], t, s, slots.strike[:, j], vol[:, j]
            )
            if not due.any():
                continue
            closing = np.where(due & (held[:, j] != 0.0), -held[:, j], 0.0)
            self._trade(closing[:, None], price[:, j : j + 1], s, True)
            if self.samples:
                self.rec["closed"][:, i, j + 1] = closing[self.samples]
            held[due, j] = 0.0
            strike, expiry = hedge_choice.select(spec, s, t)
            slots.strike[:, j] = np.where(due, strike, slots.strike[:, j])
            slots.expiry[:, j] = np.where(due, expiry, slots.expiry[:, j])
            slots.chosen[:, j] = np.where(due, t, slots.chosen[:, j])
        return price

    def step(self, i: int, book: BookStep) -> None:
        m = self.market
        t, s = float(m.times[i]), m.spot[:, i]
        if i > 0:
            self._carry(i)
            self.total["book"] += book.value_held - self.prev_book
            self.total["hedge"] += self.hold[:, 0] * (s - m.spot[:, i - 1])
        self.cash += book.settlement - book.premium
        self.book_units = book.underlying
        self.prev_book = book.value_after
        option_prices = self._mark_options(i, s, t)
        if i == m.n_steps:
            hedges = self.hold[:, 0] * s + (self.hold[:, 1:] * option_prices).sum(axis=1)
            hedges += sum((ladder.value() for ladder in self.ladders.values()), np.zeros(len(s)))
            self.pnl = self.cash + book.value_after + hedges
            self._record_wealth(i, self.pnl)
            return
        hedge_opts = self.slots.options(m, i, s, t) if self.slots.specs else None
        instruments, prices = priced_instruments(s, m.rate, m.div, hedge_opts)
        exposure, options = self._with_ladders(book)
        state = HedgeState(
            time=t,
            spot=s,
            vol=book.vol,
            rate=m.rate,
            div=m.div,
            book=exposure,
            book_options=options,
            book_underlying=book.underlying,
            horizon=book.horizon,
            instruments=instruments,
            holdings=self.hold,
            memory=self.memory,
        )
        decision = self.policy.decide(state)
        trades = decision.trades
        self._trade(trades, prices, s, self.is_option)
        self.hold = np.array(decision.target, dtype=np.float64)
        self.price = prices
        self.memory = remember(self.memory, state, decision)
        self.mean_holdings[i] = self.hold.mean(axis=0)
        self._record(i, state, trades, book.value_after)
        for j, ladder in self.ladders.items():  # the fresh option's trade becomes a rung
            c = j + 1
            ladder.add(
                self.slots.strike[:, j], self.slots.expiry[:, j], self.hold[:, c], prices[:, c]
            )
            self.hold[:, c] = 0.0

    def _with_ladders(self, book: BookStep) -> tuple[Exposure, OptionSet | None]:
        """The book's exposure and options with the ladders' rungs added (what a policy
        hedging with a ladder sees as its book: the book and the hedges done so far)."""
        exposure, options = book.exposure, book.options
        for ladder in self.ladders.values():
            more = ladder.exposure()
            rungs = ladder.options()
            if more is None or rungs is None:
                continue
            exposure = exposure + more
            options = rungs if options is None else _joined(options, rungs)
        return exposure, options

    def _record(self, i: int, state: HedgeState, trades: Array, book_value: Array) -> None:
        if not self.samples:
            return
        p = self.samples
        net = state.net(self.hold)
        self.rec["holdings"][:, i] = self.hold[p]
        self.rec["trades"][:, i] = trades[p]
        self.rec["greeks"][:, i] = np.column_stack(
            [state.book.delta[p], state.book.gamma[p], state.book.vega[p], net.delta[p]]
        )
        wealth = self.cash + book_value + (self.hold * self.price).sum(axis=1)
        self._record_wealth(i, wealth)

    def _record_wealth(self, i: int, wealth: Array) -> None:
        if self.samples:
            self.rec["wealth"][:, i] = wealth[self.samples]

    def result(self) -> BacktestResult:
        m = self.market
        labels = ("underlying", *(s.label for s in self.policy.hedge_options))
        samples = tuple(
            SamplePath(
                path=p,
                times=m.times,
                spot=np.array(m.spot[p]),
                holdings=self.rec["holdings"][j],
                trades=self.rec["trades"][j],
                closed=self.rec["closed"][j],
                book_delta=self.rec["greeks"][j, :, 0],
                book_gamma=self.rec["greeks"][j, :, 1],
                book_vega=self.rec["greeks"][j, :, 2],
                net_delta=self.rec["greeks"][j, :, 3],
                wealth=self.rec["wealth"][j],
                instruments=labels,
            )
            for j, p in enumerate(self.samples)
        )
        return BacktestResult(
            name=self.policy.name,
            policy=self.policy,
            pnl=self.pnl,
            cost=self.total["cost"],
            turnover=self.total["turnover"],
            n_trades=self.n_trades,
            book_pnl=self.total["book"],
            hedge_pnl=self.total["hedge"],
            carry=self.total["carry"],
            discount=math.exp(-m.rate * m.horizon),
            times=m.times,
            instruments=labels,
            mean_holdings=self.mean_holdings,
            samples=samples,
        )


def _joined(a: OptionSet, b: OptionSet) -> OptionSet:
    """Two option sets of the same paths side by side, (n, m_a + m_b)."""
    n = max(np.shape(a.tau)[0], np.shape(b.tau)[0], np.shape(a.strike)[0])

    def cat(x: Any, y: Any) -> Any:
        x, y = np.asarray(x), np.asarray(y)
        return np.concatenate(
            [np.broadcast_to(x, (n, x.shape[-1])), np.broadcast_to(y, (n, y.shape[-1]))], axis=1
        )

    return OptionSet(
        cat(a.strike, b.strike),
        cat(a.tau, b.tau),
        cat(a.is_call, b.is_call),
        cat(a.quantity, b.quantity),
        cat(a.vol, b.vol),
    )


def compare(
    market: MarketPaths,
    book: Book | BookArrays,
    policies: Sequence[Policy] | Mapping[str, Policy],
    costs: CostModel | None = None,
    *,
    samples: Sequence[int] = (0,),
) -> dict[str, BacktestResult]:
    """Run several policies on the same paths and the same book, in one pass over time (the
    book is marked once per step for all). Keys: the policies' names (or the mapping's keys),
    which must be distinct. ``samples``: path indices whose story is recorded."""
    named = dict(policies) if isinstance(policies, Mapping) else {p.name: p for p in policies}
    if not isinstance(policies, Mapping) and len(named) != len(policies):
        raise ValueError("compare: policies need distinct names (set name=...)")
    if not named:
        raise ValueError("compare: no policy")
    arrays = book if isinstance(book, BookArrays) else book.materialise(market)
    track = BookTrack(arrays, market)
    hedgers = {name: _Hedger(p, market, costs, samples) for name, p in named.items()}
    for i in range(market.n_steps + 1):
        step = track.step(i)
        for h in hedgers.values():
            h.step(i, step)
    results = {}
    for name, h in hedgers.items():
        r = h.result()
        results[name] = r if r.name == name else _renamed(r, name)
    return results


def _renamed(result: BacktestResult, name: str) -> BacktestResult:
    fields_ = {f: getattr(result, f) for f in result.__dataclass_fields__}
    fields_["name"] = name
    return BacktestResult(**fields_)


def run(
    market: MarketPaths,
    book: Book | BookArrays,
    policy: Policy,
    costs: CostModel | None = None,
    *,
    samples: Sequence[int] = (0,),
) -> BacktestResult:
    """Hedge ``book`` with ``policy`` on every path of ``market`` (see the module doc)."""
    return next(iter(compare(market, book, [policy], costs, samples=samples).values()))


@dataclass(frozen=True)
class StdCostRatio:
    """std(cost of writing and hedging, discounted) / option price, and its Monte Carlo
    standard error (`metrics.std_standard_error` divided by the price)."""

    ratio: float
    stderr: float


def std_cost_over_price(result: BacktestResult, price: float) -> StdCostRatio:
    """Hull's performance measure of a hedge: the standard deviation of the discounted cost of
    writing and hedging (−pnl_pv) over the option's Black–Scholes price (both for the same
    quantity)."""
    if not (math.isfinite(price) and price > 0.0):
        raise ValueError(f"price must be finite and > 0, got {price!r}")
    cost = -result.pnl_pv
    std = float(cost.std(ddof=1))
    return StdCostRatio(std / price, float(metrics.std_standard_error(cost)) / price)


HULL_INTERVALS_WEEKS = (5.0, 4.0, 2.0, 1.0, 0.5, 0.25)
"""Rebalancing intervals of Hull's table (weeks)."""
HULL_PUBLISHED = {5.0: 0.42, 4.0: 0.37, 2.0: 0.27, 1.0: 0.19, 0.5: 0.14, 0.25: 0.10}
"""Hull's values of std(cost) / price for those intervals (frictionless)."""


def hull_delta_hedging(
    *,
    n_paths: int = 20_000,
    seed: int = 7,
    intervals_weeks: Sequence[float] = HULL_INTERVALS_WEEKS,
    costs: CostModel | None = None,
    weeks_per_year: float = 52.0,
) -> dict[float, StdCostRatio]:
    """Hull's delta-hedging example (Options, Futures, and Other Derivatives, the "performance
    measure" table): a written call on 100,000 shares, S0 = 49, K = 50, r = 5 %, σ = 20 %,
    μ = 13 %, 20 weeks, delta-hedged every interval; std of the cost / Black–Scholes price per
    interval, on one set of GBM paths at the finest interval (all intervals must be multiples
    of it and divide 20 weeks). Years are weeks / ``weeks_per_year``."""
    finest = min(intervals_weeks)
    n_steps = round(20.0 / finest)
    if any(abs(20.0 / w - round(20.0 / w)) > 1e-9 for w in intervals_weeks) or any(
        abs(w / finest - round(w / finest)) > 1e-9 for w in intervals_weeks
    ):
        raise ValueError("intervals must divide 20 weeks and be multiples of the finest")
    s0, strike, rate, sigma, mu, units = 49.0, 50.0, 0.05, 0.20, 0.13, 100_000.0
    dt = finest / weeks_per_year
    paths = GBM(mu=mu, sigma=sigma).simulate(s0, dt, n_steps, n_paths, np.random.default_rng(seed))
    market = MarketPaths.of(paths, rate=rate, vol=ConstantVol(sigma))
    expiry = 20.0 / weeks_per_year
    book = single_option(strike=strike, expiry=expiry, is_call=True, quantity=-units)
    policies = {
        w: DeltaInterval(interval_days=w / weeks_per_year * bsm.DAYS_PER_YEAR, name=f"{w:g}w")
        for w in intervals_weeks
    }
    results = compare(market, book, list(policies.values()), costs, samples=())
    price = units * float(bsm.price(s0, strike, expiry, rate, 0.0, sigma, True))
    return {w: std_cost_over_price(results[p.name], price) for w, p in policies.items()}
