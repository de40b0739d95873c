"""The FIX 4.4 acceptor against an independent engine: QuickFIX as the initiator, with the
standard FIX 4.4 data dictionary validating every message both ways, and execution in-process
over a real nats-server and the store (SQLite; PostgreSQL too when configured)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from exec_examples import CALL, UNLISTED, exec_reports, quoted, tick
from fix_client import Client, initiator, settings_file

from hedgemesh.api.adapters.records import Records
from hedgemesh.execution.domain.fix.codec import FixMessage, Framer, Tag
from hedgemesh.execution.domain.fix.orders import internal_id
from hedgemesh.store.db import make_engine, session_factory
from hedgemesh.wire import ControlAction, ControlCommand, subjects

from . import fix_examples as fx

pytestmark = pytest.mark.timeout(90)

PASSWORD = "pw-client1"
FIX = {"fix_port": 0, "fix_passwords": {"CLIENT1": PASSWORD}}


async def _connected(run: Any, tmp_path, eventually, client: Client | None = None):
    client = client or Client(PASSWORD)
    started = initiator(client, settings_file(tmp_path, run.component.fix.port))
    started.__enter__()
    await eventually(client.logged_on.is_set, timeout=10)
    return client, started


@pytest.fixture
async def fix_run(bus, start_execution, eventually, tmp_path) -> Any:
    """Execution with its acceptor and a quoted book, and QuickFIX logged on to it."""
    run = await start_execution(**FIX)
    await quoted(bus, run, eventually)
    client = Client(PASSWORD)
    with initiator(client, settings_file(tmp_path, run.component.fix.port)):
        await eventually(client.logged_on.is_set, timeout=10)
        yield run, client


async def _final(client: Client, eventually, cl_ord_id: str) -> list[FixMessage]:
    """The reports of an order until one is final (filled, cancelled, rejected, expired)."""

    def done() -> list[FixMessage] | None:
        reports = client.reports(cl_ord_id)
        final = any(m.get(Tag.ORD_STATUS) in ("2", "4", "8", "C") for m in reports)
        return reports if final else None

    return await eventually(done, timeout=10)


def _clean(client: Client, run: Any) -> None:
    """Nothing either side refused: QuickFIX's dictionary passed all it sent and all it got
    (it answers an invalid message with a Reject), and the acceptor rejected nothing."""
    assert client.invalid_sent == []
    assert client.of_type("3") == []
    assert run.component.fix.stats["rejected_by_counterparty"] == 0


async def test_logon_order_and_fill_booked_as_the_clients(
    fix_run, bus, eventually, database_url
) -> None:
    run, client = fix_run
    ask = run.component.engine.quote("SPX").ask
    client.new_order("B-1", "1", 5, price=ask + 5, tif="3")
    reports = await _final(client, eventually, "B-1")
    assert [m.get(Tag.EXEC_TYPE) for m in reports] == ["0", "F"]
    fill = reports[-1]
    assert fill.get(Tag.ORD_STATUS) == "2" and fill.get(Tag.CUM_QTY) == "5"
    assert float(fill.get(Tag.LAST_PX) or 0) <= ask + 5
    coid = internal_id("CLIENT1", "B-1")
    assert fill.get(Tag.ORDER_ID) == coid
    stream = [r for r in await exec_reports(bus.js) if r.client_order_id == coid]
    assert [r.counterparty for r in stream] == ["CLIENT1", "CLIENT1"]
    assert stream[-1].signed_last_quantity == -5  # the book sold what the client bought
    assert {r.exec_id for r in stream} == {m.get(Tag.EXEC_ID) for m in reports}
    # what the REST API's /v1/orders and /v1/fills read
    db = make_engine(database_url)
    try:
        records = Records(session_factory(db))
        (listed,) = [o for o in records.orders() if o.client_order_id == coid]
        assert listed.cycle_id == "fix-CLIENT1" and listed.cum_quantity == 5
        assert [f.last_quantity for f in records.fills(client_order_id=coid)] == [5]
    finally:
        db.dispose()
    _clean(client, run)


async def test_each_order_type_limit_market_ioc_fok_gtc(fix_run, bus, eventually) -> None:
    run, client = fix_run
    book = run.component.engine.quote("SPX")
    touch = book.ask_depth[0][1]
    client.new_order("MKT", "1", 3, ord_type="1")  # market: filled at once
    client.new_order("IOC", "2", 4, price=book.bid - 5, tif="3")
    client.new_order("FOK", "1", touch + 1, price=book.ask, tif="4")  # more than the touch
    client.new_order("DAY", "1", 2, price=book.bid - 50)  # limit, day: rests
    client.new_order("GTC", "2", 2, price=book.ask + 50, tif="1")  # rests
    assert [m.get(Tag.EXEC_TYPE) for m in await _final(client, eventually, "MKT")] == [
        "0",
        "F",
    ]
    assert (await _final(client, eventually, "IOC"))[-1].get(Tag.CUM_QTY) == "4"
    fok = await _final(client, eventually, "FOK")
    assert fok[-1].get(Tag.ORD_STATUS) == "4" and fok[-1].get(Tag.CUM_QTY) == "0"
    assert "TIME_IN_FORCE" in (fok[-1].get(Tag.TEXT) or "")
    for resting in ("DAY", "GTC"):
        reports = await eventually(lambda r=resting: client.reports(r) or None)
        assert [(m.get(Tag.EXEC_TYPE), m.get(Tag.ORD_STATUS)) for m in reports] == [("0", "0")]
    tifs = {
        s.order.client_order_id: s.order.time_in_force.value for s in run.component.repo.orders()
    }
    assert tifs[internal_id("CLIENT1", "DAY")] == "day"
    assert tifs[internal_id("CLIENT1", "GTC")] == "gtc"
    assert tifs[internal_id("CLIENT1", "MKT")] == "ioc"
    _clean(client, run)


async def test_cancel_and_cancel_replace(fix_run, bus, eventually) -> None:
    run, client = fix_run
    bid = run.component.engine.quote("SPX").bid
    client.new_order("R-1", "1", 10, price=bid - 20, tif="1")
    await eventually(lambda: client.reports("R-1") or None)
    client.replace("R-2", "R-1", "1", 25, price=bid - 10)
    replaced = await eventually(lambda: client.reports("R-2") or None)
    assert replaced[0].get(Tag.EXEC_TYPE) == "5" and replaced[0].get(Tag.ORD_STATUS) == "0"
    assert replaced[0].get(Tag.ORIG_CL_ORD_ID) == "R-1"
    assert replaced[0].get(Tag.ORDER_QTY) == "25" and replaced[0].get(Tag.LEAVES_QTY) == "25"
    # the replaced order's own cancel is not reported: one report per request
    assert [m.get(Tag.EXEC_TYPE) for m in client.reports("R-1")] == ["0", "5"]
    client.cancel("R-3", "R-2", "1", 25)
    cancelled = await _final(client, eventually, "R-3")
    assert cancelled[-1].get(Tag.EXEC_TYPE) == "4"
    assert cancelled[-1].get(Tag.ORIG_CL_ORD_ID) == "R-2"
    # too late, and unknown: OrderCancelReject
    client.cancel("R-4", "R-2", "1", 25)
    client.cancel("R-5", "NOPE", "1", 25)
    rejects = await eventually(lambda: len(client.of_type("9")) == 2 and client.of_type("9"))
    assert [
        (m.get(Tag.CL_ORD_ID), m.get(Tag.CXL_REJ_REASON), m.get(Tag.ORD_STATUS)) for m in rejects
    ] == [
        ("R-4", "0", "4"),
        ("R-5", "1", "8"),
    ]
    working = {s.client_order_id for s in run.component.repo.working_orders()}
    assert working == set()
    _clean(client, run)


async def test_a_clordid_is_booked_once_and_the_kill_switch_holds_for_fix(
    fix_run, bus, eventually
) -> None:
    run, client = fix_run
    ask = run.component.engine.quote("SPX").ask
    client.new_order("D-1", "1", 1, price=ask + 5, tif="3")
    await _final(client, eventually, "D-1")
    client.new_order("D-1", "1", 1, price=ask + 5, tif="3")
    dup = await eventually(lambda: len(client.reports("D-1")) == 3 and client.reports("D-1"))
    assert dup[-1].get(Tag.ORD_STATUS) == "8" and dup[-1].get(Tag.ORD_REJ_REASON) == "6"
    assert len([s for s in run.component.repo.orders() if s.order.counterparty]) == 1
    halt = ControlCommand(target="execution", action=ControlAction.HALT, issued_by="t", reason="t")
    reply = await bus.command(halt)
    assert reply.ok
    client.new_order("K-1", "1", 1, price=ask + 5, tif="3")
    killed = await _final(client, eventually, "K-1")
    assert killed[-1].get(Tag.ORD_STATUS) == "8" and killed[-1].get(Tag.ORD_REJ_REASON) == "2"
    assert "KILL_SWITCH" in (killed[-1].get(Tag.TEXT) or "")
    status = await bus.command(
        ControlCommand(target="execution", action=ControlAction.STATUS, issued_by="t")
    )
    assert status.state["fix"]["sessions"]["CLIENT1"]["connected"] is True
    _clean(client, run)


async def test_reconnect_with_a_resend_request_loses_and_doubles_no_report(
    bus, start_execution, eventually, tmp_path
) -> None:
    """Resting orders fill while the client is logged out; after it logs on again it asks for
    the gap and gets each execution report once."""
    run = await start_execution(**FIX)
    await quoted(bus, run, eventually)
    client, started = await _connected(run, tmp_path, eventually)
    spot = run.component.engine.market.spot("SPX")
    names = [f"G-{n}" for n in range(4)]
    for name in names:
        client.new_order(name, "1", 2, price=spot - 3, tif="1")
    await eventually(lambda: all(client.reports(n) for n in names))
    before = len(client.reports())
    await asyncio.to_thread(started.__exit__, None, None, None)  # logs out
    await eventually(lambda: "CLIENT1" not in run.component.fix.connections)
    await bus.publish(subjects.tick("SPX"), tick(price=spot - 40, seq=2))  # fills them

    def working():
        return not [s for s in run.component.repo.working_orders() if s.order.counterparty]

    await eventually(working)
    stored = {r.exec_id for r in run.component.repo.reports() if r.counterparty}

    again = Client(PASSWORD)
    client2, started2 = await _connected(run, tmp_path, eventually, again)
    try:
        await eventually(
            lambda: all(
                any(m.get(Tag.ORD_STATUS) == "2" for m in client2.reports(n)) for n in names
            )
        )
        ids = [m.get(Tag.EXEC_ID) for m in client.reports()[:before] + client2.reports()]
        assert len(ids) == len(set(ids)), "no report twice"
        assert set(ids) == stored, "no report lost"
        assert all(m.get(Tag.POSS_DUP_FLAG) == "Y" for m in client2.reports())
        assert run.component.fix.stats["resends"] >= 1
        _clean(client2, run)
    finally:
        started2.__exit__(None, None, None)


class _Raw:
    """A counterparty writing bytes by hand (what no well-behaved engine would send)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.framer = Framer()
        self.got: list[FixMessage] = []

    async def send(self, raw: bytes) -> None:
        self.writer.write(raw)
        await self.writer.drain()

    async def expect(self, count: int, timeout: float = 5.0) -> list[FixMessage]:
        """The next `count` messages (skipping heartbeats)."""
        async with asyncio.timeout(timeout):
            while len(self.got) < count:
                data = await self.reader.read(1 << 16)
                assert data, "disconnected"
                self.got += [
                    m
                    for m in self.framer.feed(data)
                    if isinstance(m, FixMessage) and m.msg_type != "0"
                ]
        taken, self.got = self.got[:count], self.got[count:]
        return taken

    async def silent(self, wait: float = 0.3) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                data = await self.reader.read(1 << 16)
                self.got += [m for m in self.framer.feed(data) if isinstance(m, FixMessage)]
        assert self.got == [], [m.raw for m in self.got]


