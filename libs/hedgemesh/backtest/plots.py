"""PNG plots of a backtest run, drawn with matplotlib's Agg backend (no display, no pyplot
state: each plot is its own `Figure`, safe in threads and tests).

- ``pnl_histograms.png``: the hedged P&L at the horizon across paths, one panel per policy,
  all on one x-range and the same bins (the policies compare by eye), with its mean, VaR95 and
  CVaR95, and Hull's std(cost)/price where the book has a price;
- ``sample_path.png``: one path (``plots.sample_path``): the spot, the units of the underlying
  each policy holds after each decision against the full delta hedge (a wide pale band drawn
  beneath, so that a policy equal to it still shows), and the hedge options held;
- ``frontier.png`` (when the config sweeps a parameter): mean transaction cost against the
  std of hedged P&L for every sweep point and every listed policy; a point is filled when no
  other point drawn — of any sweep, or a listed policy — is at least as good on both and
  better on one, hollow when one is (efficiency over the whole figure, as the legend says).

File names are fixed (`PNL_FILE`, `SAMPLE_FILE`, `FRONTIER_FILE`); money is in the config's
currency (`plots.currency`, named on every axis), times in calendar days from the start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, MaxNLocator

from hedgemesh.backtest.engine import BacktestResult
from hedgemesh.backtest.metrics import pareto_efficient
from hedgemesh.quant.bsm import DAYS_PER_YEAR

if TYPE_CHECKING:
    from hedgemesh.backtest.runner import BacktestRun

__all__ = [
    "FRONTIER_FILE",
    "PNL_FILE",
    "SAMPLE_FILE",
    "frontier",
    "pnl_histograms",
    "sample_path",
    "write_plots",
]

PNL_FILE = "pnl_histograms.png"
SAMPLE_FILE = "sample_path.png"
FRONTIER_FILE = "frontier.png"

_DPI = 100
_MONEY = EngFormatter(places=1, sep="\N{THIN SPACE}")
"""Currency amounts in labels: 104.8 k."""


def _ticks() -> EngFormatter:
    """Currency amounts on an axis: −500 k (a formatter belongs to one axis)."""
    return EngFormatter(sep="\N{THIN SPACE}")


def write_plots(run: BacktestRun, out_dir: Path) -> list[Path]:
    """Every plot of ``run`` into ``out_dir``; returns the files in a fixed order."""
    name = run.config.name or "backtest"
    results = run.policy_results
    bins = run.config.plots.bins
    currency = run.config.plots.currency
    ratios = {
        policy: float(entry["std_cost_over_price"])
        for policy, entry in run.report["policies"].items()
        if entry.get("std_cost_over_price") is not None
    }
    files = [
        pnl_histograms(
            results, out_dir / PNL_FILE, bins=bins, title=name, currency=currency, ratios=ratios
        )
    ]
    if any(r.samples for r in results.values()):
        gap = run.report["paths"].get("gap", {}).get("step")
        files.append(sample_path(results, out_dir / SAMPLE_FILE, title=name, gap_step=gap,
                                 currency=currency))  # fmt: skip
    if run.report["frontier"]:
        files.append(
            frontier(
                run.report["frontier"],
                run.report["policies"],
                out_dir / FRONTIER_FILE,
                title=name,
                currency=currency,
            )
        )
    return files


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=_DPI, metadata={"Software": None})
    return path


_MARKS = (
    ("mean", 1.0, "black", "-"),
    ("var95", -1.0, "tab:red", "--"),
    ("cvar95", -1.0, "tab:purple", ":"),
)
"""Lines on each histogram: the summary key, its sign as P&L, colour and line style."""


def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 3)
    return math.ceil(n / cols), cols


def pnl_histograms(
    results: Mapping[str, BacktestResult],
    path: Path,
    *,
    bins: int = 60,
    title: str = "",
    currency: str = "USD",
    ratios: Mapping[str, float] | None = None,
) -> Path:
    """One histogram of hedged P&L per policy, every panel on the same x-range and bins (so
    their widths compare by eye), with the mean and the 95 % VaR and CVaR marked (as P&L: −VaR,
    −CVaR); `ratios`: Hull's std(cost)/price per policy, shown in its title."""
    rows, cols = _grid(len(results))
    fig = Figure(figsize=(4.6 * cols, 3.4 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
    low = min(float(r.pnl.min()) for r in results.values())
    high = max(float(r.pnl.max()) for r in results.values())
    span = (low - 0.5, high + 0.5) if high - low < 1e-9 * max(1.0, abs(high)) else (low, high)
    edges = np.linspace(*span, bins + 1)
    n_paths = 0
    for ax, (name, result) in zip(axes.flat, results.items(), strict=False):
        pnl = result.pnl
        n_paths = pnl.size
        summary = result.summary()
        ax.hist(pnl, bins=edges, histtype="stepfilled", color="tab:blue", alpha=0.75)
        for key, sign, color, style in _MARKS:  # as P&L: the losses VaR and CVaR negated
            label = f"{key.replace('var', 'VaR').replace('cVaR', 'CVaR')} {_MONEY(summary[key])}"
            ax.axvline(sign * summary[key], color=color, ls=style, lw=1.3, label=label)
        hull = "" if not ratios or name not in ratios else f", std(cost)/price {ratios[name]:.3f}"
        ax.set_title(
            f"{name}  (std {_MONEY(summary['std'])}, cost {_MONEY(summary['cost_mean'])}{hull})",
            fontsize=9,
        )
        ax.xaxis.set_major_formatter(_ticks())
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.set_xlabel(f"hedged P&L at the horizon ({currency})")
        ax.set_ylabel("paths")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8, loc="upper left")
    for ax in axes.flat[len(results) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"{title}: hedged P&L per policy, {n_paths:,} paths (the same for every policy; "
        "one x-range and one set of bins)"
    )
    return _save(fig, path)


def _steps(ax: Axes, days: np.ndarray, values: np.ndarray, **style: Any) -> None:
    """Holdings after each decision, held until the next (and to the horizon)."""
    ax.step(days, np.append(values, values[-1]), where="post", **style)


def sample_path(
    results: Mapping[str, BacktestResult],
    path: Path,
    *,
    title: str = "",
    gap_step: int | None = None,
    currency: str = "USD",
) -> Path:
    """One recorded path: spot; units of the underlying held by each policy against the full
    delta hedge (−the book's delta, a wide pale band beneath the policies, so that one equal to
    it still shows); hedge options held (when a policy holds any)."""
    recorded = {name: r.samples[0] for name, r in results.items() if r.samples}
    first = next(iter(recorded.values()))
    days = first.times * DAYS_PER_YEAR
    with_options = any(s.holdings.shape[1] > 1 for s in recorded.values())
    rows = 3 if with_options else 2
    fig = Figure(figsize=(10, 2.8 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    axes[0].plot(days, first.spot, color="black", lw=1.2)
    axes[0].set_ylabel(f"spot ({currency})")
    for i, (name, sample) in enumerate(recorded.items()):
        color = f"C{i}"  # one colour per policy, in every panel
        _steps(axes[1], days, sample.holdings[:, 0], color=color, lw=1.2, label=name)
        for j, label in enumerate(sample.instruments[1:], start=1):
            style = "-" if j == 1 else "--"
            _steps(
                axes[2],
                days,
                sample.holdings[:, j],
                color=color,
                ls=style,
                lw=1.2,
                label=f"{name}: {label}",
            )
    _steps(
        axes[1],
        days,
        -first.book_delta,
        color="grey",
        lw=6,
        alpha=0.35,
        zorder=1,
        label="full delta hedge (−book delta)",
    )
    axes[1].set_ylabel("underlying held (units)")
    axes[1].legend(fontsize=8, ncols=2, loc="best")
    if with_options:
        axes[2].set_ylabel("options held (units)")
        axes[2].legend(fontsize=8, ncols=2, loc="best")
    if gap_step is not None:
        for ax in axes:
            ax.axvline(days[gap_step], color="tab:red", lw=0.8, ls=":")
        axes[0].annotate(
            "gap",
            (days[gap_step], first.spot[gap_step]),
            color="tab:red",
            xytext=(4, 4),
            textcoords="offset points",
        )
    axes[-1].set_xlabel("time (days from the start)")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"{title}: path {first.path}, spot and hedge positions after each decision")
    return _save(fig, path)


def frontier(
    sweeps: Sequence[Mapping[str, Any]],
    policies: Mapping[str, Mapping[str, Any]],
    path: Path,
    *,
    title: str = "",
    currency: str = "USD",
) -> Path:
    """Cost versus risk: each sweep's points (mean cost, std of P&L) joined in the order of
    its values and labelled with them, and the listed policies as diamonds; a point is filled
    when it is efficient among every point drawn, hollow when another dominates it."""
    points = [(p["cost"], p["std"]) for sweep in sweeps for p in sweep["points"]]
    points += [(e["cost_mean"], e["std"]) for e in policies.values()]
    efficient = pareto_efficient([c for c, _ in points], [r for _, r in points]).tolist()
    fig = Figure(figsize=(9, 6), layout="constrained")
    ax = fig.subplots()
    k = 0
    for i, sweep in enumerate(sweeps):
        color = f"C{i}"
        cost = [p["cost"] for p in sweep["points"]]
        std = [p["std"] for p in sweep["points"]]
        ax.plot(cost, std, color=color, lw=1.2, label=f"{sweep['policy']}: {sweep['param']} swept")
        for p in sweep["points"]:
            ax.plot(
                p["cost"], p["std"], "o", color=color, ms=7, mfc=color if efficient[k] else "white"
            )
            k += 1
            ax.annotate(
                f"{p['width']:g}",
                (p["cost"], p["std"]),
                xytext=(5, 4),
                textcoords="offset points",
                fontsize=8,
                color=color,
            )
    for name, entry in policies.items():
        ax.plot(entry["cost_mean"], entry["std"], "D", color="black", ms=6,
                mfc="black" if efficient[k] else "white")  # fmt: skip
        k += 1
        ax.annotate(
            name,
            (entry["cost_mean"], entry["std"]),
            xytext=(5, -10),
            textcoords="offset points",
            fontsize=8,
        )
    ax.plot([], [], "D", color="black", mfc="white", label="listed policies")
    ax.plot([], [], "o", color="grey", mfc="grey", label="efficient among every point drawn")
    ax.plot([], [], "o", color="grey", mfc="white", label="dominated by another point drawn")
    ax.xaxis.set_major_formatter(_ticks())
    ax.yaxis.set_major_formatter(_ticks())
    ax.set_xlabel(f"mean transaction cost per path ({currency})")
    ax.set_ylabel(f"std of hedged P&L ({currency})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="best")
    fig.suptitle(f"{title}: cost versus risk (labels: the swept parameter's value)")
    return _save(fig, path)
