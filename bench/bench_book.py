"""Benchmark: book risk in one vectorised pass against a per-position Python loop.

Run: `.venv/bin/python bench/bench_book.py` (`make bench` runs it single-threaded). Prints,
for books of 10^4 and 10^5 positions over 20 underlyings, the best and median time of
`book_risk` (vol lookup + greeks + aggregation) and its speed-up over the naive loop (one
scalar surface lookup and one scalar `bsm.greeks` call per position, timed on a sample of
positions and extrapolated), measured in the same run. Also: building a surface from SVI
parameters, calibrating one, and a 10^5-point vol lookup. Nothing here asserts on time.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from hedgemesh.quant import bsm, svi  # noqa: E402
from hedgemesh.quant.book import (  # noqa: E402
    DAYS_PER_YEAR,
    KIND_OPTION,
    KIND_UNDERLYING,
    Market,
    Positions,
    book_risk,
)
from hedgemesh.quant.surface import VolSurface  # noqa: E402

SEED = 20240601
N_UNDERLYINGS = 20
SIZES = (10_000, 100_000)
TARGET_MS = {10_000: 1.0, 100_000: 8.0}
LOOP_SAMPLE = 400
POSITION_FIELDS = ("underlying", "kind", "strike", "expiry", "is_call", "quantity", "multiplier")
LISTED_DAYS = np.array([7, 14, 21, 30, 60, 91, 182, 273, 365, 547, 730])


def _best_and_median(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best and median wall time of fn() in seconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def _svi_slices(rng: np.random.Generator, expiries: np.ndarray) -> list[svi.SviParams]:
    level, skew = rng.uniform(0.02, 0.09), rng.uniform(-0.8, -0.1)
    return [
        svi.SviParams(a=level * t + 0.001, b=0.04 + 0.1 * np.sqrt(t), rho=skew, m=0.02, sigma=0.15)
        for t in expiries
    ]


def make_market(rng: np.random.Generator) -> Market:
    """20 underlyings, each with its listed expiries (8 to 11 slices) and an SVI surface."""
    spot = rng.uniform(10.0, 500.0, N_UNDERLYINGS)
    rate = np.full(N_UNDERLYINGS, 0.04)
    div = rng.uniform(0.0, 0.03, N_UNDERLYINGS)
    surfaces = []
    for i in range(N_UNDERLYINGS):
        days = np.sort(rng.choice(LISTED_DAYS, rng.integers(8, 12), replace=False))
        expiries = days / DAYS_PER_YEAR
        surfaces.append(
            VolSurface(expiries, _svi_slices(rng, expiries), spot=spot[i], rate=rate[i], div=div[i])
        )
    return Market(spot, rate, div, surfaces)


def make_book(rng: np.random.Generator, market: Market, n: int) -> Positions:
    """n positions: 95 % listed options (strikes ±30 % around spot), 5 % stock and futures."""
    u = rng.integers(0, N_UNDERLYINGS, n)
    kind = np.where(rng.random(n) < 0.95, KIND_OPTION, KIND_UNDERLYING)
    expiry = np.empty(n)
    for i, surface in enumerate(market.surfaces):
        mine = np.flatnonzero(u == i)
        expiry[mine] = rng.choice(surface.expiries, mine.size)
    expiry[kind == KIND_UNDERLYING] *= rng.random(int((kind == KIND_UNDERLYING).sum())) < 0.5
    strike = np.round(market.spot[u] * rng.uniform(0.7, 1.3, n), 1)
    return Positions(
        underlying=u,
        kind=kind,
        strike=strike,
        expiry=expiry,
        is_call=rng.random(n) < 0.5,
        quantity=rng.integers(-50, 51, n),
        multiplier=np.where(kind == KIND_OPTION, 100.0, 1.0),
    )


def _loop_seconds_per_position(positions: Positions, market: Market, repeats: int) -> float:
    """The naive baseline: a Python loop, one scalar vol lookup and bsm.greeks per position."""
    idx = np.arange(min(LOOP_SAMPLE, len(positions)))
    rows = [
        (
            int(positions.underlying[i]),
            int(positions.kind[i]),
            float(positions.strike[i]),
            float(positions.expiry[i]),
            bool(positions.is_call[i]),
            float(positions.quantity[i] * positions.multiplier[i]),
        )
        for i in idx
    ]

    def loop() -> dict[int, list[float]]:
        sums: dict[int, list[float]] = {}
        for u, kind, strike, t, is_call, scale in rows:
            acc = sums.setdefault(u, [0.0] * 8)
            if kind == KIND_UNDERLYING:
                acc[1] += scale
                continue
            vol = float(market.surfaces[u].implied_vol(strike, t))
            g = bsm.greeks(market.spot[u], strike, t, market.rate[u], market.div[u], vol, is_call)
            for j, value in enumerate(g):
                acc[j] += scale * float(value)
        return sums

    best, _ = _best_and_median(loop, repeats)
    return best / len(rows)


def run(repeats: int = 15) -> dict:
    """Measure everything; returns the figures (times in ms) keyed by what they measure."""
    rng = np.random.default_rng(SEED)
    market = make_market(rng)
    results: dict = {"n_underlyings": N_UNDERLYINGS, "book": {}}
    for n in SIZES:
        positions = make_book(rng, market, n)
        columns = [getattr(positions, f) for f in POSITION_FIELDS]
        layout, _ = _best_and_median(lambda c=columns: Positions(*c), 3)
        best, median = _best_and_median(lambda p=positions: book_risk(p, market), repeats)
        per_position = _loop_seconds_per_position(positions, market, max(3, repeats // 5))
        loop_ms = per_position * n * 1e3
        results["book"][n] = {
            "best_ms": best * 1e3,
            "median_ms": median * 1e3,
            "target_ms": TARGET_MS[n],
            "loop_ms_extrapolated": loop_ms,
            "speedup_vs_loop": loop_ms / (best * 1e3),
            "positions_build_ms": layout * 1e3,
        }

    surface = market.surfaces[0]
    params, expiries = list(surface.params), surface.expiries
    best, _ = _best_and_median(lambda: VolSurface(expiries, params, spot=100.0), repeats * 10)
    results["surface_build_ms"] = best * 1e3
    strikes = rng.uniform(50.0, 150.0, 100_000)
    times = rng.uniform(0.01, 3.0, 100_000)
    best, _ = _best_and_median(lambda: surface.implied_vol(strikes, times), repeats)
    results["surface_vol_1e5_ms"] = best * 1e3
    k = np.linspace(-0.6, 0.4, 25)
    vols = svi.implied_vol(params[4], k, expiries[4]) + rng.normal(0.0, 0.002, k.size)
    best, _ = _best_and_median(lambda: svi.calibrate(k, vols, expiries[4]), 5)
    results["svi_calibrate_25_quotes_ms"] = best * 1e3
    return results


def report(r: dict) -> None:
    """Print the figures of `run()` as a table."""
    print(f"book_risk, {r['n_underlyings']} underlyings, one pass (vol lookup + greeks + sums)")
    print(
        f"{'positions':>10} {'best ms':>9} {'median ms':>10} {'target ms':>10} "
        f"{'loop ms (extrap.)':>18} {'speed-up':>9}"
    )
    for n, row in r["book"].items():
        print(
            f"{n:>10,} {row['best_ms']:>9.3f} {row['median_ms']:>10.3f} {row['target_ms']:>10.1f} "
            f"{row['loop_ms_extrapolated']:>18.1f} {row['speedup_vs_loop']:>8.0f}x"
        )
    build_ms = r["book"][100_000]["positions_build_ms"]
    print(f"build Positions (sort into layout), 10^5: {build_ms:.1f} ms")
    print(f"build a VolSurface from SVI parameters: {r['surface_build_ms'] * 1e3:.0f} us")
    print(f"VolSurface.implied_vol, 10^5 (strike, t) points: {r['surface_vol_1e5_ms']:.3f} ms")
    print(f"svi.calibrate, 25 noisy quotes: {r['svi_calibrate_25_quotes_ms']:.1f} ms")


if __name__ == "__main__":
    report(run())
