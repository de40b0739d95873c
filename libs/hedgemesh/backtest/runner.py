"""Run a backtest config: one set of paths, every policy (and every frontier sweep point) on
those same paths through `engine.compare`, and the JSON-ready report of results.json.

    from hedgemesh.backtest import run_config
    run = run_config("examples/backtest/delta-bands.yaml", n_paths=5_000)
    run.report["policies"]["whalley_wilmott"]["std"]   # the figures results.json holds
    run.results["whalley_wilmott"].pnl                  # the engine's per-path arrays
    run.market.spot                                     # the paths themselves
    write_results(run, "out/")                          # results.json and the PNG plots

The report (docs/backtest.md has the schema): per policy the `metrics.summarise` figures
(mean, std, var95, cvar95, var99, cvar99, cost_mean, turnover, …), the P&L parts, trades per
path, the mean hedge ratios per decision, and, when the book has options at the start, Hull's
std(discounted cost of writing and hedging) / |their value| with its standard error; the
frontier of each sweep; the compare table (``compare=True``); the config echo, seed, n_paths.
Everything is a plain float, list or string, so ``json.dumps`` writes it as it is.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hedgemesh.backtest import engine, metrics
from hedgemesh.backtest.books import BookArrays
from hedgemesh.backtest.config import (
    BacktestConfig,
    ConfigError,
    CsvSpec,
    HaganVolSpec,
    load_config,
)
from hedgemesh.backtest.engine import BacktestResult
from hedgemesh.backtest.instruments import (
    ConstantVol,
    HestonVol,
    MarketPaths,
    PathVol,
    SurfaceVol,
    VolSource,
    with_gap,
)
from hedgemesh.policies import Policy
from hedgemesh.policies.instruments import TIME_TOLERANCE
from hedgemesh.quant import bsm
from hedgemesh.quant.hagan import hagan_lognormal_vol
from hedgemesh.quant.history import historical_paths
from hedgemesh.quant.paths import PathModel, PathSet
from hedgemesh.scenario.model import SabrSpec

__all__ = [
    "COMPARE_COLUMNS",
    "REPORT_FORMAT",
    "RESULTS_FILE",
    "BacktestRun",
    "book_value_at_start",
    "build_market",
    "compare_table",
    "format_table",
    "run_config",
    "write_results",
]

#: The format tag results.json carries (its schema: docs/backtest.md).
REPORT_FORMAT = "hedgemesh-backtest/1"
#: The name of the results file in the output folder.
RESULTS_FILE = "results.json"
#: The figures of the compare table, after the policy's name.
COMPARE_COLUMNS = (
    "mean",
    "std",
    "var95",
    "cvar95",
    "var99",
    "cvar99",
    "mean_minus_k_std",
    "cost_mean",
    "turnover",
    "trades_mean",
)

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class BacktestRun:
    """One config run: the validated config, the market (paths, rates, vols), the book laid out
    on it, the engine's result of every policy by name (the listed ones first, then each
    sweep's points) and the report written to results.json."""

    config: BacktestConfig
    market: MarketPaths
    book: BookArrays
    results: dict[str, BacktestResult]
    report: dict[str, Any]

    @property
    def policy_results(self) -> dict[str, BacktestResult]:
        """The listed policies' results, in the config's order (sweep points left out)."""
        return {name: self.results[name] for name in self.config.built_policies()}


def run_config(
    config: BacktestConfig | str | Path,
    *,
    n_paths: int | None = None,
    seed: int | None = None,
    compare: bool = False,
) -> BacktestRun:
    """Run a config (a `BacktestConfig` or a file), ``n_paths`` and ``seed`` overriding its
    own: simulate (or cut from the history) one set of paths, hedge the book on them with every
    listed policy and every sweep point in one `engine.compare`, and build the report (with
    the compare table when ``compare``). Raises `ConfigError` for a config that cannot run."""
    if not isinstance(config, BacktestConfig):
        config = load_config(config, n_paths=n_paths, seed=seed)
    elif n_paths is not None or seed is not None:
        config = config.with_overrides(n_paths=n_paths, seed=seed)
    market, paths, model = _market(config)
    book = config.book.book(config.seed).materialise(market)
    policies: dict[str, Policy] = config.built_policies()
    for sweep in config.sweeps():
        policies.update((p.name, p) for p in sweep.policies)
    samples = (config.plots.sample_path,) if config.plots.enabled else ()
    results = engine.compare(market, book, policies, config.cost_model(), samples=samples)
    report = _report(config, market, book, results, paths, model)
    if compare:
        report["compare"] = compare_table(report)
    return BacktestRun(config, market, book, results, report)


def build_market(config: BacktestConfig, rng: np.random.Generator | None = None) -> MarketPaths:
    """The market a config describes: its paths (seeded by the config's seed, or drawn from
    ``rng``), rate, dividend yield and vols."""
    return _market(config, rng)[0]


