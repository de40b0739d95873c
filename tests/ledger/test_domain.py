"""Position and P&L arithmetic (average cost), checked by hand and against brute force."""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_examples import CALL, NDX, SPX, T0

from hedgemesh.ledger.domain.ledger import BookingRefused, Ledger, apply_trade, unrealised_pnl
from hedgemesh.store.ledger import EventKind, LedgerPosition
from hedgemesh.wire import Instrument
from hedgemesh.wire.book import MAX_POSITIONS


def book_all(instrument, trades, fees=None):
    position = LedgerPosition(instrument)
    cash = 0.0
    for i, (q, p) in enumerate(trades):
        position, moved, _ = apply_trade(position, q, p, fees[i] if fees else 0.0)
        cash += moved
    return position, cash


def test_given_buys_then_average_is_the_quantity_weighted_price() -> None:
    position, cash = book_all(SPX, [(10, 100.0), (30, 104.0)])
    assert (position.quantity, position.average_price) == (40, pytest.approx(103.0))
    assert cash == pytest.approx(-(1000 + 3120))
    assert position.realised_pnl == 0.0


def test_given_partial_sale_of_a_long_then_realised_at_average_and_average_unchanged() -> None:
    position, _ = book_all(SPX, [(10, 100.0), (-4, 112.5)])
    assert (position.quantity, position.average_price) == (6, 100.0)
    assert position.realised_pnl == pytest.approx(4 * 12.5)


def test_given_short_bought_back_higher_then_loss() -> None:
    position, _ = book_all(SPX, [(-10, 100.0), (-10, 110.0), (5, 120.0)])
    assert (position.quantity, position.average_price) == (-15, pytest.approx(105.0))
    assert position.realised_pnl == pytest.approx(-5 * 15.0)


def test_given_trade_crossing_zero_then_old_side_realised_and_rest_opened_at_trade_price() -> None:
    position, cash = book_all(SPX, [(10, 100.0), (-25, 90.0)])
    assert (position.quantity, position.average_price) == (-15, 90.0)
    assert position.realised_pnl == pytest.approx(-100.0)
    assert cash == pytest.approx(-1000 + 2250)


def test_given_close_to_flat_then_no_average_and_realised_kept() -> None:
    position, cash = book_all(SPX, [(10, 100.0), (-10, 101.0)])
    assert (position.quantity, position.average_price) == (0, None)
    assert position.realised_pnl == pytest.approx(10.0) == pytest.approx(cash)


def test_given_option_then_cash_and_pnl_scale_with_the_multiplier() -> None:
    position, cash = book_all(CALL, [(-2, 50.0), (2, 40.0)])
    assert cash == pytest.approx(2 * 50 * 100 - 2 * 40 * 100)
    assert position.realised_pnl == pytest.approx(2 * 10 * 100)


def test_given_fees_then_paid_in_cash_and_charged_to_realised() -> None:
    position, cash, realised = apply_trade(LedgerPosition(SPX), 10, 100.0, fees=2.5)
    assert (cash, realised, position.realised_pnl, position.fees) == (-1002.5, -2.5, -2.5, 2.5)
    assert position.average_price == 100.0  # fees are not part of the average cost


@pytest.mark.parametrize(
    ("quantity", "price", "fees"),
    [(0, 100.0, 0.0), (1, 0.0, 0.0), (1, float("nan"), 0.0), (1, 100.0, -1.0), (1, 1.0, np.inf)],
)
def test_given_invalid_trade_then_refused(quantity, price, fees) -> None:
    with pytest.raises(BookingRefused):
        apply_trade(LedgerPosition(SPX), quantity, price, fees)


def test_given_flat_or_unmarked_positions_then_no_unrealised() -> None:
    pnl = unrealised_pnl(
        np.array([10, 0, -5]), np.array([100.0, 0.0, 2.0]), np.array([np.nan, 5.0, 3.0]),
        np.array([1.0, 1.0, 100.0]),
    )  # fmt: skip
    np.testing.assert_allclose(pnl, [0.0, 0.0, -500.0])


# -- properties --------------------------------------------------------------------------------

