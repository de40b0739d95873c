"""Serving a learned policy live: the learned decision when all is well, and the band's, with
the reason and a count, when the checkpoint is missing, fails its checksum, has the wrong
shape, answers with non-finite or out-of-bounds trades, or is too slow."""

from __future__ import annotations

import json
import os

import numpy as np

from hedgemesh.policies import DeltaGamma, DeltaGammaVega, HedgeOption, live
from hedgemesh.policies.learned import network
from hedgemesh.policies.learned.checkpoint import MANIFEST_FILE, WEIGHTS_FILE
from hedgemesh.policies.learned.serving import LearnedServing

from .learned_checkpoints import HEDGE, write_checkpoint

DAY = 1.0 / 365.0
BAND = DeltaGamma(hedge=HEDGE, gamma_band=5.0)


def _input(time: float = 1.0) -> live.LiveInput:
    return live.LiveInput(
        time=time,
        spot=10.0,
        rate=0.0,
        div=0.0,
        vol=0.2,
        hedges=[
            live.LiveHedge("STOCK"),
            live.LiveHedge("C30", live.LiveOption(10.0, 30 * DAY, True, 0.2)),
        ],
        book_options=[live.LiveOption(10.0, 60 * DAY, True, 0.2, -300.0)],
    )


def _serving(tmp_path, **kwargs) -> LearnedServing:
    write_checkpoint(tmp_path / "ck", **kwargs)
    return LearnedServing(tmp_path / "ck", budget_s=10.0)


def test_a_good_checkpoint_decides_and_keeps_its_memory_per_underlying(tmp_path):
    serving = _serving(tmp_path, kind="gru")
    served = serving.decide("SPX", _input(), BAND)
    assert served.policy == "learned" and served.reason is None
    assert serving.memory["SPX"].extra is not None and serving.memory["SPX"].extra[0] == 1.0
    assert serving.status() == {
        "policy": "learned",
        "decisions": 1,
        "fallbacks": 0,
        "by_reason": {},
        "reason": None,
        "detail": "",
    }
    assert serving.hedge_tenor_days == HEDGE.tenor_days
    # one training episode later the memory starts afresh (rolling episodes)
    later = 1.0 + serving.policy().loaded.episode_years
    again = serving.decide("SPX", _input(later), BAND)
    assert again.policy == "learned", again
    assert serving.memory["SPX"].extra[0] == later


def _expect_band(serving, reason, says=""):
    served = serving.decide("SPX", _input(), BAND)
    assert served.policy == "band" and served.reason == reason, served
    assert says in served.detail
    assert served.decision.trades == live.decide(BAND, _input()).trades
    return served


def test_a_missing_checkpoint_falls_back_to_the_band(tmp_path):
    serving = LearnedServing(tmp_path / "nowhere", budget_s=1.0)
    _expect_band(serving, "missing", "nowhere")
    _expect_band(serving, "missing")
    assert serving.status()["fallbacks"] == 2 and serving.status()["by_reason"] == {"missing": 2}
    assert LearnedServing(None, budget_s=1.0).decide("X", _input(), BAND).reason == "missing"


def test_a_checkpoint_failing_its_checksum_falls_back(tmp_path):
    serving = _serving(tmp_path)
    assert serving.decide("SPX", _input(), BAND).policy == "learned"
    path = tmp_path / "ck" / WEIGHTS_FILE
    data = bytearray(path.read_bytes())
    data[-30] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(1, 1))  # a new stamp: read again
    _expect_band(serving, "checksum", "checksum")


def test_a_checkpoint_of_the_wrong_shape_falls_back(tmp_path):
    write_checkpoint(tmp_path / "ck")
    path = tmp_path / "ck" / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["network"]["hidden"] = 7
    path.write_text(json.dumps(manifest))
    _expect_band(LearnedServing(tmp_path / "ck", budget_s=1.0), "shape", "shape")


def test_non_finite_trades_fall_back(tmp_path, monkeypatch):
    serving = _serving(tmp_path)
    monkeypatch.setattr(network, "squash", lambda head, z: np.full_like(z, np.nan))
    _expect_band(serving, "non_finite")


def test_trades_past_gamma_neutral_fall_back(tmp_path, monkeypatch):
    serving = _serving(tmp_path, head="fraction")
    monkeypatch.setattr(network, "squash", lambda head, z: np.full_like(z, 2.5))  # 250 % of it
    _expect_band(serving, "out_of_bounds", "gamma")


def test_a_decision_over_its_time_budget_falls_back(tmp_path):
    write_checkpoint(tmp_path / "ck")
    ticks = iter([0.0, 0.5])
    serving = LearnedServing(tmp_path / "ck", budget_s=0.1, timer=lambda: next(ticks))
    _expect_band(serving, "too_slow", "over the budget")


def test_an_input_the_policy_refuses_falls_back(tmp_path):
    serving = _serving(tmp_path)
    inp = _input()
    longer = live.LiveHedge("C90", live.LiveOption(10.0, 90 * DAY, True, 0.2))
    three = live.LiveInput(**{**inp.__dict__, "hedges": [*inp.hedges, longer]})
    served = serving.decide(
        "SPX", three, DeltaGammaVega(hedges=(HEDGE, HedgeOption(tenor_days=90)))
    )
    assert served.policy == "band" and served.reason == "invalid"
    assert "needs 2 hedge(s)" in served.detail
