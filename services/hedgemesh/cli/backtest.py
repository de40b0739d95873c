"""`hedgemesh backtest CONFIG --out DIR`: run a backtest config, write results.json and plots.

The config format and the results schema: docs/backtest.md. A config that cannot run (a bad
key, a value out of range, an unreadable csv) exits with status 2 and one line naming the file
and the key; a run that fails for another domain reason exits with status 1, also without a
traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hedgemesh.cli.progress import Progress

EXIT_BAD_CONFIG = 2
EXIT_FAILED = 1


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "backtest",
        help="run a backtest config: results.json and PNG plots",
        description="Hedge a book with every policy of CONFIG on the same paths, with costs; "
        "write DIR/results.json and the PNG plots (format: docs/backtest.md).",
    )
    parser.add_argument("config", type=Path, metavar="CONFIG", help="the YAML config file")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder for results and plots"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="print the policies in one table (same paths) and put it in results.json",
    )
    parser.add_argument(
        "--paths", type=int, metavar="N", help="number of paths (overrides n_paths)"
    )
    parser.add_argument("--seed", type=int, metavar="S", help="random seed (overrides seed)")
    parser.add_argument("--no-plots", action="store_true", help="write results.json only")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hedgemesh.backtest.config import ConfigError, load_config
    from hedgemesh.backtest.runner import format_table, run_config, write_results

    started = time.perf_counter()
    progress = Progress("backtest", total=3)
    try:
        config = load_config(args.config, n_paths=args.paths, seed=args.seed)
        progress.step(f"{args.config} read")
        backtest = run_config(config, compare=args.compare)
        progress.step("simulated and hedged")
    except ConfigError as error:
        print(f"hedgemesh backtest: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except ValueError as error:
        print(f"hedgemesh backtest: {args.config}: {error}", file=sys.stderr)
        return EXIT_FAILED
    elapsed = time.perf_counter() - started
    report = backtest.report
    days = report["dt_years"] * 365.0
    print(
        f"{args.config}: {report['n_paths']:,} paths x {report['n_steps']} steps of {days:.4g} "
        f"day{'' if days == 1 else 's'}, seed {report['seed']}, {len(report['policies'])} policies"
        + (
            f" and {sum(len(f['points']) for f in report['frontier'])} sweep points"
            if report["frontier"]
            else ""
        )
        + f" ({elapsed:.2f} s)"
    )
    if args.compare:
        print(format_table(report["compare"]))
    else:
        for name, entry in report["policies"].items():
            print(
                f"  {name}: mean {entry['mean']:,.4g}, std {entry['std']:,.4g}, "
                f"cvar95 {entry['cvar95']:,.4g}, cost {entry['cost_mean']:,.4g}"
            )
    try:
        with progress:
            files = write_results(backtest, args.out, plots=not args.no_plots)
            progress.step("results and plots written")
    except OSError as error:
        print(f"hedgemesh backtest: cannot write to {args.out}: {error}", file=sys.stderr)
        return EXIT_FAILED
    print("wrote " + ", ".join(str(f) for f in files))
    return 0
