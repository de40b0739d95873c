"""The `hedgemesh` command line: `up`, `status`, `kill`, `logs`, `backtest`, `train`, `report`,
`audit verify`, `db`, `kill-switch`, `compose`, `k8s`, `schema`, `version`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from hedgemesh.cli import audit, backtest, db, killswitch, ops, report, train, up


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hedgemesh", description="hedgemesh: an automated hedging desk for options books."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up.add_parser(commands)
    ops.add_parsers(commands)
    backtest.add_parser(commands)
    train.add_parser(commands)
    report.add_parser(commands)
    audit.add_parser(commands)
    db.add_parser(commands)
    killswitch.add_parser(commands)

    schema = commands.add_parser("schema", help="export or check the wire messages' JSON Schemas")
    schema.add_argument("--check", action="store_true", help="fail if the checked-in files differ")
    schema.set_defaults(func=_schema)

    compose = commands.add_parser("compose", help="print docker-compose.yml from the catalog")
    compose.add_argument(
        "--write", action="store_true", help="rewrite docker-compose.yml and deploy/nats/nats.conf"
    )
    compose.set_defaults(func=_compose)

    k8s = commands.add_parser("k8s", help="list or write deploy/k8s/ (kustomize) from the catalog")
    k8s.add_argument("--write", action="store_true", help="rewrite every file under deploy/k8s/")
    k8s.set_defaults(func=_k8s)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(func=_version)
    return parser


def _schema(args: argparse.Namespace) -> int:
    from hedgemesh.wire import schema

    return schema.main(["--check"] if args.check else [])


def _compose(args: argparse.Namespace) -> int:
    from hedgemesh.launcher import compose

    if args.write:  # the compose file and the NATS config it mounts, from one catalog
        return compose.main()
    print(compose.render(), end="")
    return 0


def _k8s(args: argparse.Namespace) -> int:
    from hedgemesh.launcher import k8s

    if args.write:
        return k8s.main()
    for path in k8s.files():
        print(path)
    return 0


def _version(_: argparse.Namespace) -> int:
    from importlib.metadata import version

    print(f"hedgemesh {version('hedgemesh')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
