"""`train(config, out)`: deep hedging on the lab's episodes (the ``ml`` extra).

1. Training and validation episodes from two streams spawned from the config's seed
   (`hedgemesh.learn.episodes`), never the held-out ones.
2. The baselines tuned on the training episodes: the fixed fraction of the gamma-neutral trade
   and the gamma band that score best on the objective (`rollout` in numpy).
3. The network starts as the tuned band (band head: its output bias gives that band; fraction
   head: the tuned fraction), then Adam on mini-batches back-propagates the objective through
   whole episodes (`rollout` in torch); after every epoch the validation objective decides
   early stopping and the best epoch is kept.
4. The checkpoint: weights.npz and manifest.json (config hash, seed, episode counts, objective,
   metrics, the tuned baselines, the weights' checksum).

Progress is one line per epoch through ``progress``. Seeded: the same config, seed and thread
count give the same checkpoint.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from hedgemesh.backtest import metrics
from hedgemesh.learn import objectives
from hedgemesh.learn.config import TrainConfig
from hedgemesh.learn.episodes import Episodes, build_episodes, ladder_option
from hedgemesh.learn.model import HedgeNet, decider, export_weights
from hedgemesh.learn.rollout import rollout
from hedgemesh.policies.learned import spec
from hedgemesh.policies.learned.checkpoint import Checkpoint, save_checkpoint

__all__ = ["TrainResult", "score", "train", "tuned_baselines"]


@dataclass(frozen=True, eq=False)
class TrainResult:
    """The checkpoint written, the per-epoch history and the time taken (seconds)."""

    checkpoint: Checkpoint
    history: list[dict[str, float]]
    seconds: float


def score(config: TrainConfig, pnl: np.ndarray) -> float:
    """The objective as a score (higher is better) on numpy P&L: −loss."""
    return -float(objectives.loss(config.objective, torch.from_numpy(np.asarray(pnl))))


def _tensors(episodes: Episodes, device: torch.device) -> SimpleNamespace:
    values = {}
    for f in dataclasses.fields(episodes):
        value = getattr(episodes, f.name)
        values[f.name] = (
            None if value is None else torch.as_tensor(value, dtype=torch.float32, device=device)
        )
    return SimpleNamespace(**values)


def _take(data: SimpleNamespace, index: torch.Tensor) -> SimpleNamespace:
    return SimpleNamespace(
        **{
            name: value if value is None or name == "elapsed" else value[index]
            for name, value in vars(data).items()
        }
    )


def _band_rule(band: float, scale: float) -> Callable[[int, dict[str, Any]], Any]:
    def decide(step: int, raw: dict[str, Any]) -> Any:
        net, g = raw["net_gamma"], raw["option_gamma"]
        return -(net - spec.clip(net, -band, band)) / g / scale

    return decide


def _fraction_rule(
    fraction: float, scales: dict[str, float]
) -> Callable[[int, dict[str, Any]], Any]:
    def decide(step: int, raw: dict[str, Any]) -> Any:
        return fraction * spec.features(("gamma_trade",), **raw, **scales)[0]

    return decide


def tuned_baselines(
    config: TrainConfig, episodes: Episodes, scales: dict[str, float]
) -> dict[str, dict[str, float]]:
    """The gamma band and the fixed fraction of ``config``'s grids that score best on
    ``episodes`` (the training episodes), with their scores."""
    bands = {
        b: score(config, rollout(episodes, _band_rule(b, config.scale), config.scale)[0])
        for b in config.band_grid
    }
    fractions = {
        f: score(config, rollout(episodes, _fraction_rule(f, scales), config.scale)[0])
        for f in config.fraction_grid
    }
    band = max(bands, key=lambda b: bands[b])
    fraction = max(fractions, key=lambda f: fractions[f])
    return {
        "tuned_band": {"gamma_band": float(band), "score_train": bands[band]},
        "tuned_fraction": {"fraction": float(fraction), "score_train": fractions[fraction]},
    }


def _device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("optimiser.device: cuda was asked for and no GPU is present")
    return torch.device(choice)


def _start_as_baseline(
    net: HedgeNet, config: TrainConfig, episodes: Episodes, baselines: dict[str, dict[str, float]]
) -> None:
    """Small output weights and the output bias of the tuned baseline: the band head starts
    at the tuned gamma band (in lots: band / |option gamma| / scale, its median over the
    training decisions), the fraction head at the tuned fraction."""
    with torch.no_grad():
        net.out.weight.mul_(0.01)
        if config.head == "band":
            band = baselines["tuned_band"]["gamma_band"]
            lots = float(np.median(band / np.abs(episodes.option_gamma) / config.scale))
            bias = math.log(math.expm1(max(lots, 1e-6)))  # softplus⁻¹
        else:
            f = min(max(baselines["tuned_fraction"]["fraction"], 1e-4), 1.0 - 1e-4)
            bias = math.log(f / (1.0 - f))  # σ⁻¹
        net.out.bias.fill_(bias)


def train(
    config: TrainConfig,
    out: str | Path,
    *,
    progress: Callable[[str], None] = lambda line: None,
) -> TrainResult:
    """Train ``config`` and write the checkpoint into ``out`` (see the module doc)."""
    started = time.perf_counter()
    opt = config.optimiser
    if opt.threads is not None:
        torch.set_num_threads(opt.threads)
    device = _device(opt.device)
    torch.manual_seed(config.seed)
    backtest = config.backtest_config()
    hedge = ladder_option(backtest, config.hedge)
    streams = np.random.SeedSequence(config.seed).spawn(3)
    with_vega = "vega_trade" in config.inputs
    sizes = config.episodes
    progress(f"episodes: {sizes.train:,} to train on, {sizes.validation:,} to validate on")
    train_eps = build_episodes(
        backtest, hedge, sizes.train, np.random.default_rng(streams[0]), with_vega=with_vega
    )
    valid_eps = build_episodes(
        backtest, hedge, sizes.validation, np.random.default_rng(streams[1]), with_vega=with_vega
    )
    steps, dt = backtest.grid()
    scales = {
        "scale": config.scale,
        "episode": steps * dt,
        "vol_ref": float(np.mean(train_eps.vol[:, 0])),
    }
    baselines = tuned_baselines(config, train_eps, scales)
    band, ratio = baselines["tuned_band"], baselines["tuned_fraction"]
    progress(
        f"tuned on the training episodes: gamma band {band['gamma_band']:g} "
        f"(score {band['score_train']:.4f}), fraction {ratio['fraction']:g} "
        f"(score {ratio['score_train']:.4f})"
    )
    net = HedgeNet(
        config.network.kind, len(config.inputs), config.network.hidden, config.network.layers
    )
    _start_as_baseline(net, config, train_eps, baselines)
    net.to(device)
    inputs = tuple(config.inputs)
    policy = decider(net, config.head, inputs, scales)
    data, valid = _tensors(train_eps, device), _tensors(valid_eps, device)
    optimiser = torch.optim.Adam(net.parameters(), lr=opt.learning_rate)
    shuffle = torch.Generator().manual_seed(int(streams[2].generate_state(1)[0]))

    def validation_loss() -> tuple[float, np.ndarray]:
        with torch.no_grad():
            pnl = rollout(valid, policy, config.scale)[0]
            return float(objectives.loss(config.objective, pnl)), pnl.cpu().numpy()

    best_loss, _ = validation_loss()
    best_state, best_epoch, stale = copy.deepcopy(net.state_dict()), 0, 0
    history: list[dict[str, float]] = [{"epoch": 0, "validation": -best_loss}]
    progress(f"epoch 0 (the tuned baseline): validation score {-best_loss:.4f}")
    for epoch in range(1, opt.max_epochs + 1):
        order = torch.randperm(train_eps.n, generator=shuffle).to(device)
        losses = []
        for first in range(0, train_eps.n, opt.batch):
            batch = _take(data, order[first : first + opt.batch])
            loss = objectives.loss(config.objective, rollout(batch, policy, config.scale)[0])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        current, _ = validation_loss()
        improved = current < best_loss - opt.min_delta
        if improved:
            best_loss, best_state, best_epoch, stale = (
                current,
                copy.deepcopy(net.state_dict()),
                epoch,
                0,
            )
        else:
            stale += 1
        history.append({"epoch": epoch, "train": -float(np.mean(losses)), "validation": -current})
        progress(
            f"epoch {epoch}: train score {-np.mean(losses):.4f}, validation {-current:.4f}"
            f"{' (best)' if improved else ''}, {time.perf_counter() - started:.0f} s"
        )
        if stale >= opt.patience:
            progress(f"stopped: no better validation score for {opt.patience} epochs")
            break
    net.load_state_dict(best_state)
    _, valid_pnl = validation_loss()
    seconds = time.perf_counter() - started
    k = config.objective.k
    manifest = {
        "network": config.network.model_dump(),
        "head": config.head,
        "inputs": list(inputs),
        "scale": config.scale,
        "episode_years": scales["episode"],
        "vol_ref": scales["vol_ref"],
        "hedge": dataclasses.asdict(hedge),
        "training": {
            "name": config.name,
            "config_sha256": config.digest(),
            "backtest": str(config.backtest),
            "seed": config.seed,
            "streams": "train, validation: SeedSequence(seed).spawn(3)[0], [1]",
            "episodes": {"train": sizes.train, "validation": sizes.validation},
            "held_out": {"seed": backtest.seed, "stream": "default_rng(seed) of the backtest"},
            "objective": config.objective.model_dump(),
            "optimiser": opt.model_dump(),
            "epochs_run": len(history) - 1,
            "best_epoch": best_epoch,
            "seconds": seconds,
            "device": str(device),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "metrics": {
            "validation": {"score": -best_loss}
            | metrics.summarise(valid_pnl.astype(np.float64), k=k),
            "history": history,
        },
        "baselines": baselines,
    }
    checkpoint = save_checkpoint(out, manifest, export_weights(net))
    progress(f"wrote {Path(out) / 'manifest.json'} ({seconds:.1f} s, best epoch {best_epoch})")
    return TrainResult(checkpoint, history, seconds)
