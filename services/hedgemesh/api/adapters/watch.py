"""The desk's health, watched: `DeskHealth` (`api.domain.health`) evaluated once a second on the
read model and the decisions the API hears. A cause that appears is one ERROR line naming it;
its clearing is one INFO line. `/health`, `GET /v1/desk` and `hedgemesh status` report the
causes in force; the `desk_degraded_info` gauge is 1 while any is
(`desk_degraded_causes_count` counts them by kind)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from hedgemesh.api.domain.health import DeskHealth, HealthRules, breached
from hedgemesh.api.domain.readmodel import ReadModel
from hedgemesh.runtime import Service, metrics
from hedgemesh.runtime.bus import Envelope
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.wire import subjects
from hedgemesh.wire.hedging import Decision

log = logging.getLogger(__name__)

DEGRADED = metrics.gauge(
    "desk_degraded_info", "1 while the desk is degraded (GET /v1/desk says why)."
)
CAUSES = metrics.gauge(
    "desk_degraded_causes_count", "Causes of a degraded desk in force.", ["kind"]
)
KINDS = ("lag", "backlog", "stale", "breach")


class DeskWatch:
    """Evaluates the desk's health every `every_s` real seconds (see the module doc)."""

    def __init__(self, model: ReadModel, rules: HealthRules, every_s: float = 1.0) -> None:
        self.model = model
        self.health = DeskHealth(rules)
        self.every_s = every_s
        self.causes: dict[str, str] = {}
        self._service: Service | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, service: Service) -> None:
        self._service = service
        await service.bus.subscribe(subjects.ALL_DECISIONS, Decision, self._on_decision)
        self._task = asyncio.create_task(self._run(), name="api-desk-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _on_decision(self, decision: Decision, envelope: Envelope) -> None:
        self.health.on_decision(decision.reason_code, time.monotonic())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                self.check()
            except Exception:
                log.exception("api: the desk's health was not evaluated")

    def check(self) -> dict[str, str]:
        """Evaluate now; log what appeared and what cleared; the causes in force."""
        try:
            breaches = breached(self.model.risk_view())
        except Exception:  # no market or positions yet: nothing to breach
            breaches = []
        causes = self.health.evaluate(self.model.fresh_heartbeats(), breaches, time.monotonic())
        for key in causes.keys() - self.causes.keys():
            log.error("desk degraded: %s", causes[key])
        for key in self.causes.keys() - causes.keys():
            log.info("desk no longer degraded by: %s", self.causes[key])
        self.causes = causes
        DEGRADED.set(1 if causes else 0)
        for kind in KINDS:
            CAUSES.labels(kind=kind).set(sum(1 for k in causes if k.split(":")[0] == kind))
        return causes

    def view(self) -> dict[str, Any]:
        """`ok` or `degraded` with every cause, and the cluster's clock."""
        service = self._service
        record = service.clock_record if service is not None else None
        return {
            "status": "degraded" if self.causes else "ok",
            "causes": sorted(self.causes.values()),
            "clock": record.summary(time.time()) if record is not None else None,
        }
