"""The runner: a config's paths, book and policies through the engine, on the same paths for
every policy, and the report results.json holds."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pytest
import yaml

from hedgemesh.backtest import engine, metrics, run_config
from hedgemesh.backtest.config import ConfigError, parse_config
from hedgemesh.backtest.instruments import ConstantVol, HestonVol, PathVol, SurfaceVol
from hedgemesh.backtest.runner import (
    RESULTS_FILE,
    book_value_at_start,
    compare_table,
    format_table,
    write_results,
)
from hedgemesh.quant import bsm
from hedgemesh.quant.paths import GBM

BASE: dict[str, Any] = {
    "name": "runner",
    "seed": 5,
    "n_paths": 400,
    "paths": {"model": {"kind": "gbm", "sigma": 0.2, "mu": 0.05}, "s0": 100, "horizon_days": 30},
    "market": {"rate": 0.02, "vol": 0.2},
    "book": {"kind": "option", "strike": 100, "expiry_days": 30, "quantity": -100},
    "costs": {"notional": {"stock_rate": 0.001}},
    "policies": [
        {"kind": "delta_interval", "name": "a", "interval_days": 1},
        {"kind": "delta_interval", "name": "b", "interval_days": 1},
        {"kind": "delta_band", "name": "band", "half_width": 5},
        {"kind": "no_hedge"},
    ],
    "frontier": [{"policy": "band", "param": "half_width", "values": [1, 5, 20]}],
    "plots": {"enabled": False},
}

REQUIRED = ("mean", "std", "var95", "cvar95", "var99", "cvar99", "cost_mean", "turnover")


def _config(change=None, **overrides: Any):
    data = copy.deepcopy(BASE)
    if change is not None:
        change(data)
    return parse_config(yaml.safe_dump(data, sort_keys=False), source="t.yaml", **overrides)


@pytest.fixture(scope="module")
def run():
    return run_config(_config(), compare=True)


def test_every_policy_and_sweep_point_is_hedged_on_the_same_paths(run):
    rng = np.random.default_rng(5)
    expected = GBM(mu=0.05, sigma=0.2).simulate(100.0, 1 / 365, 30, 400, rng).spot
    np.testing.assert_array_equal(run.market.spot, expected)
    # two policies alike but for their names, and a sweep point alike to a listed policy
    np.testing.assert_array_equal(run.results["a"].pnl, run.results["b"].pnl)
    np.testing.assert_array_equal(run.results["band"].pnl, run.results["band[half_width=5]"].pnl)
    assert list(run.policy_results) == ["a", "b", "band", "no_hedge"]


def test_the_report_holds_each_policys_figures_from_the_engines_arrays(run):
    report = run.report
    assert (report["seed"], report["n_paths"], report["n_steps"]) == (5, 400, 30)
    assert report["config"]["policies"][2] == {
        "kind": "delta_band",
        "name": "band",
        "half_width": 5,
    }
    for name, result in run.policy_results.items():
        entry = report["policies"][name]
        figures = metrics.summarise(result.pnl, result.cost, result.turnover)
        for key in REQUIRED:
            assert entry[key] == pytest.approx(figures[key], rel=1e-12, abs=1e-12), (name, key)
        assert entry["trades_mean"] == result.n_trades.mean()
        assert entry["book_pnl_mean"] + entry["hedge_pnl_mean"] + entry["carry_mean"] - entry[
            "cost_mean"
        ] == pytest.approx(entry["mean"], rel=1e-9)
        assert entry["hedge_ratios"]["underlying"] == pytest.approx(result.mean_holdings[:, 0])
    assert report["policies"]["band"]["params"] == {"half_width": 5.0}
    assert report["policies"]["no_hedge"]["cost_mean"] == 0.0
    assert report["policies"]["a"]["cost_mean"] > 0.0
    json.dumps(report, allow_nan=False)


def test_hulls_measure_is_the_std_of_the_discounted_cost_over_the_books_premium(run):
    premium = book_value_at_start(run.book, run.market)
    price = 100.0 * float(bsm.price(100.0, 100.0, 30 / 365, 0.02, 0.0, 0.2, True))
    np.testing.assert_allclose(premium, -price, rtol=1e-12)
    assert run.report["book"]["premium_mean"] == pytest.approx(-price)
    ratio = engine.std_cost_over_price(run.results["a"], price)
    entry = run.report["policies"]["a"]
    assert entry["std_cost_over_price"] == pytest.approx(ratio.ratio, rel=1e-12)
    assert entry["std_cost_over_price_stderr"] == pytest.approx(ratio.stderr, rel=1e-12)


def test_the_frontier_gives_each_sweep_points_cost_and_risk_and_which_are_efficient(run):
    (sweep,) = run.report["frontier"]
    assert (sweep["policy"], sweep["kind"], sweep["param"]) == ("band", "delta_band", "half_width")
    points = sweep["points"]
    assert [p["width"] for p in points] == [1.0, 5.0, 20.0]
    costs = [run.results[p["name"]].cost.mean() for p in points]
    stds = [run.results[p["name"]].pnl.std(ddof=1) for p in points]
    assert [p["cost"] for p in points] == pytest.approx(costs)
    assert [p["std"] for p in points] == pytest.approx(stds)
    assert [p["efficient"] for p in points] == metrics.pareto_efficient(costs, stds).tolist()
    assert costs[0] > costs[1] > costs[2]  # wider bands trade less
    assert stds[0] < stds[2]


def test_given_compare_then_one_table_lists_every_policy_with_its_figures(run):
    table = run.report["compare"]
    assert table == compare_table(run.report)
    assert table["columns"][:3] == ["policy", "mean", "std"]
    assert "std_cost_over_price" in table["columns"]
    assert [row[0] for row in table["rows"]] == ["a", "b", "band", "no_hedge"]
    std_at = table["columns"].index("std")
    assert table["rows"][2][std_at] == run.report["policies"]["band"]["std"]
    text = format_table(table).splitlines()
    assert len(text) == 5 and text[0].split()[:3] == ["policy", "mean", "std"]
    assert "compare" not in run_config(_config()).report


def test_given_the_same_seed_then_results_json_is_identical_and_another_seed_differs(tmp_path):
    texts = []
    for i, seed in enumerate((5, 5, 6)):
        write_results(run_config(_config(), seed=seed), tmp_path / str(i))
        texts.append((tmp_path / str(i) / RESULTS_FILE).read_bytes())
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]
    report = json.loads(texts[2])
    assert report["seed"] == 6 and report["plots"] == []


def test_given_a_gap_then_every_path_moves_by_it_at_its_step_and_nowhere_else():
    plain = run_config(_config())
    gapped = run_config(_config(lambda d: d["paths"].update(gap={"at_days": 10, "move": -0.2})))
    ratio = gapped.market.spot / plain.market.spot
    np.testing.assert_allclose(ratio[:, :10], 1.0)
    np.testing.assert_allclose(ratio[:, 10:], 0.8)
    assert gapped.report["paths"]["gap"] == {"step": 10, "move": -0.2}


@pytest.mark.parametrize(
    ("model", "vol", "source", "level"),
    [
        ({"kind": "gbm", "sigma": 0.3}, None, ConstantVol, 0.3),
        (
            {"kind": "merton", "sigma": 0.15, "lam": 2.0, "jump_mean": -0.1, "jump_std": 0.1},
            None,
            ConstantVol,
            math.sqrt(0.15**2 + 2.0 * (0.01 + 0.01)),
        ),
        (
            {"kind": "heston", "kappa": 2.0, "theta": 0.04, "xi": 0.3, "rho": -0.5, "v0": 0.09},
            None,
            HestonVol,
            None,
        ),
        ({"kind": "sabr", "alpha": 0.25, "beta": 1.0, "rho": 0.0, "nu": 0.5}, None, PathVol, 0.25),
        (
            {"kind": "heston", "kappa": 2.0, "theta": 0.04, "xi": 0.3, "rho": -0.5, "v0": 0.09},
            "path",
            PathVol,
            0.3,
        ),
        ({"kind": "gbm", "sigma": 0.3}, 0.25, ConstantVol, 0.25),
    ],
)
def test_options_are_priced_at_the_vol_the_model_implies_unless_the_market_says(
    model, vol, source, level
):
    def change(d):
        d["paths"]["model"] = model
        d["market"].pop("vol")
        if vol is not None:
            d["market"]["vol"] = vol

    market = run_config(_config(change, n_paths=20)).market
    assert isinstance(market.vol, source)
    if level is not None:
        reference = market.vol.reference(0, market.spot[:, 0], np.full(20, 0.1), 0.0)
        np.testing.assert_allclose(reference, level)


def test_given_an_svi_surface_then_options_are_priced_off_it_in_moneyness():
    slices = [{"expiry_days": 60, "a": 0.004, "b": 0.05, "rho": -0.5, "m": 0.0, "sigma": 0.1}]
    run = run_config(_config(lambda d: d["market"].update(vol={"svi": slices}), n_paths=20))
    assert isinstance(run.market.vol, SurfaceVol)
    tau = 30 / 365
    w = run.market.vol.surface.total_variance(np.log(100 / 100) - 0.02 * tau, tau)
    premium = book_value_at_start(run.book, run.market)
    price = bsm.price(100.0, 100.0, tau, 0.02, 0.0, math.sqrt(float(w) / tau), True)
    np.testing.assert_allclose(premium, -100.0 * price, rtol=1e-10)


def test_given_a_poisson_book_then_its_trades_follow_the_config_seed_unless_it_has_its_own():
    def poisson(seed=None):
        def change(d):
            d["book"] = {"kind": "poisson", "trades_per_year": 200, "sizes": [10, 20]}
            if seed is not None:
                d["book"]["seed"] = seed

        return change

    books = [run_config(_config(poisson(), seed=s, n_paths=50)).book.quantity for s in (1, 1, 2)]
    np.testing.assert_array_equal(books[0], books[1])
    assert books[0].shape != books[2].shape or np.any(books[0] != books[2])
    fixed = [run_config(_config(poisson(seed=9), seed=s, n_paths=50)).book.quantity for s in (1, 2)]
    assert fixed[0].shape == fixed[1].shape  # same trades; the paths only set their strikes
    np.testing.assert_array_equal(fixed[0], fixed[1])


def test_given_a_csv_history_then_the_paths_are_its_rebased_windows(tmp_path):
    closes = [100.0, 101.0, 99.0, 102.0, 104.0, 103.0, 105.0]
    rows = "".join(f"2024-02-{d + 1:02d},{c}\n" for d, c in enumerate(closes))
    (tmp_path / "p.csv").write_text("date,close\n" + rows)
    data = copy.deepcopy(BASE)
    data.pop("n_paths")
    data["frontier"] = []
    data["paths"] = {
        "model": {"kind": "csv", "file": str(tmp_path / "p.csv"), "stride": 2, "rebase": 50},
        "steps": 2,
    }
    run = run_config(parse_config(yaml.safe_dump(data), source="t.yaml"))
    expected = np.array([closes[0:3], closes[2:5], closes[4:7]])
    np.testing.assert_allclose(run.market.spot, 50.0 * expected / expected[:, :1])
    assert run.report["paths"]["rows"] == 7
    assert run.report["paths"]["first_date"].startswith("2024-02-01")


def test_given_a_sabr_path_absorbed_at_zero_then_the_config_error_names_the_model():
    def change(d):
        d["paths"]["model"] = {"kind": "sabr", "alpha": 300.0, "beta": 0.0, "rho": 0.0, "nu": 0.5}

    with pytest.raises(ConfigError, match=r"paths\.model: a path reached a price of zero"):
        run_config(_config(change))


def test_the_config_echo_runs_again_into_the_same_report(run):
    echo = run.report["config"]
    again = run_config(parse_config(json.dumps(echo), source="echo"), compare=True)
    assert again.report == run.report
