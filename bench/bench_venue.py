"""Benchmark: the venue's matching engine against `pyorderbook`, on the same seeded flow.

Run: `.venv/bin/python bench/bench_venue.py` (`make bench` runs it single-threaded). A flow of
10^5 messages for one instrument around a drifting mid: 60 % passive limit orders (GTC, 1 to 20
ticks behind the touch), 25 % marketable orders (IOC limits 0 to 5 ticks through the far
touch; one in five of them a market order), 15 % cancels of an earlier limit order (which may
have filled meanwhile). `hedgemesh.venue.OrderBook` runs it with every event collected; the same
flow runs through `pyorderbook.Book` in the same process, the runs interleaved, mapped as
faithfully as it allows: a limit is `Book.match(bid|ask(...))`; IOC and market orders are
matched, then their unfilled rest cancelled (`Book.cancel`), a market order carrying the
extreme price of its side; a cancel is `Book.cancel` of the order while still in the book
(`Book.get_order`), else nothing (ours reports UNKNOWN_ORDER). Both keep what they return (our
events, its trade blotters). Prints messages/s for both and the ratio, and checks both filled
the same volume; asserts nothing on time.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable

from hedgemesh.venue.book import BUY, SELL, Fill, OrderBook

SEED = 20240603
N_MESSAGES = 100_000
MIX = (0.60, 0.25, 0.15)  # limit, marketable, cancel
TARGET_PER_S = 300_000
TICK = 0.01

LIMIT, MARKETABLE, CANCEL = "limit", "marketable", "cancel"
# kind, order id, owner, side, price (ticks), quantity
Message = tuple[str, int, str, int, int | None, int]


def make_flow(n: int = N_MESSAGES, seed: int = SEED) -> list[Message]:
    """The seeded message flow: (kind, order id, owner, side, price ticks or None, quantity).

    Every order has its own owner, so self-trade prevention never fires and both engines
    see exactly the same matching problem (the benchmark checks they fill the same volume).
    """
    rng = random.Random(seed)
    mid = 10_000
    flow: list[Message] = []
    limits: list[int] = []
    for oid in range(n):
        if rng.random() < 0.02:
            mid += rng.choice((-1, 1))
        u = rng.random()
        side = BUY if rng.random() < 0.5 else SELL
        if u < MIX[0] or not limits:
            price = mid - side * rng.randint(1, 20)
            flow.append((LIMIT, oid, f"t{oid}", side, price, rng.randint(1, 100)))
            limits.append(oid)
        elif u < MIX[0] + MIX[1]:
            price = None if rng.random() < 0.2 else mid + side * rng.randint(0, 5)
            flow.append((MARKETABLE, oid, f"t{oid}", side, price, rng.randint(1, 200)))
        else:
            target = limits[-rng.randint(1, min(len(limits), 500))]
            flow.append((CANCEL, target, "", 0, None, 0))
    return flow


def run_ours(flow: list[Message]) -> list:
    """Run the flow through OrderBook; every event it produced, in order."""
    book = OrderBook("BENCH", TICK)
    submit, cancel = book.submit, book.cancel
    collected: list = []
    keep = collected.extend
    for kind, oid, owner, side, price, qty in flow:
        if kind is LIMIT:
            keep(submit(oid, owner, side, price, qty))
        elif kind is MARKETABLE:
            keep(submit(oid, owner, side, price, qty, "ioc"))
        else:
            keep(cancel(oid))
    return collected


def run_pyorderbook(flow: list[Message]) -> list:
    """The same flow through pyorderbook; every trade blotter it returned, in order."""
    import pyorderbook

    book = pyorderbook.Book()
    ask, bid = pyorderbook.ask, pyorderbook.bid
    live: dict[int, pyorderbook.Order] = {}
    blotters = []
    keep = blotters.append
    high, low = 10.0 * 10_000 * TICK, TICK
    for kind, oid, _, side, price, qty in flow:
        if kind is CANCEL:
            order = live.pop(oid, None)
            if order is not None and book.get_order(order.id) is not None:
                book.cancel(order)
            continue
        px = (high if side == BUY else low) if price is None else price * TICK
        order = (bid if side == BUY else ask)("BENCH", px, qty)
        keep(book.match(order))
        if kind is LIMIT:
            live[oid] = order
        elif order.quantity and book.get_order(order.id) is not None:
            book.cancel(order)
    return blotters


def _timed(fn: Callable[[list[Message]], list], flow: list[Message]) -> tuple[float, list]:
    gc.collect()
    start = time.perf_counter()
    out = fn(flow)
    return time.perf_counter() - start, out


def _figures(times: list[float], n: int) -> dict:
    best = min(times)
    return {"best_s": best, "median_s": statistics.median(times), "per_s": n / best}


def measure(repeats: int = 5) -> dict:
    """Time both engines on the flow, interleaved (the machine's noise hits both alike)."""
    flow = make_flow()
    n = len(flow)
    try:
        import pyorderbook  # noqa: F401

        engines: dict[str, Callable[[list[Message]], list]] = {
            "ours": run_ours,
            "pyorderbook": run_pyorderbook,
        }
    except ImportError:  # pragma: no cover - the bench extra installs it
        engines = {"ours": run_ours}
    times: dict[str, list[float]] = {name: [] for name in engines}
    outputs: dict[str, list] = {}
    for _ in range(repeats):
        for name, engine in engines.items():
            seconds, outputs[name] = _timed(engine, flow)
            times[name].append(seconds)
    events = outputs["ours"]
    results: dict = {
        "messages": n,
        "mix": {k: sum(1 for m in flow if m[0] == k) for k in (LIMIT, MARKETABLE, CANCEL)},
        "ours": _figures(times["ours"], n)
        | {"events": len(events), "volume": sum(e.quantity for e in events if type(e) is Fill)},
        "target_per_s": TARGET_PER_S,
        "pyorderbook": None,
    }
    if "pyorderbook" in outputs:
        trades = [t for b in outputs["pyorderbook"] for t in b.trades]
        volume = sum(t.fill_quantity for t in trades)
        results["pyorderbook"] = _figures(times["pyorderbook"], n) | {
            "trades": len(trades),
            "volume": volume,
        }
        results["same_volume"] = volume == results["ours"]["volume"]
        results["ratio"] = results["ours"]["per_s"] / results["pyorderbook"]["per_s"]
    return results


def run(repeats: int = 5) -> dict:
    """Measure, print the table, return the figures."""
    r = measure(repeats)
    _print_table(r)
    return r


def _print_table(r: dict) -> None:
    mix = ", ".join(f"{k} {v:,}" for k, v in r["mix"].items())
    print(f"mixed flow of {r['messages']:,} messages ({mix}), one instrument, one process")
    print(f"{'engine':>28} {'best s':>8} {'median s':>9} {'messages/s':>12}")
    ours = r["ours"]
    print(
        f"{'hedgemesh.venue (+events)':>28} {ours['best_s']:>8.3f} {ours['median_s']:>9.3f} "
        f"{ours['per_s']:>12,.0f}   ({ours['events']:,} events; target {r['target_per_s']:,}/s)"
    )
    base = r.get("pyorderbook")
    if base:
        print(
            f"{'pyorderbook':>28} {base['best_s']:>8.3f} {base['median_s']:>9.3f} "
            f"{base['per_s']:>12,.0f}   ({base['trades']:,} trades)"
        )
        same = "the same" if r["same_volume"] else "DIFFERENT"
        print(f"filled volume: {r['ours']['volume']:,} units ({same} in both engines)")
        print(f"ratio hedgemesh / pyorderbook: {r['ratio']:.2f}x")


if __name__ == "__main__":
    run()
