"""The listed chain: what is listed at the start, symbols, and rolling as time passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hedgemesh.market.chain import ListedChain, listed_strikes, round_to
from hedgemesh.scenario.testing import make_scenario, scenario_dict, underlying_dict
from hedgemesh.wire.instruments import Instrument, OptionRight

ORIGIN = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def _spec(**chain):
    base = underlying_dict()
    base["chain"].update(chain)
    return make_scenario(scenario_dict(underlyings=[base])).underlyings[0]


def test_given_a_chain_spec_then_expiries_times_strikes_times_rights_are_listed():
    chain = ListedChain.first_listing(_spec(), ORIGIN, 5000.0)
    assert chain.expiry_times == (
        datetime(2024, 1, 9, 21, tzinfo=UTC),
        datetime(2024, 2, 1, 21, tzinfo=UTC),
    )
    assert len(chain.instruments) == 2 * 5 * 2
    first = chain.instruments[0]
    assert first.symbol == "SPX-20240109-C-4500" and first.multiplier == 100
    assert Instrument.parse(first.symbol) == first
    assert all(Instrument.parse(i.symbol) == i for i in chain.instruments)
    assert chain.option(7, 5000.0, OptionRight.PUT).symbol == "SPX-20240109-P-5000"
    with pytest.raises(KeyError, match="not listed"):
        chain.option(7, 5001.0, OptionRight.PUT)


def test_given_moneyness_then_strikes_round_to_the_grid_once_each():
    spec = _spec(strikes={"moneyness": [0.9, 0.90001, 1.0, 1.0333], "round_to": 2.5})
    assert listed_strikes(spec.chain, 4987.0) == (4487.5, 4987.5, 5152.5)
    assert round_to(0.1 * 3, 0.1) == 0.3  # a clean decimal, not 0.30000000000000004
    absolute = _spec(strikes={"absolute": [5100, 4900, 5000]})
    assert listed_strikes(absolute.chain, 1.0) == (4900, 5000, 5100)


def test_given_time_passing_an_expiry_then_it_drops_and_one_the_longest_tenor_later_is_listed():
    chain = ListedChain.first_listing(_spec(), ORIGIN, 5000.0)
    first_expiry = chain.expiry_times[0]
    assert chain.rolled(first_expiry - timedelta(seconds=1), 5000.0) is chain
    rolled = chain.rolled(first_expiry, 5400.0)  # expired at its expiry instant
    assert rolled.expiry_times == (chain.expiry_times[1], first_expiry + timedelta(days=30))
    assert all(i.expiry != first_expiry for i in rolled.instruments)
    new_strikes = {i.strike for i in rolled.instruments if i.expiry == rolled.expiry_times[1]}
    assert new_strikes == {4860, 5130, 5400, 5670, 5940}  # around the spot at listing
    assert len(rolled.instruments) == len(chain.instruments)


def test_given_no_roll_then_expired_options_drop_and_the_chain_shrinks():
    chain = ListedChain.first_listing(_spec(roll=False), ORIGIN, 5000.0)
    later = chain.rolled(chain.expiry_times[0] + timedelta(days=1), 5000.0)
    assert later.expiry_times == chain.expiry_times[1:]
    assert chain.rolled(chain.expiry_times[-1], 5000.0).instruments == ()


def test_given_a_filter_then_only_near_dated_strikes_in_range_remain():
    chain = ListedChain.first_listing(_spec(), ORIGIN, 5000.0)
    picked = chain.filter(max_expiry=ORIGIN + timedelta(days=10), strike_range=(4800, 5200))
    assert [i.symbol for i in picked] == ["SPX-20240109-C-5000", "SPX-20240109-P-5000"]
