"""Shared helpers of the chaos suite: a cluster through `hedgemesh up` (tests/system's
`Launcher`) on a busy scenario with short leases, a viewer's token for its REST API, and an
observer on the bus that timestamps, on its own monotonic clock, every proposal, order,
execution report and heartbeat it hears.

The cluster runs `chaos.yaml` at 100x with `HEDGEMESH_LEASE_TTL_S=2` and heartbeats every
half second (`CHAOS_ENV`), so a take-over is bounded by about 2.7 s (the ttl and one standby
step of ttl/3) and a silent instance shows within a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from cluster_harness import Launcher, free_port
from invariants import InvariantReport, assert_invariants, cluster_urls

from hedgemesh.cli import up
from hedgemesh.launcher import catalog
from hedgemesh.launcher.supervisor import Stopped, Supervisor
from hedgemesh.runtime import NatsCluster, NatsServer, NatsSettings, connect, ensure_streams
from hedgemesh.runtime.edge import edge_env
from hedgemesh.scenario import load_scenario
from hedgemesh.wire import ExecutionReport, Heartbeat, Order, Proposal, subjects
from hedgemesh.wire.base import WireModel
from hedgemesh.wire.ops import ControlCommand, ControlReply

SCENARIO = Path(__file__).with_name("chaos.yaml")
SPEED = 100.0
LEASE_TTL_S = 2.0
HEARTBEAT_S = 0.5
#: An approved proposal whose orders filled nothing holds an agent's next one this long (real
#: seconds; default 1.5). A new leader mirrors its predecessor's hold, so this adds to an agent
#: take-over; at 100x an IOC order ends within tens of real milliseconds.
SETTLE_TIMEOUT_S = 0.5
#: What every service of a chaos cluster shares besides the launcher's own settings.
CHAOS_ENV = {
    "HEDGEMESH_LEASE_TTL_S": f"{LEASE_TTL_S:g}",
    "HEDGEMESH_HEARTBEAT_INTERVAL_S": f"{HEARTBEAT_S:g}",
    "HEDGEMESH_GAMMA_AGENT_SETTLE_TIMEOUT_S": f"{SETTLE_TIMEOUT_S:g}",
    "HEDGEMESH_VEGA_AGENT_SETTLE_TIMEOUT_S": f"{SETTLE_TIMEOUT_S:g}",
}
#: An instance whose last heartbeat is older than this (real seconds) is not counted live.
FRESH_S = 4 * HEARTBEAT_S

M = TypeVar("M", bound=WireModel)


@dataclass(frozen=True, slots=True)
class Heard(Generic[M]):
    """A message and when the observer received it (its `time.monotonic()`)."""

    at: float
    message: M


@dataclass
class Observer:
    """Everything on the hedging subjects and heartbeats, in arrival order, from `start` on."""

    proposals: list[Heard[Proposal]] = field(default_factory=list)
    orders: list[Heard[Order]] = field(default_factory=list)
    reports: list[Heard[ExecutionReport]] = field(default_factory=list)
    beats: list[Heard[Heartbeat]] = field(default_factory=list)
    nc: Any = None

    async def start(self, url: str) -> Observer:
        self.nc = await connect(NatsSettings(url=url, name="chaos-observer"), initial_timeout_s=5)
        for subject, model, into in (
            (subjects.ALL_PROPOSALS, Proposal, self.proposals),
            (subjects.ALL_ORDERS, Order, self.orders),
            (subjects.ALL_EXEC_REPORTS, ExecutionReport, self.reports),
            (subjects.ALL_HEARTBEATS, Heartbeat, self.beats),
        ):
            await self.nc.subscribe(subject, cb=_recorder(model, into))
        await self.nc.flush()
        return self

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()

    async def feed(self, action: str, underlying: str | None = None) -> dict[str, Any]:
        """Halt or resume marketdata's feed of one underlying (all without one); its state."""
        params = {} if underlying is None else {"underlying": underlying}
        command = ControlCommand(
            target="marketdata", action=action, issued_by="chaos", params=params, ts=_utc_now()
        )
        subject = command.subject_for("admin")
        msg = await self.nc.request(subject, command.to_json(), timeout=5)
        reply = ControlReply.from_json(msg.data)
        assert reply.ok, reply
        return dict(reply.state)

    def latest_beats(self, within_s: float = FRESH_S) -> dict[str, Heartbeat]:
        """The last heartbeat of every instance heard within `within_s`, by instance."""
        since = time.monotonic() - within_s
        return {h.message.instance: h.message for h in self.beats if h.at >= since}

    def leader(self, service: str, within_s: float = FRESH_S) -> Heartbeat | None:
        """The live instance of `service` whose latest heartbeat says it leads."""
        leaders = [
            b
            for b in self.latest_beats(within_s).values()
            if b.service == service and b.role.value == "leader" and b.state.value == "ready"
        ]
        return max(leaders, key=lambda b: b.epoch or 0, default=None)

    def first_beat(self, service: str, since: float, **where: Any) -> Heard[Heartbeat] | None:
        """The first heartbeat of `service` after `since` whose fields equal `where`'s."""
        return next(
            (
                h
                for h in self.beats
                if h.at > since
                and h.message.service == service
                and all(_value(getattr(h.message, k)) == v for k, v in where.items())
            ),
            None,
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


def _recorder(model: type[M], into: list[Heard[M]]) -> Callable[[Any], Awaitable[None]]:
    async def on_message(msg: Any) -> None:
        into.append(Heard(time.monotonic(), model.from_json(msg.data)))

    return on_message


class ChaosCluster:
    """`hedgemesh up` on the chaos scenario; `pid`, `signal` and the API for the scenarios."""

    def __init__(self, home: Path, *, restart: bool = True, env: dict[str, str] | None = None):
        self.api_port = free_port()
        self.env = {**CHAOS_ENV, **(env or {})}
        args = ["--nats-port", "0", "--speed", f"{SPEED:g}", "--scenario", str(SCENARIO)]
        self.launcher = Launcher(
            *args,
            *([] if restart else ["--no-restart"]),
            home=home,
            env={
                "HEDGEMESH_API_PORT": str(self.api_port),
                **CHAOS_ENV,
                **(env or {}),
            },
        )
        self.api = f"http://127.0.0.1:{self.api_port}"

    def wait_running(self, timeout: float = 90.0) -> ChaosCluster:
        self.launcher.wait_for_line("hedgemesh: running", timeout=timeout)
        return self

    @property
    def home(self) -> Path:
        return self.launcher.home

    @property
    def nats_url(self) -> str:
        return str(self.launcher.cluster()["nats_url"])

    def api_token(self) -> str:
        """The viewer's token `hedgemesh up` wrote for the REST API."""
        tokens = json.loads((self.home / "api-tokens.json").read_text())["tokens"]
        return str(next(t["token"] for t in tokens if t["role"] == "viewer"))

    def instances(self) -> dict[str, dict[str, Any]]:
        return dict(self.launcher.cluster()["instances"])

    def pid(self, instance: str) -> int | None:
        return self.instances()[instance]["pid"]

    def signal(self, instance: str, sig: int) -> int:
        pid = self.pid(instance)
        assert pid, f"{instance} is not running"
        os.kill(pid, sig)
        return pid

    def spawn(self, spec: catalog.ServiceSpec, instance: str) -> subprocess.Popen[bytes]:
        """One more instance of `spec` beside the launcher's (an instance added to the desk
        while it runs), as the launcher starts its own: the cluster's settings and clock, the
        service's NATS user; its log in the home's logs."""
        cluster = self.launcher.cluster()
        passwords = json.loads((self.home / "nats" / "credentials.json").read_text())
        clock = cluster["clock"]
        scenario = load_scenario(SCENARIO)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HEDGEMESH_")},
            **self.env,
            **edge_env(tuple(scenario.symbols)),
            "HEDGEMESH_HOME": str(self.home),
            "HEDGEMESH_SCENARIO": str(SCENARIO),
            "HEDGEMESH_NATS_URL": up.without_user(cluster["nats_url"]),
            "HEDGEMESH_NATS_USER": spec.name,
            "HEDGEMESH_NATS_PASSWORD": passwords[spec.name],
            "HEDGEMESH_CLOCK_SPEED": repr(float(clock["speed"])),
            "HEDGEMESH_CLOCK_START": clock["start"],
            "HEDGEMESH_CLOCK_ANCHOR": repr(float(clock["anchor"])),
            "HEDGEMESH_INSTANCE": instance,
        }
        log = (self.home / "logs" / f"{instance}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, *spec.command], env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        try:
            self.launcher.stop(timeout=30)
        except Exception:
            self.launcher.kill()

    async def get(self, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.api_token()}"}
        async with httpx.AsyncClient(base_url=self.api, timeout=5, headers=headers) as http:
            reply = await http.get(path, params=params)
            reply.raise_for_status()
            return reply.json()


class BareCluster:
    """The same services without the launcher: NATS this test owns (one server, or a cluster of
    `nats_servers` joined by routes, so it can kill and restart any on the same ports, JetStream
    store kept) and the launcher's `Supervisor` over the catalog's instances, with `hedgemesh
    up`'s environment (no NATS users: the servers run without a config's authorization)."""

    def __init__(self, home: Path, *, nats_servers: int = 1) -> None:
        home.mkdir(parents=True, exist_ok=True)
        config = home / "nats.conf"
        config.write_text(up.LOCAL_NATS_CONFIG)
        self.home = home
        self.nats = NatsCluster(nats_servers, store_dir=home / "nats", config_file=config).start()
        args = argparse.Namespace(speed=SPEED)
        scenario = load_scenario(SCENARIO)
        env = {
            **up.cluster_env(
                args, home, self.nats.url, scenario, SCENARIO, stream_replicas=self.nats.replicas
            ),
            **CHAOS_ENV,
            "HEDGEMESH_API_VIEWER_TOKEN": secrets.token_urlsafe(32),
        }
        service_env, _ = up.http_env(env)
        self.supervisor = Supervisor(
            catalog.instances(), env=env, log_dir=home / "logs", service_env=service_env
        )
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    @property
    def server(self) -> NatsServer:
        """The first (or only) nats-server."""
        return self.nats.servers[0]

    def start(self) -> BareCluster:
        if self.nats.replicas > 1:
            asyncio.run(_declare(self.nats.url, self.nats.replicas))
        self.supervisor.start_all()
        self._watcher.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            self.supervisor.poll()

    @property
    def database_url(self) -> str:
        return self.supervisor.env["HEDGEMESH_DATABASE_URL"]

    def pid(self, instance: str) -> int | None:
        return self.supervisor.children[instance].pid

    def stop_services(self) -> dict[str, Stopped]:
        """SIGTERM every service (the watcher no longer restarts them); how each ended."""
        self._stop.set()
        self._watcher.join(5)
        return self.supervisor.stop_all()

    def close(self) -> None:
        if not self._stop.is_set():
            self.stop_services()
        self.nats.stop()


async def _declare(url: str, replicas: int) -> None:
    """Every stream and bucket at `replicas` before the services start (each service would
    otherwise race to create them)."""
    nc = await connect(NatsSettings(url=url, name="chaos-declare"), initial_timeout_s=10)
    try:
        await ensure_streams(nc.jetstream(), replicas=replicas)
    finally:
        await nc.close()


async def stream_contents(observer: Observer, streams: tuple[str, ...]) -> dict[str, list[bytes]]:
    """Every message of each of `streams`, as stored (the data), in stream order."""
    js = observer.nc.jetstream()
    contents: dict[str, list[bytes]] = {}
    for stream in streams:
        state = (await js.stream_info(stream)).state
        contents[stream] = [
            (await js.get_msg(stream, seq)).data
            for seq in range(state.first_seq, state.last_seq + 1)
            if state.messages
        ]
    return contents


def all_live(observer: Observer, instances: list[str]) -> Callable[[], bool]:
    """A condition for `eventually`: every one of `instances` heard from lately, ready."""

    def every_instance_ready() -> bool:
        beats = observer.latest_beats()
        return all(i in beats and beats[i].state.value == "ready" for i in instances)

    return every_instance_ready


@dataclass(frozen=True)
class TakeOver:
    """One fail-over, timed on the observer's clock from the kill: the new leader's first
    heartbeat as leader, and its first act (a proposal from an agent, an order from the
    manager), both with an epoch above the killed leader's."""

    service: str
    killed: str
    leads_s: float
    acts_s: float


async def take_over(
    cluster: ChaosCluster,
    observer: Observer,
    service: str,
    eventually: Callable[..., Awaitable[Any]],
    timeout_s: float = 15.0,
) -> TakeOver:
    """kill -9 the leader of `service` (once its output is flowing) and time the take-over."""
    acts: list[Heard[Any]] = observer.orders if service == "manager" else observer.proposals

    def output(since: float, epoch: int = -1) -> list[Heard[Any]]:
        def ours(m: Any) -> bool:
            return (m.epoch or 0) > epoch and getattr(m, "agent", service) == service

        return [h for h in acts if h.at > since and ours(h.message)]

    def flowing() -> bool:  # a steady flow to interrupt: two in the last three seconds
        return len(output(time.monotonic() - 3.0)) >= 2

    await eventually(flowing, timeout=30)
    old = observer.leader(service)
    assert old is not None and old.epoch is not None, f"no {service} leader heard"
    killed_at = kill_9(cluster, old.instance)

    def new_leader_acted() -> float | None:
        first = output(killed_at, old.epoch)
        return first[0].at - killed_at if first else None

    def new_leader_beat() -> float | None:
        beats = (
            h
            for h in observer.beats
            if h.at > killed_at
            and h.message.service == service
            and h.message.role.value == "leader"
            and (h.message.epoch or 0) > old.epoch
        )
        return next((h.at - killed_at for h in beats), None)

    acts_s = await eventually(new_leader_acted, timeout=timeout_s)
    leads_s = await eventually(new_leader_beat, timeout=1.0)
    return TakeOver(service, old.instance, leads_s, acts_s)


async def settled_invariants(
    cluster: ChaosCluster,
    observer: Observer,
    eventually: Callable[..., Awaitable[Any]],
    *,
    check_manager: bool = True,
) -> InvariantReport:
    """`invariants.assert_invariants` on a quiet desk: marketdata stopped (SIGSTOP: no ticks,
    so no new cycles, and no client trades) until no order came for a second and the orders in
    flight are final and booked; then it goes on (SIGCONT), catching up to the present."""
    cluster.signal("marketdata", signal.SIGSTOP)
    try:
        quiet_from = time.monotonic() + 1.0  # what was decided before the stop is routed

        def no_order_for_a_second() -> bool:
            last = max((h.at for h in observer.orders), default=0.0)
            return time.monotonic() > max(last, quiet_from) + 1.0

        await eventually(no_order_for_a_second, timeout=20)
        return await assert_invariants(
            *cluster_urls(cluster.home), settle_s=60, check_manager=check_manager
        )
    finally:
        cluster.signal("marketdata", signal.SIGCONT)


def kill_9(cluster: ChaosCluster, instance: str) -> float:
    """SIGKILL one instance; returns the monotonic time of the kill."""
    cluster.signal(instance, signal.SIGKILL)
    return time.monotonic()
