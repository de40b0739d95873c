"""`LearnedPolicy`: a trained network as a hedge policy (kind ``learned``), in numpy.

At each decision it reads the portfolio's gamma (the book with every hedge held: with a
ladder, the rungs bought before), the hedge option's greeks per unit, the time since its first
decision and the reference vol; the network (`network`) and its head (`spec`) give the trade
in the hedge option, at most the gamma-neutral one; the underlying then makes the delta zero.
An option whose gamma is next to nothing (`MIN_GAMMA_TIMES_SPOT`) is not traded. The memory
keeps the time of the first decision and, for a GRU, its hidden state (`HedgeMemory.extra`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hedgemesh.policies.base import Policy, delta_neutral_underlying, with_underlying
from hedgemesh.policies.gamma import MIN_GAMMA_TIMES_SPOT
from hedgemesh.policies.instruments import HedgeOption
from hedgemesh.policies.learned import network, spec
from hedgemesh.policies.learned.checkpoint import Checkpoint, load_checkpoint
from hedgemesh.policies.state import Array, Decision, HedgeState

__all__ = ["LearnedPolicy", "LearnedStep"]


@dataclass(frozen=True, eq=False)
class LearnedStep:
    """One evaluation of the network: the inputs (n, f), the gamma-neutral trade and the
    trade (lots, (n,)), the head's output (n,) and the memory to keep (n, d)."""

    inputs: Array
    gamma_trade: Array
    lots: Array
    output: Array
    extra: Array


@dataclass(frozen=True, kw_only=True)
class LearnedPolicy(Policy):
    """A checkpoint of `hedgemesh train` (``checkpoint``: its folder), verified when built."""

    kind: ClassVar[str] = "learned"
    checkpoint: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.checkpoint:
            raise ValueError("learned: checkpoint must name a checkpoint folder")
        object.__setattr__(self, "_loaded", load_checkpoint(self.checkpoint))

    @property
    def loaded(self) -> Checkpoint:
        """The verified checkpoint."""
        loaded: Checkpoint = self._loaded  # type: ignore[attr-defined]
        return loaded

    @property
    def trigger(self) -> str:
        return "band_breach" if self.loaded.head == "band" else "timer"

    @property
    def hedge_options(self) -> tuple[HedgeOption, ...]:
        return (self.loaded.hedge,)

    def evaluate(self, state: HedgeState) -> LearnedStep:
        """The network on ``state`` (what `decide` trades on)."""
        ck = self.loaded
        g, v = state.instruments.gamma[:, 1], state.instruments.vega[:, 1]
        usable = np.abs(g * state.spot) >= MIN_GAMMA_TIMES_SPOT
        extra = state.memory.extra
        start = np.full(state.n, state.time) if extra is None else extra[:, 0]
        hidden = None if extra is None or ck.kind != "gru" else extra[:, 1:]
        names = ck.inputs if "gamma_trade" in ck.inputs else (*ck.inputs, "gamma_trade")
        values = spec.features(
            names,
            net_gamma=state.book.gamma + (state.holdings * state.instruments.gamma).sum(axis=1),
            option_gamma=np.where(usable, g, 1.0),
            net_vega=state.book.vega + (state.holdings * state.instruments.vega).sum(axis=1),
            option_vega=np.where(v != 0.0, v, 1.0),
            elapsed=state.time - start,
            vol=state.vol,
            scale=ck.scale,
            episode=ck.episode_years,
            vol_ref=ck.vol_ref,
        )
        x = np.stack(values[: len(ck.inputs)], axis=1)
        gamma_trade = values[names.index("gamma_trade")]
        z, h = network.forward(ck.kind, ck.weights, x, hidden, ck.layers)
        output = network.squash(ck.head, z)
        lots = np.where(usable, spec.trade(ck.head, output, gamma_trade), 0.0)
        kept = start[:, None] if h is None else np.column_stack([start, h])
        return LearnedStep(x, gamma_trade, lots, output, kept)

    def decide(self, state: HedgeState) -> Decision:
        self.check(state)
        step = self.evaluate(state)
        options = state.holdings.copy()
        options[:, 1] += step.lots * self.loaded.scale
        under = delta_neutral_underlying(state, options, state.book.delta)
        target = with_underlying(state, options, under)
        fired = np.ones(state.n, dtype=bool)
        return Decision(target=target, rebalance=fired, holdings=state.holdings, extra=step.extra)
