"""Write index.csv: a synthetic index level, daily closes on business days, for the csv
history example (history-csv.yaml). Deterministic: `python examples/backtest/data/make_index.py`
rewrites the same file (tests/backtest/test_examples.py checks it).

The closes are one Heston path (seed 2024: vol clustering and a negative spot–vol correlation,
like an equity index) of three years of business days from 2021-01-04, rounded to cents. It is
no real market's data; replace the file with your own (columns date, close) to backtest on it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from hedgemesh.quant.paths import Heston

FILE = Path(__file__).with_name("index.csv")
SEED = 2024
START, END = "2021-01-04", "2024-01-01"
TRADING_DAYS_PER_YEAR = 252.0


def index_csv() -> str:
    """The file's text: a header ``date,close`` and one row per business day."""
    days = np.arange(np.datetime64(START), np.datetime64(END), dtype="datetime64[D]")
    days = days[np.is_busday(days)]
    model = Heston(mu=0.07, kappa=3.0, theta=0.04, xi=0.6, rho=-0.7, v0=0.03)
    rng = np.random.default_rng(SEED)
    paths = model.simulate(4000.0, 1.0 / TRADING_DAYS_PER_YEAR, days.size - 1, 1, rng)
    rows = [f"{day},{close:.2f}" for day, close in zip(days, paths.spot[0], strict=True)]
    return "date,close\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    FILE.write_text(index_csv(), encoding="utf-8")
    sys.stdout.write(f"wrote {FILE}\n")
