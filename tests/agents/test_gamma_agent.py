"""The gamma-agent's decisions on the default scenario's market, no NATS."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from agent_examples import ORIGIN, book_holdings, gamma_core, limits, moved, tick

from hedgemesh.agentkit.domain.core import Skip
from hedgemesh.gamma_agent.domain.specialist import GammaSpecialist, book_for_policy
from hedgemesh.policies.selection import LadderCost
from hedgemesh.venue.spec import VENUE
from hedgemesh.wire.codes import TradingState
from hedgemesh.wire.hedging import HedgeTrigger, Proposal
from hedgemesh.wire.state import TradingStatus

SPX_BAND = 0.5 * 120  # band_fraction × max_abs_gamma
SPX_TARGET = 0.25 * 120


def scaled_book(factor: float):
    """The scenario's SPX book with every quantity scaled (SPX gamma ≈ −204 × factor)."""
    return {"SPX": {i: round(q * factor) for i, q in book_holdings()["SPX"].items()}}


def gamma_of(core, underlying="SPX", now=ORIGIN):
    return float(core.book.risk(now).by_underlying.gamma[core.book.index(underlying)])


def test_given_gamma_inside_its_band_then_no_trigger_and_no_proposal():
    core = gamma_core(scaled_book(0.1))
    assert abs(gamma_of(core)) < SPX_TARGET
    evaluation = core.evaluate("SPX", ORIGIN, 0.0)
    assert evaluation.proposal is None and evaluation.skipped is Skip.NO_TRIGGER


def test_given_gamma_out_of_band_then_whole_contract_legs_bring_it_back_inside():
    core = gamma_core()
    gamma = gamma_of(core)
    assert gamma < -SPX_BAND
    proposal = core.evaluate("SPX", ORIGIN, 0.0, epoch=7).proposal
    assert isinstance(proposal, Proposal)
    Proposal.from_json(proposal.to_json())  # a valid wire message
    after = gamma + proposal.leg_greeks.gamma
    assert abs(after) <= SPX_BAND
    assert after == pytest.approx(-SPX_TARGET, abs=0.5)  # to the inner band's edge, ± rounding
    assert proposal.expected_change.gamma == pytest.approx(-SPX_TARGET - gamma, rel=1e-9)
    assert proposal.expected_change.vega_per_vol_point == 0.0
    assert proposal.leg_greeks.vega_per_vol_point > 0.0  # the vega the legs bring is reported
    assert proposal.trigger is HedgeTrigger.BAND_BREACH
    assert proposal.epoch == 7 and proposal.tick_seq == tick("SPX").seq
    assert proposal.cycle_id == f"SPX-{tick('SPX').seq}"
    assert proposal.id == f"gamma-agent-SPX-{tick('SPX').seq}"
    assert proposal.causation_id == tick("SPX").id and proposal.positions_seq == 1
    assert all(leg.quantity > 0 and leg.instrument.is_option for leg in proposal.legs)
    assert "gamma" in proposal.reason and "vega" in proposal.reason


def test_given_the_legs_then_they_are_near_the_money_short_dated_within_depth_and_collar():
    core = gamma_core()
    proposal = core.evaluate("SPX", ORIGIN, 0.0).proposal
    assert proposal is not None
    spot = tick("SPX").price
    values = core.book.fair_values([leg.instrument for leg in proposal.legs])
    unit = core.book.greeks_per_unit([leg.instrument for leg in proposal.legs], ORIGIN)
    depth = LadderCost.of(VENUE.option).depth(values, unit.vol)
    for leg, fair, vol, shown in zip(proposal.legs, values, unit.vol, depth, strict=True):
        days = (leg.instrument.expiry - ORIGIN).total_seconds() / 86400
        assert 2 <= days <= 45
        assert abs(np.log(leg.instrument.strike / spot)) <= vol * np.sqrt(days / 365) + 0.01
        assert abs(leg.quantity) <= min(shown, limits("SPX").max_order_quantity)
        assert fair < leg.limit_price <= fair * (1 + 0.8 * limits("SPX").price_collar)


