"""Historical prices: the CSV loader on good and bad files, windows cut into paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hedgemesh.quant.history import (
    HistoricalPrices,
    PriceFileError,
    as_prices,
    historical_paths,
    load_prices_csv,
)
from hedgemesh.quant.paths import PathSet

GOOD = """\
date,open,close,volume
2024-01-02,100.0,101.5,1000
2024-01-03,101.5,99.25,1200
2024-01-04,99.0,100.75,900
2024-01-05,100.5,102.0,1100

2024-01-08,102.0,103.5,1000
"""


def _write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_given_a_good_file_then_dates_prices_and_mean_step_are_read(tmp_path):
    prices = load_prices_csv(_write(tmp_path, GOOD))
    assert prices.column == "close"
    np.testing.assert_array_equal(prices.prices, [101.5, 99.25, 100.75, 102.0, 103.5])
    assert prices.dates[0] == np.datetime64("2024-01-02")
    assert prices.dates[-1] == np.datetime64("2024-01-08")
    # 6 calendar days over 4 intervals, in ACT/365 years.
    assert prices.dt == pytest.approx(6.0 / 4.0 / 365.0)
    assert len(prices) == 5


def test_given_a_named_column_any_case_and_a_bom_then_it_is_read(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffDate , Open,CLOSE\n2024-01-02,1,2\n2024-01-03,3,4\n".encode())
    prices = load_prices_csv(path, date_column="date", price_column="open", dt=1 / 252)
    np.testing.assert_array_equal(prices.prices, [1.0, 3.0])
    assert prices.dt == 1 / 252
    assert prices.column == "open"


def test_given_a_single_price_column_with_another_name_then_it_is_chosen(tmp_path):
    text = "when,px\n2024-03-28T15:30:00+01:00,10\n2024-03-28T15:31:00+01:00,10.5\n"
    prices = load_prices_csv(_write(tmp_path, text), date_column="when")
    assert prices.column == "px"
    assert prices.dates[0] == np.datetime64("2024-03-28T14:30:00")  # converted to UTC
    assert prices.dt == pytest.approx(60.0 / (365.0 * 86_400.0))


def test_given_daily_trading_days_then_dt_is_about_one_over_252(tmp_path):
    days = np.arange(np.datetime64("2023-01-02"), np.datetime64("2024-12-31"))
    weekdays = days[np.is_busday(days)]
    rows = "\n".join(f"{d},{100 + i * 0.01:.2f}" for i, d in enumerate(weekdays))
    prices = load_prices_csv(_write(tmp_path, "date,close\n" + rows + "\n"))
    assert 1 / prices.dt == pytest.approx(261, abs=1)  # weekdays per year, no holiday calendar


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("day,close\n2024-01-02,1\n", {}, r"line 1: no column 'date'; the columns are \['day'"),
        ("date,close\n2024-01-02,1\n", {"price_column": "mid"}, r"line 1: no column 'mid'"),
        ("date,open,high\n2024-01-02,1,2\n", {}, "line 1: which column is the price"),
        ("", {}, "line 1: no header row"),
        (
            "date,close\n2024-01-02,1\n02/01/2024,2\n",
            {},
            "line 3: column 'date': cannot read '02/01/2024' as an ISO 8601 date",
        ),
        (
            "date,close\n2024-01-02,1\n2024-01-03,abc\n",
            {},
            "line 3: column 'close': cannot read 'abc' as a price",
        ),
        (
            "date,close\n2024-01-02,1\n2024-01-03,0\n",
            {},
            "line 3: column 'close': price must be finite and > 0, got 0",
        ),
        ("date,close\n2024-01-02,1\n2024-01-03,-2.5\n", {}, "line 3: .* > 0, got -2.5"),
        ("date,close\n2024-01-02,1\n2024-01-03,nan\n", {}, "line 3: .* finite"),
        ("date,close\n2024-01-02,1\n2024-01-03,\n", {}, "line 3: column 'close': missing value"),
        ("date,close\n2024-01-02,1\n2024-01-03\n", {}, "line 3: column 'close': missing value"),
        (
            "date,close\n2024-01-03,1\n2024-01-02,2\n",
            {},
            "line 3: column 'date': date "
            "2024-01-02T00:00:00 does not come after 2024-01-03T00:00:00",
        ),
        ("date,close\n2024-01-02,1\n\n2024-01-02,2\n", {}, "line 4: .* strictly increasing"),
        ("date,close\n2024-01-02,1\n", {}, "at least two price rows, found 1"),
    ],
)
def test_given_a_bad_file_then_the_error_names_the_line_and_column(tmp_path, text, kwargs, message):
    path = _write(tmp_path, text)
    with pytest.raises(PriceFileError, match=message) as raised:
        load_prices_csv(path, **kwargs)
    assert str(path) in str(raised.value)


def test_given_a_missing_file_then_the_os_error_is_raised(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_prices_csv(tmp_path / "nowhere.csv")


def test_given_a_history_then_windows_overlap_by_the_stride():
    prices = as_prices(np.arange(1.0, 11.0), dt=1 / 252)  # 10 rows: 1, 2, …, 10
    paths = historical_paths(prices, window=3, stride=2)
    assert isinstance(paths, PathSet)
    # windows start at rows 0, 2, 4, 6: (10 − 1 − 3) // 2 + 1 = 4 of them
    np.testing.assert_array_equal(
        paths.spot, [[1, 2, 3, 4], [3, 4, 5, 6], [5, 6, 7, 8], [7, 8, 9, 10]]
    )
    assert paths.dt == 1 / 252 and paths.n_steps == 3
    np.testing.assert_array_equal(prices.window_starts(3, 2), prices.dates[[0, 2, 4, 6]])
    assert paths.spot[:, 1].flags.c_contiguous and not paths.spot.flags.writeable


def test_given_rebase_then_each_window_starts_at_it_with_its_returns_kept():
    prices = as_prices([50.0, 55.0, 44.0, 88.0], dt=0.1)
    paths = historical_paths(prices, window=2, rebase=100.0)
    np.testing.assert_allclose(paths.spot, [[100.0, 110.0, 88.0], [100.0, 80.0, 160.0]])


@pytest.mark.parametrize(
    ("window", "stride", "message"),
    [(0, 1, "window"), (4, 1, "needs 5 prices, have 4"), (2, 0, "stride"), (1.5, 1, "window")],
)
def test_given_an_impossible_window_then_rejected(window, stride, message):
    with pytest.raises(ValueError, match=message):
        historical_paths(as_prices([1.0, 2.0, 3.0, 4.0], dt=0.1), window, stride)


def test_historical_prices_refuse_unsorted_dates_and_bad_prices():
    dates = np.array(["2024-01-02", "2024-01-01"], dtype="datetime64[s]")
    with pytest.raises(ValueError, match="increasing"):
        HistoricalPrices(dates=dates, prices=np.array([1.0, 2.0]), dt=0.1)
    with pytest.raises(ValueError, match="> 0"):
        HistoricalPrices(dates=dates[::-1], prices=np.array([1.0, -2.0]), dt=0.1)
    with pytest.raises(ValueError, match="dt"):
        HistoricalPrices(dates=dates[::-1], prices=np.array([1.0, 2.0]), dt=0.0)
