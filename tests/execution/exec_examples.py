"""Deterministic market data and orders for the execution tests, and stream readers."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hedgemesh.execution.domain.reports import OrderRecord
from hedgemesh.runtime.clock import EPOCH
from hedgemesh.venue.algos import ParentUpdate
from hedgemesh.venue.spec import VENUE
from hedgemesh.wire import (
    ExecStatus,
    ExecutionReport,
    Instrument,
    MarketableLimit,
    Order,
    OrderType,
    Side,
    TimeInForce,
    client_order_id,
    subjects,
)
from hedgemesh.wire.market import Surface, SviSlice, Tick
from hedgemesh.wire.ops import ControlAction, ControlCommand, DeadLetter

SPX = Instrument.spot("SPX")
SPOT = 5000.0
RATE, DIV = 0.04, 0.01
EXPIRIES = (datetime(2024, 2, 16, 21, tzinfo=UTC), datetime(2024, 3, 15, 21, tzinfo=UTC))
CALL = Instrument.option("SPX", EXPIRIES[1], 5000, "call")
UNLISTED = Instrument.option("SPX", datetime(2024, 3, 1, 21, tzinfo=UTC), 5000, "call")


def years(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / (365 * 86_400)


def tick(price: float = SPOT, seq: int = 1, at: datetime = EPOCH, underlying: str = "SPX") -> Tick:
    return Tick(id=f"tick-{underlying}-{seq}", ts=at, underlying=underlying, price=price, seq=seq)


def surface(
    spot: float = SPOT,
    seq: int = 1,
    at: datetime = EPOCH,
    atm_vol: float = 0.18,
    depth: float = 1.0,
    expiries: tuple[datetime, ...] = EXPIRIES,
) -> Surface:
    """A skewed SVI surface (ATM total variance atm_vol² · t) on the listed expiries."""
    slices = []
    for expiry in expiries:
        t = years(at, expiry)
        b, rho, sigma = 0.08 * t, -0.6, 0.15
        # a so that w(0) = atm_vol² t at m = 0: w(0) = a + b sigma.
        a = atm_vol**2 * t - b * sigma
        forward = spot * math.exp((RATE - DIV) * t)
        slices.append(
            SviSlice(expiry=expiry, t=t, forward=forward, a=a, b=b, rho=rho, m=0.0, sigma=sigma)
        )
    return Surface(
        id=f"surface-SPX-{seq}",
        ts=at,
        underlying="SPX",
        spot=spot,
        rate=RATE,
        div=DIV,
        slices=slices,
        seq=seq,
        depth_multiplier=depth,
    )


def order(
    cycle: str = "cycle-1",
    instrument: Instrument = SPX,
    side: Side = Side.BUY,
    quantity: int = 100,
    *,
    limit_price: float | None = 5010.0,
    tif: TimeInForce = TimeInForce.IOC,
    algo: Any = None,
    epoch: int = 7,
    at: datetime = EPOCH,
) -> Order:
    coid = client_order_id(cycle, instrument)
    return Order(
        id=f"order-{coid}",
        ts=at,
        client_order_id=coid,
        instrument=instrument,
        side=side,
        quantity=quantity,
        order_type=OrderType.MARKET if limit_price is None else OrderType.LIMIT,
        limit_price=limit_price,
        time_in_force=tif,
        algo=algo or MarketableLimit(),
        cycle_id=cycle,
        epoch=epoch,
        decision_ids=[f"decision-{cycle}"],
    )


async def stream_messages(js: Any, stream: str) -> list[Any]:
    """Every message a stream holds, in order (read by sequence number)."""
    info = await js.stream_info(stream)
    state = info.state
    if not state.messages:
        return []
    return [await js.get_msg(stream, seq) for seq in range(state.first_seq, state.last_seq + 1)]


async def exec_reports(js: Any) -> list[ExecutionReport]:
    """Every execution report on `HEDGE_EXEC`, in stream order."""
    return [
        ExecutionReport.from_json(m.data) for m in await stream_messages(js, subjects.STREAM_EXEC)
    ]


async def dead_letters(js: Any) -> list[DeadLetter]:
    return [
        DeadLetter.from_json(m.data) for m in await stream_messages(js, subjects.STREAM_DEADLETTER)
    ]


async def send(bus, *orders, msg_id=None) -> list:
    return [
        await bus.js_publish(
            subjects.order(o.instrument.underlying), o, msg_id=msg_id or o.client_order_id
        )
        for o in orders
    ]


async def quoted(bus, run, eventually, symbol: str = "SPX", **market) -> None:
    """Publish a tick and a surface and wait until the book of `symbol` has both sides."""
    await bus.publish(subjects.tick("SPX"), tick(**market))
    await bus.publish(subjects.surface("SPX"), surface(**market))

    def two_sided():
        quote = run.component.engine.quote(symbol)
        return quote is not None and quote.bid is not None and quote.ask is not None

    await eventually(two_sided)


async def final_reports(bus, eventually, *orders) -> list:
    """Wait until every order has a terminal report on the stream; all reports, in order."""

    async def all_final():
        reports = await exec_reports(bus.js)
        done = {r.client_order_id for r in reports if r.is_terminal}
        return reports if all(o.client_order_id in done for o in orders) else None

    return await eventually(all_final, timeout=10)


def of(reports: list[ExecutionReport], order: Order) -> list[ExecutionReport]:
    return [r for r in reports if r.client_order_id == order.client_order_id]


def check_report_chain(reports: list[ExecutionReport], order: Order) -> None:
    """One order's reports: seq 1, 2, ... with unique exec ids, cum the running sum of fills,
    cum + leaves = quantity while working, exactly one terminal report, last."""
    assert [r.seq for r in reports] == list(range(1, len(reports) + 1))
    assert len({r.exec_id for r in reports}) == len(reports)
    cum = 0
    for r in reports:
        cum += r.last_quantity or 0
        assert r.cum_quantity == cum
        if not r.is_terminal:
            assert r.cum_quantity + r.leaves_quantity == order.quantity
    assert [r.is_terminal for r in reports].count(True) == 1
    assert reports[-1].is_terminal


def later(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def made_reports(
    o: Order, *steps: tuple[ExecStatus, int, int | None], at: datetime = EPOCH
) -> list[ExecutionReport]:
    """Reports on `o` as execution makes them, from (status, cum, fill price in ticks) steps
    (prices 0.01 a tick); a fill's quantity is the step's change of cum."""
    record = OrderRecord(o, replace(VENUE.underlying, fee_bp=0.0))  # 0.01 a tick, no fees
    reports, cum, notional = [], 0, 0
    for status, new_cum, price in steps:
        last = new_cum - cum
        notional += last * (price or 0)
        cum = new_cum
        leaves = 0 if status in (ExecStatus.FILLED, ExecStatus.CANCELLED) else o.quantity - cum
        update = ParentUpdate(
            o.client_order_id,
            status,
            o.quantity,
            cum,
            leaves,
            last or None,
            price if last else None,
            notional / cum if cum else None,
            None,
            "",
        )
        reports.append(record.report(update, at.timestamp()))
    return reports


# -- a real process ------------------------------------------------------------------------------


class Market:
    """Ticks and surfaces every 50 ms until stopped, as marketdata would publish them."""

    def __init__(self, bus) -> None:
        self.bus = bus
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Market:
        self.task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def _run(self) -> None:
        seq = 0
        while True:
            seq += 1
            await self.bus.publish(subjects.tick("SPX"), tick(seq=seq))
            await self.bus.publish(subjects.surface("SPX"), surface(seq=seq))
            await asyncio.sleep(0.05)


def start_process(server, database_url: str, tmp_path, **env: str) -> subprocess.Popen:
    """`python -m hedgemesh.execution` on `server` and the store (`env`: more settings)."""
    env = {
        **os.environ,
        "HEDGEMESH_NATS_URL": server.url,
        "HEDGEMESH_DATABASE_URL": database_url,
        "HEDGEMESH_INSTANCE": "execution-sub",
        "HEDGEMESH_EXECUTION_RETRY_DELAY_S": "0.1",
        "HEDGEMESH_EXECUTION_ACK_WAIT_S": "2",
        "HEDGEMESH_EXECUTION_PRICE_COLLAR": "10",  # limits far through fair mean "marketable"
        **env,
    }
    log = open(tmp_path / "execution.log", "ab")  # noqa: SIM115 (the process owns it)
    return subprocess.Popen(
        [sys.executable, "-m", "hedgemesh.execution"], env=env, stdout=log, stderr=log
    )


async def ready(bus, eventually) -> None:
    async def answers():
        command = ControlCommand(target="execution", action=ControlAction.STATUS, issued_by="test")
        with contextlib.suppress(Exception):
            reply = await bus.command(command, timeout_s=0.5)
            return reply.ok and reply.state["books"].get("SPX", {}).get("ask") is not None
        return False

    await eventually(answers, timeout=20)
