"""Path models: moments and martingales within Monte Carlo error, the step API against the
whole-path API, correlation, scheduled shocks, validation.

Tolerances are Z standard errors of the estimate at hand, the standard error computed from
the sample (or from theory where the law is known); with fixed seeds every test is
deterministic, and Z = 5 makes a correct model fail for less than one seed in a million.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import special, stats

from hedgemesh.quant.paths import (
    GBM,
    MODELS,
    SABR,
    Heston,
    Merton,
    PathModel,
    PathSet,
    correlation_factor,
    make_model,
)

Z = 5.0
RATE = 0.03

MODELS_RISK_NEUTRAL: dict[str, PathModel] = {
    "gbm": GBM(mu=RATE, sigma=0.25),
    "heston": Heston(mu=RATE, kappa=1.5, theta=0.04, xi=0.6, rho=-0.7, v0=0.06),
    "heston-positive-rho": Heston(mu=RATE, kappa=3.0, theta=0.09, xi=0.9, rho=0.5, v0=0.02),
    "sabr-lognormal": SABR(alpha=0.25, beta=1.0, rho=-0.4, nu=0.8, mu=RATE),
    "sabr-cev": SABR(alpha=2.5, beta=0.5, rho=-0.3, nu=0.5, mu=RATE),
    "merton": Merton(mu=RATE, sigma=0.15, lam=2.0, jump_mean=-0.08, jump_std=0.12),
}


def _rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


def _assert_within(estimate: float, expected: float, standard_error: float, z: float = Z):
    assert abs(estimate - expected) <= z * standard_error, (
        f"{estimate} differs from {expected} by {abs(estimate - expected) / standard_error:.2f} "
        "standard errors"
    )


# --- moments and martingales ------------------------------------------------------------------


def test_given_gbm_then_log_return_mean_and_variance_match_theory():
    mu, sigma, dt = 0.08, 0.3, 1.0 / 52.0
    paths = GBM(mu=mu, sigma=sigma).simulate(100.0, dt, 20, 50_000, _rng())
    r = paths.log_returns().ravel()
    n = r.size
    mean_theory = (mu - 0.5 * sigma**2) * dt
    var_theory = sigma**2 * dt
    _assert_within(r.mean(), mean_theory, math.sqrt(var_theory / n))
    # Var of the sample variance of normals: 2σ⁴/(n − 1).
    _assert_within(r.var(ddof=1), var_theory, var_theory * math.sqrt(2.0 / (n - 1)))


def test_given_gbm_then_terminal_log_spot_is_normal_with_the_exact_moments():
    mu, sigma, dt, steps = 0.05, 0.2, 0.1, 10
    paths = GBM(mu=mu, sigma=sigma).simulate(50.0, dt, steps, 40_000, _rng(3))
    x = np.log(paths.spot[:, -1] / 50.0)
    t = dt * steps
    # Kolmogorov–Smirnov against N((μ − σ²/2)t, σ²t): the scheme is exact, not an approximation.
    p = stats.kstest(x, "norm", args=((mu - 0.5 * sigma**2) * t, sigma * math.sqrt(t))).pvalue
    assert p > 1e-4


@pytest.mark.parametrize("name", sorted(MODELS_RISK_NEUTRAL))
def test_given_risk_neutral_drift_then_discounted_price_is_a_martingale(name):
    model = MODELS_RISK_NEUTRAL[name]
    s0, dt, steps = 100.0, 1.0 / 52.0, 26
    paths = model.simulate(s0, dt, steps, 100_000, _rng(11))
    for step in (1, steps // 2, steps):
        discounted = paths.spot[:, step] * math.exp(-RATE * step * dt)
        se = discounted.std(ddof=1) / math.sqrt(discounted.size)
        _assert_within(discounted.mean(), s0, se)


def test_given_antithetic_gbm_then_pairs_mirror_each_other_exactly():
    mu, sigma, dt, steps, s0 = 0.04, 0.3, 0.05, 12, 80.0
    paths = GBM(mu=mu, sigma=sigma).simulate(s0, dt, steps, 1_000, _rng(), antithetic=True)
    first, second = paths.spot[:500], paths.spot[500:]
    growth = np.exp(2.0 * (mu - 0.5 * sigma**2) * paths.times)
    np.testing.assert_allclose(first * second / growth, s0 * s0, rtol=1e-12)


def test_given_antithetic_paths_then_the_mean_is_estimated_with_less_error():
    model = MODELS_RISK_NEUTRAL["heston"]
    plain = model.simulate(100.0, 0.05, 10, 20_000, _rng(1)).spot[:, -1]
    anti = model.simulate(100.0, 0.05, 10, 20_000, _rng(1), antithetic=True).spot[:, -1]
    pair_means = 0.5 * (anti[:10_000] + anti[10_000:])
    assert pair_means.var() / 10_000 < 0.5 * plain.var() / 20_000


# --- Heston ------------------------------------------------------------------------------------


def test_given_heston_violating_feller_then_variance_stays_non_negative_and_hits_zero():
    model = Heston(mu=0.0, kappa=0.5, theta=0.04, xi=1.0, rho=-0.9, v0=0.04)
    assert 2.0 * model.kappa * model.theta < model.xi**2
    paths = model.simulate(100.0, 1.0 / 252.0, 252, 5_000, _rng())
    assert paths.variance is not None
    assert paths.variance.min() >= 0.0
    assert (paths.variance == 0.0).any()  # the exponential branch's mass at zero is used
    assert np.isfinite(paths.spot).all() and (paths.spot > 0.0).all()


HESTON_HARD = [
    Heston(mu=0.0, kappa=0.5, theta=0.04, xi=1.0, rho=-0.9, v0=0.04),
    Heston(mu=0.0, kappa=1.0, theta=0.09, xi=1.0, rho=0.3, v0=0.09),
    Heston(mu=0.0, kappa=0.5, theta=0.04, xi=1.5, rho=-0.5, v0=0.2),
]


@pytest.mark.parametrize("model", HESTON_HARD, ids=["rho-0.9", "rho+0.3", "xi1.5"])
@pytest.mark.parametrize("dt", [0.25, 1.0])
def test_given_one_coarse_qe_step_then_spot_and_variance_means_are_exact(model, dt):
    # No Monte Carlo: the variance shock runs over a midpoint grid of 500,000 quantiles and the
    # independent spot shock Z is integrated in closed form, E[exp(√w·Z)] = exp(w/2) with
    # w = K3·v + K4·v' = dt(1 − ρ²)(v + v')/2. The martingale correction makes E[S'/S] = 1
    # exactly (without it the error reaches 3e-3 here); QE matches the CIR mean of v' exactly.
    n = 500_000
    z_v = special.ndtri((np.arange(n) + 0.5) / n)
    state = model.initial_state(100.0, n)
    nxt = model.step(state, dt, shocks=np.column_stack((np.zeros(n), z_v)))
    half_w = dt * (1.0 - model.rho**2) * (state.variance + nxt.variance) / 4.0
    assert np.exp(np.log(nxt.spot / 100.0) + half_w).mean() == pytest.approx(1.0, abs=1e-6)
    assert nxt.variance.mean() == pytest.approx(model.mean_variance(model.v0, dt), rel=1e-5)


@pytest.mark.parametrize("v0", [0.01, 0.16])
def test_given_heston_then_mean_variance_reverts_to_theta_at_rate_kappa(v0):
    model = Heston(mu=0.0, kappa=2.0, theta=0.05, xi=0.7, rho=-0.5, v0=v0)
    dt, steps = 1.0 / 52.0, 156
    paths = model.simulate(100.0, dt, steps, 40_000, _rng(5))
    assert paths.variance is not None
    for step in (4, 26, 52, 156):
        v = paths.variance[:, step]
        se = v.std(ddof=1) / math.sqrt(v.size)
        _assert_within(v.mean(), float(model.mean_variance(v0, step * dt)), se)
    # After three years (6 half-lives) the mean variance sits at θ.
    assert abs(paths.variance[:, -1].mean() - model.theta) < 0.01 * abs(v0 - model.theta) + Z * se


def test_given_negative_rho_then_heston_spot_and_variance_moves_are_negatively_correlated():
    model = Heston(mu=0.0, kappa=1.0, theta=0.04, xi=0.4, rho=-0.8, v0=0.04)
    paths = model.simulate(100.0, 1.0 / 252.0, 2, 50_000, _rng())
    assert paths.variance is not None
    dlog_s = np.log(paths.spot[:, 1] / paths.spot[:, 0])
    dv = paths.variance[:, 1] - paths.variance[:, 0]
    corr = np.corrcoef(dlog_s, dv)[0, 1]
    # The instantaneous correlation of the increments is ρ; QE reproduces it closely.
    assert corr == pytest.approx(model.rho, abs=0.03)


# --- Merton ------------------------------------------------------------------------------------


def test_given_merton_then_jump_counts_are_poisson_per_step_and_over_the_horizon():
    model = Merton(mu=0.0, sigma=0.1, lam=12.0, jump_mean=-0.05, jump_std=0.1)
    dt, steps, n = 1.0 / 52.0, 52, 20_000
    paths = model.simulate(100.0, dt, steps, n, _rng())
    assert paths.jumps is not None and paths.jumps.shape == (n, steps)
    per_step = paths.jumps.ravel()
    mean = model.lam * dt
    _assert_within(per_step.mean(), mean, math.sqrt(mean / per_step.size))
    total = paths.jumps.sum(axis=1)
    lam_t = model.lam * dt * steps
    for k in range(4, 21):
        p = stats.poisson.pmf(k, lam_t)
        _assert_within(float(np.mean(total == k)), p, math.sqrt(p * (1 - p) / n))
    # Poisson dispersion: variance equals the mean (SE of the sample variance ≈ √((μ + 2μ²)/n)).
    _assert_within(total.var(ddof=1), lam_t, math.sqrt((lam_t + 2 * lam_t**2) / n))


def test_given_many_jumps_per_step_then_counts_still_follow_the_poisson_law():
    model = Merton(mu=0.0, sigma=0.0, lam=400.0, jump_mean=0.0, jump_std=0.001)
    paths = model.simulate(100.0, 0.1, 3, 30_000, _rng(2))
    assert paths.jumps is not None
    counts = paths.jumps.ravel()
    _assert_within(counts.mean(), 40.0, math.sqrt(40.0 / counts.size))
    _assert_within(counts.var(ddof=1), 40.0, math.sqrt((40.0 + 2 * 40.0**2) / counts.size))


def test_given_zero_jump_intensity_then_merton_is_gbm_on_the_same_diffusion_shocks():
    rng = _rng()
    z = rng.standard_normal((100, 3))
    gbm, merton = (
        GBM(mu=0.07, sigma=0.3),
        Merton(mu=0.07, sigma=0.3, lam=0.0, jump_mean=-0.2, jump_std=0.1),
    )
    a = gbm.step(gbm.initial_state(100.0, 100), 0.25, shocks=z[:, :1])
    b = merton.step(merton.initial_state(100.0, 100), 0.25, shocks=z)
    np.testing.assert_allclose(a.spot, b.spot, rtol=1e-14)
    assert b.jumps is not None and not b.jumps.any()


def test_given_large_negative_jumps_then_the_compensated_drift_keeps_the_mean():
    model = Merton(mu=0.1, sigma=0.05, lam=3.0, jump_mean=-0.3, jump_std=0.2)
    assert model.jump_compensator == pytest.approx(math.exp(-0.3 + 0.02) - 1.0)
    paths = model.simulate(10.0, 0.25, 4, 200_000, _rng(9))
    terminal = paths.spot[:, -1]
    _assert_within(
        terminal.mean(), 10.0 * math.exp(0.1), terminal.std(ddof=1) / math.sqrt(terminal.size)
    )


# --- SABR --------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
def test_given_sabr_without_drift_then_forward_and_alpha_are_martingales(beta):
    alpha = 0.3 * 100.0 ** (1.0 - beta)  # about 30 % lognormal vol at F = 100
    model = SABR(alpha=alpha, beta=beta, rho=-0.5, nu=0.6)
    paths = model.simulate(100.0, 1.0 / 52.0, 26, 100_000, _rng(4))
    assert paths.vol is not None
    for series, start in ((paths.spot, 100.0), (paths.vol, alpha)):
        end = series[:, -1]
        _assert_within(end.mean(), start, end.std(ddof=1) / math.sqrt(end.size))


@pytest.mark.parametrize("beta", [0.5, 0.0])
def test_given_sabr_below_lognormal_then_zero_is_absorbing(beta):
    model = SABR(alpha=3.0 * 5.0 ** (1.0 - beta), beta=beta, rho=0.0, nu=0.3)
    paths = model.simulate(5.0, 1.0 / 52.0, 104, 5_000, _rng())
    spot = paths.spot
    assert spot.min() == 0.0
    absorbed = spot == 0.0
    hit = absorbed.any(axis=1)
    assert 0 < hit.sum() < hit.size
    first = absorbed.argmax(axis=1)
    for row in np.flatnonzero(hit)[:50]:
        assert absorbed[row, first[row] :].all()


def test_given_lognormal_sabr_with_no_vol_of_vol_then_it_is_gbm():
    a = SABR(alpha=0.2, beta=1.0, rho=0.3, nu=0.0, mu=0.05).simulate(100.0, 0.02, 30, 500, _rng())
    b = GBM(mu=0.05, sigma=0.2)
    state = b.initial_state(100.0, 500)
    rng = _rng()
    for t in range(30):
        state = b.step(state, 0.02, shocks=rng.standard_normal((500, 2))[:, :1])
        np.testing.assert_allclose(a.spot[:, t + 1], state.spot, rtol=1e-13)
    assert a.vol is not None and np.all(a.vol == 0.2)


# --- the step API against the whole-path API ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS_RISK_NEUTRAL))
def test_given_same_seed_then_stepping_reproduces_simulate_bit_for_bit(name):
    model = MODELS_RISK_NEUTRAL[name]
    n, steps, dt = 64, 15, 1.0 / 52.0
    paths = model.simulate(100.0, dt, steps, n, _rng(21))
    rng = _rng(21)
    state = model.initial_state(100.0, n)
    for t in range(steps):
        state = model.step(state, dt, rng)
        assert np.array_equal(state.spot, paths.spot[:, t + 1])
        if paths.variance is not None:
            assert np.array_equal(state.variance, paths.variance[:, t + 1])
        if paths.vol is not None:
            assert np.array_equal(state.vol, paths.vol[:, t + 1])
        if paths.jumps is not None:
            assert np.array_equal(state.jumps, paths.jumps[:, t])


@pytest.mark.parametrize("name", sorted(MODELS_RISK_NEUTRAL))
def test_given_antithetic_then_stepping_with_mirrored_shocks_reproduces_simulate(name):
    model = MODELS_RISK_NEUTRAL[name]
    n, steps, dt = 32, 10, 0.01
    paths = model.simulate(100.0, dt, steps, n, _rng(8), antithetic=True)
    rng = _rng(8)
    state = model.initial_state(100.0, n)
    for t in range(steps):
        z = rng.standard_normal((n // 2, model.n_shocks))
        state = model.step(state, dt, shocks=np.concatenate((z, -z)))
        assert np.array_equal(state.spot, paths.spot[:, t + 1])


def test_given_same_seed_then_paths_repeat_and_another_seed_changes_them():
    model = MODELS_RISK_NEUTRAL["merton"]
    a = model.simulate(100.0, 0.01, 20, 200, _rng(1))
    b = model.simulate(100.0, 0.01, 20, 200, _rng(1))
    c = model.simulate(100.0, 0.01, 20, 200, _rng(2))
    assert np.array_equal(a.spot, b.spot) and np.array_equal(a.jumps, b.jumps)
    assert not np.array_equal(a.spot, c.spot)


def test_path_set_shapes_times_and_read_only_time_major_layout():
    paths = MODELS_RISK_NEUTRAL["heston"].simulate(np.linspace(90, 110, 10), 0.5, 4, 10, _rng())
    assert isinstance(paths, PathSet)
    assert paths.spot.shape == (10, 5) and paths.n_paths == 10 and paths.n_steps == 4
    assert paths.variance is not None and paths.variance.shape == (10, 5)
    np.testing.assert_array_equal(paths.spot[:, 0], np.linspace(90, 110, 10))
    np.testing.assert_allclose(paths.times, [0.0, 0.5, 1.0, 1.5, 2.0])
    assert paths.spot[:, 2].flags.c_contiguous
    with pytest.raises(ValueError):
        paths.spot[0, 0] = 1.0


def test_given_a_step_then_the_input_state_is_unchanged():
    model = MODELS_RISK_NEUTRAL["heston"]
    state = model.initial_state([100.0, 50.0])
    spot, variance = state.spot.copy(), state.variance.copy()
    model.step(state, 0.1, _rng())
    model.shock(state, spot_factor=0.8, vol_factor=2.0)
    assert np.array_equal(state.spot, spot) and np.array_equal(state.variance, variance)


def test_given_no_time_passes_then_a_step_changes_nothing_and_draws_nothing():
    model = MODELS_RISK_NEUTRAL["merton"]
    rng = _rng(3)
    state = model.step(model.initial_state([100.0, 50.0]), 0.5, rng)
    same = model.step(state, 0.0, rng)
    np.testing.assert_array_equal(same.spot, state.spot)
    np.testing.assert_array_equal(same.jumps, [0, 0])
    assert rng.bit_generator.state == _advanced(3, 1, (2, 3)).bit_generator.state


def _advanced(seed: int, draws: int, shape: tuple[int, int]) -> np.random.Generator:
    rng = _rng(seed)
    for _ in range(draws):
        rng.standard_normal(shape)
    return rng


# --- scheduled events -------------------------------------------------------------------------


def test_given_a_gap_then_spot_moves_by_the_factor_per_underlying():
    model = MODELS_RISK_NEUTRAL["merton"]
    state = model.initial_state([100.0, 40.0, 7.0])
    gapped = model.shock(state, spot_factor=[0.9, 1.0, 1.5])
    np.testing.assert_allclose(gapped.spot, [90.0, 40.0, 10.5])
    np.testing.assert_array_equal(gapped.vol, state.vol)


def test_given_a_vol_spike_then_gbm_moves_scale_by_the_factor_and_keep_it():
    model = GBM(mu=0.0, sigma=0.2)
    spiked = model.shock(model.initial_state(100.0, 2), vol_factor=[1.0, 3.0])
    z = np.array([[0.7], [0.7]])
    moved = model.step(spiked, 0.01, shocks=z)
    log_moves = np.log(moved.spot / 100.0)
    expected = [(-0.5 * s**2) * 0.01 + s * 0.1 * 0.7 for s in (0.2, 0.6)]
    np.testing.assert_allclose(log_moves, expected, rtol=1e-12)
    np.testing.assert_allclose(moved.vol, [0.2, 0.6])


def test_given_a_heston_vol_spike_then_variance_scales_by_its_square_and_reverts():
    model = Heston(mu=0.0, kappa=4.0, theta=0.04, xi=0.3, rho=-0.5, v0=0.04)
    state = model.shock(model.initial_state(100.0, 20_000), vol_factor=2.0)
    np.testing.assert_allclose(state.variance, 0.16)
    rng = _rng()
    for _ in range(26):
        state = model.step(state, 1.0 / 52.0, rng)
    v = state.variance
    _assert_within(
        v.mean(), float(model.mean_variance(0.16, 0.5)), v.std(ddof=1) / math.sqrt(v.size)
    )


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_given_non_positive_or_non_finite_shock_factor_then_rejected(bad):
    model = GBM(sigma=0.2)
    state = model.initial_state(100.0, 2)
    with pytest.raises(ValueError, match="spot_factor"):
        model.shock(state, spot_factor=bad)
    with pytest.raises(ValueError, match="vol_factor"):
        model.shock(state, vol_factor=[1.0, bad])


# --- correlation -------------------------------------------------------------------------------

CORR = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])


@pytest.mark.parametrize(
    "model",
    [GBM(mu=0.0, sigma=0.3), Heston(mu=0.0, kappa=2.0, theta=0.04, xi=0.3, rho=-0.6, v0=0.04)],
    ids=["gbm", "heston"],
)
def test_given_a_correlation_then_stepped_returns_are_correlated_as_asked(model):
    # 5,000 ticks of three underlyings, 20 independent copies side by side (a block-diagonal
    # correlation), so the per-tick cost stays that of the live simulator's handful.
    copies, ticks = 20, 5_000
    big = np.kron(np.eye(copies), CORR)
    state = model.initial_state(100.0, 3 * copies, corr=big)
    rng = _rng(13)
    # Returns standardised by the vol at the start of each tick estimate the correlation of
    # the Brownian increments (raw Heston returns are less correlated: their vols differ).
    dt = 1.0 / 252.0
    returns = np.empty((ticks, 3 * copies))
    for t in range(ticks):
        variance = state.variance if state.variance is not None else state.vol**2
        nxt = model.step(state, dt, rng)
        returns[t] = (np.log(nxt.spot / state.spot) + 0.5 * variance * dt) / np.sqrt(variance)
        state = nxt
    samples = returns.reshape(ticks * copies, 3)
    estimated = np.corrcoef(samples, rowvar=False)
    n = samples.shape[0]
    for i, j in ((0, 1), (0, 2), (1, 2)):
        rho = CORR[i, j]
        _assert_within(estimated[i, j], rho, (1.0 - rho * rho) / math.sqrt(n))


def test_correlation_factor_reproduces_the_matrix_even_when_singular():
    lower = correlation_factor(CORR)
    np.testing.assert_allclose(lower @ lower.T, CORR, atol=1e-14)
    assert np.allclose(lower, np.tril(lower))
    perfect = np.array([[1.0, 1.0, -1.0], [1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])
    root = correlation_factor(perfect)
    np.testing.assert_allclose(root @ root.T, perfect, atol=1e-12)


@pytest.mark.parametrize(
    ("corr", "message"),
    [
        ([[1.0, 0.5], [0.4, 1.0]], "symmetric"),
        ([[1.0, 0.5], [0.5, 2.0]], "unit diagonal"),
        ([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]], "semi-definite"),
        ([[1.0, math.nan], [math.nan, 1.0]], "finite"),
        ([1.0, 0.5], "square"),
    ],
)
def test_given_an_invalid_correlation_then_rejected(corr, message):
    with pytest.raises(ValueError, match=message):
        correlation_factor(corr)


def test_given_a_correlation_of_the_wrong_size_then_initial_state_rejects_it():
    with pytest.raises(ValueError, match="n is 2"):
        GBM(sigma=0.2).initial_state([100.0, 90.0], corr=CORR)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (GBM, {"sigma": -0.1}, "sigma"),
        (GBM, {"sigma": math.nan}, "finite"),
        (Heston, {"kappa": 0.0, "theta": 0.04, "xi": 0.5, "rho": 0.0, "v0": 0.04}, "kappa"),
        (Heston, {"kappa": 1.0, "theta": 0.04, "xi": 0.5, "rho": -1.5, "v0": 0.04}, "rho"),
        (Heston, {"kappa": 1.0, "theta": 0.04, "xi": 0.5, "rho": 0.0, "v0": -0.01}, "v0"),
        (SABR, {"alpha": 0.0, "beta": 1.0, "rho": 0.0, "nu": 0.3}, "alpha"),
        (SABR, {"alpha": 0.2, "beta": 1.2, "rho": 0.0, "nu": 0.3}, "beta"),
        (SABR, {"alpha": 0.2, "beta": 1.0, "rho": 0.0, "nu": -0.3}, "nu"),
        (Merton, {"sigma": 0.2, "lam": -1.0, "jump_mean": 0.0, "jump_std": 0.1}, "lam"),
        (Merton, {"sigma": 0.2, "lam": 1.0, "jump_mean": 0.0, "jump_std": -0.1}, "jump_std"),
    ],
)
def test_given_invalid_parameters_then_the_model_refuses_them(cls, params, message):
    with pytest.raises(ValueError, match=message):
        cls(**params)


def test_models_are_frozen_and_replace_validates():
    model = GBM(mu=0.01, sigma=0.2)
    with pytest.raises(AttributeError):
        model.sigma = 0.3  # type: ignore[misc]
    assert replace(model, mu=RATE).mu == RATE
    with pytest.raises(ValueError):
        replace(model, sigma=-1.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.simulate(100.0, 0.0, 10, 10, _rng()), "dt"),
        (lambda m: m.simulate(100.0, 0.1, 0, 10, _rng()), "n_steps"),
        (lambda m: m.simulate(100.0, 0.1, 10, 11, _rng(), antithetic=True), "even"),
        (lambda m: m.simulate(-1.0, 0.1, 10, 10, _rng()), "s0"),
        (lambda m: m.initial_state([1.0, 2.0], 3), "does not fit"),
        (lambda m: m.step(m.initial_state(1.0, 2), 0.1), "rng or shocks"),
        (lambda m: m.step(m.initial_state(1.0, 2), 0.1, shocks=np.zeros((2, 3))), "shape"),
        (lambda m: m.step(m.initial_state(1.0, 2), -0.1, _rng()), "dt"),
    ],
)
def test_given_invalid_arguments_then_the_api_refuses_them(call, message):
    with pytest.raises(ValueError, match=message):
        call(GBM(sigma=0.2))


def test_make_model_builds_each_model_by_name_and_refuses_unknown_ones():
    assert set(MODELS) == {"gbm", "heston", "sabr", "merton"}
    assert make_model("GBM", mu=0.01, sigma=0.2) == GBM(mu=0.01, sigma=0.2)
    assert isinstance(make_model("sabr", alpha=0.2, beta=0.7, rho=0.0, nu=0.4), SABR)
    with pytest.raises(ValueError, match="unknown path model"):
        make_model("bachelier", sigma=1.0)
    with pytest.raises(ValueError, match="heston"):
        make_model("heston", sigma=0.2)
