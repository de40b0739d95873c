"""Container health check: `python -m hedgemesh.runtime.healthcheck FILE [--max-age S]`.

A service started with `HEDGEMESH_HEALTH_FILE=FILE` touches FILE after every heartbeat it sends
(every two seconds by default). Healthy means the file was touched within `--max-age` seconds
(default 10) and does not say the service is stopping. Exit 0 when healthy, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def check(path: Path, max_age_s: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy, why) for the health file at `path`."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
        content = path.read_text().split()
    except OSError as error:
        return False, f"no health file: {error}"
    if age > max_age_s:
        return False, f"last heartbeat {age:.1f} s ago (limit {max_age_s} s)"
    if content[-1:] == ["stopping"]:
        return False, "stopping"
    return True, f"heartbeat {age:.1f} s ago"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--max-age", type=float, default=10.0, help="seconds (default 10)")
    args = parser.parse_args(argv)
    healthy, why = check(args.file, args.max_age)
    print(why)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
