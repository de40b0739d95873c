"""Benchmark: the vectorised backtest against a plain per-path Python loop.

Run: `.venv/bin/python bench/bench_backtest.py` (`make bench` runs it single-threaded). A
written 90-day at-the-money call on 100 units, GBM (σ 20 %), 10^5 paths × 60 daily steps,
costs of 10 bp of notional on the underlying, interest at 3 %:

- daily delta hedging (target < 1 s) and the Whalley–Wilmott band (target < 2 s) through
  `hedgemesh.backtest.engine.run`, best and median of a few runs;
- the same two hedges as a plain Python loop, one path at a time (scalar Black–Scholes with
  `math.erf`), timed on a sample of paths and extrapolated to 10^5; its P&L on the sample is
  checked against the engine's on the same paths, so both do the same work;
- for information, the other policies on the same paths (bands, Leland, delta–gamma(–vega)).

Figures are seconds and ratios measured in the same run; nothing asserts on time.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from hedgemesh.backtest import engine  # noqa: E402
from hedgemesh.backtest.books import single_option  # noqa: E402
from hedgemesh.backtest.costs import NotionalCost  # noqa: E402
from hedgemesh.backtest.instruments import MarketPaths  # noqa: E402
from hedgemesh.policies import (  # noqa: E402
    DeltaBand,
    DeltaGamma,
    DeltaGammaVega,
    DeltaInterval,
    Leland,
    Policy,
    WhalleyWilmott,
    Zakamouline,
)
from hedgemesh.quant.paths import GBM  # noqa: E402

SEED = 20261121
N_PATHS, N_STEPS, DT = 100_000, 60, 1.0 / 365.0
S0, STRIKE, EXPIRY, UNITS = 100.0, 100.0, 90.0 / 365.0, 100.0
SIGMA, RATE, COST = 0.2, 0.03, 0.001
WW = {"cost": COST, "risk_aversion": 0.02}
TARGET_S = {"delta_daily": 1.0, "whalley_wilmott": 2.0}
LOOP_SAMPLE = 400


def _times(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best and median wall time of fn() in seconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def _bs_delta_gamma(s: float, tau: float) -> tuple[float, float]:
    """Call delta and gamma per unit, scalar (the loop's Black–Scholes)."""
    if tau <= 0.0:
        return (1.0 if s > STRIKE else 0.0), 0.0
    sd = SIGMA * math.sqrt(tau)
    d1 = (math.log(s / STRIKE) + (RATE + 0.5 * SIGMA * SIGMA) * tau) / sd
    pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi)
    return 0.5 * math.erfc(-d1 / math.sqrt(2.0)), pdf / (s * sd)


def _bs_call(s: float, tau: float) -> float:
    sd = SIGMA * math.sqrt(tau)
    d1 = (math.log(s / STRIKE) + (RATE + 0.5 * SIGMA * SIGMA) * tau) / sd
    d2 = d1 - sd
    n1 = 0.5 * math.erfc(-d1 / math.sqrt(2.0))
    n2 = 0.5 * math.erfc(-d2 / math.sqrt(2.0))
    return s * n1 - STRIKE * math.exp(-RATE * tau) * n2


def loop_pnl(spot: np.ndarray, band: bool) -> list[float]:
    """The plain way: one path at a time, one step at a time, scalars only."""
    growth = math.exp(RATE * DT)
    premium = UNITS * _bs_call(S0, EXPIRY)
    out = []
    for row in spot.tolist():
        cash, held = premium, 0.0
        for i in range(N_STEPS):
            s, tau = row[i], EXPIRY - i * DT
            if i > 0:
                cash *= growth
            delta, gamma = _bs_delta_gamma(s, tau)
            target = UNITS * delta
            if band:
                h = (
                    1.5
                    * math.exp(-RATE * tau)
                    * COST
                    * s
                    * (UNITS * gamma) ** 2
                    / WW["risk_aversion"]
                )
                h = h ** (1.0 / 3.0)
                target = min(max(held, target - h), target + h)
            trade = target - held
            cash -= trade * s + COST * abs(trade) * s
            held = target
        s_end = row[N_STEPS]
        tau_end = EXPIRY - N_STEPS * DT
        cash *= growth
        out.append(cash + held * s_end - UNITS * _bs_call(s_end, tau_end))
    return out


def run(repeats: int = 3) -> dict:
    """Time the engine and the loop; return the figures (seconds, ratios)."""
    rng = np.random.default_rng(SEED)
    paths = GBM(mu=0.08, sigma=SIGMA).simulate(S0, DT, N_STEPS, N_PATHS, rng)
    market = MarketPaths.of(paths, rate=RATE, vol=SIGMA)
    book = single_option(strike=STRIKE, expiry=EXPIRY, quantity=-UNITS)
    costs = NotionalCost(stock_rate=COST, option_rate=0.0005)
    main: dict[str, Policy] = {
        "delta_daily": DeltaInterval(),
        "whalley_wilmott": WhalleyWilmott(**WW),
    }
    sample = np.asarray(paths.spot[:LOOP_SAMPLE])
    results: dict = {"paths": N_PATHS, "steps": N_STEPS, "loop_sample": LOOP_SAMPLE}
    for key, policy in main.items():
        result = engine.run(market, book, policy, costs, samples=())
        best, median = _times(lambda p=policy: engine.run(market, book, p, costs), repeats)
        band = key == "whalley_wilmott"
        start = time.perf_counter()
        loop = np.array(loop_pnl(sample, band))
        loop_s = (time.perf_counter() - start) / LOOP_SAMPLE * N_PATHS
        agree = float(np.max(np.abs(loop - result.pnl[:LOOP_SAMPLE])))
        results[key] = {
            "best_s": best,
            "median_s": median,
            "target_s": TARGET_S[key],
            "loop_s_extrapolated": loop_s,
            "speedup_vs_loop": loop_s / best,
            "max_abs_pnl_difference_vs_loop": agree,
            "pnl_std": float(result.pnl.std()),
        }
    others = {
        "delta_band": DeltaBand(half_width=5.0),
        "zakamouline": Zakamouline(**WW),
        "leland": Leland(round_trip_cost=2 * COST),
        "delta_gamma": DeltaGamma(),
        "delta_gamma_vega": DeltaGammaVega(),
    }
    results["others_best_s"] = {
        key: _times(lambda p=p: engine.run(market, book, p, costs, samples=()), 1)[0]
        for key, p in others.items()
    }
    return results


def report(r: dict) -> None:
    print(f"backtest, {r['paths']:,} paths x {r['steps']} daily steps, costs on every trade")
    print(
        f"{'policy':>16} {'best s':>8} {'median s':>9} {'target s':>9} "
        f"{'loop s (extrap.)':>17} {'speed-up':>9} {'|P&L - loop|':>13}"
    )
    for key in TARGET_S:
        row = r[key]
        print(
            f"{key:>16} {row['best_s']:>8.3f} {row['median_s']:>9.3f} {row['target_s']:>9.1f} "
            f"{row['loop_s_extrapolated']:>17.1f} {row['speedup_vs_loop']:>8.0f}x "
            f"{row['max_abs_pnl_difference_vs_loop']:>13.2e}"
        )
    print(
        "other policies, one run each: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in r["others_best_s"].items())
    )


if __name__ == "__main__":
    report(run())
