"""The quant core: pure numpy/scipy, no I/O.

- `bsm`: Black–Scholes–Merton price and greeks (vega per vol point, theta per calendar day);
- `iv`: vectorised implied volatility with a per-element status;
- `svi`: raw SVI slices, calibration, the butterfly check;
- `surface`: the SVI volatility surface across expiries, the calendar check;
- `book`: book risk per underlying, per expiry bucket and in total, in one vectorised pass;
- `paths`: GBM, Heston, SABR and Merton paths, whole (backtests) or step by step (the live market);
- `history`: price series from CSV, cut into overlapping paths.
"""

from hedgemesh.quant import book, bsm, history, iv, paths, surface, svi
from hedgemesh.quant.book import BookRisk, Market, Positions, book_risk
from hedgemesh.quant.bsm import Greeks, greeks, price
from hedgemesh.quant.iv import IVResult, IVStatus, implied_vol
from hedgemesh.quant.surface import VolSurface
from hedgemesh.quant.svi import SviParams

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