trades_strategy = st.lists(
    st.tuples(
        st.integers(-50, 50).filter(bool),
        st.integers(1, 400).map(lambda c: c / 4),  # prices on a quarter tick: exact in binary
        st.integers(0, 8).map(lambda c: c / 8),
    ),
    min_size=1,
    max_size=40,
)


def fifo(trades, mark: float, multiplier: float) -> tuple[float, float]:
    """Brute force, first in first out: (realised net of fees, unrealised at `mark`)."""
    lots: deque[list[float]] = deque()  # [signed quantity, price]
    realised = 0.0
    for q, p, fee in trades:
        realised -= fee
        while q and lots and (lots[0][0] > 0) != (q > 0):
            closed = min(abs(q), abs(lots[0][0]))
            sign = 1 if lots[0][0] > 0 else -1
            realised += (p - lots[0][1]) * closed * sign * multiplier
            lots[0][0] -= sign * closed
            q += sign * closed
            if lots[0][0] == 0:
                lots.popleft()
        if q:
            lots.append([q, p])
    unrealised = sum((mark - price) * quantity * multiplier for quantity, price in lots)
    return realised, unrealised


@settings(max_examples=300, deadline=None, derandomize=True)
@given(trades_strategy, st.integers(1, 400).map(lambda c: c / 4), st.sampled_from([1.0, 100.0]))
def test_property_position_is_the_sum_and_total_pnl_matches_fifo_and_cash(trades, mark, m) -> None:
    instrument = SPX if m == 1.0 else CALL
    position, cash = book_all(instrument, [(q, p) for q, p, _ in trades], [f for *_, f in trades])
    assert position.quantity == sum(q for q, _, _ in trades)
    assert position.fees == pytest.approx(sum(f for *_, f in trades))
    [unrealised] = unrealised_pnl(
        np.array([position.quantity]), np.array([position.average_price or 0.0]),
        np.array([mark]), np.array([m]),
    )  # fmt: skip
    total = position.realised_pnl + unrealised
    fifo_realised, fifo_unrealised = fifo(trades, mark, m)
    scale = 1.0 + sum(abs(q) * p * m for q, p, _ in trades)
    assert total == pytest.approx(fifo_realised + fifo_unrealised, abs=1e-9 * scale)
    assert total == pytest.approx(cash + position.quantity * mark * m, abs=1e-9 * scale)
    if position.quantity == 0:  # flat: the methods agree on what was realised
        assert position.realised_pnl == pytest.approx(fifo_realised, abs=1e-9 * scale)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(trades_strategy)
def test_property_average_lies_within_the_prices_of_the_open_side(trades) -> None:
    position = LedgerPosition(SPX)
    since_open: list[float] = []
    for q, p, _ in trades:
        before = position.quantity
        position, _, _ = apply_trade(position, q, p)
        if before == 0 or (before > 0) != (position.quantity > 0):  # opened, or crossed zero
            since_open = [p]
        elif (q > 0) == (before > 0):  # added to the same side
            since_open.append(p)
        if position.quantity:
            assert min(since_open) - 1e-9 <= position.average_price <= max(since_open) + 1e-9
        else:
            assert position.average_price is None


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from([SPX, NDX, CALL]), trades_strategy), max_size=6))
def test_property_ledger_accounts_sum_their_positions(batches) -> None:
    ledger = Ledger()
    n = 0
    for instrument, trades in batches:
        for q, p, f in trades:
            n += 1
            booking = ledger.prepare(
                event_id=f"e{n}", kind=EventKind.TRADE, message_id=f"m{n}", instrument=instrument,
                signed_quantity=q, price=p, fees=f, ts=T0, raw="{}",
            )  # fmt: skip
            ledger.commit(booking)
    for underlying, account in ledger.accounts.items():
        held = ledger.holdings(underlying)
        assert account.realised_pnl == pytest.approx(sum(p.realised_pnl for p in held), abs=1e-6)
        assert account.fees == pytest.approx(sum(p.fees for p in held))
        expected = sum(1 for i, trades in batches if i.underlying == underlying for _ in trades)
        assert account.seq == expected


