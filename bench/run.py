"""Run every benchmark in bench/ (files named bench_*.py) and collect their figures.

Each benchmark module exposes `run() -> dict` (the figures, as ratios against a baseline measured
in the same run) and either prints its own table or offers `report(figures)` to print it. This
runner runs them in one process, one after the other, and writes the collected figures to
`.bench/results.json`.

    .venv/bin/python bench/run.py            # all of them
    .venv/bin/python bench/run.py greeks     # only modules whose name contains "greeks"
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    wanted = argv[1:]
    paths = sorted(
        p for p in HERE.glob("bench_*.py") if not wanted or any(w in p.stem for w in wanted)
    )
    if not paths:
        print(f"no benchmark matches {wanted}", file=sys.stderr)
        return 2
    results: dict[str, object] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    for path in paths:
        print(f"\n=== {path.stem} ===", flush=True)
        module = _load(path)
        figures = module.run()
        if hasattr(module, "report"):
            module.report(figures)
        results[path.stem] = figures
    out = HERE.parent / ".bench" / "results.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
    print(f"\nfigures written to {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
