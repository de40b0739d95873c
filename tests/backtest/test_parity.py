"""Parity with live: one path replayed step by step through `hedgemesh.policies.live` (the
code path the agents call, one state at a time, memory carried by the caller, rolls done by
hand with the same choice functions) trades as the vectorised engine on that path.

On x86-64 the trades are bit for bit the same; the test allows 1e-12 (relative) for platforms
whose vector math rounds differently from their scalar math."""

from __future__ import annotations

import numpy as np
import pytest

from hedgemesh.backtest import engine
from hedgemesh.backtest.books import single_option
from hedgemesh.backtest.instruments import MarketPaths
from hedgemesh.policies import (
    DeltaBand,
    DeltaGamma,
    DeltaGammaVega,
    DeltaInterval,
    DeltaMove,
    HedgeOption,
    Leland,
    Policy,
    WhalleyWilmott,
    Zakamouline,
    live,
    roll_due,
    select,
)
from hedgemesh.policies.learned import LearnedPolicy
from hedgemesh.policies.live import LiveHedge, LiveInput, LiveMemory, LiveOption
from hedgemesh.quant.paths import GBM

RATE, DIV, VOL = 0.03, 0.01, 0.2
STRIKE, EXPIRY, QUANTITY = 100.0, 45 / 365, -100.0
PATHS, STEPS, REPLAYED = 300, 40, (0, 137, 299)
TOLERANCE = 1e-12

POLICIES = [
    DeltaInterval(interval_days=3),
    DeltaMove(threshold=0.01),
    DeltaBand(half_width=4.0),
    WhalleyWilmott(cost=0.002, risk_aversion=0.02),
    Zakamouline(cost=0.002, risk_aversion=0.02),
    Leland(round_trip_cost=0.004),
    DeltaGamma(hedge=HedgeOption(tenor_days=20, roll_days=1, max_drift=None)),
    DeltaGamma(gamma_band=0.5, hedge=HedgeOption(tenor_days=30, max_drift=0.5), name="dg-band"),
    DeltaGammaVega(),
]


@pytest.fixture(scope="module")
def market() -> MarketPaths:
    rng = np.random.default_rng(2024)
    paths = GBM(mu=0.1, sigma=0.3).simulate(100.0, 1 / 365, STEPS, PATHS, rng)
    return MarketPaths.of(paths, rate=RATE, div=DIV, vol=VOL)


@pytest.fixture(scope="module")
def backtest(market) -> dict[str, engine.BacktestResult]:
    book = single_option(strike=STRIKE, expiry=EXPIRY, quantity=QUANTITY)
    return engine.compare(market, book, POLICIES, samples=REPLAYED)


def _decide(policy, t, spot, hedges, book, memory, closing=()) -> live.LiveDecision:
    """One live decision at time t and spot (the market's rate, dividend yield and vol)."""
    inp = LiveInput(
        time=t,
        spot=spot,
        rate=RATE,
        div=DIV,
        vol=VOL,
        hedges=hedges,
        book_options=book,
        closing=closing,
    )
    return live.decide(policy, inp, memory)


