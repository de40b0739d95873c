"""`python -m hedgemesh.ledger` as a process: configured from the environment, killed with
SIGKILL mid-stream it loses nothing and books nothing twice, and SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from ledger_examples import CALL, SPX, trade

from hedgemesh.runtime.errors import NatsUnavailable
from hedgemesh.wire import PositionSnapshot, PositionSnapshotRequest, subjects


def start_ledger(nats_url: str, database_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "HEDGEMESH_NATS_URL": nats_url,
        "HEDGEMESH_DATABASE_URL": database_url,
        "HEDGEMESH_INSTANCE": "ledger-process",
        "HEDGEMESH_LEDGER_SNAPSHOT_INTERVAL_S": "0.2",
        "HEDGEMESH_LEDGER_ACK_WAIT_S": "1",  # the message in flight at the kill comes back soon
        "HEDGEMESH_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "hedgemesh.ledger"], env=env)


async def snapshot_at(bus, seq: int) -> PositionSnapshot | None:
    request = PositionSnapshotRequest(underlying="SPX", requested_by="test")
    try:
        snap = await bus.request(subjects.POSITIONS_SNAPSHOT, request, PositionSnapshot)
    except NatsUnavailable:  # not up yet (no responders, or a timeout)
        return None
    return snap if snap.as_of_seq >= seq else None


async def test_given_ledger_killed_mid_stream_then_restart_books_every_trade_once(
    nats_server, bus, database_url, eventually
) -> None:
    trades = [
        trade(f"t{i}", CALL if i % 3 else SPX, (-1) ** i * (i + 1), 10.0 + i) for i in range(60)
    ]
    for t in trades[:30]:
        await bus.js_publish(subjects.BOOK_TRADE, t)
    process = start_ledger(nats_server.url, database_url)
    try:
        await eventually(lambda: snapshot_at(bus, 10), timeout=30)
        for t in trades[30:]:
            await bus.js_publish(subjects.BOOK_TRADE, t)
        process.send_signal(signal.SIGKILL)  # mid-stream: some booked, some not, maybe one unacked
        assert process.wait(timeout=10) == -signal.SIGKILL
        process = start_ledger(nats_server.url, database_url)
        snap = await eventually(lambda: snapshot_at(bus, len(trades)), timeout=30)
        assert snap.as_of_seq == len(trades)  # nothing booked twice
        expected = {
            symbol: sum(t.signed_quantity for t in trades if t.instrument.symbol == symbol)
            for symbol in (SPX.symbol, CALL.symbol)
        }
        assert {p.instrument.symbol: p.quantity for p in snap.positions} == expected
        periodic = await _next_published(bus)
        assert periodic.as_of_seq == len(trades)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def _next_published(bus) -> PositionSnapshot:
    received: asyncio.Queue[PositionSnapshot] = asyncio.Queue()

    async def on_snapshot(snap: PositionSnapshot, _envelope) -> None:
        received.put_nowait(snap)

    await bus.subscribe(subjects.positions("SPX"), PositionSnapshot, on_snapshot)
    return await asyncio.wait_for(received.get(), timeout=10)
