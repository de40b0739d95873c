"""What a firm-wide reservation in KV would cost per hedge cycle, on one server and on a 3-node
cluster at R3 (docs/scaling.md: how firm limits bind across partitions).

A partitioned manager that kept the firm's limits exact would, before routing a cycle, reserve
its share of the firm's exposure with a compare-and-set on one KV key (read the key, write the
new total at the revision read, retry on conflict). Every partition's every cycle goes through
that one key, so its round trip bounds the firm's cycles per second. Measured here: the read +
update round trip of one writer, and the cycles per second that `WRITERS` concurrent writers
(partitions) complete together, conflicts retried, on `nats-server` from the wheel.

    .venv/bin/python bench/bench_firm_reservation.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from typing import Any

import nats.js.errors

from hedgemesh.runtime import NatsCluster, NatsSettings, connect, ensure_streams
from hedgemesh.wire import subjects

ROUNDS = 400
WRITERS = 16
SECONDS = 3.0


async def _reserve(kv: Any, key: str) -> int:
    """One reservation: read, add, compare-and-set; returns the conflicts retried."""
    conflicts = 0
    while True:
        entry = await kv.get(key)
        total = int(entry.value or b"0") + 1
        try:
            await kv.update(key, str(total).encode(), last=entry.revision)
            return conflicts
        except nats.js.errors.KeyWrongLastSequenceError:
            conflicts += 1


async def _measure(url: str, replicas: int) -> dict[str, Any]:
    nc = await connect(NatsSettings(url=url, name="bench-reserve"), initial_timeout_s=10)
    try:
        await ensure_streams(nc.jetstream(), replicas=replicas)
        kv = await nc.jetstream().key_value(subjects.KV_LIMITS)
        await kv.put("firm-reserved", b"0")
        single: list[float] = []
        for _ in range(ROUNDS):
            began = time.perf_counter()
            await _reserve(kv, "firm-reserved")
            single.append(time.perf_counter() - began)
        done = 0
        conflicts = 0
        stop = time.perf_counter() + SECONDS

        async def writer() -> None:
            nonlocal done, conflicts
            while time.perf_counter() < stop:
                conflicts += await _reserve(kv, "firm-reserved")
                done += 1

        began = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(WRITERS)))
        elapsed = time.perf_counter() - began
        ordered = sorted(single)
        return {
            "replicas": replicas,
            "p50_ms": 1e3 * statistics.median(ordered),
            "p99_ms": 1e3 * ordered[int(0.99 * (len(ordered) - 1))],
            "cycles_per_s_one_writer": 1.0 / statistics.mean(ordered),
            "cycles_per_s_contended": done / elapsed,
            "conflicts_per_cycle": conflicts / max(done, 1),
        }
    finally:
        await nc.close()


def run() -> dict[str, Any]:
    results = []
    for size in (1, 3):
        with (
            tempfile.TemporaryDirectory(prefix="hedgemesh-reserve-") as store,
            NatsCluster(size, store_dir=store) as cluster,
        ):
            results.append(asyncio.run(_measure(cluster.url, cluster.replicas)))
    return {"cases": results, "writers": WRITERS}


def report(r: dict[str, Any]) -> None:
    print(f"firm reservation by compare-and-set on one KV key ({r['writers']} writers contended)")
    for c in r["cases"]:
        print(
            f"  R{c['replicas']}: read+update p50 {c['p50_ms']:.2f} ms, p99 {c['p99_ms']:.2f} ms; "
            f"{c['cycles_per_s_one_writer']:.0f} cycles/s alone, "
            f"{c['cycles_per_s_contended']:.0f} contended "
            f"({c['conflicts_per_cycle']:.2f} conflicts a cycle)"
        )


if __name__ == "__main__":
    report(run())