def replay(policy: Policy, market: MarketPaths, path: int) -> tuple[np.ndarray, np.ndarray]:
    """Trades (N, k) and roll closings (N, k) of ``policy`` on one path, the live way."""
    specs = policy.hedge_options
    k = policy.n_instruments
    held = np.zeros(k)
    strike, expiry, chosen = np.ones(k), np.zeros(k), np.full(k, np.nan)
    memory = LiveMemory()
    trades, closed = np.zeros((STEPS, k)), np.zeros((STEPS, k))
    book_expiry = float(market.times[0]) + EXPIRY
    for i in range(STEPS):
        t, spot = float(market.times[i]), float(market.spot[path, i])

        def option(j: int, t: float = t) -> LiveOption:
            return LiveOption(strike[j], max(expiry[j] - t, 0.0), True, VOL)

        closing = []
        for j, spec in enumerate(specs, start=1):
            if roll_due(spec, chosen[j], expiry[j], t, spot, strike[j], VOL):
                if not np.isnan(chosen[j]) and held[j] != 0.0:
                    closing.append(LiveHedge(f"old{j}", option(j), held[j]))
                    closed[i, j] = -held[j]
                held[j] = 0.0
                new_strike, new_expiry = select(spec, spot, t)
                strike[j], expiry[j], chosen[j] = float(new_strike), float(new_expiry), t
        hedges = [LiveHedge("U", None, held[0])]
        hedges += [LiveHedge(f"opt{j}", option(j), held[j]) for j in range(1, k)]
        book = [LiveOption(STRIKE, max(book_expiry - t, 0.0), True, VOL, QUANTITY)]
        decision = _decide(policy, t, spot, hedges, book, memory, closing)
        trades[i] = decision.trades
        held = np.array(decision.targets)
        memory = decision.memory
        assert [leg.quantity for leg in decision.legs[: len(closing)]] == [
            -h.holding for h in closing
        ]
    return trades, closed


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
@pytest.mark.parametrize("path", REPLAYED)
def test_live_replay_of_one_path_trades_as_the_backtester(policy, path, market, backtest):
    sample = {s.path: s for s in backtest[policy.name].samples}[path]
    trades, closed = replay(policy, market, path)
    assert np.count_nonzero(trades) > 0
    scale = 1.0 + np.abs(sample.trades)
    assert np.max(np.abs(trades - sample.trades) / scale) <= TOLERANCE
    assert np.max(np.abs(closed - sample.closed) / (1.0 + np.abs(sample.closed))) <= TOLERANCE


def test_replays_exercise_triggers_bands_and_rolls(backtest):
    """The parity above means something: the replayed paths skip decisions, stop at band
    edges and roll hedge options."""
    by_name = {name: {s.path: s for s in r.samples} for name, r in backtest.items()}
    move = by_name["delta_move"][137].trades[:, 0]
    assert 0 < np.count_nonzero(move) < STEPS
    band = by_name["delta_band"][137]
    assert 0 < np.count_nonzero(band.trades[:, 0]) < STEPS
    rolled = by_name["delta_gamma"][0].closed[:, 1]
    assert np.count_nonzero(rolled) >= STEPS - 2


def replay_ladder(policy: Policy, market: MarketPaths, path: int) -> np.ndarray:
    """Trades (N, 2) of a policy hedging with a ladder, the live way: each decision offers a
    fresh option with holding 0, and what was traded of it joins the book's options (until it
    expires, as the engine settles it)."""
    spec = policy.hedge_options[0]
    memory = LiveMemory()
    trades = np.zeros((STEPS, 2))
    held = 0.0
    book_expiry = float(market.times[0]) + EXPIRY
    rungs: list[tuple[float, float, float]] = []  # strike, expiry, quantity
    for i in range(STEPS):
        t, spot = float(market.times[i]), float(market.spot[path, i])
        strike, expiry = (float(x) for x in select(spec, spot, t))
        book = [LiveOption(STRIKE, max(book_expiry - t, 0.0), True, VOL, QUANTITY)]
        book += [LiveOption(k, e - t, True, VOL, q) for k, e, q in rungs if e - t > 1e-9]
        fresh = LiveHedge("fresh", LiveOption(strike, expiry - t, True, VOL), 0.0)
        decision = _decide(policy, t, spot, [LiveHedge("U", None, held), fresh], book, memory)
        trades[i] = decision.trades
        held, memory = decision.targets[0], decision.memory
        rungs.append((strike, expiry, decision.targets[1]))
    return trades


@pytest.mark.parametrize(("kind", "head"), [("mlp", "band"), ("gru", "fraction")])
def test_a_learned_policy_on_a_ladder_trades_live_as_in_the_backtester(
    kind, head, market, tmp_path
):
    from tests.policies.learned_checkpoints import write_checkpoint

    folder = write_checkpoint(tmp_path / "ck", kind=kind, head=head, bias=-1.0).directory
    policy = LearnedPolicy(checkpoint=str(folder))
    book = single_option(strike=STRIKE, expiry=EXPIRY, quantity=QUANTITY)
    result = engine.run(market, book, policy, samples=REPLAYED)
    for sample in result.samples:
        trades = replay_ladder(policy, market, sample.path)
        assert np.count_nonzero(trades[:, 1]) > 0
        scale = 1.0 + np.abs(sample.trades)
        assert np.max(np.abs(trades - sample.trades) / scale) <= 1e-10
