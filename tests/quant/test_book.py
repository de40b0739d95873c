"""Book risk in one vectorised pass, checked against a per-position loop over bsm.greeks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hedgemesh.quant import bsm
from hedgemesh.quant.book import (
    ADDITIVE_FIELDS,
    DAYS_PER_YEAR,
    KIND_OPTION,
    KIND_UNDERLYING,
    BookRisk,
    Market,
    Positions,
    RiskTable,
    book_risk,
)
from hedgemesh.quant.surface import VolSurface
from hedgemesh.quant.svi import SviParams

EDGES = (30, 90, 180, 365)
GREEK_FIELDS = (
    ("value", "price"),
    ("delta", "delta"),
    ("gamma", "gamma"),
    ("vega_per_point", "vega"),
    ("theta_per_day", "theta"),
    ("rho_per_pct", "rho"),
    ("vanna_per_point", "vanna"),
    ("volga_per_point", "volga"),
)
RISK_FIELDS = [f.name for f in dataclasses.fields(RiskTable)]
POSITION_FIELDS = ("underlying", "kind", "strike", "expiry", "is_call", "quantity", "multiplier")


def _subset(positions: Positions, mask) -> Positions:
    return Positions(*(getattr(positions, f)[mask] for f in POSITION_FIELDS))


def _surface(spot, rate, div, expiries, level, skew):
    params = [
        SviParams(a=level * t + 0.001, b=0.04 + 0.08 * np.sqrt(t), rho=skew, m=0.01, sigma=0.15)
        for t in expiries
    ]
    return VolSurface(expiries, params, spot=spot, rate=rate, div=div)


def _market():
    spot = np.array([100.0, 25.0, 3000.0, 7.5])
    rate = np.array([0.04, 0.04, 0.02, 0.05])
    div = np.array([0.01, 0.0, 0.015, 0.03])
    slices = [
        np.array([7, 30, 91, 182, 365, 730]) / DAYS_PER_YEAR,
        np.array([0.25]),
        np.array([14, 45, 120, 400]) / DAYS_PER_YEAR,
        np.array([30, 60, 90, 180, 270, 365, 545]) / DAYS_PER_YEAR,
    ]
    levels, skews = (0.04, 0.09, 0.02, 0.06), (-0.6, -0.2, -0.7, 0.1)
    surfaces = [
        _surface(spot[i], rate[i], div[i], slices[i], levels[i], skews[i]) for i in range(4)
    ]
    return Market(spot, rate, div, surfaces)


def _random_book(rng, n):
    """Options (expiries before, between and after slices, one expired) plus stock/futures."""
    market = _market()
    u = rng.integers(0, len(market), n)
    kind = np.where(rng.random(n) < 0.85, KIND_OPTION, KIND_UNDERLYING)
    strike = market.spot[u] * np.exp(rng.normal(0.0, 0.25, n))
    expiry = rng.uniform(0.0, 3.0, n) * np.where(kind == KIND_OPTION, 1.0, rng.random(n) < 0.5)
    expiry[np.flatnonzero(kind == KIND_OPTION)[0]] = 0.0
    quantity = rng.integers(-40, 41, n).astype(float)
    multiplier = np.where(kind == KIND_OPTION, rng.choice([10.0, 100.0], n), 1.0)
    positions = Positions(u, kind, strike, expiry, rng.random(n) < 0.5, quantity, multiplier)
    return positions, market


def _oracle(positions: Positions, market: Market, edges=EDGES):
    """Slow and independent: one scalar bsm.greeks call per position, summed in Python."""
    n_b = len(edges) + 1
    sums = {name: np.zeros((len(market), n_b)) for name, _ in GREEK_FIELDS}
    for i in range(len(positions)):
        u = int(positions.underlying[i])
        t = float(positions.expiry[i])
        bucket = sum(t * DAYS_PER_YEAR >= e for e in edges)
        scale = positions.quantity[i] * positions.multiplier[i]
        if positions.kind[i] == KIND_UNDERLYING:
            sums["delta"][u, bucket] += scale
            continue
        strike = float(positions.strike[i])
        surface = market.surfaces[u]
        vol = float(surface.implied_vol(strike, t)) if t > 0 else 0.2
        g = bsm.greeks(
            market.spot[u],
            strike,
            t,
            market.rate[u],
            market.div[u],
            vol,
            bool(positions.is_call[i]),
        )
        for name, greek in GREEK_FIELDS:
            sums[name][u, bucket] += scale * float(getattr(g, greek))
    return sums


def _assert_tables_close(a: RiskTable, b: RiskTable, rtol=1e-12, atol=1e-9):
    for name in RISK_FIELDS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=atol)


def test_given_random_multi_underlying_book_then_risk_equals_per_position_loop():
    positions, market = _random_book(np.random.default_rng(2024), 400)
    risk = book_risk(positions, market)
    expected = _oracle(positions, market)
    scale = {name: np.abs(v).max() for name, v in expected.items()}
    for name, got in ((n, getattr(risk.by_bucket, n)) for n, _ in GREEK_FIELDS):
        np.testing.assert_allclose(got, expected[name], rtol=1e-10, atol=1e-12 * scale[name])
    spot = market.spot[:, None]
    np.testing.assert_allclose(risk.by_bucket.dollar_delta, expected["delta"] * spot, rtol=1e-10)
    np.testing.assert_allclose(
        risk.by_bucket.dollar_gamma_per_pct,
        expected["gamma"] * spot**2 / 100.0,
        rtol=1e-10,
        atol=1e-12 * scale["gamma"] * spot.max() ** 2,
    )


def test_given_book_then_buckets_sum_to_underlyings_and_underlyings_to_total():
    positions, market = _random_book(np.random.default_rng(5), 2000)
    risk = book_risk(positions, market)
    assert risk.by_bucket.value.shape == (4, 5)
    assert risk.by_underlying.value.shape == (4,)
    for name in RISK_FIELDS:
        np.testing.assert_allclose(
            getattr(risk.by_bucket, name).sum(axis=1),
            getattr(risk.by_underlying, name),
            rtol=1e-12,
            atol=1e-9,
        )
    for name in ADDITIVE_FIELDS:
        assert getattr(risk.total, name) == pytest.approx(
            getattr(risk.by_underlying, name).sum(), rel=1e-12
        )
    assert not hasattr(risk.total, "delta")  # shares of different underlyings do not add up


def test_given_long_and_short_of_the_same_call_then_everything_nets_to_zero():
    market = _market()
    book = Positions.from_records(
        [
            {"underlying": 2, "strike": 2900.0, "expiry": 0.4, "is_call": True, "quantity": 7},
            {"underlying": 2, "strike": 2900.0, "expiry": 0.4, "is_call": True, "quantity": -7},
        ]
    )
    risk = book_risk(book, market)
    for name in RISK_FIELDS:
        np.testing.assert_array_equal(getattr(risk.by_bucket, name), 0.0)
    assert all(getattr(risk.total, name) == 0.0 for name in ADDITIVE_FIELDS)


def test_given_stock_and_futures_then_they_only_add_delta_in_their_bucket():
    positions, market = _random_book(np.random.default_rng(9), 300)
    only_options = _subset(positions, positions.kind == KIND_OPTION)
    hedges = Positions.from_records(
        [
            {"underlying": 0, "kind": "underlying", "quantity": -1500},  # stock: bucket 0
            {"underlying": 3, "kind": "underlying", "quantity": 20, "multiplier": 50.0,
             "expiry": 100 / DAYS_PER_YEAR},  # a future expiring in 100 days: bucket 2
        ]
    )  # fmt: skip
    combined = Positions(
        *(np.concatenate([getattr(only_options, f), getattr(hedges, f)]) for f in POSITION_FIELDS)
    )
    base, risk = book_risk(only_options, market), book_risk(combined, market)
    added = np.zeros((4, 5))
    added[0, 0], added[3, 2] = -1500.0, 1000.0
    np.testing.assert_allclose(risk.by_bucket.delta - base.by_bucket.delta, added, atol=1e-9)
    np.testing.assert_allclose(
        risk.by_bucket.dollar_delta - base.by_bucket.dollar_delta,
        added * market.spot[:, None],
        atol=1e-6,
    )
    for name in RISK_FIELDS:
        if name not in ("delta", "dollar_delta"):
            np.testing.assert_array_equal(
                getattr(risk.by_bucket, name), getattr(base.by_bucket, name)
            )


def test_given_scaled_quantities_then_every_figure_scales_linearly():
    positions, market = _random_book(np.random.default_rng(13), 500)
    scaled = dataclasses.replace(positions, quantity=positions.quantity * -2.5)
    base, risk = book_risk(positions, market), book_risk(scaled, market)
    for name in RISK_FIELDS:
        np.testing.assert_allclose(
            getattr(risk.by_underlying, name),
            -2.5 * getattr(base.by_underlying, name),
            rtol=1e-12,
            atol=1e-9,
        )


def test_given_one_option_then_units_follow_the_house_conventions():
    market = _market()
    spot, rate, div = market.spot[0], market.rate[0], market.div[0]
    t, strike, qty, mult = 0.5, 95.0, 3.0, 100.0
    book = Positions.from_records(
        [{"underlying": 0, "strike": strike, "expiry": t, "is_call": False, "quantity": qty}]
    )
    risk = book_risk(book, market)
    vol = float(market.surfaces[0].implied_vol(strike, t))
    g = bsm.greeks(spot, strike, t, rate, div, vol, False)
    row = 0, 3  # 182.5 days: bucket [180, 365)
    assert risk.by_bucket.value[row] == pytest.approx(qty * mult * float(g.price), rel=1e-13)
    assert risk.by_bucket.delta[row] == pytest.approx(qty * mult * float(g.delta), rel=1e-13)
    gamma = qty * mult * float(g.gamma)
    assert risk.by_bucket.dollar_gamma_per_pct[row] == pytest.approx(gamma * spot**2 / 100)
    # dollar gamma per 1 %: the change of delta for a 1 % rise in spot, valued at spot
    h = 1e-4
    bumped = [
        qty * mult * float(bsm.greeks(spot * (1 + s), strike, t, rate, div, vol, False).delta)
        for s in (h, -h)
    ]
    assert (bumped[0] - bumped[1]) / (2 * h) * 0.01 * spot == pytest.approx(
        risk.by_bucket.dollar_gamma_per_pct[row], rel=1e-6
    )
    # vega per vol point: repricing with the vol one point higher
    up = qty * mult * float(bsm.price(spot, strike, t, rate, div, vol + 0.005, False))
    down = qty * mult * float(bsm.price(spot, strike, t, rate, div, vol - 0.005, False))
    assert up - down == pytest.approx(risk.by_bucket.vega_per_point[row], rel=1e-4)
    assert np.count_nonzero(risk.by_bucket.value) == 1


def test_given_expiry_exactly_on_an_edge_then_it_belongs_to_the_later_bucket():
    market = _market()
    book = Positions.from_records(
        [
            {"underlying": 1, "strike": 25.0, "expiry": 30 / DAYS_PER_YEAR, "is_call": True,
             "quantity": 1},
            {"underlying": 1, "kind": "underlying", "expiry": 365 / DAYS_PER_YEAR, "quantity": 5},
        ]
    )  # fmt: skip
    risk = book_risk(book, market)
    assert np.flatnonzero(risk.by_bucket.value[1]).tolist() == [1]
    assert risk.by_bucket.delta[1, 4] == 5.0


def test_given_custom_edges_then_buckets_and_labels_follow_them():
    positions, market = _random_book(np.random.default_rng(17), 300)
    risk = book_risk(positions, market, bucket_edges_days=(60, 400))
    assert risk.bucket_labels == ("0-60d", "60-400d", "400d+")
    expected = _oracle(positions, market, edges=(60, 400))
    np.testing.assert_allclose(
        risk.by_bucket.vega_per_point, expected["vega_per_point"], rtol=1e-10
    )
    default = book_risk(positions, market)
    assert default.bucket_labels == ("0-30d", "30-90d", "90-180d", "180-365d", "365d+")
    np.testing.assert_allclose(default.by_underlying.value, risk.by_underlying.value, rtol=1e-12)


def test_given_spot_moved_since_the_surface_then_vol_is_read_at_the_new_forward_moneyness():
    base = _market()
    moved = Market(base.spot * 1.1, base.rate, base.div, base.surfaces)
    strike, t = 105.0, 0.6
    book = Positions.from_records(
        [{"underlying": 0, "strike": strike, "expiry": t, "is_call": True, "quantity": 1}]
    )
    spot, rate, div = moved.spot[0], moved.rate[0], moved.div[0]
    k = np.log(strike / (spot * np.exp((rate - div) * t)))
    vol = float(moved.surfaces[0].implied_vol_k(k, t))
    g = bsm.greeks(spot, strike, t, rate, div, vol, True)
    risk = book_risk(book, moved)
    assert risk.total.vega_per_point == pytest.approx(100 * float(g.vega), rel=1e-13)
    assert risk.total.value == pytest.approx(100 * float(g.price), rel=1e-13)


def test_given_an_empty_book_then_risk_is_zero():
    risk = book_risk(Positions.from_records([]), _market())
    assert isinstance(risk, BookRisk)
    for name in RISK_FIELDS:
        np.testing.assert_array_equal(getattr(risk.by_bucket, name), np.zeros((4, 5)))
    assert risk.total.value == 0.0


def test_given_records_then_defaults_fill_kind_multiplier_and_expiry():
    book = Positions.from_records(
        [
            {"underlying": 0, "strike": 100.0, "expiry": 0.5, "is_call": True, "quantity": 2},
            {"underlying": 1, "quantity": -300},
            {"underlying": 0, "kind": "option", "strike": 90.0, "expiry": 1.0, "is_call": False,
             "quantity": 1, "multiplier": 10},
        ]
    )  # fmt: skip
    assert book.kind.tolist() == [KIND_OPTION, KIND_UNDERLYING, KIND_OPTION]
    assert book.multiplier.tolist() == [100.0, 1.0, 10.0]
    assert book.expiry.tolist() == [0.5, 0.0, 1.0]
    assert book.quantity.tolist() == [2.0, -300.0, 1.0]
    assert len(book) == 3
    assert not book.quantity.flags.writeable


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": [1, 2]}, "kind must be"),
        ({"strike": [100.0, -1.0]}, "strikes must be finite and > 0"),
        ({"expiry": [0.5, -0.1]}, "expiry must be finite"),
        ({"multiplier": [100.0, 0.0]}, "multiplier must be > 0"),
        ({"quantity": [1.0, np.nan]}, "quantity and multiplier must be finite"),
        ({"underlying": [0, -1]}, "underlying indices"),
        ({"is_call": [True]}, "same length"),
    ],
)
def test_given_invalid_positions_then_construction_is_refused(change, message):
    fields = {
        "underlying": [0, 1],
        "kind": [KIND_OPTION, KIND_OPTION],
        "strike": [100.0, 20.0],
        "expiry": [0.5, 1.0],
        "is_call": [True, False],
        "quantity": [1.0, 2.0],
        "multiplier": [100.0, 100.0],
    } | change
    with pytest.raises(ValueError, match=message):
        Positions(**fields)


def test_given_record_of_unknown_kind_then_construction_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        Positions.from_records([{"underlying": 0, "kind": "swap", "quantity": 1}])


def test_given_position_on_unknown_underlying_or_bad_edges_then_risk_is_refused():
    market = _market()
    book = Positions.from_records([{"underlying": 4, "quantity": 1}])
    with pytest.raises(ValueError, match="underlying the market does not have"):
        book_risk(book, market)
    ok = Positions.from_records([{"underlying": 0, "quantity": 1}])
    with pytest.raises(ValueError, match="strictly increasing"):
        book_risk(ok, market, bucket_edges_days=(90, 30))
    with pytest.raises(ValueError, match="finite and > 0"):
        book_risk(ok, market, bucket_edges_days=(0, 30))


def test_given_inconsistent_market_then_construction_is_refused():
    m = _market()
    with pytest.raises(ValueError, match="one VolSurface per underlying"):
        Market(m.spot, m.rate, m.div, m.surfaces[:3])
    with pytest.raises(ValueError, match="spot must be finite and > 0"):
        Market(m.spot * -1, m.rate, m.div, m.surfaces)
    with pytest.raises(ValueError, match="same length"):
        Market(m.spot, m.rate[:2], m.div, m.surfaces)
