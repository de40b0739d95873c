"""CSV tick replay: reading and checking files, and replaying them in order at their times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hedgemesh.market.replay import ReplayError, read_ticks_file
from hedgemesh.market.session import MarketSession
from hedgemesh.scenario.testing import make_scenario, scenario_dict, underlying_dict

ORIGIN = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)

GOOD = """timestamp,symbol,price
2024-03-01T14:30:00Z,SPX,5000.5
2024-03-01T14:30:00Z,NDX,18000
2024-03-01T14:30:02.5Z,SPX,5001.25

2024-03-01T09:30:07-05:00,SPX,4999
"""


def _write(tmp_path, text: str, name: str = "ticks.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_given_a_csv_then_offsets_are_from_the_first_row_and_other_symbols_are_skipped(tmp_path):
    ticks = read_ticks_file(_write(tmp_path, GOOD), symbol_column="symbol", symbol="SPX")
    assert ticks.offsets_s.tolist() == [0.0, 2.5, 7.0]
    assert ticks.prices.tolist() == [5000.5, 5001.25, 4999.0]
    assert ticks.first_time == datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def test_given_unix_seconds_and_naive_times_then_they_are_utc(tmp_path):
    text = "t,p\n1709303400,10\n2024-03-01T14:30:01,11\n1709303402.5,12\n"
    ticks = read_ticks_file(_write(tmp_path, text), timestamp_column="t", price_column="p")
    assert ticks.offsets_s.tolist() == [0.0, 1.0, 2.5]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty file"),
        (
            "when,price\n2024-03-01T14:30:00Z,1\n",
            "no column 'timestamp'; the header has ['when', 'price']",
        ),
        ("timestamp,price\n", "no rows"),
        ("timestamp,price\n2024-03-01T14:30:00Z,abc\n", "line 2: price: 'abc' is not a number"),
        ("timestamp,price\n2024-03-01T14:30:00Z,-3\n", "line 2: price: -3.0 is not a price > 0"),
        ("timestamp,price\n2024-03-01T14:30:00Z,nan\n", "line 2: price: nan"),
        ("timestamp,price\nyesterday,1\n", "line 2: timestamp: 'yesterday' is neither ISO 8601"),
        ("timestamp,price\n2024-03-01T14:30:00Z,1,2\n", "line 2: 3 fields, the header has 2"),
        ("timestamp,price\n2024-03-01T14:30:05Z,1\n2024-03-01T14:30:00Z,1\n", "line 3:"),
        ("timestamp,price\n2024-03-01T14:30:05Z,1\n2024-03-01T14:30:00Z,1\n", "time order"),
    ],
)
def test_given_a_bad_file_then_the_error_names_the_file_and_line(tmp_path, text, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(ReplayError) as caught:
        read_ticks_file(path)
    assert str(caught.value).startswith(str(path)) and fragment in str(caught.value)


def test_given_a_missing_or_binary_file_then_it_says_so(tmp_path):
    with pytest.raises(ReplayError, match="no such file"):
        read_ticks_file(tmp_path / "none.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ReplayError, match="not UTF-8"):
        read_ticks_file(tmp_path / "bin.csv")
    with pytest.raises(ReplayError, match="no rows for DJX"):
        read_ticks_file(_write(tmp_path, GOOD), symbol_column="symbol", symbol="DJX")


def test_given_a_replayed_underlying_then_its_ticks_come_in_order_at_their_offsets(tmp_path):
    _write(tmp_path, GOOD)
    model = {"kind": "replay", "file": "ticks.csv", "symbol_column": "symbol"}
    spx = underlying_dict(model=model)
    del spx["spot"]
    events = [{"kind": "gap", "at": 5, "pct": -10}]
    scenario = make_scenario(scenario_dict(underlyings=[spx], events=events), base_dir=tmp_path)
    session = MarketSession(scenario, ORIGIN)
    batches = [session.start(), *session.run_until(1e9)]
    ticks = [t for b in batches for t in b.ticks]
    assert [(t.seq, (t.ts - ORIGIN).total_seconds(), t.price) for t in ticks] == [
        (0, 0.0, 5000.5),
        (1, 2.5, 5001.25),
        (2, 7.0, pytest.approx(4999 * 0.9)),  # the gap at 5 s applies to what follows
    ]
    assert [len(b.surfaces) for b in batches] == [1, 1, 1]
    assert batches[-1].ended == ["SPX: replay finished"] and session.next_offset() is None
    assert session.feeds["SPX"].chain.expiries[0].strikes[2] == 5000  # listed at the first price
