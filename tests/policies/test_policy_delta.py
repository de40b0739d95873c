"""Decisions of the policies that hedge with the underlying alone, on hand-checked states."""

from __future__ import annotations

import math

import numpy as np
import pytest
from policy_states import col, one_option, state

from hedgemesh.policies import (
    DeltaBand,
    DeltaInterval,
    DeltaMove,
    HedgeState,
    Leland,
    NoHedge,
    PortfolioInsurance,
    WhalleyWilmott,
    Zakamouline,
    zakamouline_band,
)
from hedgemesh.policies.state import HedgeMemory
from hedgemesh.quant import bsm

DAY = 1.0 / 365.0


def test_given_any_state_when_no_hedge_then_holdings_are_kept_and_nothing_fires():
    s = state(book_delta=[-30.0, 12.0], holdings=[5.0])
    d = NoHedge().decide(s)
    assert np.array_equal(d.target, s.holdings)
    assert not d.trades.any()
    assert not d.rebalance.any()


def test_given_first_decision_when_delta_interval_then_underlying_offsets_book_delta():
    d = DeltaInterval(interval_days=7).decide(state(book_delta=[-30.0, 12.5], holdings=[4.0]))
    assert np.array_equal(d.target[:, 0], col(30.0, -12.5))
    assert np.array_equal(d.trades[:, 0], col(26.0, -16.5))
    assert d.rebalance.all()


@pytest.mark.parametrize(("days_since", "fires"), [(6.0, False), (7.0, True), (9.0, True)])
def test_given_last_hedge_days_ago_when_delta_interval_then_it_fires_from_the_interval_on(
    days_since, fires
):
    s = state(book_delta=-30.0, holdings=[10.0], time=days_since * DAY, last_time=0.0)
    d = DeltaInterval(interval_days=7).decide(s)
    assert bool(d.rebalance[0]) is fires
    assert d.target[0, 0] == (30.0 if fires else 10.0)


@pytest.mark.parametrize(("spot", "fires"), [(101.9, False), (98.1, False), (102.5, True)])
def test_given_last_hedge_spot_when_delta_move_then_it_fires_on_a_relative_move(spot, fires):
    s = state(spot=spot, book_delta=-30.0, holdings=[10.0], last_spot=100.0, last_time=0.0)
    d = DeltaMove(threshold=0.02).decide(s)
    assert bool(d.rebalance[0]) is fires
    assert d.target[0, 0] == (30.0 if fires else 10.0)
    assert DeltaMove().trigger == "price_move"


def test_given_net_delta_outside_band_when_delta_band_then_trades_only_back_to_the_edge():
    # book −30: the centre holding is 30, the band [25, 35]
    s = state(book_delta=-30.0, holdings=[[20.0], [27.0], [41.0], [35.0]])
    d = DeltaBand(half_width=5.0).decide(s)
    assert np.array_equal(d.target[:, 0], col(25.0, 27.0, 35.0, 35.0))
    assert np.array_equal(d.rebalance, np.array([True, False, True, False]))
    net_after = s.net(d.target).delta
    assert np.array_equal(net_after, col(-5.0, -3.0, 5.0, 5.0))


def test_given_zero_band_when_delta_band_then_it_is_a_full_delta_hedge():
    d = DeltaBand(half_width=0.0).decide(state(book_delta=-30.0, holdings=[20.0]))
    assert d.target[0, 0] == 30.0


def test_whalley_wilmott_half_width_by_hand():
    # H = (3/2 · e^{−rτ} λ S Γ² / γ)^{1/3}, λ 0.001, S 100, Γ −4, γ 0.01, r 5 %, τ 0.25
    s = state(book_delta=-30.0, book_gamma=-4.0, holdings=[[0.0], [27.0]], rate=0.05)
    h = (1.5 * math.exp(-0.05 * 0.25) * 0.001 * 100.0 * 16.0 / 0.01) ** (1.0 / 3.0)
    d = WhalleyWilmott(cost=0.001, risk_aversion=0.01).decide(s)
    assert d.target[0, 0] == pytest.approx(30.0 - h, rel=1e-13)
    assert d.target[1, 0] == 27.0  # 30 − 6.2 < 27: inside the band, untouched
    assert list(d.rebalance) == [True, False]


def test_given_no_gamma_when_whalley_wilmott_then_band_is_zero_and_hedge_is_full():
    d = WhalleyWilmott(cost=0.01, risk_aversion=1.0).decide(state(book_delta=-30.0))
    assert d.target[0, 0] == 30.0


def test_given_more_cost_when_whalley_wilmott_then_band_widens_as_cube_root():
    s = state(book_delta=-30.0, book_gamma=-4.0, holdings=[0.0])
    widths = [
        30.0 - WhalleyWilmott(cost=c, risk_aversion=0.01).decide(s).target[0, 0]
        for c in (1e-3, 8e-3)
    ]
    assert widths[1] / widths[0] == pytest.approx(2.0, rel=1e-12)