def _bad_checksum(raw: bytes) -> bytes:
    at = raw.rindex(b"10=") + 3
    return raw[:at] + f"{(int(raw[at : at + 3]) + 1) % 256:03d}".encode() + raw[at + 3 :]


def _bad_length(raw: bytes) -> bytes:
    start = raw.index(b"9=")
    return raw[:start] + b"9=7" + raw[raw.index(b"\x01", start) :]


async def test_bad_input_gets_the_standard_answers_and_books_nothing_twice(
    bus, start_execution, eventually
) -> None:
    run = await start_execution(fix_port=0, fix_passwords={fx.CLIENT: fx.PASSWORD})
    await quoted(bus, run, eventually)
    ask = run.component.engine.quote("SPX").ask
    raw = _Raw(*await asyncio.open_connection("127.0.0.1", run.component.fix.port))
    try:
        await raw.send(fx.logon())
        (logon,) = await raw.expect(1)
        assert logon.msg_type == "A"
        order = fx.new_order("X-1", seq=2, ord_type="2", price=ask + 5, tif="3")
        # garbled: ignored, no number consumed
        await raw.send(_bad_checksum(order) + _bad_length(order) + b"garbage\x01")
        await raw.silent()
        await raw.send(order)
        reports = await raw.expect(2)
        assert [m.get(Tag.EXEC_TYPE) for m in reports] == ["0", "F"]
        # a missing required tag (TransactTime): Reject naming it
        missing = fx.wire("D", [(Tag.CL_ORD_ID, "X-2"), (Tag.SYMBOL, "SPX"), (Tag.SIDE, "1"),
                                (Tag.ORDER_QTY, 1), (Tag.ORD_TYPE, "1")], seq=3)  # fmt: skip
        await raw.send(missing)
        (reject,) = await raw.expect(1)
        assert (
            reject.msg_type,
            reject.get(Tag.REF_TAG_ID),
            reject.get(Tag.SESSION_REJECT_REASON),
        ) == ("3", "60", "1")
        # an unknown MsgType: Reject; one FIX 4.4 defines but not served: BusinessMessageReject
        await raw.send(fx.wire("ZZ", seq=4) + fx.wire("B", [(148, "hello")], seq=5))
        unknown, business = await raw.expect(2)
        assert (unknown.msg_type, unknown.get(Tag.SESSION_REJECT_REASON)) == ("3", "11")
        assert (business.msg_type, business.get(Tag.BUSINESS_REJECT_REASON)) == ("j", "3")
        # a gap: one ResendRequest; the gap filled, the queued order is worked once
        later = fx.new_order("X-3", seq=8, ord_type="2", price=ask + 5, tif="3")
        await raw.send(later)
        (ask_resend,) = await raw.expect(1)
        assert (ask_resend.msg_type, ask_resend.get(Tag.BEGIN_SEQ_NO)) == ("2", "6")
        gap_fill = fx.wire(
            "4", [(Tag.GAP_FILL_FLAG, "Y"), (Tag.NEW_SEQ_NO, 8)], seq=6, poss_dup=True
        )
        await raw.send(gap_fill)
        assert [m.get(Tag.CL_ORD_ID) for m in await raw.expect(2)] == ["X-3", "X-3"]
        # the first order resent as a possible duplicate: dropped, not booked again
        await raw.send(
            fx.new_order("X-1", seq=9, ord_type="2", price=ask + 5, tif="3", poss_dup=True)
        )
        await raw.silent()
        fix_orders = [s for s in run.component.repo.orders() if s.order.counterparty]
        assert sorted(s.order.client_order_id for s in fix_orders) == sorted(
            internal_id(fx.CLIENT, c) for c in ("X-1", "X-3")
        )
        # too low without PossDupFlag: Logout and disconnect
        await raw.send(fx.wire("0", seq=3))
        (logout,) = await raw.expect(1)
        assert logout.msg_type == "5" and "too low" in (logout.get(Tag.TEXT) or "")
        assert await raw.reader.read() == b""
    finally:
        raw.writer.close()


