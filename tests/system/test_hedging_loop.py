"""The hedging loop as a user runs it: `hedgemesh up` on the default scenario (a short-gamma desk;
SPX gaps down 5 % with a vol spike an hour in, and the venue's depth falls to a quarter for half
an hour), watched over REST.

The issue's acceptance: after the first hedge cycle, |delta|, |gamma| and every vega bucket stay
inside their limits in at least 95 % of samples; positions equal the sum of client trades and
fills; no order is accepted while HALTED; every proposal has a decision.

The clock runs at the speed the README ships: the scenario's own (390, a trading day a minute),
as a ceiling: marketdata paces it down when the desk lags (docs/marketdata.md), so the test
reads the simulated time from the cluster's clock record, not from a fixed speed. The clock
starts once the desk is ready, so the gap, an hour in, lands on a hedged book. The book starts
outside its limits; once the first hedge cycles have brought it inside, risk is sampled until
the drought after the gap is over (`sample_until_s`) and for at least `SAMPLE_S` real seconds
(the gap's own share is printed). The busy variant keeps two CPU-bound
processes running throughout (the machine has two cores): pacing must keep the book inside its
limits in at least 90 % of samples, and say it slowed the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from cluster_harness import Launcher, free_port

from hedgemesh.runtime import NatsSettings, connect
from hedgemesh.scenario import DEFAULT_SCENARIO, load_scenario
from hedgemesh.scenario.model import LiquidityDroughtEvent, Scenario
from hedgemesh.store.db import make_engine, session_factory
from hedgemesh.store.ledger import LedgerRepository
from hedgemesh.wire import ClientTrade, ExecutionReport, Heartbeat, Proposal, subjects
from hedgemesh.wire.clock import CLUSTER_CLOCK_KEY, ClockRecord

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

#: The speed the README ships: the default scenario's (a ceiling: pacing may slow it).
SPEED = load_scenario(DEFAULT_SCENARIO).clock.speed
SAMPLE_EVERY_S = 0.2
#: Samples run until the gap's drought is over and for at least this long (real seconds), as
#: the issue measured a user's `make up` (/v1/risk for 100 s): at 390x the window up to the
#: drought's end alone is ~17 real seconds, in which one second of the desk's reaction to the
#: gap is 6 % of the samples.
SAMPLE_S = 60.0
#: Two CPU-bound processes on a two-core machine; bounded, in case a test dies without them.
BUSY = [sys.executable, "-c", "import time\nend = time.time() + 600\nwhile time.time() < end: pass"]


def sample_until_s(scenario: Scenario) -> float:
    """Simulated seconds from the start to the end of the risk samples: the end of the last
    liquidity drought (the gap's, in the default scenario), or an hour after the last event."""
    ends = [e.at + e.duration for e in scenario.events if isinstance(e, LiquidityDroughtEvent)]
    return max(ends, default=max((e.at for e in scenario.events), default=0.0) + 3600.0)


@pytest.fixture(params=[0, 2], ids=["quiet", "two-busy-processes"])
def busy(request):
    """How many CPU-bound processes compete for the cores; they are stopped at the end."""
    hogs = [subprocess.Popen(BUSY) for _ in range(request.param)]
    try:
        yield len(hogs)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.fixture
def cluster(tmp_path: Path, busy: int):
    port = free_port()
    launcher = Launcher(
        "--nats-port", "0", "--no-restart",
        home=tmp_path / "var",
        env={"HEDGEMESH_API_PORT": str(port)},
    )  # fmt: skip
    try:
        launcher.wait_for_line("hedgemesh: running", timeout=60)
        yield launcher, f"http://127.0.0.1:{port}"
    finally:
        try:
            launcher.stop(timeout=20)
        except Exception:
            launcher.kill()


async def _until(check, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {result!r})")
        await asyncio.sleep(every)


def breaches(risk: dict[str, Any]) -> list[str]:
    """The limits breached, of delta, gamma, vega and every vega bucket of every underlying
    (`SPX.max_abs_delta`, `SPX.0-30d.max_abs_vega_per_vol_point`); empty: inside them all."""
    out = []
    for underlying in risk["underlyings"]:
        name = underlying["underlying"]
        checks = [(name, c) for c in underlying["checks"]]
        checks += [(f"{name}.{b['bucket']}", c) for b in underlying["buckets"] for c in b["checks"]]
        out += [f"{at}.{c['name']}" for at, c in checks if c["limit"] is not None and c["breached"]]
    return out


async def _order_ids(http: httpx.AsyncClient) -> set[str]:
    orders = (await http.get("/v1/orders", params={"limit": 1000})).json()["orders"]
    return {o["client_order_id"] for o in orders}


async def _stream_sums(nc: Any) -> dict[str, int]:
    """Signed quantity per instrument over every client trade and every fill on the streams."""
    js = nc.jetstream()
    sums: dict[str, int] = defaultdict(int)
    for stream, subject, model in (
        ("HEDGE_TRADES", subjects.BOOK_TRADE, ClientTrade),
        ("HEDGE_EXEC", subjects.ALL_EXEC_REPORTS, ExecutionReport),
    ):
        last = (await js.stream_info(stream)).state.last_seq
        seen = 0
        sub = await js.subscribe(subject, ordered_consumer=True)
        while seen < last:
            msg = await sub.next_msg(timeout=5)
            seen = msg.metadata.sequence.stream
            message = model.from_json(msg.data)
            if isinstance(message, ClientTrade):
                sums[message.instrument.symbol] += message.signed_quantity
            elif message.is_fill:
                sums[message.instrument.symbol] += message.signed_last_quantity
        await sub.unsubscribe()
    return {symbol: qty for symbol, qty in sums.items() if qty}


async def test_given_the_default_scenario_then_the_book_is_hedged_inside_its_limits(cluster, busy):
    launcher, api = cluster
    home = launcher.home
    cluster = launcher.cluster()
    nc = await connect(NatsSettings(url=cluster["nats_url"], name="system-test"))
    clock_kv = await nc.jetstream().key_value(subjects.KV_CLOCK)
    speeds: list[float] = []
    proposals: dict[str, float] = {}
    lag_ms: dict[str, float] = defaultdict(float)

    async def on_proposal(msg: Any) -> None:
        proposals[Proposal.from_json(msg.data).id] = time.monotonic()

    async def on_heartbeat(msg: Any) -> None:
        beat = Heartbeat.from_json(msg.data)
        lag_ms[beat.service] = max(lag_ms[beat.service], beat.lag_ms)

    async def simulated_s() -> float:
        """Simulated seconds since the scenario's start, on the cluster clock's record (pacing
        changes its speed)."""
        record = ClockRecord.from_json((await clock_kv.get(CLUSTER_CLOCK_KEY)).value)
        speeds.append(record.speed)
        return (record.time_at(time.time()) - record.start).total_seconds()

    await nc.subscribe(subjects.ALL_PROPOSALS, cb=on_proposal)
    await nc.subscribe(subjects.ALL_HEARTBEATS, cb=on_heartbeat)
    try:
        headers = launcher.api_headers("operator")  # reads, halt and resume
        async with httpx.AsyncClient(base_url=api, timeout=5, headers=headers) as http:

            async def healthy() -> bool:
                try:
                    return (await http.get("/health")).status_code == 200
                except httpx.TransportError:
                    return False

            async def filled() -> bool:
                return bool((await http.get("/v1/fills", params={"limit": 1})).json()["fills"])

            async def inside() -> bool:
                return not breaches((await http.get("/v1/risk")).json())

            await _until(healthy, 60, "the API answering /health")
            await _until(filled, 60, "the first hedge cycle filled")
            # The book starts outside its limits: the first hedge cycles bring it in.
            await _until(inside, 20, "the first hedge cycles bringing the book inside its limits")

            # 1. Risk inside the limits in at least 95 % of samples, through the gap.
            end_s = sample_until_s(load_scenario(DEFAULT_SCENARIO))
            assert await simulated_s() < end_s - 1800.0, "the first fill came too late to sample"
            samples: list[list[str]] = []
            began = time.monotonic()
            gap_window = 0  # samples up to the drought's end: the gap's share, printed
            while (late := await simulated_s() < end_s) or time.monotonic() - began < SAMPLE_S:
                samples.append(breaches((await http.get("/v1/risk")).json()))
                gap_window += late
                await asyncio.sleep(SAMPLE_EVERY_S)
            share = sum(not b for b in samples) / len(samples)
            around_gap = sum(not b for b in samples[:gap_window]) / max(gap_window, 1)
            print(f"up to the drought's end: inside in {around_gap:.1%} of {gap_window} samples")
            breached = Counter(name for b in samples for name in b)
            lags = {name: round(ms / 1000, 1) for name, ms in sorted(lag_ms.items())}
            paced = f"clock {min(speeds):.0f}x to {max(speeds):.0f}x of {SPEED:g}x"
            print(f"inside limits in {share:.1%} of {len(samples)} samples; {paced}; lag {lags}")
            wanted = 0.95 if not busy else 0.90
            assert share >= wanted, (
                f"inside limits in {share:.1%} of {len(samples)} samples ({paced}, {busy} busy "
                f"processes); breached {dict(breached.most_common())}; services behind the "
                f"market by up to {lags} clock s"
            )
            if min(speeds) < SPEED:  # pacing slowed the clock: it said so, once, at WARNING
                log = (home / "logs" / "marketdata.log").read_text()
                assert log.count("WARNING hedgemesh.marketdata.adapters.pacing") == 1, log[-2000:]

            # 2. HALTED: nothing new is routed or accepted.
            reply = await http.post("/v1/control/halt", json={"reason": "system test"})
            assert reply.status_code == 200, reply.text
            halted_at = time.monotonic()
            await asyncio.sleep(1.0)  # what was routed before the halt lands
            before = await _order_ids(http)
            await asyncio.sleep(3.0)  # about 20 simulated minutes of market and client flow
            assert await _order_ids(http) == before, "an order was accepted while HALTED"
            reply = await http.post("/v1/control/resume")
            assert reply.status_code == 200, reply.text

            # 3. Every proposal has a decision (stored in the background: poll for it).
            seen = set(proposals)
            assert seen, "no proposal was published"
            decided: dict[str, tuple[str, str | None]] = {}

            async def every_one_decided() -> bool:
                with sqlite3.connect(home / "hedgemesh.db") as db:
                    rows = db.execute("SELECT proposal_id, outcome, reason_code FROM mgr_decisions")
                    decided.update({row[0]: (row[1], row[2]) for row in rows})
                return seen <= set(decided)

            with contextlib.suppress(AssertionError):
                await _until(every_one_decided, 15, "a decision for every proposal")
            assert seen <= set(decided), f"no decision for {sorted(seen - set(decided))}"
            while_halted = {
                p for p, at in proposals.items() if halted_at + 0.5 < at < halted_at + 3
            }
            assert all(decided[p] == ("rejected", "TRADING_HALTED") for p in while_halted & seen)

            # 4. Positions equal the sum of client trades and fills, once the flow stops.
            os.kill(launcher.cluster()["instances"]["marketdata"]["pid"], signal.SIGTERM)

            async def quiet() -> bool:
                working = await http.get("/v1/orders", params={"status": "working"})
                return not working.json()["orders"]

            await _until(quiet, 30, "every order finished")
            expected = await _stream_sums(nc)
            engine = make_engine(f"sqlite:///{home / 'hedgemesh.db'}")
            ledger = LedgerRepository(session_factory(engine))

            held: dict[str, int] = {}

            async def booked() -> dict[str, int] | None:
                held.clear()
                held.update(
                    {p.instrument.symbol: p.quantity for p in ledger.positions() if p.quantity}
                )
                return dict(held) if held == expected else None

            try:
                with contextlib.suppress(AssertionError):
                    await _until(booked, 60, "the ledger's positions equal trades + fills")
                apart = {
                    k: (held.get(k), expected.get(k))
                    for k in held.keys() | expected.keys()
                    if held.get(k) != expected.get(k)
                }
                assert not apart, f"ledger vs trades + fills on the streams: {apart}"
            finally:
                engine.dispose()
    finally:
        await nc.close()
