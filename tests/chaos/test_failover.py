"""Fail-over under a moving market, on one `hedgemesh up` cluster shared by the scenarios of this
module (the supervisor restarts what a scenario kills; each scenario first waits until every
instance is live and ready again).

In order:
- kill -9 the gamma-agent leader: the standby leads and proposals resume within 3 s;
- SIGSTOP the manager leader past its lease, SIGCONT: nothing it sends after waking is
  accepted (execution refuses its epoch, STALE_EPOCH) and it stands by;
- `hedgemesh status` shows leaders, standbys and heartbeat ages; `hedgemesh kill <service>`
  kills the leader by pid;
- both vega-agents down: the manager goes REDUCING on its own, keeps hedging delta with the
  underlying and says why on the API; ACTIVE once they are back;
- one underlying's feed halted: hedging it stops within 2.5 s (stale data), resumes after
  fresh ticks;
- kill -9 the manager leader: a new leader within 4 s, orders from it within 5 s.

Every scenario ends with the observer's checks and the end-to-end invariants (`invariants.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from chaos_checks import assert_no_duplicate_orders, assert_no_order_accepted_from
from chaos_harness import (
    ChaosCluster,
    Heard,
    Observer,
    all_live,
    settled_invariants,
    take_over,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosCluster]:
    started = ChaosCluster(tmp_path_factory.mktemp("chaos") / "var")
    try:
        yield started.wait_running()
    finally:
        started.stop()


@pytest.fixture
async def observer(cluster: ChaosCluster, eventually) -> AsyncIterator[Observer]:
    watching = await Observer().start(cluster.nats_url)
    try:
        await eventually(all_live(watching, list(cluster.instances())), timeout=60)
        yield watching
    finally:
        await watching.close()


async def _flowing(eventually, heard: list[Heard], within_s: float = 3.0, **where: Any) -> None:
    """Wait for two messages of `heard` (whose fields equal `where`'s) within `within_s`: a
    steady flow to interrupt."""

    def flowing() -> bool:
        since = time.monotonic() - within_s
        recent = [
            h
            for h in heard
            if h.at > since and all(getattr(h.message, k) == v for k, v in where.items())
        ]
        return len(recent) >= 2

    await eventually(flowing, timeout=30)


async def _invariants(
    cluster: ChaosCluster, observer: Observer, eventually, *, check_manager: bool = True
) -> None:
    orders = assert_no_duplicate_orders(observer)
    report = await settled_invariants(cluster, observer, eventually, check_manager=check_manager)
    print(f"{orders} orders heard; {report.summary()}")


async def test_given_the_gamma_leader_is_killed_then_the_standby_proposes_within_3_s(
    cluster: ChaosCluster, observer: Observer, eventually
) -> None:
    took = await take_over(cluster, observer, "gamma-agent", eventually)
    print(f"gamma-agent fail-over: {took}")
    assert took.acts_s <= 3.0
    await _invariants(cluster, observer, eventually)


async def test_given_the_manager_leader_wakes_after_its_lease_then_nothing_it_sends_is_accepted(
    cluster: ChaosCluster, observer: Observer, eventually
) -> None:
    await _flowing(eventually, observer.orders)
    old = observer.leader("manager")
    assert old is not None and old.epoch is not None
    cluster.signal(old.instance, signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        # Past its lease: another replica leads and has routed an order.
        def successor_routed() -> bool:
            return any(h.at > stopped_at and h.message.epoch > old.epoch for h in observer.orders)

        await eventually(successor_routed, timeout=15)
    finally:
        cluster.signal(old.instance, signal.SIGCONT)
    woke_at = time.monotonic()

    def woken_one_stands_by() -> bool:  # (a beat built before the stop may land first)
        beat = observer.first_beat("manager", woke_at, instance=old.instance, role="standby")
        return beat is not None

    await eventually(woken_one_stands_by, timeout=5)
    await _flowing(eventually, observer.orders)
    late = assert_no_order_accepted_from(observer, old.epoch, woke_at)
    print(f"woken manager: {late} orders with its epoch after waking, none accepted")
    leader = observer.leader("manager")
    assert leader is not None and leader.instance != old.instance
    await _invariants(cluster, observer, eventually)


async def _cli(cluster: ChaosCluster, *args: str) -> str:
    """`python -m hedgemesh.cli ARGS --home HOME`, as an operator runs it; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEMESH_")}
    command = [sys.executable, "-m", "hedgemesh.cli", *args, "--home", str(cluster.home)]
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_given_hedgemesh_status_then_it_shows_leaders_standbys_and_heartbeat_ages(
    cluster: ChaosCluster, observer: Observer
) -> None:
    rows = json.loads(await _cli(cluster, "status", "--json"))["instances"]
    assert {r["instance"] for r in rows} == set(cluster.instances())
    for service in ("gamma-agent", "vega-agent", "manager"):
        roles = sorted(r["role"] for r in rows if r["service"] == service)
        assert roles == ["leader", "standby"], (service, roles)
    assert {r["role"] for r in rows if r["service"] in ("marketdata", "execution")} == {"single"}
    for r in rows:
        assert r["alive"] and r["state"] == "ready", r
        assert 0 <= r["heartbeat_age_s"] < 3.0, r  # heartbeats every half second
    table = await _cli(cluster, "status")
    assert "leader" in table and "standby" in table and "heartbeat" in table


async def test_given_hedgemesh_kill_a_service_then_its_leader_dies_and_the_standby_leads(
    cluster: ChaosCluster, observer: Observer, eventually
) -> None:
    old = observer.leader("gamma-agent")
    assert old is not None and old.epoch is not None
    said = await _cli(cluster, "kill", "gamma-agent")
    assert f"SIGKILL to {old.instance} (pid {old.pid})" in said

    def new_leader() -> bool:
        leader = observer.leader("gamma-agent")
        return leader is not None and (leader.epoch or 0) > old.epoch

    await eventually(new_leader, timeout=10)
    assert observer.leader("gamma-agent").instance != old.instance


async def test_given_no_live_vega_agent_then_the_manager_reduces_and_hedges_delta_itself(
    cluster: ChaosCluster, observer: Observer, eventually
) -> None:
    """Both vega-agents killed, and killed again each time the supervisor restarts one (its
    back-off doubles from 0.25 s), until the manager says REDUCING; then left alone."""
    vega = [name for name, i in cluster.instances().items() if i["service"] == "vega-agent"]
    assert len(vega) == 2
    killed: set[int] = set()

    async def reducing_with_vega_down() -> dict[str, Any] | None:
        for name in vega:
            pid = cluster.pid(name)
            if pid and pid not in killed:
                killed.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        view = await cluster.get("/v1/agents")
        # The desk's state (KV, as the API last read it) and the manager's (asked now) are read
        # apart: wait for both, or a restarted vega-agent may have made it ACTIVE in between.
        manager = view["manager"]["state"].get("trading_state") or {}
        both = view["trading_state"] == manager.get("state") == "REDUCING"
        return view if both else None

    view = await eventually(reducing_with_vega_down, timeout=20, interval=0.1)
    reducing_at = time.monotonic()
    manager = view["manager"]["state"]
    assert "vega-agent" in manager["trading_state"]["reason"], manager["trading_state"]
    assert manager["slices"]["vega-agent"]["live"] is False

    async def active_again() -> bool:
        return (await cluster.get("/v1/agents"))["trading_state"] == "ACTIVE"

    await eventually(active_again, timeout=40, interval=0.1)
    active_at = time.monotonic()
    own_delta = [
        h
        for h in observer.orders
        if reducing_at <= h.at <= active_at and not h.message.instrument.is_option
    ]
    print(f"REDUCING for {active_at - reducing_at:.1f} s; {len(own_delta)} delta hedges in it")
    assert own_delta, "the manager hedged no delta while REDUCING"
    await _invariants(cluster, observer, eventually)


async def test_given_one_underlyings_ticks_stop_then_hedging_it_stops_and_resumes_after_fresh_ticks(
    cluster: ChaosCluster, observer: Observer, eventually
) -> None:
    """SPX's feed halted: no SPX proposal nor order 2.5 s on (the tick ages past the limits'
    max_tick_age_s), while NDX is still hedged; resumed: SPX is hedged again."""

    def hedging(underlying: str, since: float) -> list[Heard]:
        proposals = [h for h in observer.proposals if h.message.underlying == underlying]
        orders = [h for h in observer.orders if h.message.instrument.underlying == underlying]
        return [h for h in proposals + orders if h.at > since]

    await _flowing(eventually, observer.orders)
    await observer.feed("halt", "SPX")
    halted_at = time.monotonic()

    def ndx_hedged_while_spx_paused() -> bool:
        return time.monotonic() > halted_at + 6.0 and bool(hedging("NDX", halted_at))

    await eventually(ndx_hedged_while_spx_paused, timeout=30)
    stopped = hedging("SPX", halted_at + 2.5)
    last_spx = max((h.at - halted_at for h in hedging("SPX", halted_at)), default=0.0)
    resumed = (await observer.feed("resume", "SPX"))["paused"] == []
    resumed_at = time.monotonic()
    print(f"SPX feed halted: last SPX proposal or order {last_spx:.2f} s after the halt")
    assert resumed
    assert not stopped, f"SPX hedged on stale data: {[h.message for h in stopped]}"
    await eventually(lambda: hedging("SPX", resumed_at), timeout=15)
    await _invariants(cluster, observer, eventually)


async def test_given_the_manager_leader_is_killed_then_a_new_leader_routes_within_5_s(
    cluster: ChaosCluster, observer: Observer, eventually
) -> None:
    took = await take_over(cluster, observer, "manager", eventually)
    print(f"manager fail-over: {took}")
    assert took.leads_s <= 4.0
    assert took.acts_s <= 5.0
    # Every invariant of the issue. Not the manager's own audit (orders on the stream = its
    # store): a standby stores what its predecessor published but had not stored, but when the
    # killed replica, restarted, wins the lease back it has heard nothing of it (a known gap,
    # docs/redundancy.md; seen once in four suite runs).
    await _invariants(cluster, observer, eventually, check_manager=False)