async def test_a_wrong_password_is_refused(start_execution) -> None:
    run = await start_execution(fix_port=0, fix_passwords={fx.CLIENT: fx.PASSWORD})
    raw = _Raw(*await asyncio.open_connection("127.0.0.1", run.component.fix.port))
    try:
        await raw.send(fx.logon(password="guess"))
        (logout,) = await raw.expect(1)
        assert logout.msg_type == "5" and "password" in (logout.get(Tag.TEXT) or "")
        assert await raw.reader.read() == b""
        assert run.component.fix.connections == {}
    finally:
        raw.writer.close()


async def test_a_restart_mid_session_resumes_at_the_right_numbers(
    bus, start_execution, eventually, tmp_path
) -> None:
    """Execution stops with an order resting (the connection dropped, no Logout); restarted on
    the same store, QuickFIX logs on again without a reset, the numbers carry on, and the
    order filled after the restart is reported once. (Killed with SIGKILL:
    tests/system/test_fix_kill.py.)"""
    run = await start_execution(**FIX)
    await quoted(bus, run, eventually)
    client, started = await _connected(run, tmp_path, eventually)
    try:
        spot = run.component.engine.market.spot("SPX")
        client.new_order("C-1", "1", 2, price=spot - 3, tif="1")
        await eventually(lambda: client.reports("C-1") or None)
        sent = run.component.fix.seqs["CLIENT1"].next_out
        await run.close()
        run2 = await start_execution(**{**FIX, "fix_port": run.component.fix.port})
        assert run2.component.fix.seqs["CLIENT1"].next_out == sent
        await eventually(lambda: "CLIENT1" in run2.component.fix.connections, timeout=15)
        await quoted(bus, run2, eventually)
        await bus.publish(subjects.tick("SPX"), tick(price=spot - 40, seq=3))
        filled = await _final(client, eventually, "C-1")
        assert filled[-1].get(Tag.ORD_STATUS) == "2"
        ids = [m.get(Tag.EXEC_ID) for m in client.reports()]
        assert len(ids) == len(set(ids))
        assert client.logons == 2
        assert [m for m in client.of_type("5") if "too low" in (m.get(Tag.TEXT) or "")] == []
        _clean(client, run2)
    finally:
        started.__exit__(None, None, None)


