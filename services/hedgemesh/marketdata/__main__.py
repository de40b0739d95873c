"""`python -m hedgemesh.marketdata [--scenario FILE]`: run the market-data service."""

from __future__ import annotations

import argparse
import sys

from hedgemesh.marketdata.bootstrap import build
from hedgemesh.marketdata.config import MarketDataSettings
from hedgemesh.runtime import run_service
from hedgemesh.scenario import ScenarioError, load_scenario


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hedgemesh.marketdata", description=__doc__)
    parser.add_argument(
        "--scenario", help="scenario file (default $HEDGEMESH_SCENARIO or scenarios/default.yaml)"
    )
    args = parser.parse_args(argv)
    settings = MarketDataSettings(scenario=args.scenario) if args.scenario else MarketDataSettings()
    try:  # a bad scenario stops here, with the key that is wrong, before connecting
        scenario = load_scenario(settings.scenario)
    except ScenarioError as error:
        sys.exit(f"hedgemesh.marketdata: {error}")
    run_service(lambda: build(settings, scenario=scenario))


if __name__ == "__main__":
    main()
