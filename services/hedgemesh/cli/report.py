"""`hedgemesh report [--home DIR] --out DIR`: the post-trade report of a running (or just
stopped, while its API answers) cluster: DIR/report.html with PNG charts and DIR/report.json,
the figures they show (`hedgemesh.api.adapters.report`). The API's address and a token come from the
cluster's `cluster.json` and `api-tokens.json` in the home (`--api` and `--token` override)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from hedgemesh.cli.progress import Progress

EXIT_FAILED = 1


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report",
        help="the post-trade report: HTML with PNG charts, and its figures as JSON",
        description="Read the run from its API and write DIR/report.html, the charts and "
        "DIR/report.json (docs/report.md).",
    )
    parser.add_argument("--home", type=Path, default=None, help="the cluster's home (./var)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--api", default=None, help="the API's URL (default: cluster.json's)")
    parser.add_argument("--token", default=None, help="an API token (default: the viewer's)")
    parser.set_defaults(func=run)


def _where(args: argparse.Namespace) -> tuple[str, str]:
    from hedgemesh.launcher import state

    if args.api and args.token:
        return args.api, args.token
    cluster = state.read(state.home_dir(args.home))
    url = args.api or cluster["api_url"]
    if args.token:
        return url, args.token
    tokens = json.loads(Path(cluster["api_tokens_file"]).read_text())["tokens"]
    return url, next(t["token"] for t in tokens if t["role"] == "viewer")


async def _report(url: str, token: str, out: Path) -> Path:
    import httpx

    from hedgemesh.api.adapters.report import FIGURES, gather, write_report

    with Progress("report", total=6 + len(FIGURES) + 1) as progress:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:

            async def get(path: str, params: dict[str, Any]) -> Any:
                response = await client.get(path, params=params)
                response.raise_for_status()
                return response.json()

            data = await gather(get, progress.step)
        await asyncio.to_thread(write_report, data, out, progress.step)
    return out / "report.html"


def run(args: argparse.Namespace) -> int:
    try:
        url, token = _where(args)
    except (OSError, KeyError, StopIteration, ValueError) as error:
        print(f"hedgemesh report: no running cluster's API found: {error}", file=sys.stderr)
        return EXIT_FAILED
    try:
        page = asyncio.run(_report(url, token, args.out))
    except Exception as error:  # an HTTP or file error: one line, no traceback
        print(f"hedgemesh report: {url}: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {page} (and report.json, {args.out}/*.png)")
    return 0
