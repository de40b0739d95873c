"""Risk metrics: exact small examples, numpy's quantile definition, an independent integral
form of CVaR, the frontier."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hedgemesh.backtest.metrics import (
    QUANTILE_METHOD,
    cvar,
    cvar_standard_error,
    frontier,
    frontier_from_summaries,
    level_key,
    mean_minus_k_std,
    mean_minus_k_std_standard_error,
    pareto_efficient,
    std_standard_error,
    summarise,
    var,
)

pnl_arrays = arrays(
    np.float64,
    st.integers(2, 300),
    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)
levels = st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999])


def _cvar_by_integral(x: np.ndarray, level: float) -> float:
    """−(1/p) ∫₀ᵖ Q(u) du with Q the empirical quantile step function: x_(i) on ((i−1)/n, i/n]."""
    xs = np.sort(x)
    n = xs.size
    p = round(1.0 - level, 12)
    lower = np.arange(n) / n
    weight = np.clip(p - lower, 0.0, 1.0 / n)
    return float(-(weight * xs).sum() / p)


def test_given_twenty_paths_then_var95_and_cvar95_are_the_worst_loss():
    pnl = np.arange(1.0, 21.0) - 5.0  # −4 … 15
    assert var(pnl, 0.95) == 4.0
    assert cvar(pnl, 0.95) == 4.0


def test_given_forty_paths_then_the_tail_holds_two_of_them():
    pnl = np.concatenate(([-30.0, -10.0], np.linspace(0.0, 100.0, 38)))
    rng = np.random.default_rng(0)
    pnl = rng.permutation(pnl)
    assert var(pnl, 0.95) == 10.0  # ⌈40 · 0.05⌉ = 2nd smallest
    assert cvar(pnl, 0.95) == 20.0  # (30 + 10) / 2


def test_given_a_fractional_tail_then_cvar_weights_the_boundary_path():
    pnl = np.array([-9.0, -6.0, -3.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    # n(1 − α) = 2.5: VaR is the 3rd smallest loss, CVaR (9 + 6 + 0.5·3) / 2.5.
    assert var(pnl, 0.75) == 3.0
    assert cvar(pnl, 0.75) == pytest.approx((9.0 + 6.0 + 1.5) / 2.5, rel=1e-15)


def test_given_gains_in_the_tail_then_var_is_negative():
    pnl = np.arange(10.0, 110.0)
    assert var(pnl, 0.99) == -10.0 and cvar(pnl, 0.99) == -10.0


@given(x=pnl_arrays, level=levels)
def test_var_is_minus_numpys_inverted_cdf_quantile(x, level):
    assert var(x, level) == -np.quantile(x, round(1.0 - level, 12), method=QUANTILE_METHOD)
    # and the ⌈n(1 − α)⌉-th smallest value
    rank = max(math.ceil(round(x.size * round(1.0 - level, 12), 9)), 1)
    assert var(x, level) == -np.sort(x)[rank - 1]


@given(x=pnl_arrays, level=levels)
def test_cvar_is_the_tail_integral_of_the_quantile_and_at_least_var(x, level):
    scale = max(1.0, float(np.abs(x).max()))
    assert cvar(x, level) == pytest.approx(_cvar_by_integral(x, level), abs=1e-9 * scale)
    assert cvar(x, level) >= var(x, level) - 1e-9 * scale
    assert cvar(x, level) <= -x.min() + 1e-9 * scale


@given(x=pnl_arrays, level=levels, shift=st.floats(-1e3, 1e3), scale=st.floats(0.01, 100.0))
def test_var_and_cvar_are_translation_equivariant_and_positively_homogeneous(
    x, level, shift, scale
):
    tol = 1e-9 * max(1.0, float(np.abs(x).max())) * (scale + 1.0) + 1e-9 * abs(shift)
    assert var(scale * x + shift, level) == pytest.approx(scale * var(x, level) - shift, abs=tol)
    assert cvar(scale * x + shift, level) == pytest.approx(scale * cvar(x, level) - shift, abs=tol)


def test_given_rows_then_each_row_gets_its_own_figure():
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(3, 500)) * np.array([[1.0], [2.0], [5.0]])
    for f in (var, cvar):
        np.testing.assert_allclose(f(rows, 0.99), [f(row, 0.99) for row in rows], rtol=1e-15)
    np.testing.assert_allclose(
        mean_minus_k_std(rows, 2.0), [mean_minus_k_std(row, 2.0) for row in rows], rtol=1e-15
    )


def test_mean_minus_k_std_uses_the_sample_std():
    pnl = np.array([1.0, 2.0, 3.0, 4.0])
    assert mean_minus_k_std(pnl, 0.0) == 2.5
    assert mean_minus_k_std(pnl, 2.0) == pytest.approx(2.5 - 2.0 * math.sqrt(5.0 / 3.0))


@pytest.mark.parametrize("law", ["uniform", "laplace", "normal"])
def test_std_standard_error_matches_the_spread_of_the_sample_std_across_replications(law):
    rng = np.random.default_rng(2)
    samples = getattr(rng, law)(size=(4_000, 400))  # light, heavy and normal tails
    stds = samples.std(axis=1, ddof=1)
    spread = stds.std(ddof=1)
    estimated = np.asarray(std_standard_error(samples)).mean()
    # the spread itself is estimated from 4,000 replications: its own standard error
    assert abs(estimated - spread) <= 5.0 * std_standard_error(stds)


def test_std_standard_error_of_normal_samples_and_of_a_constant():
    normal = np.random.default_rng(3).normal(size=100_000)
    # m₄ of 10⁵ normals is known to about 1.5 %, the root halves it: 4 % is 5 standard errors
    assert std_standard_error(normal) == pytest.approx(1.0 / math.sqrt(2 * 99_999), rel=0.04)
    assert std_standard_error(np.full(10, 3.0)) == 0.0


def test_summarise_reports_every_figure_as_a_plain_float_ready_for_json():
    rng = np.random.default_rng(3)
    pnl = rng.normal(-1.0, 10.0, size=1_000)
    costs = rng.uniform(0.0, 2.0, size=1_000)
    turnover = rng.uniform(100.0, 300.0, size=1_000)
    out = summarise(pnl, costs, turnover, k=1.5)
    required = {"mean", "std", "var95", "cvar95", "var99", "cvar99", "cost_mean", "turnover"}
    assert required <= set(out)
    assert all(type(v) is float for v in out.values())
    json.dumps(out, allow_nan=False)
    assert out["n_paths"] == 1_000.0
    assert out["mean"] == pytest.approx(pnl.mean(), rel=1e-15)
    assert out["std"] == pytest.approx(pnl.std(ddof=1), rel=1e-15)
    assert out["stderr_mean"] == pytest.approx(out["std"] / math.sqrt(1_000))
    assert out["var99"] == var(pnl, 0.99) and out["cvar95"] == cvar(pnl, 0.95)
    assert out["mean_minus_k_std"] == pytest.approx(out["mean"] - 1.5 * out["std"])
    assert out["k"] == 1.5
    assert out["cost_mean"] == pytest.approx(costs.mean()) and out["cost_std"] > 0.0
    assert out["turnover"] == pytest.approx(turnover.mean())
    assert out["min"] == pnl.min() and out["max"] == pnl.max()


def test_summarise_without_costs_reports_zero_and_takes_other_levels():
    out = summarise([1.0, -2.0, 3.0], levels=(0.9, 0.975))
    assert out["cost_mean"] == 0.0 and out["turnover"] == 0.0
    assert {"var90", "cvar90", "var97.5", "cvar97.5"} <= set(out)
    assert "std_stderr" not in out  # three paths have no fourth moment to speak of
    assert level_key("var", 0.95) == "var95"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: summarise([1.0]), "at least 2"),
        (lambda: summarise([1.0, math.nan]), "finite"),
        (lambda: summarise([[1.0, 2.0], [3.0, 4.0]]), "1-D"),
        (lambda: summarise([1.0, 2.0], costs=[1.0]), "costs must have one value per path"),
        (lambda: summarise([1.0, 2.0], turnover=[1.0, math.inf]), "turnover must be finite"),
        (lambda: var([1.0, 2.0], 1.0), "confidence level"),
        (lambda: cvar([1.0, 2.0], 0.0), "confidence level"),
        (lambda: var([], 0.95), "at least 1"),
        (lambda: mean_minus_k_std([1.0, 2.0], -1.0), "k must be"),
    ],
)
def test_given_bad_input_then_metrics_refuse_it(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_pareto_efficient_marks_the_points_nothing_beats():
    costs = np.array([1.0, 2.0, 3.0, 2.5, 4.0, 1.0, 2.0])
    risks = np.array([9.0, 5.0, 2.0, 6.0, 2.0, 9.0, 5.0])
    # (2.5, 6) is beaten by (2, 5); (4, 2) by (3, 2); duplicates of efficient points stay efficient
    np.testing.assert_array_equal(
        pareto_efficient(costs, risks), [True, True, True, False, False, True, True]
    )


@given(
    points=arrays(np.float64, (st.integers(1, 40)), elements=st.integers(0, 20).map(float)),
    other=arrays(np.float64, 40, elements=st.integers(0, 20).map(float)),
)
def test_every_point_is_efficient_or_dominated_by_an_efficient_one(points, other):
    costs, risks = points, other[: points.size]
    efficient = pareto_efficient(costs, risks)
    assert efficient.any()
    for i in np.flatnonzero(~efficient):
        dominators = (costs <= costs[i]) & (risks <= risks[i]) & efficient
        dominators &= (costs < costs[i]) | (risks < risks[i])
        assert dominators.any()


def test_frontier_keeps_the_order_of_band_widths_and_marks_efficient_points():
    points = frontier([0.0, 0.05, 0.1, 0.2], costs=[9.0, 5.0, 6.0, 2.0], risks=[1.0, 2.0, 2.5, 4.0])
    assert [p["width"] for p in points] == [0.0, 0.05, 0.1, 0.2]
    assert [p["efficient"] for p in points] == [True, True, False, True]
    json.dumps(points)
    with pytest.raises(ValueError, match="one width per point"):
        frontier([0.1], [1.0, 2.0], [1.0, 2.0])


def test_frontier_from_summaries_reads_cost_mean_and_std():
    summaries = {
        0.01: {"cost_mean": 4.0, "std": 1.0},
        0.02: {"cost_mean": 3.0, "std": 1.5},
        0.04: {"cost_mean": 3.5, "std": 2.0},
    }
    points = frontier_from_summaries(summaries)
    assert [(p["width"], p["efficient"]) for p in points] == [
        (0.01, True),
        (0.02, True),
        (0.04, False),
    ]


@pytest.mark.parametrize("draw", ["normal", "lognormal"])
def test_the_standard_errors_of_mean_minus_k_std_and_cvar_match_their_spread_over_samples(draw):
    """2,000 independent samples of 500 paths: the spread of each estimate across them is
    the standard error the formulas give from one sample (within 10 %)."""
    rng = np.random.default_rng(5)
    x = (
        rng.standard_normal((2000, 500))
        if draw == "normal"
        else -rng.lognormal(0, 0.5, (2000, 500))
    )
    scores = [mean_minus_k_std(row, 1.645) for row in x]
    tails = [cvar(row, 0.95) for row in x]
    formula_score = np.mean([mean_minus_k_std_standard_error(row, 1.645) for row in x])
    formula_tail = np.mean([cvar_standard_error(row, 0.95) for row in x])
    assert formula_score == pytest.approx(np.std(scores), rel=0.1)
    assert formula_tail == pytest.approx(np.std(tails), rel=0.1)
    summary = summarise(x[0], k=1.645)
    assert summary["mean_minus_k_std_stderr"] == mean_minus_k_std_standard_error(x[0], 1.645)
    assert summary["cvar95_stderr"] == cvar_standard_error(x[0], 0.95)
