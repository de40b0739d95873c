"""Scenario files (YAML): what the market does, what the book holds, what clients trade.

    from hedgemesh.scenario import load_scenario
    scenario = load_scenario("scenarios/default.yaml")

`load_scenario` refuses unknown keys, wrong types and values out of range, and names the key
of the first problem (`underlyings[0].model.kappa: must be > 0`) in a `ScenarioError`. It also
reads every replay file and checks that the initial positions are listed options. The
models are in `hedgemesh.scenario.model`; `python -m hedgemesh.scenario FILE` checks a file.
"""

from hedgemesh.scenario.loader import DEFAULT_SCENARIO, load_scenario, parse_scenario
from hedgemesh.scenario.model import SECONDS_PER_YEAR, Scenario, ScenarioError

__all__ = [
    "DEFAULT_SCENARIO",
    "SECONDS_PER_YEAR",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
]
