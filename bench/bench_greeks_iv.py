"""Benchmark: `bsm.greeks` and `iv.implied_vol` against QuantLib and py_vollib_vectorized.

Run: `.venv/bin/python bench/bench_greeks_iv.py` (`make bench` runs it single-threaded). In one
run, best of 5 (`time.perf_counter`), on one core:

1. greeks (price + seven greeks) over 10^6 mixed calls/puts, every input an array: ns/option;
   QuantLib's AnalyticEuropeanEngine per option on a 2,000-option sample (quotes reset, option
   built and priced, NPV + delta, gamma, vega, theta, rho) and the speed-up over it;
   py_vollib_vectorized (price + its five greeks, Numba) on 10^5 options against ours on the same.
2. implied vol over 10^5 quotes (prices from `bsm.price` at known vols): ns/quote and the
   maximum error against the true vol, for a realistic chain and for a hard grid
   (|ln F/K| <= 3, one day to five years, vols 0.01 to 5, log-uniform); py_vollib_vectorized on
   the same quotes with its time ratio and maximum error.

py_vollib_vectorized is optional (the `bench` extra pins py_vollib_vectorized==0.1.1 with
py_vollib==1.0.1 and py_lets_be_rational==1.0.1); without it those rows say why they were
skipped. Nothing here asserts on time: the figures are ratios against baselines of this run.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import importlib.util  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from hedgemesh.quant import bsm, iv  # noqa: E402

SEED = 20250615
REPEATS = 5
N_GREEKS = 1_000_000
N_QUANTLIB = 2_000
N_BASELINE = 100_000
N_IV = 100_000


def _best(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Best wall time of fn() in seconds, after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _options(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A book-like mix: spot 50..150, strikes within ±2 standard deviations, 1 day..2 years."""
    days = rng.integers(1, 731, n)
    t = days / 365.0
    vol = rng.uniform(0.08, 0.9, n)
    spot = rng.uniform(50.0, 150.0, n)
    return {
        "spot": spot,
        "strike": spot * np.exp(rng.uniform(-2.0, 2.0, n) * vol * np.sqrt(t)),
        "t": t,
        "rate": rng.uniform(0.0, 0.06, n),
        "div": rng.uniform(0.0, 0.04, n),
        "vol": vol,
        "is_call": rng.random(n) < 0.5,
        "days": days,
    }


def _args(o: dict[str, np.ndarray], sl: slice = slice(None)) -> tuple[np.ndarray, ...]:
    return tuple(o[k][sl] for k in ("spot", "strike", "t", "rate", "div", "vol", "is_call"))


