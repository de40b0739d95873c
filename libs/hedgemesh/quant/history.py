"""Historical prices from a CSV file, cut into overlapping paths for backtests on real data.

The file is comma-separated text (UTF-8, an optional byte-order mark) with a header row. One
column holds the date of each row (ISO 8601: `2024-03-28`, `2024-03-28T15:30:00`,
`2024-03-28 15:30:00+01:00`; times with an offset are converted to UTC), one the price (a
plain decimal number, > 0). Other columns are ignored; blank lines are skipped. Dates must be
strictly increasing. A bad file raises `PriceFileError` naming the file, the line (the header
is line 1) and the column.

The step dt of the paths is the mean interval between rows in ACT/365 years, (last − first) /
(rows − 1): daily closes on trading days give about 1/252, weekly closes 7/365. Pass `dt` to
override it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hedgemesh.quant.bsm import DAYS_PER_YEAR
from hedgemesh.quant.paths import PathSet

__all__ = [
    "PRICE_COLUMN_GUESSES",
    "HistoricalPrices",
    "PriceFileError",
    "as_prices",
    "historical_paths",
    "load_prices_csv",
]

#: Price columns tried, in order, when the caller names none and the file has several columns.
PRICE_COLUMN_GUESSES = ("close", "adj_close", "price")

_SECONDS_PER_YEAR = DAYS_PER_YEAR * 86_400.0


class PriceFileError(ValueError):
    """A price file that cannot be read: the message names the file, the line and the column."""


@dataclass(frozen=True, slots=True, eq=False)
class HistoricalPrices:
    """One price series: dates (datetime64[s], UTC, strictly increasing), prices (> 0), dt the
    step in years, and where it came from (file and column) for messages and reports."""

    dates: NDArray[np.datetime64]
    prices: NDArray[np.float64]
    dt: float
    source: str = ""
    column: str = ""

    def __post_init__(self) -> None:
        prices = np.array(self.prices, dtype=np.float64)
        dates = np.array(self.dates, dtype="datetime64[s]")
        if prices.ndim != 1 or dates.shape != prices.shape or prices.size < 2:
            raise ValueError("dates and prices must be 1-D arrays of the same length >= 2")
        if not np.all(np.isfinite(prices) & (prices > 0.0)):
            raise ValueError("prices must be finite and > 0")
        if np.any(np.diff(dates) <= np.timedelta64(0, "s")):
            raise ValueError("dates must be strictly increasing")
        if not (math.isfinite(self.dt) and self.dt > 0.0):
            raise ValueError(f"dt must be a finite number of years > 0, got {self.dt!r}")
        prices.flags.writeable = False
        dates.flags.writeable = False
        object.__setattr__(self, "prices", prices)
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "dt", float(self.dt))

    def __len__(self) -> int:
        return int(self.prices.size)

    def window_starts(self, window: int, stride: int = 1) -> NDArray[np.datetime64]:
        """The first date of each path `historical_paths(self, window, stride)` returns."""
        return self.dates[_window_rows(len(self), window, stride)]


def load_prices_csv(
    path: str | PathLike[str],
    date_column: str = "date",
    price_column: str | None = None,
    *,
    dt: float | None = None,
) -> HistoricalPrices:
    """Read a price series from a CSV file (format in the module docstring).

    price_column: the column to read; when None, the only column besides the date column,
    else the first of `PRICE_COLUMN_GUESSES` present (case-insensitive). dt: the step in years;
    when None, the mean interval between rows.
    """
    source = str(path)
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [cell.strip() for cell in next(reader, [])]
        if not any(header):
            raise PriceFileError(f"{source}: line 1: no header row")
        date_at = _column_index(source, header, date_column)
        if price_column is None:
            price_column = _guess_price_column(source, header, date_column)
        price_at = _column_index(source, header, price_column)
        dates: list[datetime] = []
        prices: list[float] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            where = f"{source}: line {line}"
            dates.append(_parse_date(where, header[date_at], _cell(where, row, date_at, header)))
            prices.append(
                _parse_price(where, header[price_at], _cell(where, row, price_at, header))
            )
            if len(dates) > 1 and dates[-1] <= dates[-2]:
                raise PriceFileError(
                    f"{where}: column {header[date_at]!r}: date {dates[-1].isoformat()} does not "
                    f"come after {dates[-2].isoformat()} (dates must be strictly increasing)"
                )
    if len(prices) < 2:
        raise PriceFileError(f"{source}: needs at least two price rows, found {len(prices)}")
    stamps = np.array(dates, dtype="datetime64[s]")
    if dt is None:
        span = (stamps[-1] - stamps[0]) / np.timedelta64(1, "s")
        dt = float(span) / _SECONDS_PER_YEAR / (len(prices) - 1)
    return HistoricalPrices(
        dates=stamps, prices=np.array(prices), dt=dt, source=source, column=price_column
    )


def historical_paths(
    prices: HistoricalPrices,
    window: int,
    stride: int = 1,
    *,
    rebase: float | None = None,
) -> PathSet:
    """Cut a price series into overlapping paths of `window` steps: path k is the rows
    k·stride … k·stride + window, so spot has shape (n_windows, window + 1) with
    n_windows = (rows − 1 − window) // stride + 1 and dt = prices.dt.

    rebase: when given (> 0), each path is scaled to start at this price (its returns are
    kept), so one option struck relative to the start can be hedged on every window.
    """
    rows = _window_rows(len(prices), window, stride)
    series = np.asarray(prices.prices)
    spot = series[rows[None, :] + np.arange(window + 1)[:, None]]  # time-major (window + 1, k)
    if rebase is not None:
        if not (math.isfinite(rebase) and rebase > 0.0):
            raise ValueError(f"rebase must be a finite price > 0, got {rebase!r}")
        spot = spot * (rebase / spot[0])
    spot.flags.writeable = False
    return PathSet(spot=spot.T, dt=prices.dt)


def _window_rows(n_rows: int, window: int, stride: int) -> NDArray[np.intp]:
    for name, value in (("window", window), ("stride", stride)):
        if not (isinstance(value, int | np.integer) and value >= 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if window >= n_rows:
        raise ValueError(f"a window of {window} steps needs {window + 1} prices, have {n_rows}")
    return np.arange(0, n_rows - window, stride)


def _column_index(source: str, header: list[str], name: str) -> int:
    folded = [h.casefold() for h in header]
    if name.casefold() not in folded:
        raise PriceFileError(f"{source}: line 1: no column {name!r}; the columns are {header}")
    return folded.index(name.casefold())


def _guess_price_column(source: str, header: list[str], date_column: str) -> str:
    others = [h for h in header if h.casefold() != date_column.casefold()]
    if len(others) == 1:
        return others[0]
    folded = {h.casefold(): h for h in others}
    for guess in PRICE_COLUMN_GUESSES:
        if guess in folded:
            return folded[guess]
    raise PriceFileError(
        f"{source}: line 1: which column is the price? name one with price_column; "
        f"the columns are {header}"
    )


def _cell(where: str, row: list[str], index: int, header: list[str]) -> str:
    if index >= len(row) or not row[index].strip():
        raise PriceFileError(f"{where}: column {header[index]!r}: missing value")
    return row[index].strip()


def _parse_date(where: str, column: str, text: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise PriceFileError(
            f"{where}: column {column!r}: cannot read {text!r} as an ISO 8601 date"
        ) from None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return stamp


def _parse_price(where: str, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PriceFileError(
            f"{where}: column {column!r}: cannot read {text!r} as a price"
        ) from None
    if not (math.isfinite(value) and value > 0.0):
        raise PriceFileError(
            f"{where}: column {column!r}: price must be finite and > 0, got {text}"
        )
    return value


def as_prices(values: ArrayLike, dt: float, start: str = "2000-01-01") -> HistoricalPrices:
    """A `HistoricalPrices` from bare values with a step of dt years (dates spaced by dt from
    `start`), for series that do not come from a file."""
    prices = np.asarray(values, dtype=np.float64)
    offsets = np.round(np.arange(prices.size) * dt * _SECONDS_PER_YEAR).astype("timedelta64[s]")
    return HistoricalPrices(dates=np.datetime64(start, "s") + offsets, prices=prices, dt=dt)
