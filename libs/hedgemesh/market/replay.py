"""Underlying ticks replayed from a CSV file.

The file has a header row; the timestamp column holds ISO 8601 times (`2024-03-01T14:30:00Z`,
an offset, or none for UTC) or Unix seconds, the price column positive numbers, and the
optional symbol column the underlying's code (rows of other symbols are skipped). Rows must
be in time order (equal times are allowed and replay back to back).

A recorded time becomes an offset from the first row: the replay publishes row i at the
scenario's start + (tᵢ − t₀), so under `AcceleratedClock(speed)` the recorded gaps pass
`speed` times faster. Any problem raises `ReplayError` naming the file and line.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hedgemesh.scenario.model import ReplaySpec

__all__ = ["ReplayError", "ReplayTicks", "read_ticks", "read_ticks_file"]

#: Largest replay file read (bytes).
MAX_REPLAY_BYTES = 512 * 1024 * 1024


class ReplayError(ValueError):
    """A replay file that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True, slots=True, eq=False)
class ReplayTicks:
    """Recorded ticks: offsets from the first (seconds, non-decreasing) and prices."""

    offsets_s: NDArray[np.float64]
    prices: NDArray[np.float64]
    first_time: datetime

    def __len__(self) -> int:
        return int(self.prices.size)


def _timestamp(text: str) -> datetime:
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"{text!r} is not a time")
        return datetime.fromtimestamp(seconds, UTC)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is neither ISO 8601 nor Unix seconds") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def read_ticks(spec: ReplaySpec, symbol: str) -> ReplayTicks:
    """The ticks of `symbol` in the replay file of a scenario's `ReplaySpec`."""
    return read_ticks_file(
        spec.file,
        timestamp_column=spec.timestamp_column,
        price_column=spec.price_column,
        symbol_column=spec.symbol_column,
        symbol=symbol,
    )


def read_ticks_file(
    path: str | Path,
    *,
    timestamp_column: str = "timestamp",
    price_column: str = "price",
    symbol_column: str | None = None,
    symbol: str | None = None,
) -> ReplayTicks:
    """Read and check a replay CSV (see the module doc); raises `ReplayError`."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_REPLAY_BYTES:
            raise ReplayError(f"{file}: larger than {MAX_REPLAY_BYTES} bytes")
        with file.open(newline="", encoding="utf-8") as handle:
            return _parse(
                csv.reader(handle), file, timestamp_column, price_column, symbol_column, symbol
            )
    except FileNotFoundError:
        raise ReplayError(f"{file}: no such file") from None
    except UnicodeDecodeError as error:
        raise ReplayError(f"{file}: not UTF-8 text ({error.reason})") from None
    except csv.Error as error:
        raise ReplayError(f"{file}: not a CSV file ({error})") from None
    except OSError as error:
        raise ReplayError(f"{file}: cannot read it ({error.strerror})") from None


def _parse(
    rows: Iterator[list[str]],
    file: Path,
    timestamp_column: str,
    price_column: str,
    symbol_column: str | None,
    symbol: str | None,
) -> ReplayTicks:
    header = next(rows, None)
    if header is None:
        raise ReplayError(f"{file}: empty file, expected a header row")
    names = [name.strip() for name in header]
    wanted = [timestamp_column, price_column] + ([symbol_column] if symbol_column else [])
    missing = [name for name in wanted if name not in names]
    if missing:
        raise ReplayError(f"{file}: no column {missing[0]!r}; the header has {names}")
    i_time, i_price = names.index(timestamp_column), names.index(price_column)
    i_symbol = names.index(symbol_column) if symbol_column else None
    times: list[datetime] = []
    prices: list[float] = []
    for line, row in enumerate(rows, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            raise ReplayError(
                f"{file}, line {line}: {len(row)} fields, the header has {len(names)}"
            )
        if i_symbol is not None and symbol is not None and row[i_symbol].strip() != symbol:
            continue
        try:
            when = _timestamp(row[i_time])
        except ValueError as error:
            raise ReplayError(f"{file}, line {line}: {timestamp_column}: {error}") from None
        try:
            price = float(row[i_price])
        except ValueError:
            raise ReplayError(
                f"{file}, line {line}: {price_column}: {row[i_price]!r} is not a number"
            ) from None
        if not (math.isfinite(price) and price > 0.0):
            raise ReplayError(f"{file}, line {line}: {price_column}: {price} is not a price > 0")
        if times and when < times[-1]:
            raise ReplayError(
                f"{file}, line {line}: {when.isoformat()} is before the previous row's "
                f"{times[-1].isoformat()}; rows must be in time order"
            )
        times.append(when)
        prices.append(price)
    if not prices:
        which = f" for {symbol}" if i_symbol is not None and symbol is not None else ""
        raise ReplayError(f"{file}: no rows{which}")
    first = times[0]
    offsets = np.array([(t - first).total_seconds() for t in times], dtype=np.float64)
    return ReplayTicks(offsets, np.array(prices, dtype=np.float64), first)