def _market(
    config: BacktestConfig, rng: np.random.Generator | None = None
) -> tuple[MarketPaths, PathSet, PathModel | None]:
    steps, dt = config.grid()
    n = config.path_count()
    model = config.path_model()
    if model is None:
        prices, spec = config.prices(), config.paths.model
        assert prices is not None and isinstance(spec, CsvSpec)
        windows = historical_paths(prices, steps, spec.stride, rebase=spec.rebase)
        paths = PathSet(spot=windows.spot[:n], dt=windows.dt)
    else:
        assert config.paths.s0 is not None
        rng = np.random.default_rng(config.seed) if rng is None else rng
        paths = model.simulate(
            config.paths.s0, dt, steps, n, rng, antithetic=config.paths.antithetic
        )
    spot = paths.spot
    gap, step = config.paths.gap, config.gap_step()
    if gap is not None and step is not None:
        spot = with_gap(spot, step, gap.move)
    if not np.all(spot > 0.0):
        raise ConfigError(
            "paths.model",
            "a path reached a price of zero (SABR with beta < 1 is absorbed there); "
            "the engine needs prices > 0: use beta = 1, a smaller nu or a shorter horizon",
        )
    market = config.market
    vol = _vol_source(config, paths, model)
    return MarketPaths(spot, paths.times, market.rate, market.div, vol), paths, model


def _vol_source(config: BacktestConfig, paths: PathSet, model: PathModel | None) -> VolSource:
    """The vol options are priced at (`MarketSpec`'s rules, checked when the config loaded)."""
    vol, spec = config.market.vol, config.paths.model
    surface = config.surface()
    if surface is not None:
        return SurfaceVol(surface)
    if isinstance(vol, float | int):
        return ConstantVol(float(vol))
    if isinstance(vol, HaganVolSpec):
        return PathVol(_hagan_vols(config, paths, vol.hagan.strike))
    if vol == "heston" or (vol is None and spec.kind == "heston"):
        return HestonVol.of(paths, model)
    if vol == "path" or (vol is None and spec.kind == "sabr"):
        return PathVol.of(paths)
    sigma = float(getattr(spec, "sigma", 0.0))
    jumps = float(getattr(spec, "jump_variance", 0.0))  # Merton: the total vol of returns
    return ConstantVol(math.sqrt(sigma * sigma + jumps))


def _hagan_vols(config: BacktestConfig, paths: PathSet, strike: float) -> Array:
    """Hagan's SABR vol (n, N + 1) per path and step at ``strike`` for the time left to the
    end, at the forward of that time (each path's α)."""
    spec = config.paths.model
    alpha = paths.vol
    assert alpha is not None and isinstance(spec, SabrSpec)
    left = paths.times[-1] - paths.times
    carry = config.market.rate - config.market.div
    forward = paths.spot * np.exp(carry * left)
    return hagan_lognormal_vol(
        forward, strike, left, alpha, float(spec.beta), float(spec.rho), float(spec.nu)
    )


def book_value_at_start(book: BookArrays, market: MarketPaths) -> Array:
    """The value of the book's options held at the first time, per path (n,) (currency; < 0
    for a written book): Black–Scholes–Merton at the market's vols."""
    s = market.spot[:, 0]
    if book.n_options == 0:
        return np.zeros(s.shape)
    t0 = float(market.times[0])
    tau = np.maximum(book.expiry - t0, 0.0)
    vol = market.vol.option_vols(0, s, book.strike, tau, market.rate - market.div)
    price = bsm.price(s[:, None], book.strike, tau, market.rate, market.div, vol, book.is_call)
    held = book.start <= t0 + TIME_TOLERANCE
    return np.asarray((book.quantity * price * held).sum(axis=1), dtype=np.float64)


# -- the report --------------------------------------------------------------------------------


def _report(
    config: BacktestConfig,
    market: MarketPaths,
    book: BookArrays,
    results: Mapping[str, BacktestResult],
    paths: PathSet,
    model: PathModel | None,
) -> dict[str, Any]:
    premium = float(book_value_at_start(book, market).mean())
    k, levels = config.metrics.k, config.metrics.all_levels()
    listed = config.built_policies()
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "name": config.name,
        "description": config.description,
        "seed": config.seed,
        "n_paths": market.n_paths,
        "n_steps": market.n_steps,
        "dt_years": float(paths.dt),
        "horizon_years": market.horizon,
        "paths": _paths_facts(config, model),
        "book": {
            "kind": config.book.kind,
            "options": book.n_options,
            "underlying": float(book.underlying),
            "premium_mean": premium,
        },
        "decision_days": (market.times[:-1] * bsm.DAYS_PER_YEAR).tolist(),
        "policies": {
            name: _policy_entry(listed[name], results[name], premium, k, levels) for name in listed
        },
        "frontier": [
            _frontier_entry(
                sweep.base,
                sweep.kind,
                sweep.param,
                sweep.values,
                sweep.policies,
                results,
                k,
                levels,
            )
            for sweep in config.sweeps()
        ],
        "config": config.model_dump(mode="json"),
    }
    return report


