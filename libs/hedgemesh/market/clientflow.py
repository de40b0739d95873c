"""The book's client trades: the scenario's initial positions, then Poisson client flow.

Initial positions become one `ClientTrade` each at the start, priced as the scenario says or at
fair value, with the counterparty `scenario`. Their trade ids depend only on the scenario's
name and positions (`<name>-init-<digest>-<i>`), so a restarted marketdata sends the same ids
and JetStream (within its duplicate window) and the ledger (always) book each once.

Client flow: arrivals form a Poisson process of `rate_per_hour` in simulated time. Each
arrival picks an underlying of the flow uniformly, then a listed option of it expiring within
`max_expiry_days` with strike / spot inside `moneyness`, uniformly; a size, geometric with mean
`size.mean` capped at `size.max`; a side (the client buys with `client_buys_probability`); a
counterparty. The price is the fair value plus the book's edge (half_spread_pct of it, at
least one tick) when the client buys, minus it when the client sells, on the chain's tick
grid; an arrival that finds no option, or a sale worth less than the edge, trades nothing.
Trade ids are `<name>-<run>-flow-<n>`, n the arrival's index: deterministic by seed and origin.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np

from hedgemesh.market.chain import multiple_of
from hedgemesh.market.fair_value import fair_values
from hedgemesh.market.simulator import MarketState, run_id
from hedgemesh.scenario.model import ClientFlowSpec, Scenario, ScenarioError
from hedgemesh.wire.book import ClientTrade
from hedgemesh.wire.instruments import Instrument, Side

__all__ = ["ClientFlow", "initial_trades"]

#: Entropy words of the flow's generators (the paths use 0).
ARRIVAL_STREAM = 1
CHOICE_STREAM = 2
INITIAL_COUNTERPARTY = "scenario"


def _positions_digest(scenario: Scenario) -> str:
    canonical = json.dumps(
        [p.model_dump(mode="json") for p in scenario.positions],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def initial_trades(
    scenario: Scenario, states: Mapping[str, MarketState], start_spots: Mapping[str, float]
) -> list[ClientTrade]:
    """The initial positions as trades at the start; `states`: each underlying's first state,
    `start_spots`: the spot its strikes were listed at (moneyness is relative to it).

    Raises `ScenarioError` for a position that is not a listed option of its chain.
    """
    digest = _positions_digest(scenario)
    trades = []
    for i, position in enumerate(scenario.positions):
        state = states[position.underlying]
        if position.is_option:
            chain = state.chain
            assert position.expiry_days is not None and position.right is not None
            strike = chain.strike_for(
                position.strike, position.moneyness, start_spots[position.underlying]
            )
            try:
                instrument = chain.option(position.expiry_days, strike, position.right)
            except KeyError as error:
                raise ScenarioError(f"positions[{i}]", str(error.args[0])) from None
        else:
            instrument = Instrument.spot(position.underlying)
        price = position.price or _fair_value(state, instrument)
        trades.append(
            ClientTrade(
                id=f"{scenario.name}-init-{digest}-{i}",
                ts=state.ts,
                trade_id=f"{scenario.name}-init-{digest}-{i}",
                instrument=instrument,
                side=Side.of(position.quantity),
                quantity=abs(position.quantity),
                price=price,
                counterparty=INITIAL_COUNTERPARTY,
            )
        )
    return trades


def _fair_value(state: MarketState, instrument: Instrument) -> float:
    surface = state.surface()
    if surface is None:
        raise ScenarioError("positions", f"{state.underlying} has no listed expiry to price on")
    return float(fair_values(state.tick(), surface, [instrument])[0])


class ClientFlow:
    """Poisson client trades of one run (see the module doc). Pure apart from its generators."""

    def __init__(self, scenario: Scenario, origin: datetime) -> None:
        if scenario.client_flow is None:
            raise ValueError(f"scenario {scenario.name!r} has no client_flow")
        self.spec: ClientFlowSpec = scenario.client_flow
        self.name = scenario.name
        self.origin = origin
        self.run = run_id(origin)
        self.symbols = tuple(self.spec.underlyings or scenario.symbols)
        self._arrivals = np.random.default_rng(
            np.random.SeedSequence([scenario.seed, ARRIVAL_STREAM])
        )
        self._choices = np.random.default_rng(
            np.random.SeedSequence([scenario.seed, CHOICE_STREAM])
        )
        self._mean_gap_s = 3600.0 / self.spec.rate_per_hour
        self.index = 0
        self._next = float(self._arrivals.exponential(self._mean_gap_s))

    def next_offset(self) -> float:
        """Offset (seconds from the origin) of the next arrival."""
        return self._next

    def arrive(self, states: Mapping[str, MarketState]) -> ClientTrade | None:
        """The trade of the arrival due now (priced on `states`, each underlying's latest), or
        None when it trades nothing; moves on to the next arrival either way."""
        offset, n = self._next, self.index
        self.index += 1
        self._next = offset + float(self._arrivals.exponential(self._mean_gap_s))
        rng, spec = self._choices, self.spec
        # Draw everything first, so that the draws of one arrival never depend on the market.
        pick_underlying, pick_option = rng.random(), rng.random()
        size = min(int(rng.geometric(1.0 / spec.size.mean)), spec.size.max)
        client_buys = bool(rng.random() < spec.client_buys_probability)
        counterparty = spec.counterparties[int(rng.integers(len(spec.counterparties)))]
        state = states.get(self.symbols[int(pick_underlying * len(self.symbols))])
        surface = state.surface() if state is not None else None
        if state is None or surface is None:
            return None
        lo, hi = spec.moneyness
        ts = self.origin + timedelta(seconds=offset)
        options = state.chain.filter(
            max_expiry=ts + timedelta(days=spec.max_expiry_days),
            strike_range=(lo * state.spot, hi * state.spot),
        )
        if not options:
            return None
        instrument = options[int(pick_option * len(options))]
        fair = float(fair_values(state.tick(), surface, [instrument])[0])
        tick = state.chain.spec.tick_size
        edge = max(fair * spec.half_spread_pct / 100.0, tick)
        if client_buys:
            price = multiple_of(math.ceil((fair + edge) / tick - 1e-9), tick)
        else:
            price = multiple_of(math.floor((fair - edge) / tick + 1e-9), tick)
        if price <= 0.0:
            return None
        trade_id = f"{self.name}-{self.run}-flow-{n}"
        return ClientTrade(
            id=trade_id,
            ts=ts,
            trade_id=trade_id,
            instrument=instrument,
            side=Side.SELL if client_buys else Side.BUY,
            quantity=size,
            price=price,
            counterparty=counterparty,
        )