# -- the in-memory ledger ----------------------------------------------------------------------


def prepare(ledger: Ledger, event_id: str, instrument: Instrument, q: int, p: float, fees=0.0):
    return ledger.prepare(
        event_id=event_id, kind=EventKind.TRADE, message_id=f"msg-{event_id}",
        instrument=instrument, signed_quantity=q, price=p, fees=fees, ts=T0, raw="{}",
    )  # fmt: skip


def test_given_prepared_booking_then_nothing_changes_until_commit() -> None:
    ledger = Ledger()
    booking = prepare(ledger, "t1", SPX, 10, 100.0, fees=1.0)
    assert ledger.positions == {} and ledger.accounts == {}
    assert (booking.event.seq, booking.account.seq, booking.account.cash) == (1, 1, -1001.0)
    ledger.commit(booking)
    assert prepare(ledger, "t2", SPX, 1, 100.0).event.seq == 2
    assert prepare(ledger, "t3", NDX, 1, 100.0).event.seq == 1  # each underlying counts apart


def test_given_same_symbol_with_another_multiplier_then_refused() -> None:
    ledger = Ledger()
    ledger.commit(prepare(ledger, "t1", CALL, 1, 10.0))
    with pytest.raises(BookingRefused, match="multiplier"):
        prepare(ledger, "t2", CALL.model_copy(update={"multiplier": 10.0}), 1, 10.0)


def test_given_marks_then_snapshot_has_marked_open_positions_first_and_totals() -> None:
    ledger = Ledger()
    for booking_args in (("a", SPX, 10, 100.0), ("b", SPX, -10, 105.0), ("c", CALL, -2, 50.0)):
        ledger.commit(prepare(ledger, *booking_args))
    ledger.commit(prepare(ledger, "d", NDX, 3, 10.0))
    snap = ledger.snapshot("SPX", {CALL.symbol: 45.0, SPX.symbol: 110.0}, T0)
    assert [p.instrument for p in snap.positions] == [CALL, SPX]  # open first, then flat
    call, spx = snap.positions
    assert (call.quantity, call.mark_price, call.unrealised_pnl) == (-2, 45.0, 1000.0)
    assert (spx.quantity, spx.average_price, spx.realised_pnl) == (0, None, 50.0)
    assert (snap.unrealised_pnl, snap.realised_pnl, snap.as_of_seq) == (1000.0, 50.0, 3)
    assert snap.cash == pytest.approx(-1000 + 1050 + 10_000)
    assert snap.causation_id == "msg-c"
    unmarked = ledger.snapshot("SPX", {}, T0)
    assert unmarked.positions[0].mark_price is None and unmarked.unrealised_pnl == 0.0
    empty = ledger.snapshot("QQQ", {}, T0)
    assert (empty.positions, empty.cash, empty.as_of_seq) == ([], 0.0, 0)


def test_given_more_positions_than_a_snapshot_holds_then_open_ones_listed_and_totals_full() -> None:
    ledger = Ledger()
    strikes = range(1000, 1000 + MAX_POSITIONS + 20)
    for k in strikes:
        option = Instrument.option("SPX", CALL.expiry, k, "put")
        ledger.commit(prepare(ledger, f"o{k}", option, 1, 1.0))
        ledger.commit(prepare(ledger, f"c{k}", option, -1, 2.0))  # flat, realised 100
    ledger.commit(prepare(ledger, "open", SPX, 1, 1.0))
    snap = ledger.snapshot("SPX", {}, T0)
    assert len(snap.positions) == MAX_POSITIONS
    assert snap.positions[0].instrument == SPX
    assert snap.realised_pnl == pytest.approx(100.0 * len(strikes))


def test_given_booking_state_then_position_and_account_agree() -> None:
    ledger = Ledger()
    booking = prepare(ledger, "t1", CALL, -3, 20.0, fees=3.0)
    assert booking.position == replace(LedgerPosition(CALL), quantity=-3, average_price=20.0,
                                       realised_pnl=-3.0, fees=3.0)  # fmt: skip
    assert booking.event.cash == booking.account.cash == pytest.approx(6000 - 3)
