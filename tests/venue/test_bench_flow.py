"""The benchmark's flow gives the same trades in our book and in pyorderbook (an outside oracle)."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path

import pytest

from hedgemesh.venue.book import Fill

pytest.importorskip("pyorderbook")

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_venue.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_venue", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_given_the_bench_flow_then_both_engines_trade_the_same_quantities_at_the_same_prices():
    bench = load_bench()
    flow = bench.make_flow(n=5_000, seed=7)
    ours = [(e.quantity, e.price) for e in bench.run_ours(flow) if isinstance(e, Fill)]
    theirs = [
        (t.fill_quantity, int(t.fill_price / Decimal(str(bench.TICK))))
        for blotter in bench.run_pyorderbook(flow)
        for t in blotter.trades
    ]
    assert len(ours) > 500
    assert ours == theirs
