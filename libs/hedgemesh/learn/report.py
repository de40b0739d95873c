"""The held-out comparison of a trained checkpoint, through the lab's own engine: on the
backtest config's paths (its seed, ``episodes.held_out`` or its ``n_paths`` of them, which no
training episode is), the learned policy (`LearnedPolicy`, numpy) beside delta, delta–gamma,
the fixed fraction and the gamma band tuned on the training episodes, with the config's
published references. No torch needed.

    report = held_out(config, "out/learned/cao-gbm")
    print(format_report(report))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hedgemesh.backtest import engine
from hedgemesh.backtest.runner import build_market, format_table
from hedgemesh.learn.config import TrainConfig
from hedgemesh.learn.episodes import ladder_option
from hedgemesh.policies import DeltaGamma, DeltaInterval, Policy
from hedgemesh.policies.learned import LearnedPolicy, load_checkpoint

__all__ = ["COLUMNS", "format_report", "held_out", "policies_of"]

COLUMNS = (
    "mean",
    "std",
    "mean_minus_k_std",
    "mean_minus_k_std_stderr",
    "cvar95",
    "cvar95_stderr",
    "cost_mean",
    "trades_mean",
)


def policies_of(config: TrainConfig, checkpoint: str | Path) -> list[Policy]:
    """The compared policies: delta, delta–gamma, the tuned fraction and band (from the
    checkpoint's manifest) and the learned one."""
    backtest = config.backtest_config()
    hedge = ladder_option(backtest, config.hedge)
    tuned = load_checkpoint(checkpoint).manifest["baselines"]
    fraction = tuned["tuned_fraction"]["fraction"]
    band = tuned["tuned_band"]["gamma_band"]
    return [
        DeltaInterval(name="delta"),
        DeltaGamma(hedge=hedge, name="delta-gamma"),
        DeltaGamma(hedge=hedge, fraction=fraction, name=f"fixed-ratio[{fraction:g}]"),
        DeltaGamma(hedge=hedge, gamma_band=band, name=f"tuned-band[{band:g}]"),
        LearnedPolicy(checkpoint=str(checkpoint), name="learned"),
    ]


def held_out(
    config: TrainConfig, checkpoint: str | Path, *, n_paths: int | None = None
) -> dict[str, Any]:
    """Every compared policy on the held-out episodes: ``{n_paths, seed, k, policies: {name:
    summary}, references, compare: table}``."""
    backtest = config.backtest_config()
    n = n_paths or config.episodes.held_out or backtest.n_paths
    backtest = backtest.with_overrides(n_paths=n)
    market = build_market(backtest)
    book = backtest.book.book(backtest.seed).materialise(market)
    policies = policies_of(config, checkpoint)
    results = engine.compare(market, book, policies, backtest.cost_model(), samples=())
    k = config.objective.k
    summaries = {name: r.summary(k=k) for name, r in results.items()}
    rows = [[name, *(s[c] for c in COLUMNS)] for name, s in summaries.items()]
    rows += [
        [f"{name} (published)", *(value if c == "mean_minus_k_std" else "" for c in COLUMNS)]
        for name, value in config.references.items()
    ]
    return {
        "format": "hedgemesh-learned-report/1",
        "backtest": str(config.backtest),
        "seed": backtest.seed,
        "n_paths": market.n_paths,
        "k": k,
        "policies": summaries,
        "references": dict(config.references),
        "compare": {"columns": ["policy", *COLUMNS], "rows": rows},
    }


def format_report(report: dict[str, Any]) -> str:
    """The comparison as aligned text."""
    return (
        f"held out: {report['n_paths']:,} episodes of {report['backtest']} (seed "
        f"{report['seed']}), k = {report['k']:g}\n" + format_table(report["compare"])
    )
