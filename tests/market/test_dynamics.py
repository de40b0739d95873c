"""Surface dynamics through the simulator: the base at the start, moves with spot (sticky
moneyness or strike), follows Heston's variance, spikes and decays, gaps at their time,
stays free of static arbitrage through the default scenario's day, and is deterministic."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from hedgemesh.market.dynamics import variance_ratio
from hedgemesh.market.fair_value import vol_surface
from hedgemesh.market.session import MarketSession
from hedgemesh.quant.paths import PathState
from hedgemesh.scenario import DEFAULT_SCENARIO, load_scenario
from hedgemesh.scenario.model import SECONDS_PER_YEAR, HestonSpec
from hedgemesh.scenario.testing import make_scenario, scenario_dict, underlying_dict

ORIGIN = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
HOUR = 3600.0


def _session(events=(), seed=7, **underlying) -> MarketSession:
    data = scenario_dict(
        seed=seed, underlyings=[underlying_dict(**underlying)], events=list(events)
    )
    session = MarketSession(make_scenario(data), ORIGIN)
    session.start()
    return session


def _flat(stickiness: float, **changes):
    surface = {"atm_vol": {7: 0.16, 30: 0.16}, "rho": -0.7, "atm_skew": -0.6,
               "skew_stickiness": stickiness}  # fmt: skip
    return {"surface": surface, **changes}


def _path(session: MarketSession, until: float) -> dict[float, float]:
    return {b.offset_s: b.ticks[0].price for b in session.run_until(until) if b.ticks}


def test_given_no_event_and_no_move_then_the_first_surface_is_the_base_surface():
    session = _session()
    state = session.states["SPX"]
    term = session.feeds["SPX"].dynamics.term
    np.testing.assert_allclose(
        state.atm_total_variance, term.total_variance(state.tenors), rtol=1e-13
    )
    np.testing.assert_allclose(state.forwards, 5000 * np.exp(0.03 * state.tenors), rtol=1e-15)


def test_given_a_gap_then_it_applies_exactly_at_its_time():
    gap = [{"kind": "gap", "at": "1h", "pct": -5}]
    plain, gapped = _path(_session(), 2 * HOUR), _path(_session(gap), 2 * HOUR)
    for offset in plain:
        ratio = gapped[offset] / plain[offset]
        assert ratio == (1.0 if offset < HOUR else pytest.approx(0.95, rel=1e-12)), offset


def test_given_a_gap_between_ticks_then_the_next_tick_shows_it():
    gapped = _path(_session([{"kind": "gap", "at": 3605, "pct": -5}]), 2 * HOUR)
    step = math.log(gapped[3610.0] / gapped[3600.0])
    assert abs(step - math.log(0.95)) < 5 * 0.16 * math.sqrt(10 / SECONDS_PER_YEAR)


def test_given_sticky_moneyness_then_a_gap_leaves_the_atm_vols_where_they_were():
    session = _session([{"kind": "gap", "at": "1h", "pct": -5}], **_flat(0.0))
    session.run_until(HOUR)
    state = session.states["SPX"]
    term = session.feeds["SPX"].dynamics.term
    np.testing.assert_allclose(
        state.atm_total_variance, term.total_variance(state.tenors), rtol=1e-12
    )
    assert state.surface().slices[0].forward == pytest.approx(
        state.spot * math.exp(0.03 * state.tenors[0])
    )


def test_given_sticky_strike_then_the_atm_vol_after_a_move_is_the_old_smile_at_the_new_forward():
    session = _session([{"kind": "gap", "at": "1h", "pct": -1}], **_flat(1.0))
    session.run_until(HOUR - 10)
    before = session.states["SPX"].surface()
    session.run_until(HOUR)
    after = session.states["SPX"]
    old = vol_surface(before)
    t = after.tenors[1]  # the 30-day expiry: the skew tenor
    old_vol_at_new_atm = float(old.implied_vol(after.forwards[1], t))
    assert after.atm_vols[1] > old.implied_vol(old.forward(t), t)  # a fall lifts the ATM vol
    assert after.atm_vols[1] == pytest.approx(old_vol_at_new_atm, rel=2e-3)


def test_given_heston_then_the_short_atm_level_follows_the_variance():
    heston = {"kind": "heston", "v0": 0.0256, "kappa": 2.0, "theta": 0.0256, "xi": 1.2, "rho": -0.7}
    session = _session(model=heston, tick_interval="10m")
    feed = session.feeds["SPX"]
    variances, short_vols = [], []
    while session.next_offset() <= 3 * 86400.0:
        session.advance()
        variances.append(float(feed.path.variance[0]))
        short_vols.append(float(session.states["SPX"].atm_vols[0]))
    assert np.corrcoef(variances, short_vols)[0, 1] > 0.95


def test_given_heston_states_then_the_variance_ratio_reverts_toward_one_with_tenor():
    spec = HestonSpec(kind="heston", v0=0.04, kappa=4.0, theta=0.04, xi=0.5, rho=-0.7)
    start = PathState(spot=np.array([100.0]), variance=np.array([0.04]))
    doubled = PathState(spot=np.array([100.0]), variance=np.array([0.08]))
    ratio = variance_ratio(spec, start, doubled)
    assert ratio(np.array([1e-9, 0.25, 5.0])) == pytest.approx(
        [2.0, 1 + math.exp(-1), 1.0], abs=1e-6
    )


def test_given_a_decaying_spike_then_the_atm_variance_is_the_integrated_overlay():
    h = HOUR
    spike = [{"kind": "vol_spike", "at": "1h", "multiplier": 2.0, "half_life": h}]
    session = _session(spike, **_flat(0.0))
    for age in (0.0, h, 3 * h):
        session.run_until(HOUR + age)
        state = session.states["SPX"]
        tau, hy = state.tenors, h / SECONDS_PER_YEAR
        excess = 3.0 * 0.5 ** (age / h) * hy / math.log(2) * (1 - 0.5 ** (tau / hy))
        np.testing.assert_allclose(state.atm_total_variance, 0.16**2 * (tau + excess), rtol=1e-9)


def test_given_a_spike_then_realised_vol_jumps_with_it():
    spike = [{"kind": "vol_spike", "at": "1h", "multiplier": 2.0, "half_life": "30d"}]
    prices = _path(_session(spike, seed=11, tick_interval="1s"), 2 * HOUR)
    series = np.array([prices[k] for k in sorted(prices)])
    returns = np.diff(np.log(series))
    dt = 1 / SECONDS_PER_YEAR
    before, after = returns[:3600].var() / dt, returns[3600:].var() / dt
    assert before == pytest.approx(0.16**2, rel=0.1)
    assert after == pytest.approx(4 * 0.16**2, rel=0.1)


def test_given_a_lasting_spike_then_the_model_vol_and_the_surface_jump_for_good():
    session = _session([{"kind": "vol_spike", "at": "1h", "multiplier": 1.5}], **_flat(0.0))
    session.run_until(5 * HOUR)
    state, feed = session.states["SPX"], session.feeds["SPX"]
    assert feed.path.vol[0] == pytest.approx(0.16 * 1.5)
    np.testing.assert_allclose(state.atm_vols, 0.16 * 1.5, rtol=1e-12)


def test_given_an_announcement_then_its_variance_is_priced_until_it_passes():
    ann = [{"kind": "announcement", "at": "1h", "name": "CPI", "event_vol": 0.02}]
    session = _session(ann, **_flat(0.0))
    before = session.states["SPX"]
    assert before.atm_total_variance - 0.16**2 * before.tenors == pytest.approx([4e-4, 4e-4])
    session.run_until(HOUR)
    after = session.states["SPX"]
    np.testing.assert_allclose(after.atm_total_variance, 0.16**2 * after.tenors, rtol=1e-12)


def test_given_a_drought_then_the_surface_carries_the_depth_multiplier_while_it_lasts():
    drought = [
        {"kind": "liquidity_drought", "at": "1h", "duration": "30m", "depth_multiplier": 0.25}
    ]
    session = _session(drought)
    depth = {b.offset_s: b.surfaces[0].depth_multiplier for b in session.run_until(2 * HOUR)}
    assert depth[HOUR - 10] == 1.0 and depth[HOUR] == depth[1.5 * HOUR - 10] == 0.25
    assert depth[1.5 * HOUR] == 1.0


def test_given_days_passing_then_expired_options_leave_the_chain_and_the_surface():
    session = _session(tick_interval="1h")
    first = session.states["SPX"].expiry_times
    session.run_until(8 * 86400.0)
    state = session.states["SPX"]
    assert first[0] not in state.expiry_times and first[1] in state.expiry_times
    assert [s.expiry for s in state.surface().slices] == list(state.expiry_times)
    assert all(i.expiry > state.ts for i in state.chain.instruments)


def test_given_the_default_scenario_then_every_surface_of_its_day_is_free_of_static_arbitrage():
    scenario = load_scenario(DEFAULT_SCENARIO)
    session = MarketSession(scenario, ORIGIN, client_flow=False)
    batches = [session.start(), *session.run_until(scenario.horizon)]
    surfaces = [s for b in batches for s in b.surfaces]
    assert len(surfaces) == 2 * (int(scenario.horizon / 10) + 1)
    gap_at = next(e.at for e in scenario.events if e.kind == "gap")
    spx = [s for s in surfaces if s.underlying == "SPX"]
    assert spx[int(gap_at / 10)].spot < 0.96 * spx[int(gap_at / 10) - 1].spot  # the gap is in it
    for surface in surfaces:
        report = vol_surface(surface).check_arbitrage(tol=1e-12)
        assert report.ok, f"{surface.underlying} at {surface.ts}: {report.describe()}"


def test_given_a_seed_then_the_session_repeats_exactly_and_another_seed_differs():
    def run(seed: int) -> list[bytes]:
        data = load_scenario(DEFAULT_SCENARIO).model_copy(update={"seed": seed})
        session = MarketSession(data, ORIGIN)
        out = [session.start(), *session.run_until(2 * HOUR)]
        return [m.to_json() for b in out for m in (*b.surfaces, *b.ticks, *b.trades)]

    first, again, other = run(1), run(1), run(2)
    assert first == again
    assert first != other and len(first) > 1000
