"""The book's initial trades and the Poisson client flow."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hedgemesh.market.fair_value import fair_values
from hedgemesh.market.session import MarketSession
from hedgemesh.scenario import DEFAULT_SCENARIO, load_scenario
from hedgemesh.scenario.testing import make_scenario, scenario_dict
from hedgemesh.wire.instruments import Instrument, Side

ORIGIN = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)

POSITIONS = [
    {"underlying": "SPX", "expiry_days": 7, "moneyness": 1.0, "right": "put", "quantity": -150},
    {"underlying": "SPX", "expiry_days": 30, "strike": 4750, "right": "call", "quantity": 20,
     "price": 12.5},
    {"underlying": "SPX", "quantity": 300},
]  # fmt: skip

FLOW = {
    "rate_per_hour": 120,
    "max_expiry_days": 10,
    "moneyness": [0.94, 1.06],
    "size": {"mean": 5, "max": 12},
    "client_buys_probability": 0.7,
    "half_spread_pct": 2.0,
    "counterparties": ["a", "b"],
}


def _scenario(**changes):
    return make_scenario(scenario_dict(**{"positions": POSITIONS, "client_flow": FLOW, **changes}))


def test_given_initial_positions_then_one_trade_each_at_the_start_at_fair_value_or_as_given():
    session = MarketSession(_scenario(), ORIGIN)
    first = session.start()
    trades = first.trades
    state = session.states["SPX"]
    assert [(t.instrument.symbol, t.side, t.quantity) for t in trades] == [
        ("SPX-20240109-P-5000", Side.SELL, 150),
        ("SPX-20240201-C-4750", Side.BUY, 20),
        ("SPX", Side.BUY, 300),
    ]
    fair = fair_values(first.ticks[0], first.surfaces[0], [trades[0].instrument])[0]
    assert trades[0].price == fair and trades[1].price == 12.5 and trades[2].price == state.spot
    assert all(t.ts == ORIGIN and t.counterparty == "scenario" for t in trades)
    assert all(t.trade_id == t.id and t.trade_id.startswith("test-init-") for t in trades)
    assert all(t.instrument in state.chain for t in trades[:2])


def test_given_another_origin_or_seed_then_the_initial_trade_ids_are_the_same():
    ids = [t.trade_id for t in MarketSession(_scenario(), ORIGIN).start().trades]
    later = MarketSession(_scenario(seed=99), ORIGIN + timedelta(days=3)).start().trades
    assert [t.trade_id for t in later] == ids
    changed = [*POSITIONS[:1], {**POSITIONS[2], "quantity": 301}]
    moved = MarketSession(_scenario(positions=changed), ORIGIN).start().trades
    assert moved[0].trade_id != ids[0]  # a different book is a different set of trades


def _flow_trades(hours: float, **changes):
    session = MarketSession(_scenario(**changes), ORIGIN)
    session.start()
    trades, states = [], []
    while (offset := session.next_offset()) is not None and offset <= hours * 3600:
        batch = session.advance()
        for trade in batch.trades:
            trades.append(trade)
            states.append(session.states["SPX"])
    return trades, states, session


def test_given_a_rate_then_arrivals_are_poisson_at_that_rate_in_simulated_time():
    trades, _, session = _flow_trades(20.0)
    arrivals = session.flow.index
    expected = 120 * 20
    assert abs(arrivals - expected) < 4 * math.sqrt(expected)
    assert len(trades) > 0.9 * arrivals  # nearly every arrival finds an option to trade
    gaps = np.diff([(t.ts - ORIGIN).total_seconds() for t in trades])
    assert gaps.min() > 0 and np.mean(gaps) == pytest.approx(30.0, rel=0.1)


def test_given_flow_then_each_trade_is_a_listed_option_in_range_at_fair_value_plus_the_edge():
    trades, states, _ = _flow_trades(6.0)
    assert len(trades) > 500
    buys = 0
    for trade, state in zip(trades, states, strict=True):
        instrument = trade.instrument
        assert instrument in state.chain and trade.counterparty in ("a", "b")
        assert instrument.expiry <= trade.ts + timedelta(days=10)
        assert 0.94 * state.spot <= instrument.strike <= 1.06 * state.spot
        assert 1 <= trade.quantity <= 12
        fair = float(fair_values(state.tick(), state.surface(), [instrument])[0])
        edge = max(0.02 * fair, 0.05)
        ticks = trade.price / 0.05
        assert ticks == pytest.approx(round(ticks), abs=1e-9)  # on the tick grid
        if trade.side is Side.SELL:  # the client bought: the book sells above fair
            buys += 1
            assert fair + edge <= trade.price + 1e-9 < fair + edge + 0.05
        else:
            assert fair - edge - 0.05 < trade.price <= fair - edge + 1e-9
    assert buys / len(trades) == pytest.approx(0.7, abs=0.06)


def test_given_a_seed_and_origin_then_the_flow_repeats_with_the_same_ids():
    first, _, _ = _flow_trades(2.0)
    again, _, _ = _flow_trades(2.0)
    other, _, _ = _flow_trades(2.0, seed=8)
    assert [t.to_json() for t in first] == [t.to_json() for t in again]
    assert [t.trade_id for t in first][:3] == [f"test-20240102T143000Z-flow-{n}" for n in range(3)]
    assert [t.instrument for t in first] != [t.instrument for t in other]


def test_given_flow_switched_off_then_only_the_initial_trades_come():
    session = MarketSession(_scenario(), ORIGIN, client_flow=False)
    assert len(session.start().trades) == 3
    assert all(not b.trades for b in session.run_until(3 * 3600))


def test_given_the_default_scenario_then_the_book_starts_short_gamma():
    from hedgemesh.market.fair_value import implied_vols
    from hedgemesh.quant import bsm

    scenario = load_scenario(DEFAULT_SCENARIO)
    session = MarketSession(scenario, ORIGIN, client_flow=False)
    first = session.start()
    for underlying in scenario.symbols:
        tick = next(t for t in first.ticks if t.underlying == underlying)
        surface = next(s for s in first.surfaces if s.underlying == underlying)
        trades = [t for t in first.trades if t.instrument.underlying == underlying]
        options: list[Instrument] = [t.instrument for t in trades]
        vols = implied_vols(tick, surface, options)
        t = np.array([(i.expiry - tick.ts).total_seconds() / (365 * 86400) for i in options])
        greeks = bsm.greeks(tick.price, [i.strike for i in options], t, surface.rate, surface.div,
                            vols, [i.right == "call" for i in options])  # fmt: skip
        signed = np.array([tr.signed_quantity * tr.instrument.multiplier for tr in trades])
        dollar_gamma_1pct = float(signed @ greeks.gamma) * tick.price**2 * 1e-4 / 2
        assert dollar_gamma_1pct < -10_000, underlying  # short gamma, a desk-sized book
        assert float(signed @ greeks.vega) < 0
