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
    # The hedges' own P&L: their cost at once, then the market's moves on the 4 contracts.
    assert tracker.hedge_pnl("SPX") == pytest.approx(b.transaction_costs)
    fed(book, tracker, market.run_until(900))
    now = max(book.tick("SPX").ts, book.surface("SPX").ts)
    value = book.greeks_per_unit([option], now).value[0]
    assert tracker.hedge_pnl("SPX") == pytest.approx(4 * value - paid)
    assert tracker.hedge_pnl("NDX") is None


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


# -- the default scenario's gap, and windows ---------------------------------------------------


def _default_book(hedge_delta: bool):
    """The default scenario's market and book (its initial trades at their prices), fed to a
    read model until just before the gap at one hour; with `hedge_delta`, each underlying's
    delta then flattened with the underlying (at spot, no cost), as a desk would have it."""
    from collections import defaultdict
    from datetime import UTC, datetime

    from hedgemesh.api.domain.readmodel import ReadModel
    from hedgemesh.market.session import MarketSession
    from hedgemesh.scenario import DEFAULT_SCENARIO, load_scenario
    from hedgemesh.wire.book import Position, PositionSnapshot
    from hedgemesh.wire.instruments import Side

    scenario = load_scenario(DEFAULT_SCENARIO)
    market = MarketSession(scenario, datetime(2024, 1, 2, 14, 30, tzinfo=UTC), client_flow=False)
    model = ReadModel(scenario.symbols)
    first = market.start()

    def feed(batches) -> None:
        for batch in batches:
            for message in (*batch.surfaces, *batch.ticks):
                (model.on_surface if hasattr(message, "slices") else model.on_tick)(message)

    feed([first])
    trades = defaultdict(list)
    for trade in first.trades:
        trades[trade.instrument.underlying].append(trade)
    seq = 1
    for underlying, booked in trades.items():
        signed = [(t, t.quantity if t.side is Side.BUY else -t.quantity) for t in booked]
        model.on_snapshot(
            PositionSnapshot(
                underlying=underlying,
                positions=[
                    Position(instrument=t.instrument, quantity=q, average_price=t.price)
                    for t, q in signed
                ],
                cash=-sum(q * t.price * t.instrument.multiplier for t, q in signed),
                realised_pnl=0.0,
                unrealised_pnl=0.0,
                fees=0.0,
                as_of_seq=seq,
            )
        )
    feed(market.run_until(3590))
    if hedge_delta:
        risk = model.risk_view()
        for row in risk.underlyings:
            held = model.book.snapshot(row.underlying)
            units = -round(row.greeks.delta)
            spot = Instrument.spot(row.underlying)
            model.on_snapshot(
                held.model_copy(
                    update={
                        "positions": [*held.positions, Position(instrument=spot, quantity=units)],
                        "cash": held.cash - units * row.spot,
                        "as_of_seq": held.as_of_seq + 1,
                    }
                )
            )
    return model, market, feed


@pytest.mark.parametrize("hedge_delta", [False, True])
def test_given_the_default_scenarios_gap_then_less_than_5_pct_is_unexplained(hedge_delta):
    model, market, feed = _default_book(hedge_delta)
    before = model.pnl.total()
    feed(market.run_until(3610))  # the gap (5 % and 6 % down) and the vol spike at one hour
    gap = model.pnl.total() - before
    moved = gap.delta + gap.gamma + gap.vega + gap.vanna + gap.volga + gap.theta
    assert gap.total == pytest.approx(moved + gap.unexplained)
    assert abs(gap.total) > 1e5  # the gap costs the short-gamma book, hedged or not
    assert abs(gap.unexplained) < 0.05 * abs(gap.total)
    # The move is large: gamma and the cross terms carry most of it.
    assert gap.gamma < 0 and gap.vanna != 0 and gap.volga != 0
    # And over the rest of the morning, on ten-second ticks, the identity still holds.
    feed(market.run_until(3 * 3600))
    day = model.pnl.total()
    for underlying in model.pnl.underlyings():
        followed = model.pnl[underlying]
        assert followed.breakdown.total == pytest.approx(followed.change, rel=1e-9, abs=1e-6)
    assert abs(day.unexplained) < 0.05 * abs(day.total)


def test_given_a_window_then_its_attribution_is_the_change_since_its_start(market):
    book, tracker = followed_book()
    spx = chain(market)
    fed(book, tracker, market.run_until(30))
    holdings = [(spx[2], -20), (spx[5], 10)]
    apply(book, tracker, snapshot("SPX", holdings, seq=1, cash=-1_000.0))
    followed = tracker["SPX"]
    fed(book, tracker, market.run_until(3600))
    from datetime import UTC, datetime, timedelta

    k = len(followed.history_at) // 2
    start = datetime.fromtimestamp(followed.history_at[k], UTC)
    window = followed.window(start)
    assert window == followed.breakdown - followed.history[k]
    assert window.not_followed == 0.0 and window != followed.breakdown
    # A start between two samples takes the earlier one.
    assert followed.window(start + timedelta(seconds=1)) == window
    # A window from before the baseline carries the ledger's P&L at the baseline.
    earlier = followed.window(followed.since - timedelta(hours=1))
    assert earlier.not_followed == followed.ledger_pnl_at_baseline == 7.5
    assert earlier.total == pytest.approx(followed.change + 7.5)
    # About one sample per sample_s (the newest moves with the book), so a day keeps a few
    # hundred.
    gaps = np.diff(followed.history_at[:-1])
    assert len(gaps) and gaps.min() > 0.5 * tracker.sample_s