def test_given_the_choice_then_the_first_leg_is_the_cheapest_gamma_per_unit_of_cost():
    """Re-score every eligible option at the size it would need for the whole aim."""
    core = gamma_core()
    proposal = core.evaluate("SPX", ORIGIN, 0.0).proposal
    assert proposal is not None
    from hedgemesh.agentkit.domain.chain import listed_candidates

    pool = listed_candidates(core.book, "SPX", core.chains["SPX"], ORIGIN)
    pool = pool.take(pool.near_the_money(2, 45, 1.0))
    wanted = proposal.expected_change.gamma
    costs = LadderCost.of(VENUE.option)
    cap = np.minimum(costs.depth(pool.fair, pool.unit.vol), 1000)
    q = np.clip(np.rint(wanted / pool.unit.gamma), -cap, cap)
    score = costs.cost(q, pool.fair, pool.unit.vol, pool.multiplier) / np.abs(q * pool.unit.gamma)
    best = pool.instruments[int(np.argmin(score))]
    assert proposal.legs[0].instrument == best
    assert proposal.estimated_cost > 0.0


def test_given_the_policy_then_it_sees_the_same_gamma_as_the_book_state():
    core = gamma_core()
    options, underlying = book_for_policy(_context(core))
    from hedgemesh.policies.state import OptionSet

    spot = np.array([tick("SPX").price])
    surface = core.book.surface("SPX")
    opts = OptionSet(
        strike=np.array([[o.strike for o in options]]),
        tau=np.array([[o.tau for o in options]]),
        is_call=np.array([[o.is_call for o in options]]),
        quantity=np.array([[o.quantity for o in options]]),
        vol=np.array([[o.vol for o in options]]),
    )
    gamma = float((opts.quantity * opts.greeks(spot, surface.rate, surface.div).gamma).sum())
    assert gamma == pytest.approx(gamma_of(core), rel=1e-10)
    assert underlying == 0.0


def _context(core):
    from hedgemesh.agentkit.domain.core import PlanContext

    risk = core.book.risk(ORIGIN)
    return PlanContext(
        "SPX", ORIGIN, HedgeTrigger.BAND_BREACH, core.book.tick("SPX"), core.book.surface("SPX"),
        core.book, risk, core.book.index("SPX"), limits("SPX"), core.rules, core.costs,
        core.chains["SPX"],
    )  # fmt: skip


def test_given_gamma_between_target_and_band_then_a_price_move_re_hedges_to_the_target():
    core = gamma_core(scaled_book(0.2))
    assert SPX_TARGET < abs(gamma_of(core)) < SPX_BAND
    assert core.evaluate("SPX", ORIGIN, 0.0).skipped is Skip.NO_TRIGGER
    small = moved(core, "SPX", 1.005)
    assert core.evaluate("SPX", small.ts, 0.0).skipped is Skip.NO_TRIGGER
    big = moved(core, "SPX", 1.006)  # 1.1 % since the reference spot
    proposal = core.evaluate("SPX", big.ts, 0.0).proposal
    assert proposal is not None and proposal.trigger is HedgeTrigger.PRICE_MOVE
    gamma = gamma_of(core, now=big.ts)
    # Up 1.1 %, the dollar gamma limit ($30M per 1 %) is the tighter: the target follows it.
    limit = limits("SPX").gamma_limit(big.price)
    assert limit < limits("SPX").max_abs_gamma
    target = core.rules.target_fraction * limit
    assert abs(gamma + proposal.leg_greeks.gamma) == pytest.approx(target, abs=0.5)


