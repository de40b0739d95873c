"""BookState: wire positions, ticks and surfaces into the quant book, and risk on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hedgemesh.market.book_state import BookState, InstrumentBatch
from hedgemesh.market.fair_value import fair_values, vol_surface
from hedgemesh.market.session import MarketSession
from hedgemesh.quant.book import Market, Positions, book_risk
from hedgemesh.scenario.testing import make_scenario, scenario_dict, underlying_dict
from hedgemesh.wire.book import Position, PositionSnapshot
from hedgemesh.wire.instruments import Instrument, OptionRight

ORIGIN = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
YEAR_S = 365 * 86400


@pytest.fixture(scope="module")
def market():
    """Tick, surface and listed chain of SPX and NDX ten minutes into a small scenario."""
    data = scenario_dict(underlyings=[underlying_dict("SPX"), underlying_dict("NDX", spot=18000.0)])
    session = MarketSession(make_scenario(data), ORIGIN)
    session.start()
    session.run_until(600.0)
    return {u: (s.tick(), s.surface(), s.chain.instruments) for u, s in session.states.items()}


def snapshot(underlying, holdings, seq=1, ts=None):
    """A snapshot holding `holdings`: (instrument, signed quantity) pairs."""
    positions = [
        Position(instrument=i, quantity=q, average_price=1.0 if q else None) for i, q in holdings
    ]
    return PositionSnapshot(
        underlying=underlying,
        positions=positions,
        cash=0.0,
        realised_pnl=0.0,
        unrealised_pnl=0.0,
        as_of_seq=seq,
        **({"ts": ts} if ts else {}),
    )


def fed(market, holdings_by_underlying):
    state = BookState()
    for tick, surface, _ in market.values():
        state.apply(tick)
        state.apply(surface)
    for underlying, holdings in holdings_by_underlying.items():
        state.apply(snapshot(underlying, holdings))
    return state


def book_of(market):
    spx, ndx = market["SPX"][2], market["NDX"][2]
    return {
        "SPX": [(spx[0], -30), (spx[7], 12), (spx[-1], -5), (Instrument.spot("SPX"), 250)],
        "NDX": [(ndx[3], 8), (ndx[-2], -20)],
    }


def test_given_positions_and_market_then_risk_equals_book_risk_built_by_hand(market):
    holdings = book_of(market)
    state = fed(market, holdings)
    now = market["SPX"][0].ts + timedelta(seconds=3)
    names = ("NDX", "SPX")  # sorted
    records = []
    for u, pairs in holdings.items():
        for instrument, quantity in pairs:
            if instrument.is_option:
                records.append(
                    {
                        "underlying": names.index(u),
                        "strike": instrument.strike,
                        "expiry": (instrument.expiry - now).total_seconds() / YEAR_S,
                        "is_call": instrument.right is OptionRight.CALL,
                        "quantity": quantity,
                        "multiplier": instrument.multiplier,
                    }
                )
            else:
                records.append({"underlying": names.index(u), "quantity": quantity})
    ticks = [market[u][0] for u in names]
    surfaces = [market[u][1] for u in names]
    expected = book_risk(
        Positions.from_records(records),
        Market(
            spot=np.array([t.price for t in ticks]),
            rate=np.array([s.rate for s in surfaces]),
            div=np.array([s.div for s in surfaces]),
            surfaces=tuple(vol_surface(s) for s in surfaces),
        ),
    )
    risk = state.risk(now)
    assert state.underlyings == names
    for table in ("by_underlying", "by_bucket"):
        for field in ("value", "delta", "gamma", "vega_per_point", "dollar_gamma_per_pct"):
            got, want = (
                getattr(getattr(risk, table), field),
                getattr(getattr(expected, table), field),
            )
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
    assert risk.total == expected.total
    assert risk.by_underlying.delta[names.index("SPX")] != 0.0


def test_given_an_older_snapshot_then_positions_are_not_replaced(market):
    spx = market["SPX"][2]
    state = fed(market, {})
    assert state.apply(snapshot("SPX", [(spx[0], -10)], seq=5))
    assert not state.apply(snapshot("SPX", [(spx[0], -99)], seq=4))
    assert not state.apply(snapshot("SPX", [(spx[0], -99)], seq=5))
    assert state.position_quantity(spx[0]) == -10
    assert state.apply(snapshot("SPX", [(spx[0], 3)], seq=6))
    assert state.position_quantity(spx[0]) == 3
    assert state.positions_seq("SPX") == 6


def test_given_a_newer_snapshot_then_risk_follows_it(market):
    spx = market["SPX"][2]
    tick = market["SPX"][0]
    state = fed(market, {"SPX": [(spx[4], 10)]})
    before = state.risk(tick.ts).by_underlying.gamma[state.index("SPX")]
    state.apply(snapshot("SPX", [(spx[4], 20)], seq=2))
    after = state.risk(tick.ts).by_underlying.gamma[state.index("SPX")]
    assert after == pytest.approx(2 * before, rel=1e-12)


def test_given_an_expired_option_then_it_is_left_out_of_risk(market):
    spx = market["SPX"][2]
    tick = market["SPX"][0]
    expired = Instrument.option("SPX", tick.ts - timedelta(hours=1), 5000.0, "call")
    alone = fed(market, {"SPX": [(spx[4], 10)]}).risk(tick.ts)
    with_expired = fed(market, {"SPX": [(spx[4], 10), (expired, 50)]}).risk(tick.ts)
    assert with_expired.total == alone.total
    # and an option expires out of the book once `now` passes its expiry
    state = fed(market, {"SPX": [(spx[0], 10)]})
    after_expiry = spx[0].expiry + timedelta(seconds=1)
    assert state.risk(after_expiry).by_underlying.gamma[state.index("SPX")] == 0.0
    assert len(state.positions(after_expiry)) == 0


def test_given_flat_positions_then_they_are_not_in_the_quant_book(market):
    spx = market["SPX"][2]
    state = fed(market, {"SPX": [(spx[0], 0), (spx[1], 2)]})
    assert len(state.positions(market["SPX"][0].ts)) == 1


def test_given_tick_ages_then_stale_past_max_age(market):
    tick = market["SPX"][0]
    state = fed(market, {})
    assert state.tick_age_s("SPX", tick.ts + timedelta(seconds=2.5)) == pytest.approx(2.5)
    assert not state.is_stale("SPX", tick.ts + timedelta(seconds=2), max_age_s=2.0)
    assert state.is_stale("SPX", tick.ts + timedelta(seconds=2.001), max_age_s=2.0)
    assert state.is_stale("RUT", tick.ts, max_age_s=2.0)
    assert state.tick_age_s("RUT", tick.ts) == float("inf")


def test_given_a_tick_without_surface_then_the_underlying_is_not_priced_and_is_stale(market):
    tick = market["SPX"][0]
    state = BookState()
    state.apply(tick)
    state.apply(snapshot("SPX", [(Instrument.spot("SPX"), 5)]))
    assert state.underlyings == ()
    assert state.is_stale("SPX", tick.ts, max_age_s=60.0)
    assert state.unpriced_underlyings() == ("SPX",)
    with pytest.raises(ValueError, match="tick and a surface"):
        state.risk(tick.ts)


def test_given_an_older_or_replayed_tick_then_it_is_ignored(market):
    tick = market["SPX"][0]
    state = fed(market, {})
    newer = tick.evolve(ts=tick.ts + timedelta(seconds=1), seq=tick.seq + 1, price=tick.price + 1)
    assert state.apply(newer)
    assert not state.apply(tick)
    assert not state.apply(newer)
    assert state.tick("SPX") == newer
    restarted = tick.evolve(ts=tick.ts + timedelta(seconds=2), seq=0)
    assert state.apply(restarted), "a restarted producer's seq starts again; its ts moves on"


def test_given_a_new_tick_then_risk_is_recomputed_at_the_new_spot(market):
    spx = market["SPX"][2]
    tick = market["SPX"][0]
    state = fed(market, {"SPX": [(Instrument.spot("SPX"), 100), (spx[4], 1)]})
    i = state.index("SPX")
    first = state.risk(tick.ts).by_underlying.dollar_delta[i]
    state.apply(tick.evolve(ts=tick.ts, seq=tick.seq + 1, price=tick.price * 1.02))
    second = state.risk(tick.ts).by_underlying.dollar_delta[i]
    assert second != first
    assert state.market().spot[i] == pytest.approx(tick.price * 1.02)


def test_given_ticks_and_surfaces_in_turn_then_risk_equals_that_of_a_freshly_fed_state(market):
    """The stacked surfaces are reused across ticks; a new surface replaces them."""
    holdings = book_of(market)
    state = fed(market, holdings)
    tick, surface, _ = market["SPX"]
    now = tick.ts + timedelta(seconds=9)
    for step in range(1, 4):
        when, price = tick.ts + timedelta(seconds=step), tick.price * (1 + 0.01 * step)
        moved = tick.evolve(ts=when, seq=tick.seq + step, price=price)
        state.apply(moved)
        state.risk(now - timedelta(seconds=step))
    steeper = [s.model_copy(update={"b": s.b * 1.3}) for s in surface.slices]
    bumped = surface.evolve(
        ts=surface.ts + timedelta(seconds=5), seq=surface.seq + 1, slices=steeper
    )
    state.apply(bumped)
    fresh = fed({**market, "SPX": (moved, bumped, None)}, holdings)
    got, want = state.risk(now), fresh.risk(now)
    assert got.total == want.total
    np.testing.assert_array_equal(got.by_bucket.vega_per_point, want.by_bucket.vega_per_point)


def test_given_one_unit_of_a_hedge_then_its_greeks_add_to_the_books_exactly(market):
    spx, ndx = market["SPX"][2], market["NDX"][2]
    holdings = book_of(market)
    now = market["SPX"][0].ts + timedelta(seconds=1)
    candidates = [spx[2], ndx[5], Instrument.spot("SPX"), spx[9]]
    unit = fed(market, holdings).greeks_per_unit(candidates, now)
    base = fed(market, holdings).risk(now).by_underlying
    for j, candidate in enumerate(candidates):
        more = {u: list(h) for u, h in holdings.items()}
        more[candidate.underlying] = [
            (i, q + 3 if i == candidate else q) for i, q in more[candidate.underlying]
        ]
        if candidate not in {i for i, _ in holdings[candidate.underlying]}:
            more[candidate.underlying].append((candidate, 3))
        state = fed(market, more)
        row = state.index(candidate.underlying)
        after = state.risk(now).by_underlying
        for field in ("delta", "gamma", "vega_per_point", "value"):
            change = getattr(after, field)[row] - getattr(base, field)[row]
            assert change == pytest.approx(3 * getattr(unit, field)[j], rel=1e-9, abs=1e-9)
    assert unit.delta[2] == 1.0 and unit.gamma[2] == 0.0 and unit.vol[2] == 0.0
    assert np.all(unit.gamma[[0, 1, 3]] > 0.0) and np.all(unit.vol[[0, 1, 3]] > 0.0)


def test_given_an_expired_candidate_then_its_unit_greeks_are_zero(market):
    tick = market["SPX"][0]
    expired = Instrument.option("SPX", tick.ts - timedelta(days=1), 5000.0, "put")
    unit = fed(market, {}).greeks_per_unit([expired], tick.ts)
    assert unit.delta.tolist() == [0.0] and unit.value.tolist() == [0.0]


def test_given_instruments_then_fair_values_are_those_of_the_fair_value_module(market):
    tick, surface, instruments = market["SPX"]
    state = fed(market, {})
    np.testing.assert_array_equal(
        state.fair_values(instruments), fair_values(tick, surface, instruments)
    )
    with pytest.raises(KeyError):
        state.fair_values([Instrument.spot("RUT")])
    assert state.fair_values([]).size == 0


def test_given_a_batch_built_once_then_it_prices_as_the_list_does(market):
    spx, ndx = market["SPX"][2], market["NDX"][2]
    tick = market["SPX"][0]
    state = fed(market, {})
    mixed = [ndx[1], spx[3], Instrument.spot("NDX"), spx[8], ndx[6]]
    batch = InstrumentBatch.of(mixed)
    assert batch.names == ("NDX", "SPX") and batch.code.tolist() == [0, 1, 0, 1, 0]
    by_list, by_batch = state.greeks_per_unit(mixed, tick.ts), state.greeks_per_unit(batch, tick.ts)
    for name in ("value", "delta", "gamma", "vega_per_point", "vol"):
        np.testing.assert_array_equal(getattr(by_batch, name), getattr(by_list, name))
    one = InstrumentBatch.of(spx)
    np.testing.assert_array_equal(state.fair_values(one), state.fair_values(spx))
    with pytest.raises(ValueError, match="several underlyings"):
        state.fair_values(batch)
