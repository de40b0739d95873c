"""Both agents through the default scenario's first three hours (short gamma, the 5 % gap and
vol spike at one hour, client flow), every proposal filled at once by a stand-in manager
that approves all: after the first cycles, gamma, total vega and every vega bucket stay
inside their limits at every tick."""

from __future__ import annotations

from collections import Counter

import numpy as np
from agent_examples import ORIGIN, book_holdings, gamma_core, limits, scenario, snapshot, vega_core

from hedgemesh.market.session import MarketSession
from hedgemesh.wire.hedging import Decision, DecisionOutcome

HOURS = 3.0
SETTLE_S = 600.0  # the first cycles bring the book (outside its limits at start) in


def test_given_the_default_day_then_the_agents_keep_gamma_and_vega_inside_their_limits():
    session = MarketSession(scenario(), ORIGIN, client_flow=True)
    session.start()
    agents = gamma_core(), vega_core()
    held = {u: dict(h) for u, h in book_holdings().items()}
    seq = Counter({u: 1 for u in held})
    proposals: Counter[tuple[str, str]] = Counter()
    worst: dict[str, float] = {}

    def book(underlying):
        seq[underlying] += 1
        for agent in agents:
            agent.book.apply(snapshot(underlying, held[underlying], seq[underlying]))

    while (offset := session.next_offset()) is not None and offset < HOURS * 3600:
        batch = session.advance()
        for trade in batch.trades:
            u = trade.instrument.underlying
            held[u][trade.instrument] = held[u].get(trade.instrument, 0) + trade.signed_quantity
            book(u)
        for agent in agents:
            for message in (*batch.surfaces, *batch.ticks):
                agent.book.apply(message)
        for tick in batch.ticks:
            u = tick.underlying
            for agent in agents:
                proposal = agent.evaluate(u, batch.ts, offset).proposal
                if proposal is None:
                    continue
                proposals[(proposal.agent, u)] += 1
                approved = Decision(
                    proposal_id=proposal.id, agent=proposal.agent, underlying=u,
                    cycle_id=proposal.cycle_id, outcome=DecisionOutcome.APPROVED,
                    scale_factor=1.0, epoch=1,
                )  # fmt: skip
                for each in agents:
                    each.on_decision(approved, offset)
                for leg in proposal.legs:
                    held[u][leg.instrument] = held[u].get(leg.instrument, 0) + leg.quantity
                book(u)
        if offset < SETTLE_S:
            continue
        risk = agents[0].book.risk(batch.ts)
        for u in agents[0].book.underlyings:
            i, limit = agents[0].book.index(u), limits(u)
            vega_limit = limit.max_abs_vega_per_vol_point
            ratios = {
                f"{u} gamma": abs(risk.by_underlying.gamma[i]) / limit.max_abs_gamma,
                f"{u} vega": abs(risk.by_underlying.vega_per_point[i]) / vega_limit,
                f"{u} bucket": float(np.abs(risk.by_bucket.vega_per_point[i]).max()) / vega_limit,
            }
            for name, ratio in ratios.items():
                worst[name] = max(worst.get(name, 0.0), ratio)
    assert set(proposals) == {(a, u) for a in ("gamma-agent", "vega-agent") for u in held}
    assert worst and all(ratio <= 1.0 for ratio in worst.values()), worst