def _paths_facts(config: BacktestConfig, model: PathModel | None) -> dict[str, Any]:
    """What the paths were: the model with its parameters, or the history's file and dates."""
    prices = config.prices()
    facts: dict[str, Any]
    if prices is None:
        assert model is not None
        facts = {"model": config.paths.model.kind, "params": dataclasses.asdict(model)}  # type: ignore[call-overload]
    else:
        facts = {
            "model": "csv",
            "file": str(getattr(config.paths.model, "file", "")),
            "rows": len(prices),
            "first_date": str(prices.dates[0]),
            "last_date": str(prices.dates[-1]),
        }
    gap, step = config.paths.gap, config.gap_step()
    if gap is not None:
        facts["gap"] = {"step": step, "move": gap.move}
    return facts


def _policy_entry(
    policy: Policy,
    result: BacktestResult,
    premium: float,
    k: float,
    levels: Sequence[float],
) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": policy.kind, "params": _params(policy)}
    entry.update(result.summary(k=k, levels=levels))
    entry["book_pnl_mean"] = float(result.book_pnl.mean())
    entry["hedge_pnl_mean"] = float(result.hedge_pnl.mean())
    entry["carry_mean"] = float(result.carry.mean())
    if premium != 0.0 and math.isfinite(premium) and result.pnl.size >= 4:  # a 4th moment
        ratio = engine.std_cost_over_price(result, abs(premium))
        entry["std_cost_over_price"] = ratio.ratio
        entry["std_cost_over_price_stderr"] = ratio.stderr
    entry["instruments"] = list(result.instruments)
    entry["hedge_ratios"] = {
        label: result.mean_holdings[:, j].tolist() for j, label in enumerate(result.instruments)
    }
    return entry


def _params(policy: Policy) -> dict[str, Any]:
    """The policy's parameters as plain data (hedge options as mappings), without its name."""
    params = dataclasses.asdict(policy)
    params.pop("name", None)
    return json.loads(json.dumps(params))  # tuples to lists


def _frontier_entry(
    base: str,
    kind: str,
    param: str,
    values: Sequence[float],
    policies: Sequence[Policy],
    results: Mapping[str, BacktestResult],
    k: float,
    levels: Sequence[float],
) -> dict[str, Any]:
    summaries = [results[p.name].summary(k=k, levels=levels) for p in policies]
    points: list[dict[str, Any]] = list(
        metrics.frontier(values, [s["cost_mean"] for s in summaries], [s["std"] for s in summaries])
    )
    for point, policy, summary in zip(points, policies, summaries, strict=True):
        point["name"] = policy.name
        point["summary"] = summary
    return {"policy": base, "kind": kind, "param": param, "points": points}


def compare_table(report: Mapping[str, Any]) -> dict[str, Any]:
    """The listed policies side by side: ``{"columns": ["policy", "mean", …], "rows":
    [[name, figures…], …]}`` (with ``std_cost_over_price`` when every policy has it)."""
    entries = report["policies"]
    columns = list(COMPARE_COLUMNS)
    if entries and all("std_cost_over_price" in e for e in entries.values()):
        columns.append("std_cost_over_price")
    rows = [[name, *(entry[c] for c in columns)] for name, entry in entries.items()]
    return {"columns": ["policy", *columns], "rows": rows}


def format_table(table: Mapping[str, Any]) -> str:
    """A compare table as aligned text (whole numbers from 1,000 up, else four significant
    figures)."""

    def cell(value: Any) -> str:
        if isinstance(value, str):
            return value
        return f"{value:,.0f}" if abs(value) >= 1000.0 else f"{value:.4g}"

    lines = [[str(c) for c in table["columns"]]] + [[cell(v) for v in row] for row in table["rows"]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def write_results(run: BacktestRun, out_dir: str | Path, *, plots: bool = True) -> list[Path]:
    """Write ``results.json`` (the report and the names of the plots) and, when ``plots`` and
    the config's ``plots.enabled``, the PNG plots into ``out_dir`` (created if missing).
    Returns the files written, results.json first."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if plots and run.config.plots.enabled:
        from hedgemesh.backtest import plots as plotting  # matplotlib only when plotting

        written = plotting.write_plots(run, out)
    report = {**run.report, "plots": [p.name for p in written]}
    results = out / RESULTS_FILE
    results.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return [results, *written]
