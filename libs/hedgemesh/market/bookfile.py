"""Bring your own book: positions from a CSV or JSON file (or an API request) as client trades.

Each row is one holding entered as a trade with the book, so it goes through the same ledger
path as client flow (`ClientTrade` on `hedge.v1.book.trade`, idempotent by `trade_id`):

| field | required | meaning |
|---|---|---|
| `instrument` | yes | canonical symbol: `SPX` (the underlying) or `SPX-20261218-C-5000` |
| `quantity` | yes | signed whole contracts or units, the book's side: + bought, − sold |
| `price` | yes | per unit of the underlying (an option's premium), > 0 |
| `counterparty` | no | who the book traded with (default `book-file`) |
| `multiplier` | no | an option's contract size (default 100) |
| `trade_id` | no | the ledger books each id once (default: from the rows and the line) |

Default trade ids come from the rows' content and the line, so loading a file twice books it
once. CSV: a header row naming the fields, one row per trade (`#` starts a comment line). JSON: a
list of objects, or `{"trades": [...]}`. Every row is checked before anything is sent; each
problem is a `RowError` naming the file, the line (CSV) or item (JSON, from 1) and the field.

    >>> rows = parse_rows([{"instrument": "SPX", "quantity": -300, "price": 5000}], "desk.json")
    >>> rows[0].instrument.symbol, rows[0].side.value, rows[0].quantity
    ('SPX', 'sell', 300)
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hedgemesh.wire.book import ClientTrade
from hedgemesh.wire.instruments import Instrument, Side

__all__ = ["FIELDS", "BookFileError", "RowError", "load_book", "parse_rows"]

FIELDS = ("instrument", "quantity", "price", "counterparty", "multiplier", "trade_id")
REQUIRED = ("instrument", "quantity", "price")
DEFAULT_COUNTERPARTY = "book-file"


@dataclass(frozen=True, slots=True)
class RowError:
    source: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.field}: {self.message}"


class BookFileError(ValueError):
    """Rows that cannot be trades; `errors` names each file, line and field."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in errors))


def _number(value: Any, field: str, whole: bool) -> float | int:
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"{field} is required" if value in (None, "") else "not a number")
    try:
        number = float(value) if not isinstance(value, int | float) else value
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"not a finite number: {value!r}")
    if whole:
        if float(number) != int(float(number)):
            raise ValueError(f"not a whole number: {value!r}")
        return int(float(number))
    return float(number)


def _row(
    item: Any, source: str, line: int, digest: str, now: datetime, known: Collection[str] | None
) -> tuple[ClientTrade | None, list[RowError]]:
    errors: list[RowError] = []

    def fail(field: str, message: str) -> None:
        errors.append(RowError(source, line, field, message))

    if not isinstance(item, dict):
        return None, [RowError(source, line, "row", "must be an object of fields")]
    for name in sorted(set(item) - set(FIELDS)):
        fail(name, f"unknown field; fields: {', '.join(FIELDS)}")
    for name in REQUIRED:
        if item.get(name) in (None, ""):
            fail(name, "required")
    if errors:
        return None, errors
    multiplier = None
    if item.get("multiplier") not in (None, ""):
        try:
            multiplier = _number(item["multiplier"], "multiplier", whole=False)
        except ValueError as error:
            fail("multiplier", str(error))
    instrument = None
    try:
        instrument = Instrument.parse(str(item["instrument"]).strip(), multiplier)
    except ValueError as error:
        fail("instrument", str(error))
    if instrument is not None and known is not None and instrument.underlying not in known:
        fail("instrument", f"unknown underlying {instrument.underlying}; known: {sorted(known)}")
    quantity = price = None
    try:
        quantity = int(_number(item["quantity"], "quantity", whole=True))
        if quantity == 0:
            fail("quantity", "must not be 0")
    except ValueError as error:
        fail("quantity", str(error))
    try:
        price = float(_number(item["price"], "price", whole=False))
        if not price > 0:
            fail("price", f"must be > 0, got {price:g}")
    except ValueError as error:
        fail("price", str(error))
    if errors or instrument is None or quantity is None or price is None:
        return None, errors
    trade_id = str(item.get("trade_id") or f"book-{digest}-{line}")
    try:
        trade = ClientTrade(
            id=trade_id,
            ts=now,
            trade_id=trade_id,
            instrument=instrument,
            side=Side.of(quantity),
            quantity=abs(quantity),
            price=price,
            counterparty=str(item.get("counterparty") or DEFAULT_COUNTERPARTY),
        )
    except ValidationError as error:
        for problem in error.errors():
            field = str(problem["loc"][0]) if problem["loc"] else "row"
            fail({"id": "trade_id"}.get(field, field), problem["msg"])
        return None, errors
    return trade, []


def parse_rows(
    items: Sequence[Any],
    source: str,
    *,
    first_line: int = 1,
    lines: Sequence[int] | None = None,
    now: datetime | None = None,
    known_underlyings: Collection[str] | None = None,
) -> list[ClientTrade]:
    """Trades of `items` (dicts of `FIELDS`); `lines`: each item's line in `source` (default
    `first_line`, `first_line` + 1, ...). Raises `BookFileError` with every problem."""
    canonical = json.dumps(list(items), sort_keys=True, default=str).encode()
    digest = hashlib.sha256(canonical).hexdigest()[:12]
    when = now or datetime.now(UTC)
    trades, errors = [], []
    for n, item in enumerate(items):
        line = lines[n] if lines is not None else first_line + n
        trade, problems = _row(item, source, line, digest, when, known_underlyings)
        errors += problems
        if trade is not None:
            trades.append(trade)
    if not items:
        errors.append(RowError(source, 0, "rows", "no trades"))
    if errors:
        raise BookFileError(errors)
    return trades


def _csv_rows(text: str) -> tuple[list[dict[str, str]], list[int]]:
    body = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    body = [(n, line) for n, line in body if not line.lstrip().startswith("#")]
    if not body:
        return [], []
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in body)))
    rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    return rows, [n for n, _ in body[1:]]


def load_book(
    path: str | Path,
    *,
    now: datetime | None = None,
    known_underlyings: Collection[str] | None = None,
) -> list[ClientTrade]:
    """The trades of a CSV (`.csv`) or JSON (`.json`) book file; `BookFileError` names every
    bad row's file, line and field (and an unreadable file)."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise BookFileError([RowError(source, 0, "file", str(error))]) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise BookFileError([RowError(source, error.lineno, "json", error.msg)]) from None
        items = data.get("trades") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise BookFileError([RowError(source, 1, "json", "a list of trades, or {trades}")])
        return parse_rows(items, source, now=now, known_underlyings=known_underlyings)
    if path.suffix.lower() != ".csv":
        raise BookFileError([RowError(source, 0, "file", "a .csv or .json file")])
    rows, lines = _csv_rows(text)
    return parse_rows(rows, source, lines=lines, now=now, known_underlyings=known_underlyings)
