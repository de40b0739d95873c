"""`python -m hedgemesh.scenario FILE...`: check scenario files and summarise them.

Exits 1 and prints the key of the first problem (`underlyings[0].model.kappa: must be > 0`)
for a file that would not run.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from hedgemesh.scenario.loader import load_scenario
from hedgemesh.scenario.model import ReplaySpec, Scenario, ScenarioError


def summary(scenario: Scenario) -> str:
    """A few lines on what a scenario runs."""
    from hedgemesh.market.chain import ListedChain
    from hedgemesh.market.replay import read_ticks

    lines = [f"{scenario.name}: {scenario.description or '(no description)'}"]
    origin = scenario.start or datetime.now(UTC)
    for spec in scenario.underlyings:
        if isinstance(spec.model, ReplaySpec):
            ticks = read_ticks(spec.model, spec.symbol)
            spot, where = float(ticks.prices[0]), f" ({len(ticks)} rows of {spec.model.file})"
        else:
            assert spec.spot is not None
            spot, where = spec.spot, ""
        listed = len(ListedChain.first_listing(spec, origin, spot).instruments)
        lines.append(
            f"  {spec.symbol}: {spec.model.kind}{where}, spot {spot:g}, {listed} listed options "
            f"({len(spec.chain.expiries_days)} expiries)"
        )
    for event in sorted(scenario.events, key=lambda e: e.at):
        where = ", ".join(event.underlyings or scenario.symbols)
        lines.append(f"  +{event.at:g}s {event.kind} on {where}")
    lines.append(f"  {len(scenario.positions)} initial positions")
    if scenario.client_flow is not None:
        lines.append(f"  client flow: {scenario.client_flow.rate_per_hour:g} trades per hour")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hedgemesh.scenario", description=__doc__)
    parser.add_argument("files", nargs="+", help="scenario files to check")
    args = parser.parse_args(argv)
    failed = 0
    for file in args.files:
        try:
            print(summary(load_scenario(file)))
        except ScenarioError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