def test_given_the_timer_interval_has_passed_then_the_timer_trigger_re_hedges():
    core = gamma_core(scaled_book(0.2), timer_interval_s=600.0, price_move=0.0)
    assert core.evaluate("SPX", ORIGIN, 0.0).skipped is Skip.NO_TRIGGER
    later = moved(core, "SPX", 1.0, seconds=599.0)
    assert core.evaluate("SPX", later.ts, 0.0).skipped is Skip.NO_TRIGGER
    due = moved(core, "SPX", 1.0, seconds=1.0)
    proposal = core.evaluate("SPX", due.ts, 0.0).proposal
    assert proposal is not None and proposal.trigger is HedgeTrigger.TIMER
    assert core.evaluate("SPX", due.ts + timedelta(seconds=1), 10.0).skipped is Skip.NO_TRIGGER


def test_given_a_stale_tick_then_no_proposal():
    core = gamma_core()
    age = limits("SPX").max_tick_age_s
    late = ORIGIN + timedelta(seconds=age + 0.5)
    evaluation = core.evaluate("SPX", late, 0.0)
    assert evaluation.proposal is None and evaluation.skipped is Skip.STALE
    assert core.evaluate("SPX", ORIGIN + timedelta(seconds=age), 0.0).proposal is not None


def test_given_halted_then_no_proposal_desk_wide_or_for_the_underlying():
    core = gamma_core()
    core.trading["desk"] = TradingStatus(state=TradingState.HALTED, changed_by="ops")
    assert core.evaluate("SPX", ORIGIN, 0.0).skipped is Skip.HALTED
    core.trading["desk"] = TradingStatus(state=TradingState.ACTIVE, changed_by="ops")
    core.trading["SPX"] = TradingStatus(state=TradingState.HALTED, changed_by="ops")
    assert core.evaluate("SPX", ORIGIN, 0.0).skipped is Skip.HALTED
    assert core.evaluate("NDX", ORIGIN, 0.0).proposal is not None


def test_given_reducing_then_a_hedge_that_lowers_gamma_and_vega_goes_through():
    core = gamma_core()
    core.trading["desk"] = TradingStatus(state=TradingState.REDUCING, changed_by="ops")
    assert core.evaluate("SPX", ORIGIN, 0.0).proposal is not None


def test_given_reducing_then_a_hedge_that_raises_vega_is_held_back():
    """Short near-dated gamma but long far more vega in 90-day options: buying short-dated
    options lowers |gamma| and raises the (long) vega further."""
    held = dict(book_holdings()["SPX"])
    long_dated = max(held, key=lambda i: i.expiry)
    held[long_dated] = 1000
    active = gamma_core({"SPX": held})
    risk = active.book.risk(ORIGIN).by_underlying
    assert risk.gamma[active.book.index("SPX")] < -SPX_BAND
    assert risk.vega_per_point[active.book.index("SPX")] > 0.0
    assert active.evaluate("SPX", ORIGIN, 0.0).proposal is not None
    reducing = gamma_core({"SPX": held})
    reducing.trading["desk"] = TradingStatus(state=TradingState.REDUCING, changed_by="ops")
    assert reducing.evaluate("SPX", ORIGIN, 0.0).skipped is Skip.NOT_REDUCING


def test_given_no_limits_or_no_market_then_no_proposal():
    core = gamma_core()
    del core.limits["SPX"]
    assert core.evaluate("SPX", ORIGIN, 0.0).skipped is Skip.NO_LIMITS
    assert core.evaluate("RUT", ORIGIN, 0.0).skipped is Skip.NO_MARKET


def test_given_the_specialist_then_the_band_is_a_fraction_of_the_live_limit():
    core = gamma_core()
    risk = core.book.risk(ORIGIN)
    row = core.book.index("SPX")
    specialist = GammaSpecialist()
    assert specialist.breached(risk, row, limits("SPX"), core.rules)
    raw_only = limits("SPX", max_abs_gamma=500.0, max_abs_dollar_gamma_per_pct=None)
    assert not specialist.breached(risk, row, raw_only, core.rules)
    # The dollar gamma limit binds beside raw gamma: a loose raw limit alone does not free it.
    assert specialist.breached(risk, row, limits("SPX", max_abs_gamma=500.0), core.rules)
