"""The learned networks' forward passes in numpy (float64), on the weights `hedgemesh.learn`
exports under the names of its torch modules:

- ``mlp``: ``body.{2j}.weight`` (hidden, inputs or hidden) and ``.bias`` for j < layers, each
  followed by tanh, then ``out.weight`` (outputs, hidden) and ``out.bias``: a function of the
  current inputs only (the Markov state);
- ``gru``: a GRU cell (``cell.weight_ih`` (3H, inputs), ``cell.weight_hh`` (3H, H),
  ``cell.bias_ih``, ``cell.bias_hh``; PyTorch's gate order r, z, n) whose hidden state h (H,)
  is carried from one decision to the next, then ``out`` on h:

      r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
      n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h

The output is squashed by the head: σ for ``fraction``, softplus for ``band``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

__all__ = ["expected_shapes", "forward", "squash"]

Array = NDArray[np.float64]


def expected_shapes(kind: str, inputs: int, hidden: int, layers: int) -> dict[str, tuple]:
    """The weight names and shapes of a network (see the module doc)."""
    shapes: dict[str, tuple] = {}
    if kind == "mlp":
        width = inputs
        for j in range(layers):
            shapes[f"body.{2 * j}.weight"] = (hidden, width)
            shapes[f"body.{2 * j}.bias"] = (hidden,)
            width = hidden
    elif kind == "gru":
        shapes.update(
            {
                "cell.weight_ih": (3 * hidden, inputs),
                "cell.weight_hh": (3 * hidden, hidden),
                "cell.bias_ih": (3 * hidden,),
                "cell.bias_hh": (3 * hidden,),
            }
        )
    else:
        raise ValueError(f"unknown network kind {kind!r}; known: mlp, gru")
    shapes["out.weight"] = (1, hidden)
    shapes["out.bias"] = (1,)
    return shapes


def _sigmoid(x: Array) -> Array:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)))


def squash(head: str, z: Array) -> Array:
    """The head's activation of the raw output: σ(z) (fraction), softplus(z) (band)."""
    if head == "fraction":
        return _sigmoid(z)
    return np.asarray(np.logaddexp(0.0, z))


def forward(
    kind: str, weights: Mapping[str, Array], x: Array, hidden: Array | None, layers: int
) -> tuple[Array, Array | None]:
    """The raw output z (n,) for inputs ``x`` (n, inputs), and the next hidden state (n, H) of
    a GRU (``hidden``: the previous one, None: zeros) or None for an MLP."""
    if kind == "mlp":
        h = x
        for j in range(layers):
            h = np.tanh(h @ weights[f"body.{2 * j}.weight"].T + weights[f"body.{2 * j}.bias"])
        return (h @ weights["out.weight"].T + weights["out.bias"])[:, 0], None
    w_ih, w_hh = weights["cell.weight_ih"], weights["cell.weight_hh"]
    size = w_hh.shape[1]
    h_prev = np.zeros((x.shape[0], size)) if hidden is None else hidden
    gi = x @ w_ih.T + weights["cell.bias_ih"]
    gh = h_prev @ w_hh.T + weights["cell.bias_hh"]
    r = _sigmoid(gi[:, :size] + gh[:, :size])
    z = _sigmoid(gi[:, size : 2 * size] + gh[:, size : 2 * size])
    n = np.tanh(gi[:, 2 * size :] + r * gh[:, 2 * size :])
    h_next = (1.0 - z) * n + z * h_prev
    return (h_next @ weights["out.weight"].T + weights["out.bias"])[:, 0], h_next
