"""Benchmark: orders through the FIX 4.4 acceptor to FILLED, beside the NATS path in the same run.

Run: `.venv/bin/python bench/run.py fix` (`make bench` runs it too). One real nats-server and a
SQLite store in a temp dir; the execution service in this process (its bootstrap, a live clock,
deep books, the FIX acceptor on a free port):

- NATS (the baseline): one publisher sends N one-unit marketable IOC orders to `HEDGE_ORDERS`
  (awaiting each JetStream ack) and reads FILLED on `HEDGE_EXEC` (as bench_execution_nats).
- FIX: QuickFIX (the `quickfix-ssl` wheel, an initiator with the FIX 4.4 data dictionary on)
  sends N one-unit marketable IOC NewOrderSingles on one session; orders/s = N / (first send to
  the N-th ExecutionReport with OrdStatus FILLED delivered to QuickFIX's application).
- latency: M FIX orders one at a time (send, wait for its FILLED report): median and p99.

Both paths run the same engine, controls and store; FIX adds the session layer, the ClOrdID
kept with the order (one transaction), and each report numbered, stored for resend and written
before it counts. Prints the figures and the ratio FIX / NATS; asserts nothing on time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hedgemesh.execution.config import ExecutionSettings
from hedgemesh.runtime.server import NatsServer

HERE = Path(__file__).resolve().parent
N_ORDERS = 1000
N_WARM = 100
N_LATENCY = 100
PASSWORD = "bench"


def _sibling(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


nats_bench = _sibling("bench_execution_nats", HERE / "bench_execution_nats.py")
fix_client = _sibling("fix_client", HERE.parent / "tests" / "execution" / "fix_client.py")


class FixFills(fix_client.Client):  # type: ignore[misc,name-defined]
    """Counts FILLED ExecutionReports as QuickFIX delivers them (on its own thread)."""

    def __init__(self) -> None:
        super().__init__(PASSWORD)
        self.filled = 0
        self.at: dict[str, float] = {}
        self.target = 0
        self.done = threading.Event()

    def fromApp(self, message: Any, session_id: Any) -> None:
        if message.getHeader().getField(35) == "8" and message.getField(39) == "2":
            self.filled += 1
            self.at[message.getField(11)] = time.perf_counter()
            if self.filled >= self.target:
                self.done.set()

    def expect(self, n: int) -> None:
        self.target = self.filled + n
        self.done.clear()


def _send_orders(client: FixFills, prefix: str, n: int) -> None:
    for i in range(n):
        side = "1" if i % 2 == 0 else "2"
        price = nats_bench.SPOT + (5.0 if side == "1" else -5.0)
        client.new_order(f"{prefix}-{i}", side, 1, price=price, tif="3")


async def _fix_flood(client: FixFills, prefix: str, n: int) -> float:
    client.expect(n)
    start = time.perf_counter()
    await asyncio.to_thread(_send_orders, client, prefix, n)
    if not await asyncio.to_thread(client.done.wait, 120):
        raise RuntimeError(f"only {client.filled} of {client.target} FIX fills arrived")
    return n / (time.perf_counter() - start)


async def _fix_latency(client: FixFills, n: int) -> list[float]:
    latencies = []
    for i in range(n):
        client.expect(1)
        start = time.perf_counter()
        await asyncio.to_thread(_send_orders, client, f"lat{i}", 1)
        if not await asyncio.to_thread(client.done.wait, 30):
            raise RuntimeError("a FIX order was not filled")
        latencies.append(client.at[f"lat{i}-0"] - start)
    return latencies


async def _main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hedgemesh-bench-fix-") as tmp:
        folder = Path(tmp)
        with NatsServer(store_dir=folder / "nats") as server:
            return await _measure(server, folder)


async def _measure(server: NatsServer, folder: Path) -> dict[str, float]:
    settings = ExecutionSettings(fix_port=0, fix_passwords={"CLIENT1": PASSWORD})
    component, stop, running, bus, fills, sub = await nats_bench.start_service(
        server, folder, settings
    )
    client = FixFills()
    initiator_settings = fix_client.settings_file(folder, component.fix.port)
    try:
        with fix_client.initiator(client, initiator_settings):
            while not client.logged_on.is_set():
                await asyncio.sleep(0.01)
            await nats_bench.measure_flood(bus, fills, nats_bench.make_orders(N_WARM, "warm"))
            await _fix_flood(client, "warm", N_WARM)
            nats_rate = await nats_bench.measure_flood(
                bus, fills, nats_bench.make_orders(N_ORDERS, "flood")
            )
            fix_rate = await _fix_flood(client, "flood", N_ORDERS)
            latencies = sorted(await _fix_latency(client, N_LATENCY))
            rejected = component.fix.stats["rejected_by_counterparty"]
    finally:
        await sub.unsubscribe()
        await bus.close()
        stop.set()
        await running
    return {
        "orders": N_ORDERS,
        "nats_orders_per_s": nats_rate,
        "fix_orders_per_s": fix_rate,
        "ratio_fix_to_nats": fix_rate / nats_rate,
        "fix_latency_p50_ms": 1e3 * statistics.median(latencies),
        "fix_latency_p99_ms": 1e3 * latencies[int(0.99 * (len(latencies) - 1))],
        "reports_quickfix_rejected": rejected,
    }


def run() -> dict[str, float]:
    return asyncio.run(_main())


def report(figures: dict[str, float]) -> None:
    n = figures["orders"]
    print(f"orders to FILLED through execution ({n:.0f} one-unit IOC orders each way):")
    print(f"  NATS     {figures['nats_orders_per_s']:8,.0f} orders/s (JetStream in, on HEDGE_EXEC)")
    print(
        f"  FIX 4.4  {figures['fix_orders_per_s']:8,.0f} orders/s (QuickFIX in, report delivered)"
    )
    print(f"  ratio    {figures['ratio_fix_to_nats']:8.2f} (FIX / NATS)")
    print(
        f"  FIX latency one at a time: p50 {figures['fix_latency_p50_ms']:.2f} ms, "
        f"p99 {figures['fix_latency_p99_ms']:.2f} ms; reports QuickFIX rejected: "
        f"{figures['reports_quickfix_rejected']:.0f}"
    )


if __name__ == "__main__":
    report(run())
