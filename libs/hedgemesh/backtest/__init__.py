"""The backtest lab: hedging policies replayed on many paths at once, with costs and metrics.

- `costs`: transaction cost models (notional, premium, fixed per trade, half-spread plus
  square-root impact, sums of them), vectorised over trades;
- `metrics`: risk and cost figures of hedged P&L across paths (mean, std, VaR/CVaR, mean − k·std,
  costs, turnover) as JSON-ready dicts, and the cost-versus-risk frontier;
- `config`: the config file's schema and its loader (`load_config`); `builders`: from its raw
  sections to the engine's policies, sweeps and cost models, each error at its key;
- `runner`: `run_config`, a config run end to end.

Paths come from `hedgemesh.quant.paths` (models) and `hedgemesh.quant.history` (CSV prices);
hedge decisions from `hedgemesh.policies`, the same functions the live agents call.
"""

from hedgemesh.backtest.config import load_config
from hedgemesh.backtest.runner import run_config

__all__ = ["load_config", "run_config"]
