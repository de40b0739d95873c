"""The ledger over a real nats-server and a real database: books each trade and fill once,
dead-letters what it cannot book, answers snapshot requests, and survives a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from ledger_examples import CALL, PUT, SPX, accepted, fill, surface, tick, trade

from hedgemesh.ledger.adapters.component import LedgerComponent
from hedgemesh.ledger.bootstrap import build
from hedgemesh.ledger.config import LedgerSettings
from hedgemesh.runtime.bus import Bus
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.server import NatsServer
from hedgemesh.runtime.service import RuntimeSettings, Service
from hedgemesh.store.db import StoreSettings
from hedgemesh.wire import DeadLetter, PositionSnapshot, PositionSnapshotRequest, subjects

SETTINGS = LedgerSettings(snapshot_interval_s=60.0, retry_delay_s=0.05, max_deliver=3)


@asynccontextmanager
async def running_ledger(server: NatsServer, database_url: str) -> AsyncIterator[Service]:
    service = build(
        SETTINGS,
        store=StoreSettings(url=database_url),
        runtime=RuntimeSettings(instance="ledger-test", heartbeat_interval_s=60.0),
        nats=NatsSettings(url=server.url),
    )
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def component(service: Service) -> LedgerComponent:
    [ledger] = service.components
    assert isinstance(ledger, LedgerComponent)
    return ledger


async def snapshot(bus: Bus, underlying: str = "SPX") -> PositionSnapshot:
    request = PositionSnapshotRequest(underlying=underlying, requested_by="test")
    return await bus.request(subjects.POSITIONS_SNAPSHOT, request, PositionSnapshot)


def at_seq(bus: Bus, seq: int, underlying: str = "SPX") -> Callable:
    async def reached() -> PositionSnapshot | None:
        snap = await snapshot(bus, underlying)
        return snap if snap.as_of_seq >= seq else None

    reached.__name__ = f"{underlying} at seq {seq}"
    return reached


def quantities(snap: PositionSnapshot) -> dict[str, int]:
    return {p.instrument.symbol: p.quantity for p in snap.positions if p.quantity}


async def test_given_trades_and_fills_then_positions_are_their_sums(
    nats_server, bus, database_url, eventually
) -> None:
    trades = [trade("t1", CALL, -20, 180.0), trade("t2", PUT, 10, 95.0), trade("t3", SPX, 5, 5e3)]
    fills = [fill("f1", SPX, 300, 5001.0, fees=3.0), fill("f2", CALL, 4, 181.0, fees=0.4)]
    async with running_ledger(nats_server, database_url):
        positions_seen = []

        async def on_snapshot(snap: PositionSnapshot, _envelope) -> None:
            positions_seen.append(snap)

        await bus.subscribe(subjects.positions("SPX"), PositionSnapshot, on_snapshot)
        for t in trades:
            await bus.js_publish(subjects.BOOK_TRADE, t, msg_id=t.trade_id)
        await bus.js_publish(subjects.exec_report("SPX"), accepted("a1", SPX, 300))
        for f in fills:
            await bus.js_publish(subjects.exec_report("SPX"), f, msg_id=f.exec_id)
        snap = await eventually(at_seq(bus, 5))
        assert quantities(snap) == {CALL.symbol: -16, PUT.symbol: 10, SPX.symbol: 305}
        expected_cash = (20 * 180 - 10 * 95) * 100 - 5 * 5e3 - 300 * 5001 - 3 - 4 * 181 * 100 - 0.4
        assert snap.cash == pytest.approx(expected_cash)
        assert snap.fees == pytest.approx(3.4)
        assert snap.realised_pnl == pytest.approx(-4 * 1 * 100 - 3.4)  # bought 4 calls back 1 up
        await eventually(lambda: any(s.as_of_seq == 5 for s in positions_seen))
        assert [s.as_of_seq for s in positions_seen] == sorted(s.as_of_seq for s in positions_seen)


async def test_given_same_fill_redelivered_then_booked_once(
    nats_server, bus, database_url, eventually
) -> None:
    f = fill("f1", SPX, 100, 5000.0, fees=1.0)
    async with running_ledger(nats_server, database_url) as service:
        for msg_id in ("first", "second"):  # different Nats-Msg-Id: JetStream stores both
            ack = await bus.js_publish(subjects.exec_report("SPX"), f, msg_id=msg_id)
            assert not ack.duplicate
        t = trade("t1", SPX, 1, 5000.0)
        for msg_id in ("first-trade", "second-trade"):
            await bus.js_publish(subjects.BOOK_TRADE, t, msg_id=msg_id)
        await eventually(lambda: component(service).duplicates == 2)
        snap = await snapshot(bus)
        assert quantities(snap) == {"SPX": 101} and snap.as_of_seq == 2
        assert snap.fees == 1.0


async def test_given_bad_messages_then_dead_lettered_and_the_next_one_booked(
    nats_server, bus, nats_client, database_url, eventually
) -> None:
    letters: list[DeadLetter] = []

    async def on_letter(msg) -> None:  # raw: `Bus.deliver` takes a decoded DeadLetter for its own
        letters.append(DeadLetter.from_json(msg.data))

    await nats_client.subscribe(subjects.deadletter("ledger"), cb=on_letter)
    for _ in range(2):  # one flush does not cover a queued SUB (see `Bus.flush`)
        await nats_client.flush()
    js = nats_client.jetstream()
    async with running_ledger(nats_server, database_url):
        await js.publish(subjects.BOOK_TRADE, b"{not json")
        await js.publish(subjects.exec_report("SPX"), b'{"exec_id": "x"}')
        good = trade("t1", CALL, 1, 10.0)
        await bus.js_publish(subjects.BOOK_TRADE, good)
        # The same symbol with another multiplier: valid on the wire, refused by the ledger.
        mini = CALL.model_copy(update={"multiplier": 10.0})
        await bus.js_publish(subjects.BOOK_TRADE, trade("t2", mini, 1, 10.0))
        await bus.js_publish(subjects.BOOK_TRADE, trade("t3", CALL, 2, 11.0))
        snap = await eventually(at_seq(bus, 2))
        assert quantities(snap) == {CALL.symbol: 3}
        await eventually(lambda: len(letters) == 3)
        assert sorted(letter.error for letter in letters) == [
            "INVALID_JSON",
            "INVALID_MESSAGE",
            "INVALID_REQUEST",
        ]


async def test_given_restart_then_books_persist_and_booking_continues(
    nats_server, bus, database_url, eventually
) -> None:
    async with running_ledger(nats_server, database_url):
        await bus.js_publish(subjects.BOOK_TRADE, trade("t1", CALL, -10, 100.0))
        await bus.js_publish(subjects.exec_report("SPX"), fill("f1", SPX, 50, 5000.0, fees=2.0))
        before = await eventually(at_seq(bus, 2))
    async with running_ledger(nats_server, database_url) as service:
        after = await snapshot(bus)
        assert after.model_dump(exclude={"id", "ts"}) == before.model_dump(exclude={"id", "ts"})
        await bus.js_publish(subjects.BOOK_TRADE, trade("t2", CALL, 4, 90.0))
        snap = await eventually(at_seq(bus, 3))
        assert quantities(snap) == {CALL.symbol: -6, SPX.symbol: 50}
        assert snap.realised_pnl == pytest.approx(4 * 10 * 100 - 2.0)
        assert component(service).booked == 1  # nothing booked before was booked again


async def test_given_event_committed_but_not_acknowledged_then_redelivery_is_not_booked_again(
    nats_server, bus, database_url, eventually
) -> None:
    t = trade("t1", SPX, 7, 5000.0)
    async with running_ledger(nats_server, database_url) as service:
        ledger = component(service)
        ledger.repo.book(  # as if a previous run committed it and died before the ack
            *_prepared(ledger, t)
        )
        await bus.js_publish(subjects.BOOK_TRADE, t)
        await eventually(lambda: ledger.duplicates == 1)
        assert ledger.booked == 0
    async with running_ledger(nats_server, database_url):
        assert quantities(await snapshot(bus)) == {"SPX": 7}


def _prepared(ledger: LedgerComponent, t):
    from hedgemesh.store.ledger import EventKind

    booking = ledger.ledger.prepare(
        event_id=t.trade_id, kind=EventKind.TRADE, message_id=t.id, instrument=t.instrument,
        signed_quantity=t.signed_quantity, price=t.price, fees=0.0, ts=t.ts,
        raw=t.to_json().decode(),
    )  # fmt: skip
    return booking.event, booking.position, booking.account


async def test_given_tick_and_surface_then_snapshot_marks_at_fair_value(
    nats_server, bus, database_url, eventually
) -> None:
    async with running_ledger(nats_server, database_url) as service:
        await bus.js_publish(subjects.BOOK_TRADE, trade("t1", CALL, -10, 200.0))
        await bus.js_publish(subjects.BOOK_TRADE, trade("t2", SPX, 100, 5000.0))
        await eventually(at_seq(bus, 2))
        await bus.publish(subjects.tick("SPX"), tick(5050.0))
        await bus.publish(subjects.surface("SPX"), surface(5050.0))
        ledger = component(service)
        await eventually(lambda: ledger.market.fair_values([CALL], service.clock.now()))
        snap = await snapshot(bus)
        call_mark = ledger.market.fair_values([CALL], service.clock.now())[CALL.symbol]
        by_symbol = {p.instrument.symbol: p for p in snap.positions}
        assert by_symbol["SPX"].mark_price == 5050.0
        assert by_symbol["SPX"].unrealised_pnl == pytest.approx(100 * 50.0)
        assert by_symbol[CALL.symbol].mark_price == pytest.approx(call_mark, rel=1e-6)
        call_pnl = (call_mark - 200.0) * -10 * 100
        assert snap.unrealised_pnl == pytest.approx(100 * 50.0 + call_pnl, rel=1e-6)
        marked = by_symbol[CALL.symbol].mark_price  # the snapshot's own mark: the clock moved
        assert snap.cash + 100 * 5050.0 - 10 * marked * 100 == pytest.approx(
            snap.realised_pnl + snap.unrealised_pnl, rel=1e-9
        )


async def test_given_a_flood_of_trades_then_snapshots_are_coalesced_and_the_last_is_whole(
    nats_server, bus, database_url, eventually
) -> None:
    """Bookings faster than the snapshot gap send fewer snapshots than bookings, and the newest
    state (every trade) always goes out."""
    count = 60
    async with running_ledger(nats_server, database_url):
        seen: list[PositionSnapshot] = []

        async def on_snapshot(snap: PositionSnapshot, _envelope) -> None:
            seen.append(snap)

        await bus.subscribe(subjects.positions("SPX"), PositionSnapshot, on_snapshot)
        await bus.flush()
        for n in range(count):
            t = trade(f"t{n}", SPX, 1, 5000.0)
            await bus.js_publish(subjects.BOOK_TRADE, t, msg_id=t.trade_id)
        await eventually(lambda: any(s.as_of_seq == count for s in seen))
        assert quantities(seen[-1]) == {"SPX": count}
        assert len(seen) < count


async def test_given_a_fix_clients_fill_then_it_is_booked_as_its_trade_with_the_book(
    nats_server, bus, database_url, eventually
) -> None:
    """A FIX counterparty bought 7: the book sold 7 at the fill's price, its fees the client's."""
    client = fill("fx1", SPX, 7, 5000.0, fees=2.0).model_copy(update={"counterparty": "CLIENT1"})
    async with running_ledger(nats_server, database_url) as service:
        await bus.js_publish(subjects.exec_report("SPX"), client, msg_id=client.exec_id)
        snap = await eventually(at_seq(bus, 1))
        assert quantities(snap) == {"SPX": -7}
        assert snap.cash == pytest.approx(7 * 5000.0) and snap.fees == 0.0
        events = component(service).repo.events("SPX")
        assert [(e.kind.value, e.signed_quantity) for e in events] == [("trade", -7)]
