"""The quant core: pure numpy/scipy, no I/O.

- `bsm`: Black–Scholes–Merton price and greeks (vega per vol point, theta per calendar day);
- `iv`: vectorised implied volatility with a per-element status;
- `svi`: raw SVI slices, calibration, the butterfly check;
- `surface`: the SVI volatility surface across expiries, the calendar check;
- `book`: book risk per underlying, per expiry bucket and in total, in one vectorised pass;
- `paths`: GBM, Heston, SABR and Merton paths, whole (backtests) or step by step (the live market);
- `history`: price series from CSV, cut into overlapping paths.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hedgemesh.quant import book, bsm, history, iv, paths, surface, svi
    from hedgemesh.quant.book import BookRisk, Market, Positions, book_risk
    from hedgemesh.quant.bsm import Greeks, greeks, price
    from hedgemesh.quant.iv import IVResult, IVStatus, implied_vol
    from hedgemesh.quant.surface import VolSurface
    from hedgemesh.quant.svi import SviParams

# Loaded on first use (PEP 562): a service that prices with `bsm` does not pay for scipy.stats
# and the path models at start-up (half of a service's import time).
_NAMES = {
    "BookRisk": "book",
    "Market": "book",
    "Positions": "book",
    "book_risk": "book",
    "Greeks": "bsm",
    "greeks": "bsm",
    "price": "bsm",
    "IVResult": "iv",
    "IVStatus": "iv",
    "implied_vol": "iv",
    "VolSurface": "surface",
    "SviParams": "svi",
}
_MODULES = {"book", "bsm", "history", "iv", "paths", "surface", "svi"}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BookRisk",
    "Greeks",
    "IVResult",
    "IVStatus",
    "Market",
    "Positions",
    "SviParams",
    "VolSurface",
    "book",
    "book_risk",
    "bsm",
    "greeks",
    "history",
    "implied_vol",
    "iv",
    "paths",
    "price",
    "surface",
    "svi",
]
