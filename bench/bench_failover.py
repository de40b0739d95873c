"""Take-over times: kill -9 the leader of the gamma-agent (10 times) and of the manager (10 times)
under a moving market, and time each fail-over.

`hedgemesh up` runs the chaos suite's cluster (`tests/chaos/chaos.yaml` at 100x: two busy
indices, heavy client flow, tight gamma and vega bands; leases of 2 s, heartbeats every half
second) and an observer on the bus times, from each kill on its own monotonic clock:

- agent fail-over: kill -9 → the new leader's first heartbeat as leader → its first proposal;
- manager fail-over: kill -9 → the new leader's first heartbeat → its first order.

Between runs every instance is live and ready again (the supervisor restarts the killed one;
its back-off doubles from 0.25 s while it keeps dying). At the end the chaos suite's invariants
are checked over the whole run (orders and fills counted). The baseline is the lease's ttl: a
crashed leader is replaced once its last renewal lapses, so a take-over cannot beat about
2/3 of the ttl (the holder renews every ttl/3) and should not exceed it by much.

    .venv/bin/python bench/run.py failover
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The cluster, the observer and the invariants are the chaos suite's (one copy of each).
for folder in ("tests", "tests/system", "tests/chaos"):
    if str(ROOT / folder) not in sys.path:
        sys.path.insert(0, str(ROOT / folder))

from chaos_harness import (  # noqa: E402
    LEASE_TTL_S,
    ChaosCluster,
    Observer,
    TakeOver,
    all_live,
    settled_invariants,
    take_over,
)
from conftest import _eventually as eventually  # noqa: E402

RUNS = 10
SERVICES = ("gamma-agent", "manager")


def _stats(values: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(values), "worst_s": max(values), "n": len(values)}


async def _measure(cluster: ChaosCluster) -> dict[str, Any]:
    observer = await Observer().start(cluster.nats_url)
    instances = list(cluster.instances())
    runs: dict[str, list[TakeOver]] = {service: [] for service in SERVICES}
    try:
        for _ in range(RUNS):
            for service in SERVICES:
                await eventually(all_live(observer, instances), timeout=90)
                took = await take_over(cluster, observer, service, eventually)
                print(f"  {service}: {took.killed} killed; leads {took.leads_s:.2f} s, "
                      f"acts {took.acts_s:.2f} s", flush=True)  # fmt: skip
                runs[service].append(took)
        await eventually(all_live(observer, instances), timeout=90)
        report = await settled_invariants(cluster, observer, eventually)
    finally:
        await observer.close()
    agent, manager = runs["gamma-agent"], runs["manager"]
    return {
        "lease_ttl_s": LEASE_TTL_S,
        "agent_new_leader": _stats([t.leads_s for t in agent]),
        "agent_first_proposal": _stats([t.acts_s for t in agent]),
        "manager_new_leader": _stats([t.leads_s for t in manager]),
        "manager_first_order": _stats([t.acts_s for t in manager]),
        "invariants": report.counts(),
        "orders_checked": report.orders_checked,
        "fills_checked": report.fills_checked,
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as home:
        cluster = ChaosCluster(Path(home) / "var")
        try:
            cluster.wait_running()
            return asyncio.run(_measure(cluster))
        finally:
            cluster.stop()


def report(r: dict[str, Any]) -> None:
    print(f"kill -9 the leader, {RUNS} times each (lease ttl {r['lease_ttl_s']:g} s):")
    for name in ("agent_new_leader", "agent_first_proposal", "manager_new_leader",
                 "manager_first_order"):  # fmt: skip
        s = r[name]
        print(f"  {name:<22} median {s['median_s']:5.2f} s   worst {s['worst_s']:5.2f} s")
    print(f"invariants hold over {r['orders_checked']} orders and {r['fills_checked']} fills")


if __name__ == "__main__":
    report(run())
