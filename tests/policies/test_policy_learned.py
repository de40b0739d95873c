"""`LearnedPolicy` and its checkpoint, in numpy: the checkpoint round-trips, its checksum and
shapes are enforced, the policy trades at most the gamma-neutral quantity, keeps its memory,
and runs in the lab from a config (relative paths, errors at the key)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hedgemesh.backtest import engine
from hedgemesh.backtest.books import single_option
from hedgemesh.backtest.config import ConfigError, parse_config
from hedgemesh.backtest.engine import BookTrack
from hedgemesh.backtest.instruments import MarketPaths
from hedgemesh.policies import live, select
from hedgemesh.policies.learned import CheckpointError, LearnedPolicy, load_checkpoint
from hedgemesh.policies.learned.checkpoint import MANIFEST_FILE, WEIGHTS_FILE
from hedgemesh.policies.state import HedgeMemory, HedgeState, OptionSet, priced_instruments

from .learned_checkpoints import write_checkpoint

DAY = 1.0 / 365.0


def test_a_checkpoint_round_trips(tmp_path):
    written = write_checkpoint(tmp_path / "ck", kind="gru", head="fraction")
    read = load_checkpoint(tmp_path / "ck")
    assert read.manifest == written.manifest
    assert (
        read.kind == "gru"
        and read.head == "fraction"
        and read.inputs == ("gamma_trade", "time_left")
    )
    for name, weights in written.weights.items():
        np.testing.assert_array_equal(read.weights[name], weights)
    assert len(read.manifest["weights_sha256"]) == 64


def test_a_checkpoint_whose_weights_changed_fails_its_checksum(tmp_path):
    write_checkpoint(tmp_path / "ck")
    data = bytearray((tmp_path / "ck" / WEIGHTS_FILE).read_bytes())
    data[-30] ^= 0x01
    (tmp_path / "ck" / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(tmp_path / "ck")
    with pytest.raises(ValueError, match="checksum"):
        LearnedPolicy(checkpoint=str(tmp_path / "ck"))


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda m: m["network"].update(hidden=5), "shape"),
        (lambda m: m.update(inputs=["gamma_trade"]), "shape"),
        (lambda m: m.update(head="cube"), "head"),
        (lambda m: m.update(inputs=["spot"]), "inputs"),
        (lambda m: m.update(format="other/1"), "manifest"),
        (lambda m: m.update(scale=-1), "scale"),
        (lambda m: m["hedge"].update(tenor_days=-3), "hedge"),
    ],
)
def test_a_manifest_that_does_not_describe_its_weights_is_refused(tmp_path, change, says):
    write_checkpoint(tmp_path / "ck")
    path = tmp_path / "ck" / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=says):
        load_checkpoint(tmp_path / "ck")


def test_a_missing_checkpoint_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nothing")


def _market(n=200, steps=10, seed=3):
    rng = np.random.default_rng(seed)
    spot = 10.0 * np.exp(np.cumsum(0.02 * rng.standard_normal((n, steps + 1)), axis=1))
    spot[:, 0] = 10.0
    return MarketPaths(spot, np.arange(steps + 1) * DAY, vol=0.2)


@pytest.mark.parametrize(("kind", "head"), [("mlp", "band"), ("gru", "fraction")])
def test_the_policy_trades_towards_gamma_neutral_and_never_past_it(tmp_path, kind, head):
    policy = LearnedPolicy(
        checkpoint=str(write_checkpoint(tmp_path / "ck", kind=kind, head=head).directory)
    )
    book = single_option(strike=10.0, expiry=60 * DAY, quantity=-100.0)
    result = engine.run(_market(), book, policy, samples=(0, 1, 2))
    assert np.all(np.isfinite(result.pnl))
    for sample in result.samples:
        assert np.allclose(sample.net_delta, 0.0, atol=1e-9)
    market = _market(n=1)
    # one state: the trade lies between 0 and the gamma-neutral trade

    track = BookTrack(book.materialise(market), market)
    step = track.step(0)

    strike, expiry = select(policy.hedge_options[0], market.spot[:, 0], 0.0)
    opts = OptionSet(
        strike[:, None], expiry[:, None], np.array([[True]]), np.zeros((1, 1)), np.full((1, 1), 0.2)
    )
    instruments, _ = priced_instruments(market.spot[:, 0], 0.0, 0.0, opts)
    state = HedgeState(
        time=0.0,
        spot=market.spot[:, 0],
        vol=step.vol,
        rate=0.0,
        div=0.0,
        book=step.exposure,
        book_options=step.options,
        book_underlying=step.underlying,
        horizon=step.horizon,
        instruments=instruments,
        holdings=np.zeros((1, 2)),
        memory=HedgeMemory.empty(1),
    )
    evaluated = policy.evaluate(state)
    neutral = evaluated.gamma_trade[0]
    assert 0.0 <= evaluated.lots[0] / neutral <= 1.0
    decision = policy.decide(state)
    assert decision.extra is not None and decision.extra[0, 0] == 0.0
    assert decision.extra.shape == ((1, 1) if kind == "mlp" else (1, 5))


def test_a_config_names_a_checkpoint_relative_to_its_folder_and_an_error_names_the_key(tmp_path):
    write_checkpoint(tmp_path / "cks" / "one")
    text = """
seed: 1
n_paths: 50
paths: {model: {kind: gbm, sigma: 0.2}, s0: 10, horizon_days: 10}
book: {kind: option, strike: 10, expiry_days: 60, quantity: -100}
policies:
  - {kind: learned, checkpoint: cks/one}
"""
    config = parse_config(text, base_dir=tmp_path)
    policy = config.built_policies()["learned"]
    assert isinstance(policy, LearnedPolicy)
    assert Path(policy.checkpoint) == tmp_path / "cks" / "one"
    with pytest.raises(ConfigError) as error:
        parse_config(text.replace("cks/one", "cks/two"), base_dir=tmp_path)
    assert error.value.path == "policies[0].checkpoint"
    assert "no checkpoint" in error.value.message


def test_live_decide_carries_the_policys_memory_between_decisions(tmp_path):
    policy = LearnedPolicy(checkpoint=str(write_checkpoint(tmp_path / "ck", kind="gru").directory))
    option = live.LiveOption(10.0, 30 * DAY, True, 0.2)
    inp = live.LiveInput(
        time=1.0,
        spot=10.0,
        rate=0.0,
        div=0.0,
        vol=0.2,
        hedges=[live.LiveHedge("STOCK"), live.LiveHedge("C30", option, 0.0)],
        book_options=[live.LiveOption(10.0, 60 * DAY, True, 0.2, -100.0)],
    )
    first = live.decide(policy, inp)
    assert first.memory.extra is not None and first.memory.extra[0] == 1.0  # its first decision
    assert len(first.memory.extra) == 1 + 4  # start time and the GRU's hidden state
    second = live.decide(policy, inp, first.memory)
    assert second.memory.extra[0] == 1.0
    assert second.memory.extra[1:] != first.memory.extra[1:]  # the hidden state moved on
