"""The live code path: one decision on one current state, from plain numbers.

An agent describes the book (`LiveOption` s and units of the underlying), the hedge
instruments it may trade with what it holds of each (`LiveHedge`, the underlying first, then
the policy's options in the order of `Policy.hedge_options`) and the market; `decide` builds the
n = 1 `HedgeState` with the same functions the backtester uses, calls the same policy, and
returns the trades as plain legs. The policy's memory (last hedge time and spot) goes in and
comes out as a `LiveMemory`: the agent keeps it (and may persist it); nothing is hidden here.

Rolling a hedge option: when `roll_due` says the option held must be replaced, pass it in
``closing`` (it is sold back to zero and leaves the state) and the newly chosen option
(`select_listed`) as the hedge with holding 0, as the backtester does.

Quantities are units of the underlying (contracts × multiplier); the agent rounds to lots.
To reproduce a backtest exactly, pass the hedges' current holdings, not zeros with the hedges
folded into the book: partial and band policies depend on which is which.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hedgemesh.policies.base import Policy
from hedgemesh.policies.state import (
    Exposure,
    HedgeMemory,
    HedgeState,
    OptionSet,
    priced_instruments,
    remember,
)

__all__ = [
    "Leg",
    "LiveDecision",
    "LiveGreeks",
    "LiveHedge",
    "LiveInput",
    "LiveMemory",
    "LiveOption",
    "decide",
    "state_of",
]


def _check_finite(owner: str, **values: float) -> None:
    for name, value in values.items():
        if not math.isfinite(float(value)):
            raise ValueError(f"{owner}: {name} must be finite, got {value!r}")


@dataclass(frozen=True)
class LiveOption:
    """A European option: strike (currency), tau (years to expiry, >= 0), call or put, the vol
    it is marked at, and the signed units of the underlying held (book options only)."""

    strike: float
    tau: float
    is_call: bool
    vol: float
    quantity: float = 0.0

    def __post_init__(self) -> None:
        _check_finite("LiveOption", strike=self.strike, tau=self.tau, vol=self.vol)
        _check_finite("LiveOption", quantity=self.quantity)
        if self.strike <= 0.0 or self.tau < 0.0 or self.vol < 0.0:
            raise ValueError("LiveOption: strike must be > 0, tau and vol >= 0")


@dataclass(frozen=True)
class LiveHedge:
    """A hedge instrument: its label (e.g. the instrument symbol), the option it is (None: the
    underlying) and the units held now."""

    label: str
    option: LiveOption | None = None
    holding: float = 0.0

    def __post_init__(self) -> None:
        _check_finite("LiveHedge", holding=self.holding)


@dataclass(frozen=True)
class LiveMemory:
    """When (years, the agent's clock) and at what spot the policy last rebalanced; None:
    never; and the policy's own state (`HedgeMemory.extra`, e.g. a recurrent network's), if
    any."""

    last_time: float | None = None
    last_spot: float | None = None
    extra: tuple[float, ...] | None = None


@dataclass(frozen=True)
class LiveInput:
    """One current state: time (years on a fixed clock), spot, rate, div, the reference
    (at-the-money) vol, the book, the hedges (underlying first) and the hedges to close."""

    time: float
    spot: float
    rate: float
    div: float
    vol: float
    hedges: Sequence[LiveHedge]
    book_options: Sequence[LiveOption] = ()
    book_underlying: float = 0.0
    closing: Sequence[LiveHedge] = ()

    def __post_init__(self) -> None:
        _check_finite(
            "LiveInput",
            time=self.time,
            spot=self.spot,
            rate=self.rate,
            div=self.div,
            vol=self.vol,
            book_underlying=self.book_underlying,
        )
        if self.spot <= 0.0 or self.vol < 0.0:
            raise ValueError("LiveInput: spot must be > 0 and vol >= 0")
        if not self.hedges or self.hedges[0].option is not None:
            raise ValueError("LiveInput: the first hedge must be the underlying (option=None)")
        if any(h.option is None for h in self.hedges[1:]):
            raise ValueError("LiveInput: only the first hedge may be the underlying")
        if any(h.option is None for h in self.closing):
            raise ValueError("LiveInput: only options can be closed")


@dataclass(frozen=True)
class LiveGreeks:
    """delta (units), gamma (units per currency unit), vega (currency per vol point)."""

    delta: float
    gamma: float
    vega: float

    @classmethod
    def of(cls, exposure: Exposure) -> LiveGreeks:
        return cls(float(exposure.delta[0]), float(exposure.gamma[0]), float(exposure.vega[0]))


@dataclass(frozen=True)
class Leg:
    """Units of one instrument to trade (+ buys)."""

    label: str
    quantity: float


@dataclass(frozen=True)
class LiveDecision:
    """The decision: ``legs`` (closing legs first, then the non-zero hedge trades), the target
    holding and trade per hedge, whether the trigger fired, the memory to keep, and the net
    greeks before and after (the book plus what is held, the hedges being closed excluded)."""

    legs: tuple[Leg, ...]
    targets: tuple[float, ...]
    trades: tuple[float, ...]
    rebalanced: bool
    trigger: str
    memory: LiveMemory
    before: LiveGreeks
    after: LiveGreeks
    leg_greeks: LiveGreeks = field(default=LiveGreeks(0.0, 0.0, 0.0))


def _options(options: Sequence[LiveOption]) -> OptionSet | None:
    if not options:
        return None

    def row(name: str, dtype: type = np.float64) -> np.ndarray:
        return np.array([[getattr(o, name) for o in options]], dtype=dtype)

    return OptionSet(
        strike=row("strike"),
        tau=row("tau"),
        is_call=row("is_call", bool),
        quantity=row("quantity"),
        vol=row("vol"),
    )


def _memory(memory: LiveMemory) -> HedgeMemory:
    def one(value: float | None) -> np.ndarray:
        return np.array([np.nan if value is None else float(value)])

    extra = None if memory.extra is None else np.array([memory.extra], dtype=np.float64)
    return HedgeMemory(one(memory.last_time), one(memory.last_spot), extra)


def state_of(policy: Policy, inp: LiveInput, memory: LiveMemory) -> HedgeState:
    """The n = 1 `HedgeState` the policy sees (also what `decide` uses)."""
    if len(inp.hedges) != policy.n_instruments:
        raise ValueError(
            f"{policy.name}: needs {policy.n_instruments} hedge(s) (underlying first), "
            f"got {len(inp.hedges)}"
        )
    spot = np.array([float(inp.spot)])
    hedge_options = _options([h.option for h in inp.hedges[1:] if h.option is not None])
    instruments, _ = priced_instruments(spot, inp.rate, inp.div, hedge_options)
    return HedgeState.build(
        time=inp.time,
        spot=spot,
        vol=np.array([float(inp.vol)]),
        rate=inp.rate,
        div=inp.div,
        book_options=_options(inp.book_options),
        book_underlying=np.array([float(inp.book_underlying)]),
        instruments=instruments,
        holdings=np.array([[float(h.holding) for h in inp.hedges]]),
        memory=_memory(memory),
    )


def decide(policy: Policy, inp: LiveInput, memory: LiveMemory | None = None) -> LiveDecision:
    """Run ``policy`` once on ``inp`` with ``memory`` (default: never rebalanced)."""
    memory = LiveMemory() if memory is None else memory
    state = state_of(policy, inp, memory)
    decision = policy.decide(state)
    after = remember(state.memory, state, decision)
    trades = decision.trades[0]
    legs = [Leg(h.label, -float(h.holding)) for h in inp.closing if h.holding != 0.0]
    legs += [Leg(h.label, float(q)) for h, q in zip(inp.hedges, trades, strict=True) if q != 0.0]
    last_time, last_spot = float(after.last_time[0]), float(after.last_spot[0])
    return LiveDecision(
        legs=tuple(legs),
        targets=tuple(float(x) for x in decision.target[0]),
        trades=tuple(float(x) for x in trades),
        rebalanced=bool(decision.rebalance[0]),
        trigger=policy.trigger,
        memory=LiveMemory(
            None if math.isnan(last_time) else last_time,
            None if math.isnan(last_spot) else last_spot,
            None if after.extra is None else tuple(float(x) for x in after.extra[0]),
        ),
        before=LiveGreeks.of(state.net()),
        after=LiveGreeks.of(state.net(decision.target)),
        leg_greeks=LiveGreeks.of(state.instruments.combined(decision.trades)),
    )
