"""Risk objectives on a batch of episode P&L X (n,), as losses to minimise (torch):

- ``mean_std``: −(mean(X) − k·std(X)) (std with ddof 1), the benchmark's score;
- ``cvar``: CVaR_level of the loss −X, the mean of the worst (1 − level) share of episodes
  (the sorted tail; its gradient flows through those episodes);
- ``entropic``: (1/λ) log E[e^{−λX}], the certainty-equivalent loss of exponential utility
  (computed by log-sum-exp).
"""

from __future__ import annotations

import math

import torch

from hedgemesh.learn.config import ObjectiveSpec

__all__ = ["loss"]


def loss(spec: ObjectiveSpec, pnl: torch.Tensor) -> torch.Tensor:
    """The objective's loss on ``pnl`` (lower is better)."""
    if spec.kind == "mean_std":
        return -(pnl.mean() - spec.k * pnl.std())
    if spec.kind == "cvar":
        n = pnl.shape[0]
        tail = max(1, math.ceil(round(n * (1.0 - spec.level), 9)))  # 2000 · 0.05 is 100
        worst = torch.topk(-pnl, tail).values
        return worst.mean()
    lam = spec.risk_aversion
    n = pnl.shape[0]
    return (torch.logsumexp(-lam * pnl, dim=0) - math.log(n)) / lam
