"""Benchmark: one agent cycle on the default scenario's book, against rebuilding from scratch.

Run: `.venv/bin/python bench/bench_agents.py` (`make bench` runs it single-threaded). Two
figures, each with a baseline timed in the same run:

- the work every tick costs an agent (no trigger fires): `BookState.apply_tick` and
  `risk(now)` (one `book_risk` pass over both underlyings), against a fresh `BookState` fed
  the same snapshots, surfaces and tick (what an agent without the caches would redo: the
  positions' arrays, the stacked surfaces);
- a hedge cycle that proposes (gamma-agent and vega-agent): gates, risk, the policy, pricing
  the listed candidates and the allocation, against the same cycle on a fresh core each time
  (no listed options kept between cycles).

p50 and p99 in microseconds; nothing here asserts on time.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "agents"))

import agent_examples as ex  # noqa: E402

from hedgemesh.agentkit.domain.core import AgentCore  # noqa: E402
from hedgemesh.market.book_state import BookState  # noqa: E402
from hedgemesh.wire.codes import ReasonCode  # noqa: E402
from hedgemesh.wire.hedging import Decision, DecisionOutcome  # noqa: E402

N = 400


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_us": statistics.median(ordered) * 1e6,
        "p99_us": ordered[int(0.99 * (len(ordered) - 1))] * 1e6,
    }


def _timed(step: Callable[[int], object], n: int = N) -> dict[str, float]:
    step(-1)  # warm-up
    times = []
    for k in range(n):
        start = time.perf_counter()
        step(k)
        times.append(time.perf_counter() - start)
    return _percentiles(times)


def _ticks(n: int):
    base = ex.tick("SPX")
    return [
        base.evolve(seq=base.seq + k + 2, ts=base.ts + timedelta(milliseconds=10 * (k + 2)))
        for k in range(n + 1)
    ]


def _tick_path() -> dict[str, dict[str, float]]:
    batch = ex.start()
    snapshots = [ex.snapshot(u, h) for u, h in ex.book_holdings().items()]
    state = BookState()
    for message in (*batch.surfaces, *batch.ticks, *snapshots):
        state.apply(message)
    ticks = _ticks(N)

    def cached(k: int) -> None:
        tick = ticks[k + 1]
        state.apply_tick(tick)
        state.risk(tick.ts)

    def fresh(k: int) -> None:
        tick = ticks[k + 1]
        scratch = BookState()
        for message in (*batch.surfaces, *batch.ticks, *snapshots):
            scratch.apply(message)
        scratch.apply_tick(tick)
        scratch.risk(tick.ts)

    return {"cached": _timed(cached), "from_scratch": _timed(fresh)}


def _reject(core: AgentCore, proposal) -> None:
    core.on_decision(
        Decision(
            proposal_id=proposal.id, agent=proposal.agent, underlying=proposal.underlying,
            cycle_id=proposal.cycle_id, outcome=DecisionOutcome.REJECTED,
            reason_code=ReasonCode.GAMMA_LIMIT, scale_factor=0.0, epoch=1,
        ),
        0.0,
    )  # fmt: skip


def _cycle(make: Callable[[], AgentCore], n: int = 200) -> dict[str, dict[str, float]]:
    core = make()
    ticks = _ticks(n)

    def warm(k: int) -> None:
        tick = ticks[k + 1]
        core.book.apply(tick)
        proposal = core.evaluate("SPX", tick.ts, 0.0).proposal
        assert proposal is not None
        _reject(core, proposal)

    cores = [make() for _ in range(n + 1)]

    def cold(k: int) -> None:
        assert cores[k + 1].evaluate("SPX", ex.ORIGIN, 0.0).proposal is not None

    return {"warm": _timed(warm, n), "fresh_core": _timed(cold, n)}


def run() -> dict:
    return {
        "tick_path": _tick_path(),
        "gamma_cycle": _cycle(ex.gamma_core),
        "vega_cycle": _cycle(ex.vega_core),
    }


def report(r: dict) -> None:
    """Print the figures of `run()` as a table."""
    print("agent cycle on the default scenario's book (SPX and NDX), microseconds")
    print(f"{'what':<34} {'p50':>8} {'p99':>8} {'baseline p50':>13} {'ratio':>7}")
    tick, gamma, vega = r["tick_path"], r["gamma_cycle"], r["vega_cycle"]
    rows = (
        ("tick: apply + risk (no trigger)", tick["cached"], tick["from_scratch"]),
        ("gamma-agent cycle with a proposal", gamma["warm"], gamma["fresh_core"]),
        ("vega-agent cycle with a proposal", vega["warm"], vega["fresh_core"]),
    )
    for name, ours, base in rows:
        ratio = base["p50_us"] / ours["p50_us"]
        print(
            f"{name:<34} {ours['p50_us']:>8.0f} {ours['p99_us']:>8.0f} "
            f"{base['p50_us']:>13.0f} {ratio:>6.1f}x"
        )


if __name__ == "__main__":
    report(run())
