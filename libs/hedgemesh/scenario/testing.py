"""Small valid scenarios for tests (here and in other services' tests): start from one and
change what the test is about.

    data = scenario_dict()
    data["underlyings"][0]["model"] = {"kind": "heston", ...}
    scenario = make_scenario(data)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from hedgemesh.scenario.loader import parse_scenario
from hedgemesh.scenario.model import Scenario

_UNDERLYING: dict[str, Any] = {
    "symbol": "SPX",
    "spot": 5000.0,
    "rate": 0.04,
    "div": 0.01,
    "tick_interval": "10s",
    "model": {"kind": "gbm", "sigma": 0.16},
    "chain": {
        "expiries_days": [7, 30],
        "strikes": {"moneyness": [0.9, 0.95, 1.0, 1.05, 1.1], "round_to": 5},
        "multiplier": 100,
        "tick_size": 0.05,
    },
    "surface": {"atm_vol": {7: 0.15, 30: 0.16}, "rho": -0.7, "atm_skew": -0.6},
}


def underlying_dict(symbol: str = "SPX", **changes: Any) -> dict[str, Any]:
    """One valid underlying section (GBM at 16 %, two expiries, five strikes, two rights)."""
    data = copy.deepcopy(_UNDERLYING)
    data["symbol"] = symbol
    data.update(copy.deepcopy(changes))
    return data


def scenario_dict(**changes: Any) -> dict[str, Any]:
    """A valid scenario as plain data: one underlying, no events, no positions, no flow."""
    data: dict[str, Any] = {
        "name": "test",
        "seed": 7,
        "underlyings": [underlying_dict()],
    }
    data.update(copy.deepcopy(changes))
    return data


def make_scenario(data: dict[str, Any] | None = None, base_dir: Path | None = None) -> Scenario:
    """Validate and check `data` (default `scenario_dict()`) as the loader does a file."""
    text = yaml.safe_dump(scenario_dict() if data is None else data, sort_keys=False)
    return parse_scenario(text, base_dir=base_dir, source="<test>")
