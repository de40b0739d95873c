"""The service runner every `python -m hedgemesh.<service>` uses.

`Service.run()` connects to NATS, ensures the streams and buckets, follows the cluster's clock
record when its clock is accelerated (`cluster_clock`), takes part in its lease when
it has one, starts its components, publishes a `Heartbeat` every few seconds, and on SIGTERM or
SIGINT stops cleanly: no new input, in-flight work finished, the connection drained, exit code 0,
all within `stop_timeout_s` (5 s).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NoReturn, Protocol

from nats.js.kv import KeyValue
from pydantic import AwareDatetime, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from hedgemesh.runtime import metrics
from hedgemesh.runtime.bus import Bus, M
from hedgemesh.runtime.clock import AcceleratedClock, Clock, LiveClock
from hedgemesh.runtime.cluster_clock import LEAD_S, ClockFollower, retime
from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.runtime.errors import NatsUnavailable
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.lease import Lease, LeaseCallback, LeaseRecord, notify
from hedgemesh.runtime.partitions import Membership, PartitionOwnership
from hedgemesh.runtime.streams import ensure_streams
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.wire import subjects
from hedgemesh.wire.clock import ClockRecord
from hedgemesh.wire.ops import Heartbeat, PolicyStatus, Role, ServiceState
from hedgemesh.wire.partitions import MAX_PARTITIONS, partition_of

log = logging.getLogger(__name__)


LEADER_CHANGES = metrics.counter(
    "leader_changes_total", "Times this instance became the leader of its lease."
)
LAG_SECONDS = metrics.gauge(
    "lag_seconds", "How far behind its input this instance is, as its heartbeat says."
)


class RuntimeSettings(BaseSettings):
    """Settings every service shares; each can be set from `HEDGEMESH_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="HEDGEMESH_", frozen=True, extra="ignore")

    instance: str | None = Field(
        default=None, description="Instance id (a subject token); default: <host>-<pid>."
    )
    heartbeat_interval_s: float = Field(default=2.0, gt=0.0, le=60.0)
    stop_timeout_s: float = Field(default=5.0, gt=0.0, le=60.0)
    lease_ttl_s: float = Field(
        default=2.0,
        gt=0.0,
        le=3600.0,
        description="Leadership lease (real s): a crashed leader is replaced 2/3 to 1 ttl after "
        "the crash, so 2 s keeps a take-over within the 3 s bound.",
    )
    clock_speed: float = Field(
        default=1.0, gt=0.0, le=10_000.0, description="Above 1: run faster than real time."
    )
    clock_start: AwareDatetime | None = Field(
        default=None, description="Simulated time at `clock_anchor` (accelerated clocks)."
    )
    clock_anchor: float | None = Field(
        default=None,
        description="Unix time at which the simulated clock reads `clock_start`; shared by "
        "every process of a cluster so that they agree on the time.",
    )
    clock_shared: bool = Field(
        default=True,
        description="An accelerated clock follows the cluster's record in KV `clock` (the first "
        "service up writes it), so containers started at different moments share one time.",
    )
    stream_replicas: int = Field(default=1, ge=1, le=5, description="JetStream replicas (R3).")
    partitions: int = Field(
        default=1,
        ge=1,
        le=MAX_PARTITIONS,
        description="Partitions of the underlyings (`hedgemesh.wire.partitions`); above 1, a "
        "partitioned service holds one lease per partition and leads a balanced share.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65_535,
        description="Serve Prometheus `/metrics` on this port (0: any free one); None: not.",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Interface of `/metrics`.")
    health_file: Path | None = Field(
        default=None,
        description="Touched after every heartbeat sent, for container health checks "
        "(`python -m hedgemesh.runtime.healthcheck FILE`).",
    )


class Component(Protocol):
    """A part of a service: started in order after the runtime is up, stopped in reverse."""

    async def start(self, service: Service) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Health:
    """What a health probe or the dashboard needs to know about one instance."""

    service: str
    instance: str
    state: ServiceState
    role: Role
    epoch: int | None
    connected: bool
    ready: bool
    heartbeat_seq: int
    last_heartbeat: datetime | None
    dead_letters: dict[str, int]
    handler_errors: dict[str, int]


def default_instance() -> str:
    """`<host>-<pid>`, made a valid subject token."""
    raw = f"{socket.gethostname()}-{os.getpid()}"
    return re.sub(r"[^A-Za-z0-9_\-]", "-", raw)[-64:]


def clock_for(settings: RuntimeSettings, speed: float | None = None) -> Clock:
    """A service's clock: real time, unless the settings ask for a faster or shifted (anchored)
    one. `speed` (a scenario's) applies unless `HEDGEMESH_CLOCK_SPEED` is set (the launcher sets
    one speed for every service); `HEDGEMESH_CLOCK_START` and `HEDGEMESH_CLOCK_ANCHOR`, when
    the launcher gives them, anchor it to the cluster's start so every service shares the time."""
    if speed is None or "clock_speed" in settings.model_fields_set:
        speed = settings.clock_speed
    if speed == 1.0 and settings.clock_start is None:
        return LiveClock()
    return AcceleratedClock(speed, settings.clock_start, anchor=settings.clock_anchor)


class Service:
    """One service instance: its NATS connection, bus, buckets, lease, heartbeats and parts."""

    def __init__(
        self,
        name: str,
        *,
        components: Sequence[Component] = (),
        lease: str | None = None,
        partitioned: bool = False,
        on_gained: LeaseCallback | None = None,
        on_lost: LeaseCallback | None = None,
        settings: RuntimeSettings | None = None,
        nats: NatsSettings | None = None,
        clock: Clock | None = None,
        liveness_clock: Clock | None = None,
    ) -> None:
        self.settings = settings or RuntimeSettings()
        self.name = subjects.token(name)
        self.instance = subjects.token(self.settings.instance or default_instance())
        self.nats = (nats or NatsSettings()).model_copy(
            update={"name": f"{self.name}.{self.instance}"}
        )
        self.clock = clock or self._default_clock()
        #: Leases and heartbeats are about processes being alive, which is real time even when
        #: the market runs faster: a 6 s lease must not last 15 ms at 390x.
        self.liveness_clock = liveness_clock or LiveClock()
        self.lease_name = lease
        #: One lease per partition (`settings.partitions` > 1) instead of one for the service.
        self.partitioned = partitioned and lease is not None and self.settings.partitions > 1
        self._ownership: PartitionOwnership | None = None
        self._on_gained = on_gained
        self._on_lost = on_lost
        self.components = list(components)
        self.state = ServiceState.STARTING
        self._lag_ms = 0.0
        self._lag_peak_ms = 0.0
        self.params_revision: int | None = None
        """Set by an agent: the KV revision of the live parameters it runs with."""
        self.policy_status: PolicyStatus | None = None
        """Set by an agent: its hedge policy in force (heartbeats carry it)."""
        self.started_at = self.clock.now()
        metrics.set_service(self.name)
        self.metrics_server: metrics.MetricsServer | None = None
        """Serving `/metrics` when `metrics_port` is set (its `port` is the one bound)."""
        self._bus: Bus | None = None
        self._buckets: dict[str, KeyValue] = {}
        self._lease: Lease | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._clock_follower: ClockFollower | None = None
        self._heartbeat_seq = 0
        self._last_heartbeat: datetime | None = None

    # -- what components use -----------------------------------------------------------------

    @property
    def lag_ms(self) -> float:
        """How far behind its input this instance is (milliseconds of its clock): set by the
        components; a heartbeat carries the worst since the one before."""
        return self._lag_ms

    @lag_ms.setter
    def lag_ms(self, ms: float) -> None:
        self._lag_ms = ms
        self._lag_peak_ms = max(self._lag_peak_ms, ms)

    @property
    def clock_record(self) -> ClockRecord | None:
        """The cluster clock's segment in force as last read (None: not following one)."""
        follower = self._clock_follower
        return follower.record if follower is not None else None

    def _default_clock(self) -> Clock:
        return clock_for(self.settings)

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            raise RuntimeError(f"{self.name} is not started: no bus yet")
        return self._bus

    @property
    def lease(self) -> Lease | None:
        return self._lease

    @property
    def is_leader(self) -> bool:
        """True when this instance should act: it holds the lease, or the service has none
        (partitioned: it leads at least one partition)."""
        if self._ownership is not None:
            return bool(self._ownership.led())
        return self._lease is None or self._lease.is_leader

    @property
    def epoch(self) -> int | None:
        """The fencing epoch to stamp on what this instance does as leader (partitioned: None,
        as each partition has its own: `epoch_for`)."""
        return self._lease.epoch if self._lease is not None else None

    def partition(self, underlying: str) -> int:
        return partition_of(underlying, self.settings.partitions)

    def leads(self, underlying: str) -> bool:
        """Whether this instance acts for `underlying`: it leads its partition (or the service,
        unpartitioned)."""
        if self._ownership is not None:
            return self._ownership.leads(self.partition(underlying))
        return self.is_leader

    def warm_for(self, underlying: str) -> bool:
        """Whether this instance should keep its work on `underlying` warm: it leads its
        partition or stands next in line for it (unpartitioned: always). A third replica of a
        partition keeps the state (ticks, positions) but not the evaluation."""
        if self._ownership is not None:
            return self._ownership.next_in_line(self.partition(underlying))
        return True

    def epoch_for(self, underlying: str) -> int | None:
        """The fencing epoch for what this instance does about `underlying`."""
        if self._ownership is not None:
            return self._ownership.epoch(self.partition(underlying))
        return self.epoch

    def led_partitions(self) -> list[int] | None:
        return self._ownership.led() if self._ownership is not None else None

    @property
    def role(self) -> Role:
        if self._lease is None and self._ownership is None:
            return Role.SINGLE
        return Role.LEADER if self.is_leader else Role.STANDBY

    def kv(self, bucket: str, model: type[M]) -> TypedKV[M]:
        """A typed view of one of the declared buckets (`subjects.KV_*`)."""
        try:
            return TypedKV(self._buckets[bucket], model, bucket)
        except KeyError:
            raise KeyError(f"no bucket {bucket!r}; declared: {sorted(self._buckets)}") from None

    def health(self) -> Health:
        stats = self._bus.stats if self._bus is not None else None
        return Health(
            service=self.name,
            instance=self.instance,
            state=self.state,
            role=self.role,
            epoch=self.epoch,
            connected=self._bus is not None and self._bus.connected,
            ready=self.state is ServiceState.READY,
            heartbeat_seq=self._heartbeat_seq,
            last_heartbeat=self._last_heartbeat,
            dead_letters=stats.dead_letters_by_subject() if stats else {},
            handler_errors=dict(stats.handler_errors) if stats else {},
        )

    async def retime_clock(self, speed: float, reason: str, lead_s: float = LEAD_S) -> ClockRecord:
        """Run the cluster's clock at `speed` from `lead_s` real seconds on (KV `clock`); this
        process follows at once, the others at their next read, before it takes effect."""
        follower = self._clock_follower
        if follower is None:
            raise RuntimeError(f"{self.name} follows no cluster clock to retime")
        held = await retime(follower.kv, speed, self.instance, reason, lead_s)
        follower.adopt(held)
        return held.value

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, ensure streams, join the lease, start heartbeats, then the components."""
        if self.settings.metrics_port is not None and self.metrics_server is None:
            self._serve_metrics(self.settings.metrics_port, self.settings.metrics_host)
        nc = await connect(self.nats)
        self._bus = Bus(
            nc, self.name, clock=self.clock, request_timeout_s=self.nats.request_timeout_s
        )
        self._buckets = await ensure_streams(self._bus.js, replicas=self.settings.stream_replicas)
        if isinstance(self.clock, AcceleratedClock) and self.settings.clock_shared:
            self._clock_follower = ClockFollower(
                self.kv(subjects.KV_CLOCK, ClockRecord), self.clock, self.instance
            )
            await self._clock_follower.start()
        if self.partitioned and self.lease_name is not None:
            await self._own_partitions(self.lease_name)
        elif self.lease_name is not None:
            self._lease = Lease(
                self.kv(subjects.KV_LEASES, LeaseRecord),
                self.lease_name,
                self.instance,
                self.settings.lease_ttl_s,
                clock=self.liveness_clock,
                on_gained=self._gained,
                on_lost=self._lost,
            )
            await self._lease.start()
        self._heartbeat_task = asyncio.create_task(self._heartbeats(), name="heartbeats")
        for component in self.components:
            await component.start(self)
        self.state = ServiceState.READY
        await self._beat()
        log.info("%s.%s ready (%s)", self.name, self.instance, self.role.value)

    async def _own_partitions(self, lease: str) -> None:
        """Join the service's members (their heartbeats) and lead a balanced share of the
        partitions, one lease each (`hedgemesh.runtime.partitions`)."""
        ttl_s = self.settings.lease_ttl_s
        membership = Membership(self.instance, timeout_s=ttl_s, clock=self.liveness_clock)

        async def on_member(beat: Heartbeat, envelope: object) -> None:
            if beat.state is ServiceState.STOPPING:
                membership.forget(beat.instance)
            else:
                membership.saw(beat.instance)

        await self.bus.subscribe(f"{subjects.PREFIX}.heartbeat.{self.name}.*", Heartbeat, on_member)
        self._ownership = PartitionOwnership(
            self.kv(subjects.KV_LEASES, LeaseRecord),
            lease,
            self.instance,
            self.settings.partitions,
            ttl_s,
            membership,
            clock=self.liveness_clock,
            on_gained=lambda _p, epoch: self._gained(epoch),
            on_lost=lambda _p, epoch: self._lost(epoch),
        )
        await self._ownership.start()

    def _serve_metrics(self, port: int, host: str) -> None:
        """`/metrics` on `port`; a port taken is an ERROR, not a reason to stop hedging."""
        try:
            self.metrics_server = metrics.serve(port, host)
        except OSError as error:
            log.error("%s: metrics not served on %s:%d: %s", self.name, host, port, error)
            return
        log.info("%s: metrics at http://%s:%d/metrics", self.name, host, self.metrics_server.port)

    async def _gained(self, epoch: int) -> None:
        LEADER_CHANGES.inc()
        await self._beat()  # tell the cluster about the new role now, not at the next beat
        await notify(self._on_gained, epoch)

    async def _lost(self, epoch: int) -> None:
        if self.state is not ServiceState.STOPPING:
            await self._beat()
        await notify(self._on_lost, epoch)

    async def stop(self) -> bool:
        """Stop within `stop_timeout_s`; True when everything finished cleanly in time."""
        try:
            await asyncio.wait_for(self._shutdown(), self.settings.stop_timeout_s)
            return True
        except TimeoutError:
            log.error("%s: shutdown took over %s s", self.name, self.settings.stop_timeout_s)
            if self._bus is not None:
                await self._bus.nc.close()
            return False

    async def _shutdown(self) -> None:
        """Announce the stop, take no more input, let the work in flight finish, stop the
        components, hand the lease over, and drain the connection."""
        self.state = ServiceState.STOPPING
        if self._heartbeat_task is not None:
            await cancel_and_wait(self._heartbeat_task)
        if self._bus is not None:
            if self._bus.connected:
                await self._beat()
            await self._bus.stop_intake(self.nats.drain_timeout_s)
        for component in reversed(self.components):
            try:
                await component.stop()
            except Exception:
                log.exception("%s: component %r failed to stop", self.name, component)
        if self._lease is not None:
            await self._lease.stop(release=True)
        if self._ownership is not None:
            await self._ownership.stop(release=True)
        if self._clock_follower is not None:
            await self._clock_follower.stop()
        if self._bus is not None:
            await self._bus.close(self.nats.drain_timeout_s)
        if self.metrics_server is not None:
            self.metrics_server.close()
            self.metrics_server = None

    async def run(self, stop: asyncio.Event | None = None) -> int:
        """Start, serve until SIGTERM/SIGINT (or `stop` is set), stop; returns the exit code:
        0 after a clean stop, 1 when start-up failed or the stop overran `stop_timeout_s`."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        handled = (signal.SIGTERM, signal.SIGINT)
        for signum in handled:
            loop.add_signal_handler(signum, stop.set)
        failed = False
        try:
            starting = asyncio.create_task(self.start(), name="start")
            stopping = asyncio.create_task(stop.wait(), name="stop-signal")
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():  # asked to stop while starting (e.g. waiting for NATS)
                await cancel_and_wait(starting)
            elif starting.exception() is not None:
                failed = True
                log.error("%s: start failed", self.name, exc_info=starting.exception())
            else:
                await stopping
            stopping.cancel()
            clean = await self.stop()
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
        log.info("%s.%s stopped", self.name, self.instance)
        return 0 if clean and not failed else 1

    # -- heartbeats --------------------------------------------------------------------------

    async def _heartbeats(self) -> None:
        while True:
            await self.liveness_clock.sleep(self.settings.heartbeat_interval_s)
            try:
                await self._beat()
            except Exception:
                log.exception("%s: heartbeat failed", self.name)

    async def _beat(self) -> None:
        heartbeat = Heartbeat(
            service=self.name,
            instance=self.instance,
            role=self.role,
            state=self.state,
            seq=self._heartbeat_seq,
            started_at=self.started_at,
            pid=os.getpid(),
            lag_ms=max(self._lag_peak_ms, 0.0),
            epoch=self.epoch,
            partitions=self.led_partitions(),
            params_revision=self.params_revision,
            policy=self.policy_status,
            consumers=dict(self._bus.stats.consumers) or None if self._bus is not None else None,
            ts=self.clock.now(),
        )
        try:
            await self.bus.publish(subjects.heartbeat(self.name, self.instance), heartbeat)
        except NatsUnavailable as error:
            log.warning("%s: heartbeat not sent: %s", self.name, error)
            return
        self._heartbeat_seq += 1
        LAG_SECONDS.set(max(self._lag_peak_ms, 0.0) / 1000.0)
        self._lag_peak_ms = self._lag_ms
        self._last_heartbeat = heartbeat.ts
        if self.settings.health_file is not None:
            self._touch_health_file(self.settings.health_file)

    def _touch_health_file(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{self.name} {self.instance} {self.state.value}\n")
        except OSError as error:
            log.warning("%s: health file %s not written: %s", self.name, path, error)


def run_service(factory: Callable[[], Service]) -> NoReturn:
    """Build the service (inside the event loop), run it, and exit with its code: what each
    service's `__main__` calls."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=os.environ.get("HEDGEMESH_LOG_LEVEL", "INFO").upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )

    async def main() -> int:
        try:
            service = factory()
        except (ValidationError, SettingsError) as error:  # a bad setting: no traceback
            print(config_error_message(error), file=sys.stderr)
            return 2
        return await service.run()

    sys.exit(asyncio.run(main()))


#: Settings whose values are never echoed (`tokens.0.token`, `password`, `admin_token`...).
SECRET_SETTING = re.compile(r"token|password|secret|creds|credential", re.IGNORECASE)


def config_error_message(error: ValidationError | SettingsError) -> str:
    """`bad configuration (RuntimeSettings): heartbeat_interval_s: Input should be greater than
    0 (got '-1')`, a line per key; the value of a secret setting is never shown."""
    if isinstance(error, SettingsError):  # not parseable (e.g. not JSON): says which setting
        return f"bad configuration: {error}"
    lines = [f"bad configuration ({error.title}):"]
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(whole)"
        got = f" (got {problem['input']!r})" if "input" in problem else ""
        if got and SECRET_SETTING.search(f"{error.title}.{key}"):
            got = " (the value is a secret: not shown)"
        lines.append(f"  {key}: {problem['msg']}{got}")
    return "\n".join(lines)
