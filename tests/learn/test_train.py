"""Deep hedging on a toy case: a tiny model trains in seconds, beats no hedging and the band
tuned on its training episodes on held-out episodes, is seeded, and what the lab runs is what
the trainer optimised."""

# ruff: noqa: E402  (torch is imported only when present)
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hedgemesh.backtest import (
    engine,
    metrics,
)
from hedgemesh.backtest.runner import build_market
from hedgemesh.learn import objectives
from hedgemesh.learn.config import ObjectiveSpec, load_train_config
from hedgemesh.learn.episodes import ladder_option, lay_out
from hedgemesh.learn.model import HedgeNet, decider
from hedgemesh.learn.report import held_out
from hedgemesh.learn.rollout import rollout
from hedgemesh.learn.train import train
from hedgemesh.policies import NoHedge
from hedgemesh.policies.learned import LearnedPolicy, load_checkpoint, network

from .conftest import write_toy


def test_a_tiny_model_learns_to_beat_no_hedging_and_the_tuned_band(toy_trained):
    config, checkpoint = toy_trained
    report = held_out(config, checkpoint)
    scores = {name: s["mean_minus_k_std"] for name, s in report["policies"].items()}
    band = next(name for name in scores if name.startswith("tuned-band"))
    assert scores["learned"] > scores[band] + 0.03, scores
    assert scores["learned"] > scores["delta"] + 1.0, scores
    backtest = config.backtest_config()
    market = build_market(backtest)
    book = backtest.book.book(backtest.seed).materialise(market)
    unhedged = engine.run(market, book, NoHedge()).summary(k=1.645)["mean_minus_k_std"]
    assert scores["learned"] > unhedged + 10.0
    manifest = load_checkpoint(checkpoint).manifest
    assert manifest["training"]["episodes"] == {"train": 2048, "validation": 1024}
    assert manifest["training"]["best_epoch"] >= 1  # it improved on the band it started as
    assert len(manifest["training"]["config_sha256"]) == 64


def test_the_lab_runs_what_the_trainer_optimised(toy_trained):
    """The engine with `LearnedPolicy` (numpy), the numpy rollout of the same policy and the
    torch rollout of the trained network give one P&L per held-out episode."""
    config, checkpoint = toy_trained
    backtest = config.backtest_config().with_overrides(n_paths=400)
    market = build_market(backtest)
    book = backtest.book.book(backtest.seed).materialise(market)
    policy = LearnedPolicy(checkpoint=str(checkpoint))
    lab = engine.run(market, book, policy, backtest.cost_model()).pnl
    hedge = ladder_option(backtest, config.hedge)
    episodes = lay_out(market, book, hedge, backtest.cost_model())
    ck = policy.loaded
    scales = {"scale": ck.scale, "episode": ck.episode_years, "vol_ref": ck.vol_ref}
    net = HedgeNet(ck.kind, len(ck.inputs), ck.hidden, ck.layers)
    net.load_state_dict({k: torch.as_tensor(v, dtype=torch.float64) for k, v in ck.weights.items()})
    net.double()
    tensors = type("T", (), {})()
    for name, value in vars(episodes).items():
        setattr(
            tensors, name, None if value is None else torch.as_tensor(value, dtype=torch.float64)
        )
    with torch.no_grad():
        trained = rollout(tensors, decider(net, ck.head, ck.inputs, scales), ck.scale)[0].numpy()
    np.testing.assert_allclose(lab, trained, rtol=1e-9, atol=1e-8)


def test_training_is_seeded_and_a_gru_with_a_fraction_head_trains_too(tmp_path):
    config = load_train_config(write_toy(tmp_path, kind="gru", head="fraction", epochs=2))
    first = train(config, tmp_path / "a")
    second = train(config, tmp_path / "b")
    for name, weights in first.checkpoint.weights.items():
        np.testing.assert_array_equal(weights, second.checkpoint.weights[name])
    assert (
        first.checkpoint.manifest["weights_sha256"] == second.checkpoint.manifest["weights_sha256"]
    )
    assert first.checkpoint.kind == "gru" and first.checkpoint.head == "fraction"
    backtest = config.backtest_config().with_overrides(n_paths=50)
    market = build_market(backtest)
    book = backtest.book.book(backtest.seed).materialise(market)
    result = engine.run(market, book, LearnedPolicy(checkpoint=str(tmp_path / "a")))
    assert np.all(np.isfinite(result.pnl))


@pytest.mark.parametrize("kind", ["mlp", "gru"])
def test_the_numpy_network_is_the_torch_network(kind):
    torch.manual_seed(1)
    net = HedgeNet(kind, 3, 6, 2).double()
    weights = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    assert {k: v.shape for k, v in weights.items()} == network.expected_shapes(kind, 3, 6, 2)
    x = np.random.default_rng(2).standard_normal((5, 4, 3))
    h_np, h_t = None, None
    for step in range(4):
        z_np, h_np = network.forward(kind, weights, x[:, step], h_np, 2)
        with torch.no_grad():
            z_t, h_t = net(torch.as_tensor(x[:, step]), h_t)
        np.testing.assert_allclose(z_np, z_t.numpy(), rtol=1e-12, atol=1e-12)


def test_the_objectives_agree_with_the_labs_metrics():
    pnl = np.random.default_rng(4).standard_normal(2000) * 3.0 - 1.0
    t = torch.as_tensor(pnl)
    mean_std = -float(objectives.loss(ObjectiveSpec(kind="mean_std", k=1.645), t))
    assert mean_std == pytest.approx(metrics.mean_minus_k_std(pnl, 1.645), rel=1e-12)
    cvar = float(objectives.loss(ObjectiveSpec(kind="cvar", level=0.95), t))
    assert cvar == pytest.approx(metrics.cvar(pnl, 0.95), rel=1e-12)
    lam = 0.2
    entropic = float(objectives.loss(ObjectiveSpec(kind="entropic", risk_aversion=lam), t))
    assert entropic == pytest.approx(np.log(np.mean(np.exp(-lam * pnl))) / lam, rel=1e-12)


def test_the_cli_trains_writes_the_checkpoint_and_the_held_out_comparison(tmp_path, capsys):
    from hedgemesh.cli import main

    config = write_toy(tmp_path, epochs=1)
    assert main(["train", str(config), "--out", str(tmp_path / "ck"), "--held-out", "200"]) == 0
    out = capsys.readouterr()
    assert "epoch 1:" in out.err and "learned" in out.out
    report = json.loads((tmp_path / "ck" / "evaluation.json").read_text())
    assert report["n_paths"] == 200 and "learned" in report["policies"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("backtest: env.yaml\nhedge: atm30\nseed: -1\n")
    assert main(["train", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "seed" in capsys.readouterr().err
