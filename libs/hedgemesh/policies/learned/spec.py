"""What a learned policy sees and how its output becomes a trade, with array operators only
(``+ - * /``, ``abs``), so that numpy (the lab, the live agents) and torch (the trainer) run
the same code on their own arrays.

Inputs, per path (n,), at a decision before trading:

- ``gamma_trade``: −Γ_net / Γ_option / scale, the trade in the hedge option (in lots of
  ``scale`` units of the underlying) that makes the portfolio gamma-neutral; Γ_net the gamma of
  the book with every hedge held (the rungs of a ladder), Γ_option the option's per unit;
- ``vega_trade``: the same with vega;
- ``time_left``: 1 − (t − t_start) / episode, the share of the training episode left
  (t_start the policy's first decision; clipped to [0, 1]);
- ``vol``: the reference vol over the training's initial vol, minus 1.

Heads (the network's squashed outputs → the trade in lots):

- ``fraction``: a ∈ [0, 1], trade a · gamma_trade (Cao et al.'s action: a fraction of the
  gamma-neutral trade);
- ``band``: a half-width b ≥ 0 (lots): no trade while |gamma_trade| ≤ b, else trade to the
  band's nearest edge, gamma_trade − clip(gamma_trade, −b, b).

Either trade lies between 0 and the gamma-neutral trade.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FEATURES", "HEADS", "clip", "features", "relu", "trade"]

FEATURES = ("gamma_trade", "vega_trade", "time_left", "vol")
"""The inputs a checkpoint may use, by name (its manifest lists its own, in order)."""
HEADS = {"fraction": 1, "band": 1}
"""Head → the network's outputs it reads."""


def relu(x: Any) -> Any:
    """max(x, 0) with operators only."""
    return (x + abs(x)) * 0.5


def clip(x: Any, low: Any, high: Any) -> Any:
    """x clipped to [low, high] (low ≤ high) with operators only."""
    return x - relu(x - high) + relu(low - x)


def features(
    names: tuple[str, ...],
    *,
    net_gamma: Any,
    option_gamma: Any,
    net_vega: Any,
    option_vega: Any,
    elapsed: Any,
    vol: Any,
    scale: float,
    episode: float,
    vol_ref: float,
) -> list[Any]:
    """The inputs ``names`` (each (n,)) from the raw quantities (each (n,) or a number):
    greeks of the portfolio and per unit of the option, years since the first decision, the
    reference vol; ``scale`` units per lot, ``episode`` years, ``vol_ref`` the initial vol.
    An option greek of 0 must be replaced by 1 by the caller (that option is not traded)."""
    values = {
        "gamma_trade": lambda: -net_gamma / option_gamma / scale,
        "vega_trade": lambda: -net_vega / option_vega / scale,
        "time_left": lambda: clip(1.0 - elapsed / episode, 0.0, 1.0),
        "vol": lambda: vol / vol_ref - 1.0,
    }
    return [values[name]() for name in names]


def trade(head: str, output: Any, gamma_trade: Any) -> Any:
    """The trade in lots from the head's squashed output (n,) (a fraction in [0, 1], or a
    half-width ≥ 0) and the gamma-neutral trade (n,)."""
    if head == "fraction":
        return output * gamma_trade
    if head == "band":
        return gamma_trade - clip(gamma_trade, -output, output)
    raise ValueError(f"unknown head {head!r}; known: {', '.join(HEADS)}")
