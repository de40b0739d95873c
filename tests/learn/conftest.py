"""A toy environment to train on in seconds: Cao et al.'s book over six daily decisions, a
ladder of 30-day options at 2 % of premium (near the end a fresh option is dear for the days of
gamma it covers: what a constant band cannot see and the share of the episode left tells)."""

from __future__ import annotations

from pathlib import Path

import pytest

TOY_ENV = """
seed: 11
n_paths: 3000
paths: {model: {kind: gbm, sigma: 0.3}, s0: 10, horizon_days: 8.76, steps: 6}
market: {vol: 0.3}
book:
  kind: poisson
  trades_per_year: 250
  tenors_days: [87.6]
  moneyness: [1.0, 1.0]
  call_probability: 1.0
  sell_probability: 0.5
  initial: [{quantity: -100, moneyness: 1.0, expiry_days: 87.6}]
hedge_options: {atm30: {tenor_days: 43.8, ladder: true}}
costs: {premium: {option_rate: 0.02}}
policies: [{kind: no_hedge}]
"""

TOY_TRAIN = """
backtest: env.yaml
hedge: atm30
seed: 3
episodes: {{train: 2048, validation: 1024}}
network: {{kind: {kind}, hidden: 8, layers: 1}}
head: {head}
optimiser: {{learning_rate: 0.03, batch: 512, max_epochs: {epochs}, patience: 4, threads: 1}}
"""


def write_toy(folder: Path, *, kind: str = "mlp", head: str = "band", epochs: int = 20) -> Path:
    """The toy environment and a training config for it in ``folder``; the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "env.yaml").write_text(TOY_ENV)
    config = folder / "train.yaml"
    config.write_text(TOY_TRAIN.format(kind=kind, head=head, epochs=epochs))
    return config


@pytest.fixture(scope="module")
def toy_trained(tmp_path_factory):
    """The toy trained once (MLP, band head): (config, checkpoint folder)."""
    pytest.importorskip("torch")
    from hedgemesh.learn.config import load_train_config
    from hedgemesh.learn.train import train

    folder = tmp_path_factory.mktemp("toy")
    config = load_train_config(write_toy(folder))
    train(config, folder / "ck")
    return config, folder / "ck"