def _quantlib_seconds_per_option(o: dict[str, np.ndarray], n: int) -> float | str:
    """Time the QuantLib oracle of the tests (tests/quant/test_bsm.py) on the first n options:
    quotes reset, option built and priced, NPV + delta, gamma, vega, theta, rho read."""
    path = Path(__file__).resolve().parents[1] / "tests" / "quant" / "test_bsm.py"
    try:
        spec = importlib.util.spec_from_file_location("_bsm_oracle", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sample = {key: value[:n] for key, value in o.items()}
        seconds = _best(lambda: module.quantlib_greeks(sample), 3)
    except BaseException as exc:  # ImportError, or pytest's Skipped when QuantLib is missing
        if isinstance(exc, KeyboardInterrupt):
            raise
        return f"skipped: QuantLib oracle unavailable ({type(exc).__name__}: {exc})"
    return seconds / n


def _pvv():
    """py_vollib_vectorized, or the reason it cannot be used."""
    try:
        import py_vollib_vectorized as pvv
    except Exception as exc:  # ImportError, or numba failing to load against this numpy
        return None, f"skipped: py_vollib_vectorized not importable ({type(exc).__name__}: {exc})"
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:  # pragma: no cover - older numba without set_num_threads
        pass
    return pvv, ""


def _greeks_figures(rng: np.random.Generator) -> dict[str, object]:
    o = _options(N_GREEKS, rng)
    ours = _best(lambda: bsm.greeks(*_args(o))) / N_GREEKS
    figures: dict[str, object] = {"greeks_ns_per_option": ours * 1e9, "greeks_n": N_GREEKS}
    ql_seconds = _quantlib_seconds_per_option(o, N_QUANTLIB)
    if isinstance(ql_seconds, str):
        figures["quantlib"] = ql_seconds
    else:
        figures["quantlib_ns_per_option"] = ql_seconds * 1e9
        figures["speedup_vs_quantlib"] = ql_seconds / ours
    pvv, why = _pvv()
    if pvv is None:
        figures["py_vollib_vectorized_greeks"] = why
        return figures
    sl = slice(0, N_BASELINE)
    s, k, t, r, q, v, c = _args(o, sl)
    flag = np.where(c, "c", "p")

    def baseline() -> None:
        pvv.vectorized_black_scholes_merton(flag, s, k, t, r, v, q, return_as="numpy")
        pvv.get_all_greeks(flag, s, k, t, r, v, q, model="black_scholes_merton", return_as="dict")

    theirs = _best(baseline) / N_BASELINE
    ours_small = _best(lambda: bsm.greeks(s, k, t, r, q, v, c)) / N_BASELINE
    figures["greeks_ns_per_option_1e5"] = ours_small * 1e9
    figures["py_vollib_vectorized_greeks_ns_per_option"] = theirs * 1e9
    figures["speedup_vs_py_vollib_vectorized_greeks"] = theirs / ours_small
    return figures


def _quotes(kind: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if kind == "realistic":
        t = np.exp(rng.uniform(np.log(7 / 365), np.log(2.0), n))
        vol = rng.uniform(0.08, 0.9, n)
        x = rng.uniform(-2.0, 2.0, n) * vol * np.sqrt(t)
        rate, div = np.full(n, 0.04), np.full(n, 0.01)
    else:  # the accuracy domain of the tests, all of it
        t = np.exp(rng.uniform(np.log(1 / 365), np.log(5.0), n))
        vol = np.exp(rng.uniform(np.log(0.01), np.log(5.0), n))
        x = rng.uniform(-3.0, 3.0, n)
        rate, div = rng.uniform(-0.02, 0.1, n), rng.uniform(0.0, 0.08, n)
    spot = np.full(n, 100.0)
    strike = spot * np.exp((rate - div) * t - x)
    is_call = rng.random(n) < 0.5
    price = bsm.price(spot, strike, t, rate, div, vol, is_call)
    quotes = {"price": price, "spot": spot, "strike": strike, "t": t, "rate": rate, "div": div}
    quotes |= {"is_call": is_call, "vol": vol}
    if kind != "realistic":  # keep the quotes whose vol the price determines (see iv's doc)
        first = iv.implied_vol(price, spot, strike, t, rate, div, is_call)
        ok = (first.status == iv.IVStatus.OK) & (first.vol > 0)  # not at intrinsic
        quotes = {key: value[ok] for key, value in quotes.items()}
    return quotes


def _iv_figures(kind: str, rng: np.random.Generator) -> dict[str, object]:
    quotes = _quotes(kind, N_IV if kind == "realistic" else 3 * N_IV, rng)
    quotes = {key: value[:N_IV] for key, value in quotes.items()}
    n = quotes["price"].size
    args = tuple(quotes[k] for k in ("price", "spot", "strike", "t", "rate", "div", "is_call"))
    ours = _best(lambda: iv.implied_vol(*args)) / n
    res = iv.implied_vol(*args)
    ok = res.status == iv.IVStatus.OK
    figures: dict[str, object] = {
        f"iv_{kind}_ns_per_quote": ours * 1e9,
        f"iv_{kind}_n": n,
        f"iv_{kind}_max_error": float(np.max(np.abs(res.vol[ok] - quotes["vol"][ok]))),
        f"iv_{kind}_not_ok": int(np.count_nonzero(~ok)),
    }
    pvv, why = _pvv()
    if pvv is None:
        figures[f"py_vollib_vectorized_iv_{kind}"] = why
        return figures
    price, spot, strike, t, rate, div, is_call = args
    flag = np.where(is_call, "c", "p")

    def baseline():
        return pvv.vectorized_implied_volatility(
            price, spot, strike, t, rate, flag, q=div, model="black_scholes_merton",
            on_error="ignore", return_as="numpy",
        )  # fmt: skip

    theirs = _best(baseline) / n
    vols = np.asarray(baseline(), dtype=float).ravel()
    err = np.abs(vols - quotes["vol"])
    figures[f"py_vollib_vectorized_iv_{kind}_ns_per_quote"] = theirs * 1e9
    figures[f"speedup_vs_py_vollib_vectorized_iv_{kind}"] = theirs / ours
    figures[f"py_vollib_vectorized_iv_{kind}_max_error"] = float(np.nanmax(err))
    figures[f"py_vollib_vectorized_iv_{kind}_nan"] = int(np.count_nonzero(np.isnan(vols)))
    return figures


def _print_table(f: dict[str, object]) -> None:
    def num(key: str, fmt: str = "{:,.0f}") -> str:
        value = f.get(key)
        return fmt.format(value) if isinstance(value, int | float) else "-"

    rows = [
        ("greeks, 10^6 options", num("greeks_ns_per_option", "{:.1f}"), "ns/option", ""),
        (
            f"QuantLib analytic engine ({N_QUANTLIB:,} sample)",
            num("quantlib_ns_per_option"),
            "ns/option",
            f"x{num('speedup_vs_quantlib', '{:.0f}')} (ours faster)",
        ),
        ("greeks, 10^5 options", num("greeks_ns_per_option_1e5", "{:.1f}"), "ns/option", ""),
        (
            "py_vollib_vectorized greeks, 10^5",
            num("py_vollib_vectorized_greeks_ns_per_option", "{:.1f}"),
            "ns/option",
            f"x{num('speedup_vs_py_vollib_vectorized_greeks', '{:.1f}')} (ours faster)",
        ),
    ]
    for kind in ("realistic", "hard"):
        rows += [
            (
                f"implied vol, {kind} ({num(f'iv_{kind}_n')} quotes)",
                num(f"iv_{kind}_ns_per_quote", "{:.0f}"),
                "ns/quote",
                f"max err {num(f'iv_{kind}_max_error', '{:.1e}')}",
            ),
            (
                f"py_vollib_vectorized iv, {kind}",
                num(f"py_vollib_vectorized_iv_{kind}_ns_per_quote", "{:.0f}"),
                "ns/quote",
                f"x{num(f'speedup_vs_py_vollib_vectorized_iv_{kind}', '{:.2f}')} (ours faster), "
                f"max err {num(f'py_vollib_vectorized_iv_{kind}_max_error', '{:.1e}')}",
            ),
        ]
    width = max(len(r[0]) for r in rows)
    for label, value, unit, note in rows:
        print(f"  {label:<{width}}  {value:>9} {unit:<9}  {note}")
    for key, value in f.items():
        if isinstance(value, str):
            print(f"  {key}: {value}")


def run() -> dict[str, object]:
    """Measure everything once, print the table, return the figures."""
    rng = np.random.default_rng(SEED)
    figures = _greeks_figures(rng)
    for kind in ("realistic", "hard"):
        figures |= _iv_figures(kind, rng)
    _print_table(figures)
    return figures


if __name__ == "__main__":
    run()
