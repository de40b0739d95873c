"""Tick-to-order and tick-to-fill latency through the real services on loopback.

`hedgemesh up` runs the whole cluster on `scenarios/bench-latency.yaml` (one index ticking 100
times a real second, a short straddle whose delta leaves its band every few ticks). An observer
process subscribes to the ticks, the orders (`hedge.v1.order.*`) and the execution reports, and
times, for every order, its tick (the cycle id names the tick's seq) to the order and to the
order's first fill, all on the observer's own monotonic clock. Baseline, in the same run: a
message relayed over three NATS hops (publisher → relay → relay → observer), the floor of
tick → agent → manager → order.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from cluster import running_cluster

from hedgemesh.runtime import NatsServer, NatsSettings, connect
from hedgemesh.wire import ExecutionReport, Order, Tick, subjects

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "bench-latency.yaml"
WARM_UP_S = 6.0
MEASURE_S = 20.0


def _percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"n": 0}
    ordered = sorted(values_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"n": len(ordered), "p50_ms": statistics.median(ordered), "p99_ms": p99}


async def _three_hops(url: str, n: int = 2000, rate_hz: float = 100.0) -> list[float]:
    """Latency of a message relayed over three hops at `rate_hz`, in ms."""
    clients = [await connect(NatsSettings(url=url, name=f"hop{i}")) for i in range(4)]
    sent: dict[bytes, float] = {}
    got: list[float] = []
    done = asyncio.Event()

    async def relay(nc: Any, to: str):
        async def on(msg: Any) -> None:
            await nc.publish(to, msg.data)

        return on

    await clients[1].subscribe("bench.a", cb=await relay(clients[1], "bench.b"))
    await clients[2].subscribe("bench.b", cb=await relay(clients[2], "bench.c"))

    async def on_end(msg: Any) -> None:
        got.append((time.perf_counter() - sent[msg.data]) * 1000.0)
        if len(got) >= n:
            done.set()

    await clients[3].subscribe("bench.c", cb=on_end)
    for nc in clients:
        await nc.flush()
    for i in range(n):
        key = str(i).encode()
        sent[key] = time.perf_counter()
        await clients[0].publish("bench.a", key)
        await asyncio.sleep(1.0 / rate_hz)
    await asyncio.wait_for(done.wait(), 10)
    for nc in clients:
        await nc.close()
    return got


async def _observe(url: str) -> dict[str, list[float]]:
    nc = await connect(NatsSettings(url=url, name="latency-observer"))
    tick_at: dict[int, float] = {}
    order_at: dict[str, tuple[int, float]] = {}
    to_order: list[float] = []
    to_fill: list[float] = []
    measuring = False

    async def on_tick(msg: Any) -> None:
        tick = Tick.from_json(msg.data)
        tick_at[tick.seq] = time.perf_counter()

    async def on_order(msg: Any) -> None:
        now = time.perf_counter()
        order = Order.from_json(msg.data)
        seq = int(order.cycle_id.split("-")[1])
        if seq in tick_at and order.client_order_id not in order_at:
            order_at[order.client_order_id] = (seq, now)
            if measuring:
                to_order.append((now - tick_at[seq]) * 1000.0)

    async def on_report(msg: Any) -> None:
        now = time.perf_counter()
        report = ExecutionReport.from_json(msg.data)
        known = order_at.pop(report.client_order_id, None) if report.is_fill else None
        if known is not None and measuring:
            to_fill.append((now - tick_at[known[0]]) * 1000.0)

    await nc.subscribe(subjects.tick("SPX"), cb=on_tick)
    await nc.subscribe(subjects.ALL_ORDERS, cb=on_order)
    await nc.subscribe(subjects.ALL_EXEC_REPORTS, cb=on_report)
    await asyncio.sleep(WARM_UP_S)
    measuring = True
    ticks_before = len(tick_at)
    await asyncio.sleep(MEASURE_S)
    ticks = len(tick_at) - ticks_before
    await nc.close()
    return {"to_order": to_order, "to_fill": to_fill, "tick_rate": [ticks / MEASURE_S]}


def _cluster_latency() -> dict[str, Any]:
    with running_cluster(SCENARIO) as cluster:
        return asyncio.run(_observe(cluster["nats_url"]))


def run() -> dict[str, Any]:
    with NatsServer() as server:
        hops = asyncio.run(_three_hops(server.url))
    observed = _cluster_latency()
    baseline = _percentiles(hops)
    to_order = _percentiles(observed["to_order"])
    return {
        "three_nats_hops": baseline,
        "tick_to_order": to_order,
        "tick_to_fill": _percentiles(observed["to_fill"]),
        "ticks_per_s": observed["tick_rate"][0],
        "targets_ms": {"tick_to_order_p50": 1.5, "tick_to_order_p99": 3.0},
        "tick_to_order_p50_over_hops_p50": (
            to_order["p50_ms"] / baseline["p50_ms"] if to_order.get("n") else None
        ),
    }


def report(r: dict[str, Any]) -> None:
    def row(name: str, p: dict[str, float]) -> str:
        if not p.get("n"):
            return f"  {name:<22} no samples"
        return f"  {name:<22} p50 {p['p50_ms']:6.2f} ms   p99 {p['p99_ms']:6.2f} ms   (n={p['n']})"

    print(f"loop latency through the real services, {r['ticks_per_s']:.0f} ticks/s")
    print(row("three NATS hops", r["three_nats_hops"]))
    print(row("tick -> order", r["tick_to_order"]))
    print(row("tick -> first fill", r["tick_to_fill"]))
    ratio = r["tick_to_order_p50_over_hops_p50"]
    if ratio is not None:
        print(f"  tick->order p50 / three-hop p50: {ratio:.1f}x (target p50 1.5 ms, p99 3 ms)")


if __name__ == "__main__":
    report(run())
