"""The vega-agent's decisions on the default scenario's market, no NATS."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from agent_examples import ORIGIN, book_holdings, limits, moved, vega_core

from hedgemesh.agentkit.domain.core import Skip
from hedgemesh.vega_agent.domain.specialist import bucket_changes
from hedgemesh.wire.codes import TradingState
from hedgemesh.wire.hedging import HedgeTrigger, Proposal
from hedgemesh.wire.state import TradingStatus

NDX_LIMIT = 1.0e5  # max_abs_vega_per_vol_point of NDX in the default scenario
SPX_LIMIT = 1.5e5


def buckets(core, underlying, now=ORIGIN):
    return core.book.risk(now).by_bucket.vega_per_point[core.book.index(underlying)]


def days_to(instrument):
    return (instrument.expiry - ORIGIN).total_seconds() / 86400


def test_given_every_bucket_inside_its_band_then_no_proposal():
    small = {u: {i: round(q * 0.1) for i, q in h.items()} for u, h in book_holdings().items()}
    core = vega_core(small)
    assert np.all(np.abs(buckets(core, "NDX")) < 0.25 * NDX_LIMIT)
    assert core.evaluate("NDX", ORIGIN, 0.0).skipped is Skip.NO_TRIGGER
    assert core.evaluate("SPX", ORIGIN, 0.0).skipped is Skip.NO_TRIGGER


def test_given_a_bucket_out_of_band_then_legs_in_that_bucket_bring_it_and_the_total_inside():
    core = vega_core()
    vega = buckets(core, "NDX")  # [0-30d, 30-90d, ...]: −33k, −82k
    assert vega[1] < -0.5 * NDX_LIMIT
    proposal = core.evaluate("NDX", ORIGIN, 0.0, epoch=2).proposal
    assert isinstance(proposal, Proposal)
    Proposal.from_json(proposal.to_json())
    assert proposal.trigger is HedgeTrigger.BAND_BREACH
    for leg in proposal.legs:  # longer-dated, in the 30-90d bucket, bought
        assert 30 <= days_to(leg.instrument) < 90 and leg.quantity > 0
    after = vega.sum() + proposal.leg_greeks.vega_per_vol_point
    assert abs(after) <= 0.25 * NDX_LIMIT + 1500  # the total to its target, ± whole contracts
    assert abs(vega[1] + proposal.leg_greeks.vega_per_vol_point) <= 0.5 * NDX_LIMIT
    assert proposal.expected_change.vega_per_vol_point == pytest.approx(
        -0.25 * NDX_LIMIT - vega.sum()
    )
    assert proposal.expected_change.gamma == 0.0 and proposal.leg_greeks.gamma > 0.0
    assert "gamma" in proposal.reason


def test_given_a_short_bucket_with_nothing_to_trade_then_its_vega_goes_to_the_60_90_day_bucket():
    core = vega_core()
    vega = buckets(core, "SPX")  # 0-30d −219k (7 and 14-day options only), 30-90d −21k
    assert vega[0] < -0.5 * SPX_LIMIT
    proposal = core.evaluate("SPX", ORIGIN, 0.0).proposal
    assert proposal is not None
    assert all(30 <= days_to(leg.instrument) < 90 for leg in proposal.legs)
    new_bucket = vega[1] + proposal.leg_greeks.vega_per_vol_point
    assert new_bucket == pytest.approx(0.5 * SPX_LIMIT, rel=0.02)  # as far as its band allows


def test_given_the_rules_then_bucket_changes_follow_the_bands_and_the_total():
    hedgeable = np.array([True, True, True])
    vega = np.array([-90.0, 10.0, 0.0])
    change = bucket_changes(vega, trigger=50.0, target=25.0, preferred=1, hedgeable=hedgeable)
    assert change.tolist() == [65.0, 0.0, 0.0]  # total −15 inside: nothing more
    short = np.array([-90.0, -40.0, 0.0])
    change = bucket_changes(short, 50.0, 25.0, preferred=1, hedgeable=np.array([False, True, True]))
    assert change.tolist() == [0.0, 90.0, 0.0]  # the total −130 → −25 needs 105; room 90
    inside = bucket_changes(np.array([-40.0, 30.0, 0.0]), 50.0, 25.0, 1, hedgeable)
    assert inside.tolist() == [0.0, 0.0, 0.0]
    nowhere = bucket_changes(short, 50.0, 25.0, 1, np.zeros(3, bool))
    assert nowhere.tolist() == [0.0, 0.0, 0.0]


def test_given_a_price_move_then_buckets_outside_the_target_are_re_hedged():
    ndx = {i: round(q * 0.4) for i, q in book_holdings()["NDX"].items()}
    core = vega_core({"NDX": ndx})
    vega = buckets(core, "NDX")
    assert np.all(np.abs(vega) <= 0.5 * NDX_LIMIT) and abs(vega.sum()) <= 0.5 * NDX_LIMIT
    assert np.abs(vega[1]) > 0.25 * NDX_LIMIT
    assert core.evaluate("NDX", ORIGIN, 0.0).skipped is Skip.NO_TRIGGER
    tick = moved(core, "NDX", 1.012)
    proposal = core.evaluate("NDX", tick.ts, 0.0).proposal
    assert proposal is not None and proposal.trigger is HedgeTrigger.PRICE_MOVE
    now = buckets(core, "NDX", tick.ts)
    assert now.sum() + proposal.leg_greeks.vega_per_vol_point == pytest.approx(
        -0.25 * NDX_LIMIT, abs=2000.0
    )  # the bucket to its target edge, then the total too (± one contract's vega)


def test_given_stale_or_halted_then_no_proposal():
    core = vega_core()
    late = ORIGIN + timedelta(seconds=limits("NDX").max_tick_age_s + 1)
    assert core.evaluate("NDX", late, 0.0).skipped is Skip.STALE
    core.trading["desk"] = TradingStatus(state=TradingState.HALTED, changed_by="ops")
    assert core.evaluate("NDX", ORIGIN, 0.0).skipped is Skip.HALTED


def test_given_reducing_then_buying_vega_against_a_short_book_goes_through():
    core = vega_core()
    core.trading["desk"] = TradingStatus(state=TradingState.REDUCING, changed_by="ops")
    assert core.evaluate("NDX", ORIGIN, 0.0).proposal is not None
