"""Every example config under examples/backtest loads, runs (on few paths) and writes
results.json with the required figures and readable PNG plots; together they cover every
feature; the Hull example reproduces Hull's table; the shipped history is reproducible."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from hedgemesh.backtest import engine, load_config, run_config
from hedgemesh.backtest.config import BacktestConfig
from hedgemesh.backtest.costs import COST_MODELS
from hedgemesh.backtest.runner import RESULTS_FILE, write_results
from hedgemesh.policies import POLICIES
from hedgemesh.quant.paths import MODELS

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples" / "backtest"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.yaml"))
SMALL = 64
"""Paths per example in the smoke run: enough for the figures, quick for the suite."""

REQUIRED = ("mean", "std", "var95", "cvar95", "var99", "cvar99", "cost_mean", "turnover")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load(path: Path, n_paths: int | None = SMALL) -> BacktestConfig:
    return load_config(path, n_paths=n_paths)


def test_the_examples_cover_every_policy_path_model_cost_model_and_book():
    configs = [_load(p, None) for p in EXAMPLES]
    kinds = {p.kind for c in configs for p in c.built_policies().values()}
    assert kinds == set(POLICIES)
    assert {c.paths.model.kind for c in configs} == {*MODELS, "csv"}
    assert {key for c in configs for key in c.costs} == set(COST_MODELS)
    assert {c.book.kind for c in configs} == {"option", "positions", "poisson", "insured_portfolio"}
    assert any(c.paths.gap is not None for c in configs)
    assert any(c.frontier for c in configs)
    assert any(isinstance(c.market.vol, dict) or c.surface() is not None for c in configs)
    assert (EXAMPLES_DIR / "hull-delta.yaml") in EXAMPLES


def _check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    assert width >= 600 and height >= 300, (path, width, height)
    assert len(data) > 20_000, (path, len(data))
    pixels = image.imread(path)
    assert pixels.shape[:2] == (height, width)
    assert float(np.std(pixels)) > 0.05  # drawn, not blank


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_each_example_runs_and_writes_results_json_and_its_plots(path, tmp_path):
    config = _load(path)
    run = run_config(config, compare=True)
    files = write_results(run, tmp_path)
    assert files[0] == tmp_path / RESULTS_FILE
    report = json.loads(files[0].read_text())
    assert report["name"] == path.stem
    assert report["seed"] == config.seed
    assert report["n_paths"] == config.path_count() <= SMALL
    assert report["config"]["paths"]["model"]["kind"] == config.paths.model.kind
    assert set(report["policies"]) == set(config.built_policies())
    for name, entry in report["policies"].items():
        missing = [key for key in REQUIRED if key not in entry]
        assert not missing, (name, missing)
        assert all(np.isfinite(entry[key]) for key in REQUIRED), name
    assert [row[0] for row in report["compare"]["rows"]] == list(report["policies"])
    expected = ["pnl_histograms.png", "sample_path.png"] + (
        ["frontier.png"] if config.frontier else []
    )
    assert report["plots"] == expected
    assert [f.name for f in files[1:]] == expected
    for png in files[1:]:
        _check_png(png)


HALF_ROUNDING = 0.005
"""Hull prints the ratios to two decimals."""


def test_the_hull_example_reproduces_hulls_table_within_monte_carlo_error():
    report = run_config(EXAMPLES_DIR / "hull-delta.yaml").report
    assert report["n_paths"] == 20_000
    for weeks, published in engine.HULL_PUBLISHED.items():
        entry = report["policies"][f"{weeks:g}w"]
        ratio, stderr = entry["std_cost_over_price"], entry["std_cost_over_price_stderr"]
        assert 0.0 < stderr < 0.01
        assert abs(ratio - published) <= 4.0 * stderr + HALF_ROUNDING, (weeks, ratio, stderr)


def test_the_shipped_index_history_is_what_its_generator_writes():
    spec = importlib.util.spec_from_file_location("make_index", EXAMPLES_DIR / "data/make_index.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (EXAMPLES_DIR / "data" / "index.csv").read_text() == module.index_csv()