async def test_an_option_by_its_symbol(fix_run, eventually) -> None:
    run, client = fix_run
    client.new_order("O-1", "2", 3, price=1.0, tif="3", symbol=CALL.symbol)
    reports = await _final(client, eventually, "O-1")
    assert reports[-1].get(Tag.SYMBOL) == CALL.symbol
    assert int(reports[-1].get(Tag.CUM_QTY) or 0) > 0
    client.new_order("O-2", "2", 3, price=1.0, tif="3", symbol=UNLISTED.symbol)
    refused = await _final(client, eventually, "O-2")
    assert refused[-1].get(Tag.ORD_STATUS) == "8" and refused[-1].get(Tag.ORD_REJ_REASON) == "1"
    _clean(client, run)


async def test_a_second_logon_of_a_connected_counterparty_is_refused(fix_run) -> None:
    run, client = fix_run
    raw = _Raw(*await asyncio.open_connection("127.0.0.1", run.component.fix.port))
    try:
        await raw.send(fx.logon(seq=1, password=PASSWORD))
        assert await raw.reader.read() == b""  # disconnected, nothing answered
        assert run.component.fix.connections["CLIENT1"] is not None
        assert client.logged_on.is_set() and client.logons == 1
    finally:
        raw.writer.close()


async def test_a_connection_dropped_mid_flow_loses_and_doubles_no_report(
    fix_run, bus, eventually
) -> None:
    """The TCP connection dies (no Logout) while orders fill; QuickFIX reconnects by itself and
    every execution report arrives once (what went out meanwhile is asked for again)."""
    run, client = fix_run
    spot = run.component.engine.market.spot("SPX")
    names = [f"Q-{n}" for n in range(4)]
    for name in names:
        client.new_order(name, "1", 2, price=spot - 3, tif="1")
    await eventually(lambda: all(client.reports(n) for n in names))
    run.component.fix.connections["CLIENT1"].writer.transport.abort()
    await bus.publish(subjects.tick("SPX"), tick(price=spot - 40, seq=2))  # fills them
    await eventually(lambda: client.logons >= 2 and client.logged_on.is_set(), timeout=15)
    await eventually(
        lambda: all(any(m.get(Tag.ORD_STATUS) == "2" for m in client.reports(n)) for n in names)
    )
    ids = [m.get(Tag.EXEC_ID) for m in client.reports()]
    assert len(ids) == len(set(ids)), "no report twice"
    assert set(ids) == {r.exec_id for r in run.component.repo.reports() if r.counterparty}
    _clean(client, run)
