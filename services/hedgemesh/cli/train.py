"""`hedgemesh train CONFIG --out DIR`: deep hedging (`hedgemesh.learn`), then the held-out
comparison through the lab's engine.

Needs the ``ml`` extra (PyTorch's CPU build). Prints a line per epoch (progress), writes the
checkpoint (weights.npz, manifest.json) into DIR, then, unless ``--no-eval``, evaluates it on
the held-out episodes beside delta, delta–gamma and the baselines tuned on the training
episodes and writes DIR/evaluation.json. Exit status: 0 done; 2 a config that cannot run (one
line naming the file and the key); 1 another failure (no torch, a folder that cannot be
written). docs/learned.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_BAD_CONFIG = 2
EXIT_FAILED = 1
EVALUATION_FILE = "evaluation.json"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="train a learned hedge policy (deep hedging) and compare it on held-out paths",
        description="Train the policy of CONFIG on the lab's episodes, write the checkpoint "
        "into DIR and compare it on held-out episodes (docs/learned.md).",
    )
    parser.add_argument("config", type=Path, metavar="CONFIG", help="the training config")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="checkpoint folder")
    parser.add_argument("--seed", type=int, metavar="S", help="random seed (overrides seed)")
    parser.add_argument("--held-out", type=int, metavar="N", help="held-out episodes")
    parser.add_argument("--no-eval", action="store_true", help="train only; no held-out run")
    parser.set_defaults(func=run)


def _say(line: str) -> None:
    print(f"hedgemesh train: {line}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from hedgemesh.backtest.config import ConfigError
    from hedgemesh.learn.config import load_train_config

    try:
        config = load_train_config(args.config, seed=args.seed)
    except ConfigError as error:
        print(f"hedgemesh train: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    try:
        from hedgemesh.learn.train import train
    except ImportError as error:
        print(
            f"hedgemesh train: needs PyTorch ({error}); install the ml extra: "
            "pip install -e '.[ml]'",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        result = train(config, args.out, progress=_say)
    except OSError as error:
        print(f"hedgemesh train: cannot write to {args.out}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as error:
        print(f"hedgemesh train: {args.config}: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    print(f"trained {config.name} in {result.seconds:.1f} s: {args.out}")
    if args.no_eval:
        return 0
    from hedgemesh.learn.report import format_report, held_out

    report = held_out(config, args.out, n_paths=args.held_out)
    print(format_report(report))
    (args.out / EVALUATION_FILE).write_text(
        json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.out / EVALUATION_FILE}")
    return 0