def test_zakamouline_band_matches_the_published_form_by_hand():
    # λ 0.0005, γ 1, S 5000, Γ 0.02, τ 0.25, σ 0.2, r 0 (an independent worked example: H0 + H1
    # ≈ 0.0209537)
    s = state(spot=5000.0, book_gamma=-0.02, vol=0.2, horizon=0.25)
    band = zakamouline_band(s, 0.0005, 1.0)
    h0 = 0.0005 / (1.0 * 5000.0 * 0.04 * 0.25)
    h1 = 1.12 * 0.0005**0.31 * 0.25**0.05 * (1 / 0.2) ** 0.25 * math.sqrt(0.02)
    k = -4.76 * 0.0005**0.78 / 0.25**0.02 * (1 / 0.2) ** 0.25 * (5000.0**2 * 0.02) ** 0.15
    assert band.half_width[0] == pytest.approx(h0 + h1, rel=1e-13)
    assert band.half_width[0] == pytest.approx(0.0209537, abs=5e-7)
    assert band.variance_factor[0] == pytest.approx(1.0 - k, rel=1e-13)  # short gamma: σ_m > σ
    long = zakamouline_band(state(spot=5000.0, book_gamma=0.02, vol=0.2), 0.0005, 1.0)
    assert long.variance_factor[0] == pytest.approx(1.0 + k, rel=1e-13)


def test_zakamouline_centres_its_band_on_the_delta_at_the_modified_vol():
    book = one_option(quantity=-100.0)
    spot = np.array([100.0])
    g = book.greeks(spot, 0.0, 0.0)
    s = HedgeState.build(
        time=0.0,
        spot=spot,
        vol=0.2,
        rate=0.0,
        div=0.0,
        book_options=book,
        book_underlying=0.0,
        instruments=state().instruments,
        holdings=[[0.0]],
        memory=HedgeMemory.empty(1),
    )
    band = zakamouline_band(s, 0.002, 0.05)
    sigma_m = 0.2 * math.sqrt(band.variance_factor[0])
    delta_m = -100.0 * float(bsm.greeks(100.0, 100.0, 0.25, 0.0, 0.0, sigma_m, True).delta)
    d = Zakamouline(cost=0.002, risk_aversion=0.05).decide(s)
    assert d.target[0, 0] == pytest.approx(-delta_m - band.half_width[0], rel=1e-12)
    assert sigma_m > 0.2 and float(g.delta[0, 0]) > 0


def _leland_state(quantity: float) -> HedgeState:
    return HedgeState.build(
        time=0.0,
        spot=np.array([100.0]),
        vol=0.2,
        rate=0.0,
        div=0.0,
        book_options=one_option(quantity=quantity, strike=105.0),
        book_underlying=0.0,
        instruments=state().instruments,
        holdings=[[0.0]],
        memory=HedgeMemory.empty(1),
    )


@pytest.mark.parametrize(("quantity", "sign"), [(-100.0, 1.0), (100.0, -1.0)])
def test_leland_hedges_at_the_adjusted_vol_up_when_short_gamma_down_when_long(quantity, sign):
    le = math.sqrt(2.0 / math.pi) * 0.002 / (0.2 * math.sqrt(DAY))
    sigma = 0.2 * math.sqrt(1.0 + sign * le)
    delta = float(bsm.greeks(100.0, 105.0, 0.25, 0.0, 0.0, sigma, True).delta)
    d = Leland(round_trip_cost=0.002, interval_days=1).decide(_leland_state(quantity))
    assert d.target[0, 0] == pytest.approx(-quantity * delta, rel=1e-13)


def test_given_no_cost_when_leland_then_it_is_the_black_scholes_delta_hedge():
    s = _leland_state(-100.0)
    assert Leland(round_trip_cost=0.0).decide(s).target[0, 0] == -s.book.delta[0]


def test_portfolio_insurance_holds_units_times_one_plus_put_delta_and_never_shorts():
    units = 1000.0
    book = one_option(quantity=-units, strike=95.0, is_call=False)
    s = HedgeState.build(
        time=0.0,
        spot=np.array([100.0]),
        vol=0.2,
        rate=0.03,
        div=0.0,
        book_options=book,
        book_underlying=-units,
        instruments=state().instruments,
        holdings=[[0.0]],
        memory=HedgeMemory.empty(1),
    )
    put_delta = float(bsm.greeks(100.0, 95.0, 0.25, 0.03, 0.0, 0.25, False).delta)
    d = PortfolioInsurance(vol=0.25).decide(s)
    assert d.target[0, 0] == pytest.approx(units * (1.0 + put_delta), rel=1e-13)
    # a book whose delta is positive would ask for a short: the replication stays at zero
    short = state(book_delta=50.0)
    assert PortfolioInsurance().decide(short).target[0, 0] == 0.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: DeltaInterval(interval_days=-1),
        lambda: DeltaMove(threshold=float("nan")),
        lambda: DeltaBand(half_width=-0.1),
        lambda: WhalleyWilmott(risk_aversion=0.0),
        lambda: Zakamouline(cost=-0.001),
        lambda: Leland(interval_days=0.0),
        lambda: PortfolioInsurance(vol=float("inf")),
    ],
)
def test_given_bad_parameters_then_config_refuses_them(make):
    with pytest.raises(ValueError):
        make()


def test_given_wrong_number_of_instruments_then_decide_refuses():
    with pytest.raises(ValueError, match="hedge instrument"):
        DeltaInterval().decide(state(holdings=[0.0, 0.0], option_delta=[0.5]))


def test_given_book_gamma_without_its_options_then_repricing_policies_refuse():
    s = state(book_delta=-30.0, book_gamma=-4.0)
    for policy in (Leland(), Zakamouline(), DeltaInterval(vol=0.3)):
        with pytest.raises(ValueError, match="book's options"):
            policy.decide(s)


def test_names_default_to_kind_and_can_be_set():
    assert WhalleyWilmott().name == "whalley_wilmott"
    assert WhalleyWilmott(name="ww-tight").name == "ww-tight"
    assert WhalleyWilmott().trigger == "band_breach"
    assert DeltaInterval().trigger == "timer"
