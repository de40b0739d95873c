"""The backtest config: a good file loads into the engine's objects; every class of bad value is
refused with the key that holds it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from hedgemesh.backtest import load_config
from hedgemesh.backtest.config import BacktestConfig, ConfigError, parse_config
from hedgemesh.backtest.costs import CompositeCost, FixedCost, NotionalCost
from hedgemesh.policies import DeltaBand, DeltaGamma, DeltaGammaVega, HedgeOption, WhalleyWilmott

GOOD: dict[str, Any] = {
    "name": "good",
    "seed": 3,
    "n_paths": 100,
    "paths": {"model": {"kind": "gbm", "sigma": 0.2, "mu": 0.05}, "s0": 100, "horizon_days": 30},
    "market": {"rate": 0.02, "vol": 0.2},
    "book": {"kind": "option", "strike": 100, "expiry_days": 30, "quantity": -100},
    "hedge_options": {"atm30": {"tenor_days": 30, "roll_days": 1}},
    "costs": {"notional": {"stock_rate": 0.001}, "fixed": {"option_fee": 1.0}},
    "policies": [
        {"kind": "delta_interval", "name": "daily", "interval_days": 1},
        {"kind": "delta_band", "half_width": 5},
        {"kind": "delta_gamma", "hedge": "atm30", "fraction": 0.5},
        {"kind": "delta_gamma_vega", "hedges": ["atm30", {"tenor_days": 90, "roll_days": 30}]},
        {"kind": "whalley_wilmott", "cost": 0.001, "risk_aversion": 0.1},
    ],
    "frontier": [{"policy": "delta_band", "param": "half_width", "values": [1, 2, 4]}],
}


def _parse(data: dict[str, Any], **kwargs: Any) -> BacktestConfig:
    return parse_config(yaml.safe_dump(data, sort_keys=False), source="t.yaml", **kwargs)


def _error(change) -> ConfigError:
    data = copy.deepcopy(GOOD)
    change(data)
    with pytest.raises(ConfigError) as caught:
        _parse(data)
    return caught.value


def test_given_a_good_config_then_it_builds_the_engines_policies_costs_and_sweeps():
    config = _parse(GOOD)
    policies = config.built_policies()
    assert list(policies) == [
        "daily",
        "delta_band",
        "delta_gamma",
        "delta_gamma_vega",
        "whalley_wilmott",
    ]
    assert policies["delta_band"] == DeltaBand(half_width=5.0)
    atm30 = HedgeOption(tenor_days=30, roll_days=1)
    assert policies["delta_gamma"] == DeltaGamma(hedge=atm30, fraction=0.5)
    assert policies["delta_gamma_vega"] == DeltaGammaVega(
        hedges=(atm30, HedgeOption(tenor_days=90, roll_days=30))
    )
    assert policies["whalley_wilmott"] == WhalleyWilmott(cost=0.001, risk_aversion=0.1)
    assert config.cost_model() == CompositeCost(
        (NotionalCost(stock_rate=0.001), FixedCost(option_fee=1.0))
    )
    (sweep,) = config.sweeps()
    assert [p.name for p in sweep.policies] == [
        "delta_band[half_width=1]",
        "delta_band[half_width=2]",
        "delta_band[half_width=4]",
    ]
    assert [p.half_width for p in sweep.policies] == [1.0, 2.0, 4.0]  # type: ignore[attr-defined]
    assert config.grid() == (30, pytest.approx(1 / 365))
    assert config.path_count() == 100


def test_given_no_mu_then_the_model_drifts_at_rate_minus_dividend_yield():
    data = copy.deepcopy(GOOD)
    data["paths"]["model"].pop("mu")
    data["market"]["div"] = 0.01
    model = _parse(data).path_model()
    assert model.mu == pytest.approx(0.01)  # type: ignore[union-attr]


def test_given_steps_then_dt_is_the_horizon_over_them_and_dt_days_must_divide_the_horizon():
    data = copy.deepcopy(GOOD)
    data["paths"]["steps"] = 120
    assert _parse(data).grid() == (120, pytest.approx(0.25 / 365))
    data["paths"].pop("steps")
    data["paths"]["dt_days"] = 7
    with pytest.raises(ConfigError, match=r"paths\.dt_days: 30 days is not a whole number"):
        _parse(data)


def test_given_overrides_then_they_replace_the_files_values_and_are_validated():
    config = _parse(GOOD, n_paths=10, seed=99)
    assert (config.n_paths, config.seed) == (10, 99)
    assert config.with_overrides(n_paths=20).n_paths == 20
    with pytest.raises(ConfigError, match=r"n_paths: must be >= 2"):
        config.with_overrides(n_paths=1)


@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        # unknown keys, at every level
        (lambda d: d.update(colour="red"), "colour", "unknown key"),
        (lambda d: d["paths"].update(steps_per_day=2), "paths.steps_per_day", "unknown key"),
        (lambda d: d["policies"][1].update(band=3), "policies[1].band", "unknown key"),
        (lambda d: d["costs"]["notional"].update(rate=1), "costs.notional.rate", "unknown key"),
        (lambda d: d["hedge_options"]["atm30"].update(tenor=3), "hedge_options.atm30.tenor", ""),
        # wrong types
        (lambda d: d.update(seed="seven"), "seed", "valid integer"),
        (lambda d: d["policies"][1].update(half_width="wide"), "policies[1].half_width", "number"),
        (lambda d: d["policies"][1].update(half_width=True), "policies[1].half_width", "number"),
        (lambda d: d["policies"].__setitem__(0, "delta"), "policies[0]", "valid dictionary"),
        (lambda d: d["market"].update(vol="high"), "market.vol", "is not a vol"),
        # out of range: the config's own checks
        (lambda d: d.update(n_paths=1), "n_paths", "must be >= 2"),
        (lambda d: d["paths"].update(s0=-5), "paths.s0", "must be > 0"),
        (lambda d: d["paths"]["model"].update(sigma=0), "paths.model.sigma", "must be > 0"),
        (lambda d: d["market"].update(rate=2), "market.rate", "must be <= 1"),
        (lambda d: d["book"].update(expiry_days=0), "book.expiry_days", "must be > 0"),
        # out of range: the engine's classes' own checks, reported at the key
        (lambda d: d["policies"][1].update(half_width=-1), "policies[1].half_width", "must be"),
        (lambda d: d["policies"][4].update(risk_aversion=0), "policies[4].risk_aversion", ">"),
        (lambda d: d["policies"][2].update(fraction=2), "policies[2].fraction", "[0, 1]"),
        (lambda d: d["costs"]["notional"].update(stock_rate=-1), "costs.notional.stock_rate", ""),
        (
            lambda d: d["hedge_options"]["atm30"].update(tenor_days=-1),
            "hedge_options.atm30.tenor_days",
            "must be",
        ),
        (lambda d: d["frontier"][0].update(values=[1, -2]), "frontier[0].values[1]", "must be"),
        # missing keys and one-of-two keys
        (lambda d: d.pop("seed"), "seed", "is required"),
        (lambda d: d["paths"].pop("s0"), "paths.s0", "is required"),
        (lambda d: d["paths"]["model"].pop("sigma"), "paths.model.sigma", "is required"),
        (lambda d: d["policies"][0].pop("kind"), "policies[0].kind", "is required"),
        (lambda d: d["book"].update(moneyness=1.0), "book.strike", "one of the two"),
        (lambda d: d["paths"].update(steps=30, dt_days=1), "paths.dt_days", "not both"),
        # names that refer to nothing, or twice to one thing
        (lambda d: d["policies"][0].update(kind="gamma"), "policies[0].kind", "is not one of"),
        (lambda d: d["policies"][2].update(hedge="atm60"), "policies[2].hedge", "no hedge option"),
        (lambda d: d["policies"][3].update(hedges=["atm30"]), "policies[3].hedges", "two"),
        (lambda d: d["policies"][1].update(name="daily"), "policies[1].name", "is taken"),
        (lambda d: d["costs"].update(tax={}), "costs.tax", "unknown cost model"),
        (lambda d: d["book"].update(kind="swap"), "book", "is not one of"),
        (lambda d: d["paths"]["model"].update(kind="levy"), "paths.model", "is not one of"),
        (lambda d: d["frontier"][0].update(policy="tight"), "frontier[0].policy", "no policy"),
        (lambda d: d["frontier"][0].update(param="name"), "frontier[0].param", "numeric"),
        # combinations that cannot run
        (lambda d: d["policies"][2].update(gamma_band=1.0), "policies[2]", "not both"),
        (lambda d: d["market"].update(vol="path"), "market.vol", "heston or sabr"),
        (lambda d: d["market"].update(vol="heston"), "market.vol", "heston model"),
        (lambda d: d["market"].update(vol={"hagan": {"strike": 100}}), "market.vol", "sabr"),
        (lambda d: d["market"].update(vol={"hagan": {"strike": -1}}), "market.vol", ""),
        (
            lambda d: d["paths"].update(gap={"at_days": 45, "move": -0.2}),
            "paths.gap.at_days",
            "outside",
        ),
        (lambda d: d.update(plots={"sample_path": 100}), "plots.sample_path", "below"),
        (lambda d: d.update(n_paths=1_000_000, paths={**d["paths"], "steps": 100}), "n_paths", ""),
        (lambda d: d["paths"].update(antithetic=True) or d.update(n_paths=99), "n_paths", "even"),
    ],
)
def test_given_a_bad_value_then_the_error_names_its_key(change, key, says):
    error = _error(change)
    assert error.path == key or error.path.startswith(key + "."), str(error)
    assert says in error.message
    assert str(error).startswith(f"t.yaml: {error.path}: ")


def test_given_an_svi_surface_then_bad_slices_and_arbitrage_are_refused_at_the_key():
    good = [{"expiry_days": 30, "a": 0.002, "b": 0.04, "rho": -0.6, "m": 0.0, "sigma": 0.1}]
    _parse({**GOOD, "market": {"rate": 0.0, "vol": {"svi": good}}}).surface()
    bad_b = [{**good[0], "b": -0.1}]
    with pytest.raises(ConfigError, match=r"market\.vol\.svi\[0\]\.b: must be >= 0"):
        _parse({**GOOD, "market": {"vol": {"svi": bad_b}}})
    calendar = [good[0], {**good[0], "expiry_days": 60, "a": 0.0}]  # less variance later
    with pytest.raises(ConfigError, match=r"market\.vol\.svi: admits static arbitrage"):
        _parse({**GOOD, "market": {"vol": {"svi": calendar}}})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("seed: 1\nseed: 2\n", "key 'seed' is given twice (line 2, column 1)"),
        ("policies: [1,\n", "not valid YAML"),
        ("- a list\n", "the top level must be a mapping"),
    ],
)
def test_given_text_that_is_not_a_yaml_mapping_then_it_is_refused_with_where(text, says):
    with pytest.raises(ConfigError, match=r"^t\.yaml: ") as caught:
        parse_config(text, source="t.yaml")
    assert says in str(caught.value)


def _csv_config(tmp_path: Path, csv_text: str, stride: int = 1, **paths: Any) -> Path:
    (tmp_path / "prices.csv").write_text(csv_text)
    data = copy.deepcopy(GOOD)
    data.pop("n_paths")
    data.pop("name")
    model = {"kind": "csv", "file": "prices.csv", "stride": stride}
    data["paths"] = {"model": model, "steps": 3, **paths}
    data["policies"] = data["policies"][:2]
    data["frontier"] = []
    file = tmp_path / "history.yaml"
    file.write_text(yaml.safe_dump(data))
    return file


def test_given_a_csv_history_then_its_windows_are_the_paths_read_relative_to_the_config(tmp_path):
    rows = "".join(f"2024-01-{d:02d},{100 + d}\n" for d in range(1, 11))
    config = load_config(_csv_config(tmp_path, "date,close\n" + rows, stride=2))
    assert config.name == "history"  # the file's stem
    prices = config.prices()
    assert prices is not None and len(prices) == 10
    assert config.path_count() == 4  # windows starting at rows 0, 2, 4, 6
    assert config.grid() == (3, pytest.approx(1 / 365))
    assert config.with_overrides(n_paths=2).path_count() == 2


@pytest.mark.parametrize(
    ("csv_text", "paths", "key", "says"),
    [
        ("date,close\n2024-01-01,100\n2024-01-02,oops\n", {}, "paths.model.file", "line 3"),
        ("date,close\n2024-01-01,100\n2024-01-02,101\n", {}, "paths.steps", "needs 4 prices"),
        ("date,close\n", {"s0": 100}, "paths.s0", "leave s0 out"),
    ],
)
def test_given_a_bad_csv_history_then_the_error_names_the_key(tmp_path, csv_text, paths, key, says):
    with pytest.raises(ConfigError) as caught:
        load_config(_csv_config(tmp_path, csv_text, **paths))
    assert caught.value.path == key
    assert says in caught.value.message


def test_given_a_missing_csv_or_config_file_then_the_error_says_which(tmp_path):
    file = _csv_config(tmp_path, "date,close\n")
    (tmp_path / "prices.csv").unlink()
    with pytest.raises(ConfigError, match=r"paths\.model\.file: no such file: prices\.csv"):
        load_config(file)
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: no such file"):
        load_config(tmp_path / "nowhere.yaml")
