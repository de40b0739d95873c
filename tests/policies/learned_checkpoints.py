"""Small checkpoints written with numpy alone (no training): random weights of the right
shapes, for the policy's and the agents' tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from hedgemesh.policies import HedgeOption
from hedgemesh.policies.learned import network
from hedgemesh.policies.learned.checkpoint import Checkpoint, save_checkpoint

HEDGE = HedgeOption(tenor_days=30.0, ladder=True)


def write_checkpoint(
    folder: Path,
    *,
    kind: str = "mlp",
    head: str = "band",
    inputs: tuple[str, ...] = ("gamma_trade", "time_left"),
    hidden: int = 4,
    seed: int = 0,
    bias: float = 0.0,
) -> Checkpoint:
    """A checkpoint of random weights (small) whose output bias is ``bias``."""
    rng = np.random.default_rng(seed)
    shapes = network.expected_shapes(kind, len(inputs), hidden, 1)
    weights = {name: 0.3 * rng.standard_normal(shape) for name, shape in shapes.items()}
    weights["out.bias"] = np.array([bias])
    manifest = {
        "network": {"kind": kind, "hidden": hidden, "layers": 1},
        "head": head,
        "inputs": list(inputs),
        "scale": 100.0,
        "episode_years": 30 / 365,
        "vol_ref": 0.2,
        "hedge": dataclasses.asdict(HEDGE),
    }
    return save_checkpoint(folder, manifest, weights)
