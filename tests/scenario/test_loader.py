"""The scenario loader: the shipped files load, and each class of bad value stops it with the
key path of the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hedgemesh.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario, parse_scenario
from hedgemesh.scenario.model import (
    AnnouncementEvent,
    GapEvent,
    HestonSpec,
    LiquidityDroughtEvent,
    VolSpikeEvent,
    parse_duration,
)
from hedgemesh.scenario.testing import make_scenario, scenario_dict, underlying_dict

SCENARIOS = Path(DEFAULT_SCENARIO).parent


def _error(data: dict, tmp_path: Path | None = None) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        make_scenario(data, base_dir=tmp_path)
    return caught.value


def test_given_the_default_scenario_then_it_is_an_spx_like_index_gapping_down_five_percent():
    scenario = load_scenario(DEFAULT_SCENARIO)
    spx = scenario.underlying("SPX")
    assert scenario.name == "default" and spx.spot == 5000
    assert 0.04 <= spx.rate <= 0.05 and 0.01 <= spx.div <= 0.015
    assert isinstance(spx.model, HestonSpec)
    spx_events = scenario.events_for("SPX")
    announcement = next(e for e in spx_events if isinstance(e, AnnouncementEvent))
    gap = next(e for e in spx_events if isinstance(e, GapEvent))
    spike = next(e for e in spx_events if isinstance(e, VolSpikeEvent))
    assert gap.pct == -5 and gap.at == announcement.at == spike.at
    assert spike.multiplier > 1 and spike.half_life is not None
    assert any(isinstance(e, LiquidityDroughtEvent) for e in spx_events)
    assert scenario.clock.speed == 390  # a 6.5-hour day in a minute
    assert sum(p.quantity for p in scenario.positions if p.underlying == "SPX") < 0


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_given_each_shipped_scenario_then_it_loads(path):
    scenario = load_scenario(path)
    assert scenario.underlyings and scenario.name


def _set(data: dict, path: tuple, value) -> dict:
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


_DELETE = object()
_MODEL = ("underlyings", 0, "model")
_HESTON = {"kind": "heston", "v0": 0.02, "kappa": 2.0, "theta": 0.03, "xi": 0.5, "rho": -0.7}

BAD_VALUES = [
    # (what, key path to change, new value, reported key path, message fragment)
    ("a bound", (*_MODEL,), {**_HESTON, "kappa": 0}, "underlyings[0].model.kappa", "must be > 0"),
    ("a negative", ("underlyings", 0, "spot"), -1, "underlyings[0].spot", "must be > 0"),
    ("an unknown key", ("sede",), 1, "sede", "unknown key"),
    ("a nested unknown key", (*_MODEL, "sigmaa"), 0.2, "underlyings[0].model.sigmaa", "unknown"),
    ("a wrong type", ("seed",), "lots", "seed", "integer"),
    ("a missing key", ("name",), _DELETE, "name", "is required"),
    ("an unknown model", (*_MODEL, "kind"), "bachelier", "underlyings[0].model", "bachelier"),
    ("not finite", ("underlyings", 0, "rate"), float("nan"), "underlyings[0].rate", "finite"),
    ("a naive start", ("start",), "2024-01-02 14:30:00", "start", "timezone"),
    ("a bad duration", ("underlyings", 0, "tick_interval"), "soon", "underlyings[0].tick_interval",
     "not a duration"),
    ("a zero interval", ("underlyings", 0, "tick_interval"), "0s", "underlyings[0].tick_interval",
     "must be > 0"),
    ("a calendar arbitrage", ("underlyings", 0, "surface", "atm_vol"), {7: 0.3, 30: 0.1},
     "underlyings[0].surface.atm_vol", "calendar arbitrage"),
    ("a skew too steep", ("underlyings", 0, "surface", "atm_skew"), -5.0,
     "underlyings[0].surface.atm_skew", "butterfly arbitrage"),
    ("a skew against rho", ("underlyings", 0, "surface", "atm_skew"), 0.5,
     "underlyings[0].surface.atm_skew", "sign of rho"),
    ("no strike form", ("underlyings", 0, "chain", "strikes"), {"round_to": 5},
     "underlyings[0].chain.strikes", "moneyness"),
    ("a repeated tenor", ("underlyings", 0, "chain", "expiries_days"), [7, 7],
     "underlyings[0].chain.expiries_days", "repeat"),
    ("an empty list", ("underlyings",), [], "underlyings", "at least 1"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "value", "reported", "fragment"),
    [case[1:] for case in BAD_VALUES],
    ids=[case[0] for case in BAD_VALUES],
)
def test_given_a_bad_value_then_the_loader_names_its_key(path, value, reported, fragment):
    error = _error(_set(scenario_dict(), path, value))
    assert error.path == reported, str(error)
    assert fragment in str(error)
    assert str(error).startswith(f"<test>: {reported}: ")


def test_given_a_model_bound_then_the_message_reads_as_the_brief_says():
    error = _error(_set(scenario_dict(), _MODEL, {**_HESTON, "kappa": 0}))
    assert error.path == "underlyings[0].model.kappa" and error.message == "must be > 0.0"


def test_given_an_event_on_an_unknown_underlying_then_its_key_is_named():
    data = scenario_dict(events=[{"kind": "gap", "at": "1h", "pct": -5, "underlyings": ["NDX"]}])
    error = _error(data)
    assert error.path == "events[0].underlyings[0]" and "unknown underlying 'NDX'" in str(error)


def test_given_two_underlyings_of_one_symbol_then_the_second_is_named():
    error = _error(scenario_dict(underlyings=[underlying_dict(), underlying_dict()]))
    assert error.path == "underlyings[1].symbol"


@pytest.mark.parametrize(
    ("position", "reported", "fragment"),
    [
        ({"strike": 4999}, "positions[0].strike", "4999 is not listed"),
        ({"moneyness": 1.2}, "positions[0].moneyness", "6000 is not listed"),
        ({"moneyness": 1.0, "expiry_days": 14}, "positions[0].expiry_days", "not a listed tenor"),
        ({"moneyness": 1.0, "quantity": 0}, "positions[0].quantity", "must not be zero"),
        ({"moneyness": 1.0, "strike": 5000}, "positions[0]", "exactly one of strike"),
        ({"moneyness": 1.0, "right": None}, "positions[0]", "needs expiry_days and right"),
    ],
)
def test_given_a_position_that_is_not_a_listed_option_then_its_key_is_named(
    position, reported, fragment
):
    entry = {"underlying": "SPX", "expiry_days": 7, "right": "put", "quantity": -10, **position}
    error = _error(scenario_dict(positions=[{k: v for k, v in entry.items() if v is not None}]))
    assert error.path == reported, str(error)
    assert fragment in str(error)


def test_given_a_key_twice_then_yaml_is_refused_with_its_line():
    with pytest.raises(ScenarioError, match=r"key 'seed' is given twice.*line 3"):
        parse_scenario("name: x\nseed: 1\nseed: 2\n")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("name: [unclosed", "not valid YAML"), ("- a\n- b\n", "top level must be a mapping")],
)
def test_given_text_that_is_not_a_scenario_then_it_says_so(text, fragment):
    with pytest.raises(ScenarioError, match=fragment):
        parse_scenario(text)


def test_given_a_missing_file_then_the_error_names_it(tmp_path):
    with pytest.raises(ScenarioError, match=r"nowhere\.yaml: no such file"):
        load_scenario(tmp_path / "nowhere.yaml")


def test_given_a_replay_then_its_file_is_read_relative_to_the_scenario(tmp_path):
    (tmp_path / "ticks.csv").write_text("timestamp,price\n2024-01-02T14:30:00Z,100\n")
    data = scenario_dict(
        underlyings=[underlying_dict(spot=None, model={"kind": "replay", "file": "ticks.csv"})]
    )
    del data["underlyings"][0]["spot"]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    scenario = load_scenario(tmp_path / "s.yaml")
    assert scenario.underlyings[0].model.file == tmp_path / "ticks.csv"  # type: ignore[union-attr]

    data["underlyings"][0]["model"]["file"] = "missing.csv"
    error = _error(data, tmp_path)
    assert error.path == "underlyings[0].model.file" and "no such file" in str(error)
    data["underlyings"][0]["model"]["file"] = "ticks.csv"
    data["underlyings"][0]["spot"] = 100
    assert "leave spot out" in str(_error(data, tmp_path))


def test_given_every_error_at_once_then_each_is_listed_and_the_first_is_the_path():
    data = _set(scenario_dict(), ("seed",), -1)
    data["sede"] = 1
    error = _error(data)
    assert error.path == "seed" and "seed: must be >= 0" in str(error)
    assert "sede: unknown key" in str(error)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(45, 45.0), (2.5, 2.5), ("90s", 90.0), ("30m", 1800.0), ("6.5h", 23400.0), ("2d", 172800.0),
     ("250ms", 0.25), (".5h", 1800.0)],
)  # fmt: skip
def test_given_a_duration_with_a_unit_then_it_is_read_in_seconds(text, seconds):
    assert parse_duration(text) == seconds


def test_given_the_checker_then_it_summarises_good_files_and_names_bad_keys(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_set(scenario_dict(), _MODEL, {**_HESTON, "kappa": -1})))
    command = [sys.executable, "-m", "hedgemesh.scenario"]
    good = subprocess.run([*command, str(DEFAULT_SCENARIO)], capture_output=True, text=True)
    assert good.returncode == 0 and "SPX: heston" in good.stdout
    failed = subprocess.run([*command, str(bad)], capture_output=True, text=True)
    assert failed.returncode == 1
    assert "underlyings[0].model.kappa: must be > 0" in failed.stderr
