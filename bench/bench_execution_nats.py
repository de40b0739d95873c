"""Benchmark: orders through execution over NATS, against a raw JetStream round trip.

Run: `.venv/bin/python bench/bench_execution_nats.py` (`make bench` runs it too). One real
nats-server (JetStream in a temp dir) and a SQLite store in a temp dir, everything in this one
process and event loop:

- service: one publisher sends N marketable IOC orders (alternating buy and sell of one unit,
  against deep synthetic books) to `HEDGE_ORDERS`, awaiting each JetStream ack; the execution
  service (built by its bootstrap, live clock) consumes them, stores each order, works it,
  stores and publishes ACCEPTED and FILLED on `HEDGE_EXEC`. Orders/s = N / (first publish to
  the N-th FILLED read from the stream).
- baseline: the same publisher and N orders, consumed by a bare `DurableConsumer` whose handler
  publishes one report-sized message to `HEDGE_EXEC` (JetStream, awaited): the
  publish → consume → publish → read round trip without the service's work (store, engine,
  a second report). The ratio shows what the service adds.
- latency: M orders one at a time (publish, wait for its FILL on the stream): median and p99.

Prints the figures and the ratio; asserts nothing on time.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from hedgemesh.execution.bootstrap import build
from hedgemesh.execution.config import ExecutionSettings
from hedgemesh.runtime.bus import Bus, Envelope
from hedgemesh.runtime.clock import LiveClock
from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.runtime.server import NatsServer
from hedgemesh.runtime.service import RuntimeSettings
from hedgemesh.runtime.streams import DurableConsumer, ensure_streams
from hedgemesh.store.db import StoreSettings
from hedgemesh.venue.liquidity import LiquidityParams
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
    subjects,
)
from hedgemesh.wire.market import Tick

N_ORDERS = 2000
N_LATENCY = 200
SPX = Instrument.spot("SPX")
SPOT = 5000.0


def make_orders(n: int, prefix: str) -> list[Order]:
    """n one-unit marketable IOC orders, alternating buy and sell, epoch 1."""
    out = []
    for i in range(n):
        side = Side.BUY if i % 2 == 0 else Side.SELL
        out.append(
            Order(
                id=f"{prefix}-msg-{i}",
                client_order_id=f"{prefix}-{i}",
                instrument=SPX,
                side=side,
                quantity=1,
                order_type=OrderType.LIMIT,
                limit_price=SPOT + side.sign * 5.0,
                time_in_force=TimeInForce.IOC,
                algo=MarketableLimit(),
                cycle_id=f"{prefix}-cycle",
                epoch=1,
                decision_ids=[f"{prefix}-decision-{i}"],
            )
        )
    return out


class Fills:
    """Counts FILLED reports read from `HEDGE_EXEC` (an ordered JetStream consumer)."""

    def __init__(self) -> None:
        self.count = 0
        self.at: dict[str, float] = {}
        self.target = 0
        self.done = asyncio.Event()

    async def on_message(self, msg: Any) -> None:
        report = ExecutionReport.from_json(msg.data)
        if report.status is ExecStatus.FILLED:
            self.count += 1
            self.at[report.client_order_id] = time.perf_counter()
            if self.count >= self.target:
                self.done.set()

    def expect(self, n: int) -> None:
        self.target = self.count + n
        self.done.clear()


async def publish_all(bus: Bus, orders: list[Order]) -> float:
    """Publish every order (awaiting each ack); returns the time of the first publish."""
    start = time.perf_counter()
    for order in orders:
        await bus.js_publish(subjects.order("SPX"), order, msg_id=order.client_order_id)
    return start


async def measure_flood(bus: Bus, fills: Fills, orders: list[Order]) -> float:
    fills.expect(len(orders))
    start = await publish_all(bus, orders)
    try:
        await asyncio.wait_for(fills.done.wait(), 120)
    except TimeoutError:
        raise RuntimeError(f"only {fills.count} of {fills.target} reports arrived") from None
    return len(orders) / (time.perf_counter() - start)


async def measure_latency(bus: Bus, fills: Fills, orders: list[Order]) -> list[float]:
    latencies = []
    for order in orders:
        fills.expect(1)
        start = time.perf_counter()
        await bus.js_publish(subjects.order("SPX"), order, msg_id=order.client_order_id)
        await asyncio.wait_for(fills.done.wait(), 30)
        latencies.append(fills.at[order.client_order_id] - start)
    return latencies


async def _baseline(server: NatsServer) -> float:
    nc = await connect(NatsSettings(url=server.url, name="bench-baseline"))
    bus = Bus(nc, "bench")
    await ensure_streams(bus.js)
    fills = Fills()
    echo_template = make_report()

    async def echo(order: Order, envelope: Envelope) -> None:
        report = echo_template.model_copy(
            update={"client_order_id": order.client_order_id, "exec_id": order.client_order_id}
        )
        await bus.js_publish(subjects.exec_report("SPX"), report, msg_id=report.exec_id)

    async def on_message(msg: Any) -> None:
        fills.count += 1
        if fills.count >= fills.target:
            fills.done.set()

    sub = await bus.js.subscribe(subjects.ALL_EXEC_REPORTS, ordered_consumer=True, cb=on_message)
    consumer = DurableConsumer(
        bus, stream=subjects.STREAM_ORDERS, durable="bench-echo", model=Order, handler=echo
    )
    await consumer.start()
    rate = await measure_flood(bus, fills, make_orders(N_ORDERS, "base"))
    await consumer.stop()
    await sub.unsubscribe()
    await bus.close()
    return rate


def make_report() -> ExecutionReport:
    return ExecutionReport(
        client_order_id="x",
        exec_id="x",
        seq=2,
        cycle_id="bench",
        instrument=SPX,
        side=Side.BUY,
        status=ExecStatus.FILLED,
        order_quantity=1,
        cum_quantity=1,
        leaves_quantity=0,
        last_quantity=1,
        last_price=SPOT + 1.0,
        avg_price=SPOT + 1.0,
    )


async def start_service(
    server: NatsServer, folder: Path, settings: ExecutionSettings | None = None
) -> tuple[Any, asyncio.Event, asyncio.Task[int], Bus, Fills, Any]:
    """Execution on deep books (SQLite in `folder`, a live clock), ready and quoted, with a
    publisher's bus and a `Fills` reading `HEDGE_EXEC`: (component, stop, task, bus, fills,
    subscription)."""
    deep = LiquidityParams(top_size=1e7, half_life_s=1.0)
    service = build(
        settings or ExecutionSettings(),
        venue=replace(VENUE, underlying=replace(VENUE.underlying, liquidity=deep)),
        store=StoreSettings(url=f"sqlite:///{folder / 'execution.db'}"),
        runtime=RuntimeSettings(instance="bench"),
        nats=NatsSettings(url=server.url),
        clock=LiveClock(),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    component: Any = service.components[0]
    await asyncio.wait_for(component.ready.wait(), 30)
    nc = await connect(NatsSettings(url=server.url, name="bench-publisher"))
    bus = Bus(nc, "bench")
    fills = Fills()
    sub = await bus.js.subscribe(
        subjects.ALL_EXEC_REPORTS, ordered_consumer=True, cb=fills.on_message
    )
    await bus.publish(subjects.tick("SPX"), Tick(underlying="SPX", price=SPOT, seq=1))
    while component.engine.quote("SPX") is None:
        await asyncio.sleep(0.01)
    return component, stop, running, bus, fills, sub


async def _service(server: NatsServer, folder: Path) -> dict[str, float]:
    _, stop, running, bus, fills, sub = await start_service(server, folder)
    warm = make_orders(100, "warm")
    await measure_flood(bus, fills, warm)
    rate = await measure_flood(bus, fills, make_orders(N_ORDERS, "flood"))
    latencies = await measure_latency(bus, fills, make_orders(N_LATENCY, "lat"))
    await sub.unsubscribe()
    await bus.close()
    stop.set()
    await running
    latencies.sort()
    return {
        "orders_per_s": rate,
        "latency_p50_ms": 1e3 * statistics.median(latencies),
        "latency_p99_ms": 1e3 * latencies[int(0.99 * (len(latencies) - 1))],
    }


async def _main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hedgemesh-bench-exec-") as tmp:
        folder = Path(tmp)
        with NatsServer(store_dir=folder / "nats-base") as server:
            baseline = await _baseline(server)
        with NatsServer(store_dir=folder / "nats") as server:
            figures = await _service(server, folder)
    return {
        "orders": N_ORDERS,
        **figures,
        "baseline_round_trips_per_s": baseline,
        "ratio_to_baseline": figures["orders_per_s"] / baseline,
    }


def run() -> dict[str, float]:
    return asyncio.run(_main())


def report(figures: dict[str, float]) -> None:
    print(f"orders through execution (one publisher, {figures['orders']:.0f} IOC orders):")
    print(f"  service   {figures['orders_per_s']:10,.0f} orders/s to FILLED on HEDGE_EXEC")
    print(f"  baseline  {figures['baseline_round_trips_per_s']:10,.0f} raw JetStream round trips/s")
    print(f"  ratio     {figures['ratio_to_baseline']:10.2f} (service / baseline)")
    print(
        f"  latency one at a time: p50 {figures['latency_p50_ms']:.2f} ms, "
        f"p99 {figures['latency_p99_ms']:.2f} ms"
    )


if __name__ == "__main__":
    report(run())
