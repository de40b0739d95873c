"""Cost models: exact values, zero for no trade, homogeneity where it holds, the square-root
law, sums, the config builder."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hedgemesh.backtest.costs import (
    CompositeCost,
    CostModel,
    FixedCost,
    NotionalCost,
    PremiumCost,
    SpreadImpactCost,
    make_costs,
)

ALL_MODELS: dict[str, CostModel] = {
    "notional": NotionalCost(stock_rate=0.001, option_rate=0.0005),
    "premium": PremiumCost(option_rate=0.02),
    "fixed": FixedCost(stock_fee=1.0, option_fee=2.5),
    "spread_impact": SpreadImpactCost(half_spread=0.01, eta=0.8, sigma_daily=0.015, adv=1e6),
    "spread_impact_options": SpreadImpactCost(
        half_spread=0.05, eta=0.5, sigma_daily=0.02, adv=5e4, applies_to="option"
    ),
}
ALL_MODELS["composite"] = CompositeCost(tuple(ALL_MODELS.values()))

QTY = np.array([-3_000.0, -10.0, 0.0, 25.0, 40_000.0])
PRICE = np.array([49.0, 2.4, 100.0, 3.1, 51.5])
SPOT = np.array([49.0, 50.0, 100.0, 52.0, 51.5])
IS_OPTION = np.array([False, True, False, True, False])

finite_qty = arrays(np.float64, 8, elements=st.floats(-1e7, 1e7, allow_nan=False))
prices = arrays(np.float64, 8, elements=st.floats(0.0, 1e5, allow_nan=False))
kinds = arrays(np.bool_, 8)


def test_notional_cost_charges_the_stock_and_the_option_underlying_notional():
    cost = ALL_MODELS["notional"].cost(QTY, PRICE, spot=SPOT, is_option=IS_OPTION)
    expected = [
        0.001 * 3_000 * 49.0,
        0.0005 * 10 * 50.0,
        0.0,
        0.0005 * 25 * 52.0,
        0.001 * 40_000 * 51.5,
    ]
    np.testing.assert_allclose(cost, expected, rtol=1e-15)


def test_premium_cost_charges_options_only():
    cost = ALL_MODELS["premium"].cost(QTY, PRICE, spot=SPOT, is_option=IS_OPTION)
    np.testing.assert_allclose(cost, [0.0, 0.02 * 10 * 2.4, 0.0, 0.02 * 25 * 3.1, 0.0], rtol=1e-15)


def test_fixed_cost_is_charged_once_per_non_zero_trade_whatever_its_size():
    cost = ALL_MODELS["fixed"].cost(QTY, PRICE, is_option=IS_OPTION)
    np.testing.assert_array_equal(cost, [1.0, 2.5, 0.0, 2.5, 1.0])
    tolerant = FixedCost(stock_fee=1.0, tolerance=1e-9).cost([1e-12, -1e-12, 1e-6], 10.0)
    np.testing.assert_array_equal(tolerant, [0.0, 0.0, 1.0])


def test_spread_impact_cost_matches_the_formula():
    model = ALL_MODELS["spread_impact"]
    cost = model.cost(QTY, PRICE, is_option=IS_OPTION)
    q = np.abs(QTY)
    expected = q * 0.01 + 0.8 * 0.015 * PRICE * q * np.sqrt(q / 1e6)
    np.testing.assert_allclose(cost, np.where(IS_OPTION, 0.0, expected), rtol=1e-14)
    # 40,000 shares at 51.5 with 1 % of ADV: 400 of spread plus 0.012 · 51.5 · 40,000 · 0.2.
    assert cost[-1] == pytest.approx(400.0 + 0.012 * 51.5 * 40_000 * 0.2, rel=1e-14)


@pytest.mark.parametrize(
    ("applies_to", "charged"), [("stock", [1, 0]), ("option", [0, 1]), ("all", [1, 1])]
)
def test_spread_impact_applies_to_the_chosen_instruments(applies_to, charged):
    model = SpreadImpactCost(half_spread=0.1, applies_to=applies_to)
    cost = model.cost([10.0, 10.0], [5.0, 5.0], is_option=[False, True])
    np.testing.assert_allclose(cost, np.array(charged) * 1.0)


def test_square_root_impact_grows_as_the_three_halves_power_of_size():
    model = SpreadImpactCost(eta=1.0, sigma_daily=0.02, adv=1e5)
    q = np.array([100.0, 1_000.0, 10_000.0])
    base = model.cost(q, 20.0)
    np.testing.assert_allclose(model.cost(4.0 * q, 20.0), 8.0 * base, rtol=1e-14)
    # per unit, impact grows as √q: 100 times the size costs 10 times more per unit
    np.testing.assert_allclose(base[2] / q[2], 10.0 * base[0] / q[0], rtol=1e-14)
    # and is linear in price, daily vol and η
    np.testing.assert_allclose(model.cost(q, 60.0), 3.0 * base, rtol=1e-14)
    doubled = SpreadImpactCost(eta=2.0, sigma_daily=0.02, adv=1e5).cost(q, 20.0)
    np.testing.assert_allclose(doubled, 2.0 * base, rtol=1e-14)


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
def test_given_no_trade_then_nothing_is_charged(name):
    cost = ALL_MODELS[name].cost(
        np.zeros(4), [1.0, 50.0, 0.0, 1e4], spot=100.0, is_option=[0, 1, 0, 1]
    )
    np.testing.assert_array_equal(cost, 0.0)


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
@given(q=finite_qty, p=prices, s=prices, option=kinds)
def test_costs_are_never_negative_and_do_not_depend_on_the_side(name, q, p, s, option):
    model = ALL_MODELS[name]
    buy = model.cost(q, p, spot=s, is_option=option)
    assert buy.shape == (8,)
    assert np.all(buy >= 0.0) and np.all(np.isfinite(buy))
    np.testing.assert_array_equal(model.cost(-q, p, spot=s, is_option=option), buy)


@pytest.mark.parametrize("name", ["notional", "premium"])
@given(q=finite_qty, p=prices, option=kinds, scale=st.floats(0.0, 1e3))
def test_proportional_costs_are_homogeneous_of_degree_one_in_size(name, q, p, option, scale):
    model = ALL_MODELS[name]
    np.testing.assert_allclose(
        model.cost(scale * q, p, spot=p, is_option=option),
        scale * model.cost(q, p, spot=p, is_option=option),
        rtol=1e-12,
        atol=1e-300,
    )


@given(q=finite_qty, p=prices, s=prices, option=kinds)
def test_composite_costs_the_sum_of_its_parts(q, p, s, option):
    parts = [m for name, m in ALL_MODELS.items() if name != "composite"]
    total = ALL_MODELS["composite"].cost(q, p, spot=s, is_option=option)
    expected = sum(m.cost(q, p, spot=s, is_option=option) for m in parts)
    np.testing.assert_allclose(total, expected, rtol=1e-12)


def test_adding_models_flattens_into_one_composite():
    a, b, c = (
        NotionalCost(stock_rate=0.001),
        FixedCost(stock_fee=1.0),
        PremiumCost(option_rate=0.01),
    )
    total = a + b + c
    assert isinstance(total, CompositeCost) and total.parts == (a, b, c)
    assert CompositeCost().cost([5.0, -5.0], 10.0).tolist() == [0.0, 0.0]
    with pytest.raises(TypeError):
        CompositeCost((a, "fee"))  # type: ignore[arg-type]


def test_costs_broadcast_scalars_against_arrays():
    model = NotionalCost(stock_rate=0.01)
    cost = model.cost(np.array([[1.0], [2.0]]), np.array([10.0, 20.0, 30.0]))
    assert cost.shape == (2, 3)
    np.testing.assert_allclose(cost, [[0.1, 0.2, 0.3], [0.2, 0.4, 0.6]])
    fixed = FixedCost(stock_fee=3.0).cost(5.0, np.ones(4))
    assert fixed.shape == (4,) and fixed.flags.writeable


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: NotionalCost(stock_rate=-0.001), "stock_rate"),
        (lambda: PremiumCost(option_rate=math.nan), "option_rate"),
        (lambda: FixedCost(option_fee=-1.0), "option_fee"),
        (lambda: SpreadImpactCost(adv=0.0), "adv"),
        (lambda: SpreadImpactCost(eta=-0.1), "eta"),
        (lambda: SpreadImpactCost(applies_to="bonds"), "applies_to"),  # type: ignore[arg-type]
    ],
)
def test_given_invalid_parameters_then_the_model_refuses_them(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_make_costs_builds_the_sum_a_config_names():
    model = make_costs(
        {"notional": {"stock_rate": 0.001}, "fixed": {"option_fee": 2.0}, "premium": None}
    )
    assert model == CompositeCost(
        (NotionalCost(stock_rate=0.001), FixedCost(option_fee=2.0), PremiumCost())
    )
    np.testing.assert_allclose(
        model.cost([100.0, 3.0], [10.0, 1.0], is_option=[False, True]), [1.0, 2.0]
    )
    assert make_costs(None).cost(7.0, 3.0) == 0.0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"brokerage": {"rate": 0.1}}, "unknown cost model 'brokerage'"),
        ({"notional": {"rate": 0.1}}, r"no parameter \['rate'\]"),
        ({"fixed": {"stock_fee": -1.0}}, "stock_fee"),
    ],
)
def test_make_costs_refuses_unknown_models_and_parameters(config, message):
    with pytest.raises(ValueError, match=message):
        make_costs(config)
