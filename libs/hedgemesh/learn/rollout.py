"""An episode's P&L under a policy, on `Episodes` arrays, written with array operators only so
that numpy (checks, the tuned band) and torch (training) run the same code.

    pnl, trades = rollout(episodes, decide, scale)

``decide(l, raw)`` gets the decision's raw quantities (`hedgemesh.policies.learned.spec`
names: net_gamma, option_gamma, net_vega, option_vega, elapsed, vol; each (n,) or a number)
and returns the trade in lots (n,); the rollout zeroes it where the option may not be traded,
adds the rung's greeks to the portfolio's at the later decisions, and sums the P&L:
base + Σ q · gain − Σ |q| · unit_cost (`hedgemesh.learn.episodes`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["rollout"]


def rollout(
    episodes: Any, decide: Callable[[int, dict[str, Any]], Any], scale: float
) -> tuple[Any, list[Any]]:
    """(P&L (n,), the trades in units of the underlying per decision) of the policy
    ``decide`` on ``episodes`` (numpy arrays or torch tensors with `Episodes`' fields)."""
    net_gamma = episodes.book_gamma * 1.0
    with_vega = episodes.vega is not None
    net_vega = episodes.book_vega * 1.0
    pnl = episodes.base * 1.0
    trades = []
    for step in range(episodes.gain.shape[1]):
        raw = {
            "net_gamma": net_gamma[:, step],
            "option_gamma": episodes.option_gamma[:, step],
            "net_vega": net_vega[:, step],
            "option_vega": episodes.option_vega[:, step],
            "elapsed": episodes.elapsed[step],
            "vol": episodes.vol[:, step],
        }
        q = decide(step, raw) * episodes.usable[:, step] * scale
        net_gamma = net_gamma + q[:, None] * episodes.gamma[:, step, :]
        if with_vega:
            net_vega = net_vega + q[:, None] * episodes.vega[:, step, :]
        pnl = pnl + q * episodes.gain[:, step] - abs(q) * episodes.unit_cost[:, step]
        trades.append(q)
    return pnl, trades
