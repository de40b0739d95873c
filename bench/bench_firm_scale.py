"""The desk at firm scale: 2, 20 and 200 underlyings, the same load per underlying.

A generated scenario (`firm_scenario`) gives each underlying `POSITIONS_PER_UNDERLYING` distinct
option positions (500: 100,000 at 200 underlyings) on a listed chain of 10 expiries × 25
strikes × calls and puts, and ticks each underlying `TICKS_PER_S_EACH` times a real second (5:
1,000 ticks a second in total at 200 underlyings), with client flow and a limit per underlying
sized to its book. `hedgemesh up` runs the whole desk on it (agents partitioned,
`HEDGEMESH_PARTITIONS`), and once every underlying's book is known to the API the bench
measures, over `STRETCH_S` real seconds:

- ticks per real second heard, and the CPU each process used (cores busy, from `/proc`);
- tick → order: from a tick's arrival at an observer to the arrival of an order of the cycle it
  started (`<UND>-<seq>…`), p50 and p99;
- the share of `/v1/risk` samples (one a second) with every limit of every underlying inside;
- slow consumers: `Slow Consumer` lines in nats-server's log;
- messages per second on the bus by kind (ticks, surfaces, proposals, positions, orders, ...).

    .venv/bin/python bench/bench_firm_scale.py                   # 2, 20, 200 underlyings
    .venv/bin/python bench/bench_firm_scale.py --underlyings 20 --stretch-s 30

Linux only (`/proc`). Run it under the heavy lock; it says how loaded the machine was (the load
average before each case), as the figures depend on it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml
from bench_cpu_day import cpu_by_process
from cluster import running_cluster

from hedgemesh.runtime import NatsSettings, connect
from hedgemesh.wire import Order, Tick, subjects

CASES = (2, 20, 200)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
POSITIONS_PER_UNDERLYING = 500
TICKS_PER_S_EACH = 5.0
SPEED = 60.0
PARTITIONS = 16
STRETCH_S = 45.0
WARMUP_TIMEOUT_S = 600.0
EXPIRIES_DAYS = (7, 14, 30, 60, 90, 120, 180, 270, 365, 540)
MONEYNESS = tuple(round(0.76 + 0.02 * i, 2) for i in range(25))


def firm_scenario(
    underlyings: int, each: int = POSITIONS_PER_UNDERLYING, seed: int = 16
) -> dict[str, Any]:
    """A scenario of `underlyings` GBM indices, each with `each` (at most 500) distinct option
    positions."""
    rng = np.random.default_rng(seed)
    tick_s = SPEED / TICKS_PER_S_EACH  # simulated seconds between two ticks of one underlying
    names = [f"U{i:03d}" for i in range(underlyings)]
    unds, positions, limits = [], [], {}
    for name in names:
        spot = float(np.round(rng.uniform(50, 500), 2))
        vol = float(np.round(rng.uniform(0.15, 0.45), 3))
        unds.append(
            {
                "symbol": name,
                "spot": spot,
                "rate": 0.04,
                "div": 0.01,
                "tick_interval": f"{tick_s:g}s",
                "model": {"kind": "gbm", "sigma": vol},
                "chain": {
                    "expiries_days": list(EXPIRIES_DAYS),
                    "strikes": {"moneyness": list(MONEYNESS), "round_to": 0.5},
                },
                "surface": {
                    "atm_vol": {d: vol for d in EXPIRIES_DAYS},
                    "rho": -0.5,
                    "atm_skew": -0.4,
                },
            }
        )
        cells = [(d, m, r) for d in EXPIRIES_DAYS for m in MONEYNESS for r in ("call", "put")]
        cells = [cells[i] for i in sorted(rng.choice(len(cells), size=each, replace=False))]
        quantities = rng.integers(1, 20, size=len(cells)) * rng.choice([-1, 1], size=len(cells))
        for (days, moneyness, right), qty in zip(cells, quantities, strict=True):
            positions.append(
                {"underlying": name, "expiry_days": days, "moneyness": moneyness,
                 "right": right, "quantity": int(qty)}
            )  # fmt: skip
        limits[name] = {
            "max_abs_delta": 5_000,
            "max_abs_gamma": 500,
            "max_abs_vega_per_vol_point": 5.0e6,
            "max_order_quantity": 10_000,
            "max_order_notional": 5.0e7,
            "daily_cost_budget": 1.0e9,
            "price_collar": 0.10,
            "max_tick_age": f"{10 * tick_s:g}s",
        }
    return {
        "version": 1,
        "name": f"firm-{underlyings}",
        "description": f"{underlyings} underlyings, {each} positions each",
        "seed": seed,
        "horizon": "6.5h",
        "clock": {"speed": SPEED},
        "underlyings": unds,
        "positions": positions,
        "client_flow": {
            "rate_per_hour": 20 * underlyings,
            "max_expiry_days": 90,
            "moneyness": [0.9, 1.1],
            "size": {"mean": 5, "max": 20},
            "client_buys_probability": 0.5,
            "half_spread_pct": 1.5,
            "counterparties": ["pension-fund", "hedge-fund"],
        },
        "limits": {
            "firm": {
                "max_abs_dollar_delta": 1.0e10,
                "max_abs_dollar_gamma_per_pct": 1.0e10,
                "max_abs_vega_per_vol_point": 1.0e9,
                "max_gross_notional_per_cycle": 1.0e9,
            },
            "underlyings": limits,
            "budgets": {
                "period": "1h",
                "agents": {"gamma-agent": 1.0e9, "vega-agent": 1.0e9},
                "floor_fraction": 0.2,
                "reallocation_rate": 0.5,
            },
        },
    }


def _breaches(risk: dict[str, Any]) -> int:
    return sum(
        1
        for und in risk["underlyings"]
        for check in [*und["checks"], *(c for b in und["buckets"] for c in b["checks"])]
        if check["limit"] is not None and check["breached"]
    )


def _slow_consumers(home: Path) -> int:
    return sum(
        log.read_text(errors="replace").count("Slow Consumer")
        for log in home.rglob("nats-server.log")
    )


def _cores(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], real_s: float
):
    by_label = Counter[str]()
    for pid, (label, cpu) in after.items():
        by_label[label] += cpu - before.get(pid, (label, 0.0))[1]
    return {k: v / real_s for k, v in sorted(by_label.items())}


async def _measure(
    cluster: dict[str, Any], underlyings: int, each: int, stretch_s: float
) -> dict[str, Any]:
    ticks: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    heard = Counter[str]()
    nc = await connect(
        NatsSettings(url=cluster["nats_url"], name="bench-firm"), initial_timeout_s=10
    )

    async def on_tick(msg: Any) -> None:
        tick = Tick.from_json(msg.data)
        ticks[(tick.underlying, tick.seq)] = time.monotonic()
        heard["ticks"] += 1

    async def on_order(msg: Any) -> None:
        order = Order.from_json(msg.data)
        heard["orders"] += 1
        parts = order.cycle_id.split("-")
        if len(parts) >= 2 and parts[1].isdigit():
            at = ticks.get((parts[0], int(parts[1])))
            if at is not None:
                latencies.append(time.monotonic() - at)

    async def on_any(msg: Any) -> None:  # messages per second by kind: hedge.v1.<kind>[.<sub>]
        parts = msg.subject.split(".")
        kind = ".".join(parts[2:4]) if parts[2] == "md" else parts[2]
        by_kind[kind] += 1

    by_kind = Counter[str]()
    await nc.subscribe(subjects.ALL_TICKS, cb=on_tick)
    await nc.subscribe(subjects.ALL_ORDERS, cb=on_order)
    await nc.subscribe(f"{subjects.PREFIX}.>", cb=on_any)
    tokens = yaml.safe_load(Path(cluster["api_tokens_file"]).read_text())["tokens"]
    token = next(t["token"] for t in tokens if t["role"] == "viewer")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=cluster["api_url"], headers=headers, timeout=30) as http:
        started = time.monotonic()
        launcher = int(cluster["launcher_pid"])
        cpu_start = cpu_by_process(launcher)
        seen = 0
        while True:  # every underlying's book known to the API
            try:
                risk = (await http.get("/v1/risk")).json()
                seen = len(risk.get("underlyings", []))
                if seen >= underlyings:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() - started > WARMUP_TIMEOUT_S:  # say how far it got, and why
                trades = (await nc.jetstream().stream_info(subjects.STREAM_TRADES)).state.messages
                waited = time.monotonic() - started
                await nc.close()
                return {
                    "underlyings": underlyings,
                    "positions": underlyings * each,
                    "ready": False,
                    "warmup_s": waited,
                    "underlyings_seen": seen,
                    "trades_stored": trades,
                    "ticks_per_s": heard["ticks"] / waited,
                    "cores_by_process": _cores(cpu_start, cpu_by_process(launcher), waited),
                }
            await asyncio.sleep(1.0)
        warmup_s = time.monotonic() - started
        heard.clear()
        by_kind.clear()
        latencies.clear()
        cpu_before = cpu_by_process(launcher)
        t0 = time.monotonic()
        samples: list[int] = []
        while time.monotonic() - t0 < stretch_s:
            began = time.monotonic()
            try:
                samples.append(_breaches((await http.get("/v1/risk")).json()))
            except (httpx.HTTPError, ValueError):
                samples.append(-1)  # no answer: counted as not inside
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))
        real_s = time.monotonic() - t0
        cpu_after = cpu_by_process(launcher)
    await nc.close()
    ordered = sorted(latencies)
    cores = _cores(cpu_before, cpu_after, real_s)
    return {
        "underlyings": underlyings,
        "positions": underlyings * each,
        "ready": True,
        "warmup_s": warmup_s,
        "real_s": real_s,
        "ticks_per_s": heard["ticks"] / real_s,
        "orders": heard["orders"],
        "tick_to_order_p50_ms": 1e3 * statistics.median(ordered) if ordered else None,
        "tick_to_order_p99_ms": 1e3 * ordered[int(0.99 * (len(ordered) - 1))] if ordered else None,
        "inside_share": sum(1 for s in samples if s == 0) / max(len(samples), 1),
        "samples": len(samples),
        "cores_by_process": cores,
        "cores_total": sum(cores.values()),
        "messages_per_s": {k: v / real_s for k, v in sorted(by_kind.items())},
    }


def run_case(
    underlyings: int,
    stretch_s: float = STRETCH_S,
    each: int = POSITIONS_PER_UNDERLYING,
    partitions: int = PARTITIONS,
) -> dict[str, Any]:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hedgemesh-firm-") as folder:
        scenario = Path(folder) / "firm.yaml"
        text = yaml.dump(firm_scenario(underlyings, each), Dumper=_DUMPER, sort_keys=False)
        scenario.write_text(text)
        env = {"HEDGEMESH_PARTITIONS": str(partitions)}
        with running_cluster(scenario, "--speed", f"{SPEED:g}", env=env, wait_s=300) as cluster:
            result = asyncio.run(_measure(cluster, underlyings, each, stretch_s))
            result["slow_consumers"] = _slow_consumers(Path(cluster["home"]))
    return {**result, "load_before": load, "partitions": partitions}


def run(
    cases: tuple[int, ...] = CASES,
    stretch_s: float = STRETCH_S,
    each: int = POSITIONS_PER_UNDERLYING,
) -> dict[str, Any]:
    return {"cases": [run_case(n, stretch_s, each) for n in cases], "cpus": os.cpu_count()}


def report(r: dict[str, Any]) -> None:
    print(
        f"firm scale at {SPEED:g}x, {TICKS_PER_S_EACH:g} ticks/s per underlying, {r['cpus']} CPUs"
    )
    for c in r["cases"]:
        if not c["ready"]:
            busiest = sorted(c["cores_by_process"].items(), key=lambda kv: -kv[1])
            print(
                f"  {c['underlyings']:>3} underlyings, {c['positions']:>6} positions: NOT READY "
                f"after {c['warmup_s']:.0f} s (the API knew {c['underlyings_seen']}; "
                f"{c['trades_stored']} client trades stored), load before {c['load_before']:.1f}"
            )
            print("      cores: " + ", ".join(f"{k} {v:.2f}" for k, v in busiest))
            continue
        p99 = c["tick_to_order_p99_ms"]
        print(
            f"  {c['underlyings']:>3} underlyings, {c['positions']:>6} positions: "
            f"{c['ticks_per_s']:6.0f} ticks/s, {c['cores_total']:.2f} cores, tick->order p99 "
            f"{'-' if p99 is None else f'{p99:.0f} ms'}, inside {c['inside_share']:.0%} of "
            f"{c['samples']}, slow consumers {c['slow_consumers']}, load before "
            f"{c['load_before']:.1f}, warm-up {c['warmup_s']:.0f} s"
        )
        busiest = sorted(c["cores_by_process"].items(), key=lambda kv: -kv[1])
        print("      cores: " + ", ".join(f"{k} {v:.2f}" for k, v in busiest))
        rates = c["messages_per_s"].items()
        print("      messages/s: " + ", ".join(f"{k} {v:.0f}" for k, v in rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--underlyings", type=int, nargs="*", default=list(CASES))
    parser.add_argument("--stretch-s", type=float, default=STRETCH_S)
    parser.add_argument("--positions-each", type=int, default=POSITIONS_PER_UNDERLYING)
    parser.add_argument("--warmup-s", type=float, default=None)
    args = parser.parse_args()
    if args.warmup_s is not None:
        globals()["WARMUP_TIMEOUT_S"] = args.warmup_s
    report(run(tuple(args.underlyings), args.stretch_s, args.positions_each))


if __name__ == "__main__":
    main()
