"""`hedgemesh backtest` as a real subprocess: a good config writes results.json and the plots,
a bad one exits non-zero with one line naming the key, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples" / "backtest"


def _backtest(*args: str | Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hedgemesh.cli", "backtest", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def test_given_an_example_then_it_exits_0_prints_the_table_and_writes_results_and_plots(tmp_path):
    out = tmp_path / "out"
    done = _backtest(
        EXAMPLES_DIR / "delta-hedging.yaml",
        "--out",
        out,
        "--compare",
        "--paths",
        "300",
        "--seed",
        "4",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "300 paths x 60 steps of 1 day, seed 4, 5 policies" in lines[0]
    assert lines[1].split()[:3] == ["policy", "mean", "std"]
    assert [line.split()[0] for line in lines[2:7]] == [
        "no_hedge",
        "daily",
        "weekly",
        "move-1pct",
        "move-2pct",
    ]
    assert lines[-1].startswith("wrote ")
    report = json.loads((out / "results.json").read_text())
    assert (report["n_paths"], report["seed"]) == (300, 4)
    assert report["compare"]["rows"][1][0] == "daily"
    for name in ("pnl_histograms.png", "sample_path.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_given_a_bad_config_then_it_exits_2_naming_the_key_without_a_traceback(tmp_path):
    config = yaml.safe_load((EXAMPLES_DIR / "delta-bands.yaml").read_text())
    config["policies"][1]["half_width"] = -5
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config, sort_keys=False))
    done = _backtest(bad, "--out", tmp_path / "out")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == (
        f"hedgemesh backtest: {bad}: policies[1].half_width: must be finite and >= 0.0, got -5.0"
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_given_a_missing_file_or_a_bad_override_then_it_exits_2_with_one_line(tmp_path):
    missing = _backtest(tmp_path / "none.yaml", "--out", tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith("none.yaml: no such file")
    override = _backtest(EXAMPLES_DIR / "leland.yaml", "--out", tmp_path, "--paths", "1")
    assert override.returncode == 2
    assert override.stderr.strip().endswith("leland.yaml: n_paths: must be >= 2")
    assert "Traceback" not in missing.stderr + override.stderr
