"""Bring your own book: CSV and JSON rows become client trades; every bad row is named by
file, line and field, and nothing is returned while one is bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hedgemesh.market.bookfile import BookFileError, load_book

CSV = """\
# the desk's opening book
instrument,quantity,price,counterparty
SPX-20261218-C-5000,-150,112.5,pension-fund
SPX,300,5000.25,
NDX-20261218-P-18000,40,410,hedge-fund
"""


def test_given_a_csv_book_then_each_row_is_a_trade_on_the_books_side(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text(CSV)
    trades = load_book(path, known_underlyings={"SPX", "NDX"})
    assert [(t.instrument.symbol, t.signed_quantity, t.price) for t in trades] == [
        ("SPX-20261218-C-5000", -150, 112.5),
        ("SPX", 300, 5000.25),
        ("NDX-20261218-P-18000", 40, 410.0),
    ]
    assert trades[0].counterparty == "pension-fund" and trades[1].counterparty == "book-file"
    assert trades[0].instrument.multiplier == 100
    # Loading the same file again gives the same ids: the ledger books it once.
    assert [t.trade_id for t in load_book(path)] == [t.trade_id for t in trades]
    assert len({t.trade_id for t in trades}) == 3


def test_given_bad_rows_then_every_problem_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "instrument,quantity,price\n"
        "SPX-20261218-C-5000,1.5,112\n"  # line 2: fractional
        "\n"
        "SPX-2026-C-5000,10,112\n"  # line 4: not a symbol
        "RUT,10,-3\n"  # line 5: unknown underlying, negative price
        "SPX,0,5000\n"  # line 6: zero
    )
    with pytest.raises(BookFileError) as caught:
        load_book(path, known_underlyings={"SPX", "NDX"})
    where = {(e.line, e.field) for e in caught.value.errors}
    assert where == {(2, "quantity"), (4, "instrument"), (5, "instrument"), (5, "price"),
                     (6, "quantity")}  # fmt: skip
    assert all(e.source == str(path) for e in caught.value.errors)
    assert f"{path}:2: quantity: not a whole number" in str(caught.value)


def test_given_a_json_book_then_items_are_numbered_and_unknown_fields_refused(tmp_path) -> None:
    path = tmp_path / "book.json"
    rows = [
        {"instrument": "SPX", "quantity": -10, "price": 5000, "trade_id": "mine-1"},
        {"instrument": "SPX", "qty": 3, "price": 5000},
    ]
    path.write_text(json.dumps({"trades": rows}))
    with pytest.raises(BookFileError) as caught:
        load_book(path)
    assert {(e.line, e.field) for e in caught.value.errors} == {(2, "qty"), (2, "quantity")}
    path.write_text(json.dumps(rows[:1]))
    assert load_book(path)[0].trade_id == "mine-1"
    path.write_text("{not json")
    with pytest.raises(BookFileError, match="json"):
        load_book(path)
