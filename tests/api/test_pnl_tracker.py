"""The API's P&L attribution, followed tick by tick: it adds up to the book's change of value,
trades are costs or new business, and small moves leave little unexplained."""

from __future__ import annotations

import numpy as np
import pytest
from api_examples import chain, session, snapshot

from hedgemesh.api.domain.pnl import PnlTracker
from hedgemesh.market.book_state import BookState
from hedgemesh.wire.instruments import Instrument


def fed(book: BookState, tracker: PnlTracker, batches) -> None:
    for batch in batches:
        for message in (*batch.surfaces, *batch.ticks):
            if book.apply(message):
                tracker.on_market(message.underlying)


def apply(book: BookState, tracker: PnlTracker, message) -> None:
    assert book.apply(message)
    tracker.on_snapshot(message)


def value_of(book: BookState, holdings, cash: float) -> float:
    """cash + Σ q · value per unit, priced independently of the tracker."""
    tick = book.tick("SPX")
    assert tick is not None
    now = max(tick.ts, book.surface("SPX").ts)
    instruments = [i for i, _ in holdings]
    unit = book.greeks_per_unit(instruments, now)
    values = [
        unit.value[n] if i.is_option else tick.price * i.multiplier
        for n, i in enumerate(instruments)
    ]
    return cash + float(np.dot([q for _, q in holdings], values))


def followed_book() -> tuple[BookState, PnlTracker]:
    book = BookState()
    return book, PnlTracker(book)


@pytest.fixture
def market():
    return session("SPX")


def test_given_moves_and_trades_then_the_breakdown_adds_up_to_the_change_of_value(market):
    book, tracker = followed_book()
    spx = chain(market)
    fed(book, tracker, market.run_until(30))
    first = [(spx[2], -20), (spx[5], 10), (Instrument.spot("SPX"), 300)]
    apply(book, tracker, snapshot("SPX", first, seq=1, cash=-1_000_000.0))
    baseline = value_of(book, first, -1_000_000.0)
    fed(book, tracker, market.run_until(600))
    second = [(spx[2], -20), (spx[5], 14), (Instrument.spot("SPX"), 250)]
    apply(book, tracker, snapshot("SPX", second, seq=2, cash=-760_000.0))
    fed(book, tracker, market.run_until(1800))

    followed = tracker["SPX"]
    now = value_of(book, second, -760_000.0)
    assert followed.baseline_value == pytest.approx(baseline)
    assert followed.breakdown.total == pytest.approx(now - baseline, rel=1e-9, abs=1e-6)
    assert followed.change == pytest.approx(now - baseline, rel=1e-9, abs=1e-6)
    b = followed.breakdown
    assert b.delta != 0 and b.gamma != 0 and b.theta != 0 and b.new_trades != 0
    # Ten-second ticks: the greeks explain nearly all of the market's P&L.
    market_pnl = b.delta + b.gamma + b.theta + b.vega + b.unexplained
    assert abs(b.unexplained) < 0.05 * abs(market_pnl) + 1.0


def test_given_a_snapshot_caused_by_a_hedge_fill_then_its_pnl_is_a_transaction_cost(market):
    book, tracker = followed_book()
    spx = chain(market)
    fed(book, tracker, market.run_until(30))
    apply(book, tracker, snapshot("SPX", [(spx[3], -10)], seq=1, cash=5_000.0))
    option = spx[3]
    tick = book.tick("SPX")
    fair = book.greeks_per_unit([option], max(tick.ts, book.surface("SPX").ts)).value[0]
    # Bought 4 contracts back 0.30 above fair value per unit, and paid 2.0 in fees.
    paid = 4 * (fair + 0.30 * option.multiplier) + 2.0
    tracker.note_fill("report-1")
    apply(
        book,
        tracker,
        snapshot("SPX", [(option, -6)], seq=2, cash=5_000.0 - paid, causation_id="report-1"),
    )
    b = tracker["SPX"].breakdown
    assert b.transaction_costs == pytest.approx(-(4 * 0.30 * option.multiplier + 2.0))
    assert b.new_trades == 0.0


def test_given_a_client_trade_above_fair_value_then_its_pnl_is_a_new_trade(market):
    book, tracker = followed_book()
    spx = chain(market)
    fed(book, tracker, market.run_until(30))
    apply(book, tracker, snapshot("SPX", [], seq=1))
    option = spx[6]
    tick = book.tick("SPX")
    fair = book.greeks_per_unit([option], max(tick.ts, book.surface("SPX").ts)).value[0]
    # A client bought 5 contracts from the book 0.50 per unit above fair value.
    received = 5 * (fair + 0.50 * option.multiplier)
    apply(
        book,
        tracker,
        snapshot("SPX", [(option, -5)], seq=2, cash=received, causation_id="trade-message"),
    )
    b = tracker["SPX"].breakdown
    assert b.new_trades == pytest.approx(5 * 0.50 * option.multiplier)
    assert b.transaction_costs == 0.0


def test_given_only_the_underlying_then_delta_explains_every_move(market):
    book, tracker = followed_book()
    fed(book, tracker, market.run_until(30))
    apply(book, tracker, snapshot("SPX", [(Instrument.spot("SPX"), 100)], seq=1, cash=-500_000.0))
    start = book.tick("SPX").price
    fed(book, tracker, market.run_until(900))
    b = tracker["SPX"].breakdown
    assert b.delta == pytest.approx(100 * (book.tick("SPX").price - start))
    assert b.gamma == 0.0 and b.theta == 0.0 and b.vega == 0.0
    assert b.unexplained == pytest.approx(0.0, abs=1e-6)


def test_given_positions_before_any_market_then_the_baseline_waits_for_prices(market):
    book, tracker = followed_book()
    spx = chain(market)
    apply(book, tracker, snapshot("SPX", [(spx[1], 3)], seq=1, cash=-100.0))
    assert tracker["SPX"].since is None and tracker["SPX"].value is None
    first = market.advance()
    fed(book, tracker, [first])
    followed = tracker["SPX"]
    assert followed.since == first.ts
    assert followed.breakdown.total == 0.0 and followed.change == 0.0
    fed(book, tracker, market.run_until(300))
    assert followed.breakdown.total == pytest.approx(followed.change, rel=1e-9)
