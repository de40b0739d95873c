"""LedgerRepository: each event booked once, with its position and account, atomically."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from store_examples import CALL, SPX, T0

from hedgemesh.store.ledger import (
    EventKind,
    LedgerAccount,
    LedgerEvent,
    LedgerPosition,
    LedgerRepository,
    StaleLedger,
)
from hedgemesh.wire import Instrument


@pytest.fixture
def repo(sessions) -> LedgerRepository:
    return LedgerRepository(sessions)


def event(event_id: str, seq: int, instrument: Instrument = SPX, quantity: int = 10, price=100.0):
    m = instrument.multiplier
    return LedgerEvent(
        event_id=event_id,
        kind=EventKind.TRADE,
        message_id=f"msg-{event_id}",
        instrument=instrument,
        signed_quantity=quantity,
        price=price,
        fees=0.5,
        cash=-quantity * price * m - 0.5,
        realised_pnl=-0.5,
        seq=seq,
        ts=T0 + timedelta(seconds=seq),
        raw="{}",
    )


def test_given_new_event_then_event_position_and_account_stored_together(repo) -> None:
    e = event("t1", 1)
    position = LedgerPosition(SPX, 10, 100.0, -0.5, 0.5)
    account = LedgerAccount("SPX", cash=e.cash, realised_pnl=-0.5, fees=0.5, seq=1,
                            last_message_id="msg-t1")  # fmt: skip
    assert repo.book(e, position, account)
    assert repo.is_booked("t1") and not repo.is_booked("t2")
    assert repo.positions() == [position]
    assert repo.account("SPX") == account
    assert repo.accounts() == [account]
    [stored] = repo.events()
    assert replace(stored, ts=e.ts) == e and stored.ts == e.ts


def test_given_event_id_booked_before_then_nothing_changes(repo) -> None:
    repo.book(event("t1", 1), LedgerPosition(SPX, 10, 100.0), LedgerAccount("SPX", seq=1))
    again = event("t1", 2, quantity=99)
    assert not repo.book(again, LedgerPosition(SPX, 109, 100.0), LedgerAccount("SPX", seq=2))
    assert repo.positions()[0].quantity == 10
    assert repo.account("SPX") == LedgerAccount("SPX", seq=1)


def test_given_account_moved_on_then_a_booking_from_stale_state_is_refused(repo) -> None:
    repo.book(event("t1", 1), LedgerPosition(SPX, 10, 100.0), LedgerAccount("SPX", seq=1))
    repo.book(event("t2", 2), LedgerPosition(SPX, 20, 100.0), LedgerAccount("SPX", seq=2))
    with pytest.raises(StaleLedger):  # computed from seq 1, as a second writer would
        repo.book(event("t3", 2), LedgerPosition(SPX, 20, 100.0), LedgerAccount("SPX", seq=2))
    with pytest.raises(StaleLedger):  # an account that starts again at 1
        repo.book(event("t4", 1), LedgerPosition(SPX, 10, 100.0), LedgerAccount("SPX", seq=1))
    with pytest.raises(StaleLedger):  # skips a seq
        repo.book(event("t5", 4), LedgerPosition(SPX, 10, 100.0), LedgerAccount("SPX", seq=4))
    assert not any(repo.is_booked(i) for i in ("t3", "t4", "t5"))
    assert repo.account("SPX") == LedgerAccount("SPX", seq=2)


def test_given_mismatched_booking_then_refused_before_storing(repo) -> None:
    with pytest.raises(ValueError, match="one instrument"):
        repo.book(event("t1", 1), LedgerPosition(CALL, 1, 5.0), LedgerAccount("SPX", seq=1))
    with pytest.raises(ValueError, match="seq"):
        repo.book(event("t1", 1), LedgerPosition(SPX, 1, 5.0), LedgerAccount("SPX", seq=2))
    assert repo.events() == []


def test_given_positions_in_several_underlyings_then_queries_filter_and_keep_the_multiplier(
    repo,
) -> None:
    ndx = Instrument.spot("NDX")
    mini = Instrument.option("SPX", CALL.expiry, 5000, "call", multiplier=10)
    repo.book(event("a", 1), LedgerPosition(SPX, 10, 100.0), LedgerAccount("SPX", seq=1))
    repo.book(event("b", 1, ndx), LedgerPosition(ndx, 10, 100.0), LedgerAccount("NDX", seq=1))
    repo.book(
        event("c", 2, mini, -2, 7.5), LedgerPosition(mini, -2, 7.5), LedgerAccount("SPX", seq=2)
    )
    assert [p.symbol for p in repo.positions("SPX")] == ["SPX", mini.symbol]
    assert repo.positions("SPX")[1].instrument.multiplier == 10
    assert [a.underlying for a in repo.accounts()] == ["NDX", "SPX"]
    assert [e.event_id for e in repo.events("SPX", since_seq=1)] == ["c"]
    assert [e.event_id for e in repo.events()] == ["a", "b", "c"]
    assert repo.account("QQQ") is None


def test_given_flat_position_then_stored_without_average_price(repo) -> None:
    repo.book(event("a", 1), LedgerPosition(SPX, 10, 100.0), LedgerAccount("SPX", seq=1))
    flat = LedgerPosition(SPX, 0, None, realised_pnl=50.0)
    repo.book(event("b", 2, quantity=-10, price=105.0), flat, LedgerAccount("SPX", seq=2))
    assert repo.positions() == [flat]
    with pytest.raises(ValueError):
        LedgerPosition(SPX, 0, 100.0)
