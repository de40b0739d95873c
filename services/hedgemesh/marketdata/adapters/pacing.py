"""Marketdata's side of the cluster's clock: it starts a held clock once the desk is ready, then
paces it on the desk's lag (`hedgemesh.marketdata.domain.pacing`).

It listens to every heartbeat. `start_when_ready` waits, while KV `clock` says the clock is
held (as `hedgemesh up` writes it), until every service of the desk has a ready leader and the
ledger has booked the initial trades, then starts the clock at its ceiling; after
`ready_timeout_s` it starts anyway and says at WARNING what was missing. `run` then reads the
acting instances' lags once a second and retimes the clock when the pacer says so: the first
slow-down is a WARNING with its cause, later changes INFO. The effective speed is the
`clock_speed_ratio` gauge, KV `clock` (`hedgemesh status`, `GET /v1/desk`) and these lines.
"""

from __future__ import annotations

import asyncio
import logging
import time

from hedgemesh.marketdata.config import MarketDataSettings
from hedgemesh.marketdata.domain.pacing import Pacer, acting_lags, missing
from hedgemesh.runtime import Service, metrics
from hedgemesh.runtime.bus import Envelope
from hedgemesh.runtime.errors import CasConflict, NatsUnavailable
from hedgemesh.wire import subjects
from hedgemesh.wire.ops import Heartbeat, ServiceState

log = logging.getLogger(__name__)

SPEED = metrics.gauge("clock_speed_ratio", "The cluster clock's speed: simulated s per real s.")
SLOWDOWNS = metrics.counter("clock_slowdowns_total", "Times pacing slowed the cluster's clock.")

#: Services whose lag does not pace the clock (marketdata is the pace; the api only reads).
NOT_PACING = ("marketdata", "api")
#: Pacing decides this often (real seconds).
STEP_S = 1.0


class DeskPacer:
    """Starts and paces the cluster's clock from the desk's heartbeats (see the module doc)."""

    def __init__(self, settings: MarketDataSettings) -> None:
        self.settings = settings
        self.pacer: Pacer | None = None
        self._service: Service | None = None
        self._beats: dict[str, tuple[Heartbeat, float]] = {}
        self._warned = False

    async def start(self, service: Service) -> None:
        self._service = service
        await service.bus.subscribe(subjects.ALL_HEARTBEATS, Heartbeat, self._on_heartbeat)

    async def _on_heartbeat(self, beat: Heartbeat, envelope: Envelope) -> None:
        if beat.state is ServiceState.STOPPING:
            self._beats.pop(beat.instance, None)
        else:
            self._beats[beat.instance] = (beat, time.monotonic())

    def fresh(self) -> dict[str, Heartbeat]:
        """The latest heartbeat of every instance heard from within three intervals."""
        assert self._service is not None
        window = 3 * self._service.settings.heartbeat_interval_s
        now = time.monotonic()
        return {name: b for name, (b, at) in self._beats.items() if now - at <= window}

    async def start_when_ready(self, trades_seq: int) -> None:
        """Start a held clock once the desk is ready (at once when it is not held)."""
        service = self._service
        assert service is not None
        record = service.clock_record
        if record is None or not record.held:
            return
        s = self.settings
        deadline = time.monotonic() + s.ready_timeout_s
        began = time.monotonic()
        while lacking := missing(self.fresh(), s.desk, s.ledger, trades_seq):
            if time.monotonic() > deadline:
                log.warning(
                    "marketdata: the desk is not ready after %g s (%s); starting the clock anyway",
                    s.ready_timeout_s, "; ".join(lacking),
                )  # fmt: skip
                break
            await asyncio.sleep(0.1)
        else:
            log.info(
                "marketdata: the desk is ready after %.1f s (leaders elected, positions loaded)",
                time.monotonic() - began,
            )
        speed = record.top_speed
        await service.retime_clock(speed, "the desk is ready")
        SPEED.set(speed)
        log.info("marketdata: clock started at %gx", speed)

    async def run(self) -> None:
        """Pace the clock on the desk's lag until cancelled."""
        service = self._service
        assert service is not None
        record = service.clock_record
        if record is None:
            return  # a live clock or a private one: nothing to pace
        self.pacer = pacer = Pacer(
            self.settings.pace_rules(), record.top_speed, record.speed, time.monotonic()
        )
        SPEED.set(record.speed)
        if not pacer.enabled:
            return
        while True:
            await asyncio.sleep(STEP_S)
            held = service.clock_record
            if held is not None:
                pacer.followed(held.speed, time.monotonic())
            lags = acting_lags(self.fresh().values(), ignore=NOT_PACING)
            decision = pacer.decide(lags, time.monotonic())
            if decision is None:
                continue
            try:
                await service.retime_clock(decision.speed, decision.reason)
            except (NatsUnavailable, CasConflict, LookupError) as error:
                log.warning("marketdata: clock not retimed to %gx: %s", decision.speed, error)
                continue
            SPEED.set(decision.speed)
            if decision.slower:
                SLOWDOWNS.inc()
            line = "marketdata: pacing: clock at %.0fx (ceiling %gx): %s"
            args = (decision.speed, pacer.ceiling, decision.reason)
            if decision.slower and not self._warned:
                self._warned = True
                log.warning(line, *args)
            else:
                log.info(line, *args)
