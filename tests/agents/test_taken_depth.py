"""What an agent's own hedges took from the option books: remembered per option and side,
scaled by the manager's decision, refilled with the venue's half-life, and kept out of the
next legs' sizes."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from agent_examples import ORIGIN, gamma_core, limits, moved

from hedgemesh.agentkit.domain.depth import TakenDepth
from hedgemesh.policies.selection import LadderCost
from hedgemesh.venue.spec import VENUE
from hedgemesh.wire.hedging import Decision, DecisionOutcome, Greeks, HedgeLeg, Proposal
from hedgemesh.wire.instruments import Instrument

CALL = Instrument.option("SPX", ORIGIN + timedelta(days=14), 5000, "call")
PUT = Instrument.option("SPX", ORIGIN + timedelta(days=14), 4900, "put")


def proposal(pid: str, *legs: tuple[Instrument, int], at=ORIGIN) -> Proposal:
    zero = Greeks(delta=0.0, gamma=0.0, vega_per_vol_point=0.0)
    return Proposal(
        id=pid, ts=at, agent="gamma-agent", underlying="SPX", cycle_id="SPX-1",
        trigger="band_breach", reason="test", expected_change=zero, leg_greeks=zero,
        estimated_cost=0.0, legs=[HedgeLeg(instrument=i, quantity=q) for i, q in legs],
        tick_seq=1,
    )  # fmt: skip


def test_given_a_proposal_then_its_legs_are_missing_on_their_side_until_the_books_refill():
    taken = TakenDepth(LadderCost.of(VENUE.option, half_life_s=30.0))
    taken.take(proposal("p1", (CALL, 40), (PUT, -10)))
    buys, sells = np.ones(2), -np.ones(2)
    assert taken.missing([CALL, PUT], buys, ORIGIN).tolist() == [40.0, 0.0]
    assert taken.missing([CALL, PUT], sells, ORIGIN).tolist() == [0.0, 10.0]
    later = ORIGIN + timedelta(seconds=30)
    assert taken.missing([CALL, PUT], buys, later).tolist() == pytest.approx([20.0, 0.0])
    gone = ORIGIN + timedelta(seconds=301)
    assert taken.missing([CALL, PUT], buys, gone).tolist() == [0.0, 0.0]


def test_given_the_managers_decision_then_what_was_taken_is_scaled_to_it():
    taken = TakenDepth(LadderCost.of(VENUE.option))
    taken.take(proposal("p1", (CALL, 40)))
    taken.take(proposal("p2", (CALL, 10)))
    taken.scale("p1", 0.25)
    taken.scale("p2", 0.0)  # rejected: nothing taken
    assert taken.missing([CALL], np.ones(1), ORIGIN).tolist() == [10.0]


def test_given_a_hedge_a_tick_ago_then_the_next_legs_leave_its_books_alone():
    core = gamma_core(settle_timeout_s=0.5)
    first = core.evaluate("SPX", ORIGIN, 0.0).proposal
    assert first is not None
    approved = Decision(
        proposal_id=first.id, agent=first.agent, underlying="SPX", cycle_id=first.cycle_id,
        outcome=DecisionOutcome.APPROVED, scale_factor=1.0, epoch=1,
    )  # fmt: skip
    core.on_decision(approved, 0.1)
    later = moved(core, "SPX", 1.0)  # nothing booked: gamma still out, the books still thin
    second = core.evaluate("SPX", later.ts, 1.0).proposal
    assert second is not None
    took = {leg.instrument: leg.quantity for leg in first.legs}
    fresh = gamma_core().evaluate("SPX", later.ts, 0.0).proposal  # an agent without a memory
    assert fresh is not None

    def room(legs):
        """Contracts each leg asks beyond what its book shows again (≤ 0: within it)."""
        instruments = [leg.instrument for leg in legs]
        fair = core.book.fair_values(instruments)
        vol = core.book.greeks_per_unit(instruments, later.ts).vol
        shown = LadderCost.of(VENUE.option).depth(
            fair, vol, within=0.8 * limits("SPX").price_collar * fair
        )
        missing = np.array([took.get(i, 0) * 2 ** (-10 / 30) for i in instruments])
        return np.abs([leg.quantity for leg in legs]) - (shown - missing)

    assert (room(fresh.legs) > 0).any()  # without a memory it would ask for what is not back
    assert (room(second.legs) <= 0).all()
