"""The networks in torch (the ``ml`` extra), with the parameter names and the equations of
their numpy twins in `hedgemesh.policies.learned.network`, and the policy they make on
training arrays (`decider`: the same `spec` functions the numpy policy runs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from hedgemesh.policies.learned import spec

__all__ = ["HedgeNet", "decider", "export_weights"]


class HedgeNet(nn.Module):
    """``mlp``: tanh layers then ``out``; ``gru``: a GRUCell then ``out`` on its hidden state."""

    def __init__(self, kind: str, inputs: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "mlp":
            parts: list[nn.Module] = []
            width = inputs
            for _ in range(layers):
                parts += [nn.Linear(width, hidden), nn.Tanh()]
                width = hidden
            self.body = nn.Sequential(*parts)
        elif kind == "gru":
            self.cell = nn.GRUCell(inputs, hidden)
        else:
            raise ValueError(f"unknown network kind {kind!r}")
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> tuple[torch.Tensor, Any]:
        """The raw output (n,) and the next hidden state (GRU) or None."""
        if self.kind == "mlp":
            return self.out(self.body(x))[:, 0], None
        h_next = self.cell(x, h)
        return self.out(h_next)[:, 0], h_next


def squash(head: str, z: torch.Tensor) -> torch.Tensor:
    """As `network.squash`: σ for ``fraction``, softplus for ``band``."""
    return torch.sigmoid(z) if head == "fraction" else nn.functional.softplus(z)


def decider(
    net: HedgeNet,
    head: str,
    inputs: tuple[str, ...],
    scales: dict[str, float],
) -> Callable[[int, dict[str, Any]], torch.Tensor]:
    """A `rollout` policy: at each decision the inputs (`spec.features`), the network (its
    hidden state carried from the episode's first decision), the head's trade in lots."""
    state: dict[str, Any] = {"h": None}

    def decide(step: int, raw: dict[str, Any]) -> torch.Tensor:
        if step == 0:
            state["h"] = None
        x = torch.stack(spec.features(inputs, **_broadcast(raw), **scales), dim=1)
        (gamma_trade,) = spec.features(("gamma_trade",), **raw, **scales)
        z, state["h"] = net(x, state["h"])
        return spec.trade(head, squash(head, z), gamma_trade)

    return decide


def _broadcast(raw: dict[str, Any]) -> dict[str, Any]:
    """``elapsed`` is one number per decision: a column like the others."""
    like = raw["net_gamma"]
    out = dict(raw)
    out["elapsed"] = torch.full_like(like, float(raw["elapsed"]))
    return out


def export_weights(net: HedgeNet) -> dict[str, np.ndarray]:
    """The parameters as numpy arrays by name (float32 as trained)."""
    return {name: p.detach().cpu().numpy().copy() for name, p in net.state_dict().items()}
