"""The control room's live feed: one frame of the whole desk every `interval_s`, shared by every
page that watches (`GET /v1/stream`, server-sent events), and a rolling history of it.

A frame holds what the page shows: the banner (`ready`, `stale` or `degraded`, with its
causes), the trading state and why, risk against limits per underlying and expiry bucket,
P&L with its attribution over the trading day, agents and the manager, each agent's live
parameters, the limits, the stress grid, and the newest orders, fills and decisions. It is
built once per interval from the read model (no network on the hot path but one manager status
question, reused for `status_max_age_s`, two KV reads for the agents' parameters, and three
store queries in a worker thread) and encoded once. Each frame also adds a compact sample to
the history — per underlying dollar delta, dollar gamma per 1 %, vega, theta and the
utilisation of each limit, and the P&L attribution — so a page that opens late draws the day
so far: its first event is a snapshot (the newest frame and the history), then frames.

A subscriber that falls behind keeps only the newest frames (its queue holds `queue_frames`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool

from hedgemesh.api.adapters.desk import DeskUnavailable
from hedgemesh.api.adapters.records import StoreUnavailable
from hedgemesh.api.context import ApiContext
from hedgemesh.api.domain.views import AgentsResponse, RiskResponse
from hedgemesh.api.routes.agents import refresh_manager_status
from hedgemesh.market.stress import stress_grid
from hedgemesh.runtime import metrics
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.wire import subjects
from hedgemesh.wire.ops import ServiceState
from hedgemesh.wire.params import AgentParams

__all__ = ["AGENTS", "Monitor", "banner"]

log = logging.getLogger(__name__)

#: The agents whose live parameters the control room shows and changes.
AGENTS = ("gamma-agent", "vega-agent")
#: Newest orders, fills and decisions in a frame.
RECENT = 25
#: Who the monitor's status questions to the manager are from.
OPERATOR = "control-room"

UTILISATION = metrics.gauge(
    "limit_utilisation_ratio", "|greek| / limit per limit (1: at the limit).", ["book", "limit"]
)
PNL = metrics.gauge(
    "pnl_currency", "P&L today and its attribution (currency).", ["book", "component"]
)
WATCHERS = metrics.gauge("stream_watchers_count", "Control-room pages following the stream.")


def banner(
    risk: RiskResponse, agents: AgentsResponse, nats: bool, store_error: str | None
) -> dict[str, Any]:
    """`ready`, or `stale` (market data too old, positions not priced) or `degraded` (NATS,
    the store, the manager or a service down or degraded, lag), with every cause."""
    degraded = []
    if not nats:
        degraded.append("the API is not connected to NATS")
    if store_error:
        degraded.append(f"store: {store_error}")
    if not agents.manager.available:
        degraded.append(f"the manager does not answer: {agents.manager.detail}")
    for agent in agents.agents:
        if agent.instances and not any(i.alive for i in agent.instances):
            degraded.append(f"no live {agent.service} (no heartbeat)")
        for i in agent.instances:
            if i.alive and i.state is ServiceState.DEGRADED:
                degraded.append(f"{i.instance} is degraded (lag {i.lag_ms:.0f} ms)")
    stale = [f"{u.underlying}: tick {u.tick_age_s:.0f} s old" for u in risk.underlyings if u.stale]
    stale += [f"{u}: positions not priced (no tick or surface)" for u in risk.unpriced]
    if degraded:
        return {"status": "degraded", "causes": degraded + stale}
    if stale:
        return {"status": "stale", "causes": stale}
    return {"status": "ready", "causes": []}


def _sample(risk: dict[str, Any], pnl: dict[str, Any], real: float) -> dict[str, Any]:
    """The compact history point of a frame."""
    underlyings = {}
    for row in risk["underlyings"]:
        g = row["greeks"]
        underlyings[row["underlying"]] = {
            "dollar_delta": g["dollar_delta"],
            "dollar_gamma_per_pct": g["dollar_gamma_per_pct"],
            "vega_per_point": g["vega_per_point"],
            "theta_per_day": g["theta_per_day"],
            "utilisation": {c["name"]: c["utilisation"] for c in row["checks"]},
        }
    firm = {c["name"]: c["utilisation"] for c in risk["total"]["checks"]}
    attribution = {k: v for k, v in pnl["attribution"].items() if isinstance(v, int | float)}
    return {
        "at": risk["as_of"],
        "real": real,
        "underlyings": underlyings,
        "firm": firm,
        "pnl": {**attribution, "ledger": pnl["total_pnl"], "hedges": pnl["hedge_pnl"]},
    }


def _export(frame: dict[str, Any]) -> None:
    """The frame's utilisation per limit and P&L as Prometheus gauges."""
    risk = frame["risk"]
    rows = [(u["underlying"], u["checks"]) for u in risk["underlyings"]]
    for book, checks in [*rows, ("firm", risk["total"]["checks"])]:
        for check in checks:
            if check["utilisation"] is not None:
                UTILISATION.labels(book=book, limit=check["name"]).set(check["utilisation"])
    pnl = frame["pnl"]
    books = [("firm", pnl["attribution"])] + [
        (u["underlying"], u["attribution"]) for u in pnl["underlyings"]
    ]
    for book, attribution in books:
        for component, value in attribution.items():
            if isinstance(value, int | float):
                PNL.labels(book=book, component=component).set(value)


class Monitor:
    """Builds the frames and fans them out (see the module doc); `start` runs it."""

    def __init__(
        self,
        context: ApiContext,
        *,
        interval_s: float = 1.0,
        history_samples: int = 20_000,
        queue_frames: int = 4,
    ) -> None:
        self.context = context
        self.interval_s = interval_s
        self.queue_frames = queue_frames
        self.history: deque[dict[str, Any]] = deque(maxlen=history_samples)
        self.latest: dict[str, Any] | None = None
        self._subscribers: set[asyncio.Queue[str]] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop in the background (again after `stop`); idempotent."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="api-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.step()
            except Exception:
                log.exception("api: the control room's frame failed")
            await asyncio.sleep(max(self.interval_s - (time.monotonic() - started), 0.05))

    async def step(self) -> dict[str, Any]:
        """Build one frame, add its sample to the history and send it to every subscriber."""
        frame = await self.frame()
        sample = _sample(frame["risk"], frame["pnl"], frame["real"])
        self.history.append(sample)
        self.latest = frame
        _export(frame)
        self._ready.set()
        message = json.dumps({"frame": frame, "sample": sample}, separators=(",", ":"))
        for queue in self._subscribers:
            while queue.full():
                queue.get_nowait()
            queue.put_nowait(message)
        return frame

    async def events(self) -> AsyncIterator[dict[str, str]]:
        """The stream of one page: a snapshot (the newest frame and the history), then each
        new frame (server-sent events `snapshot` and `frame`)."""
        self.start()
        queue: asyncio.Queue[str] = asyncio.Queue(self.queue_frames)
        self._subscribers.add(queue)
        WATCHERS.set(len(self._subscribers))
        try:
            await self._ready.wait()
            snapshot = {"frame": self.latest, "history": list(self.history)}
            yield {"event": "snapshot", "data": json.dumps(snapshot, separators=(",", ":"))}
            while True:
                yield {"event": "frame", "data": await queue.get()}
        finally:
            self._subscribers.discard(queue)
            WATCHERS.set(len(self._subscribers))

    @property
    def watchers(self) -> int:
        return len(self._subscribers)

    # -- one frame ----------------------------------------------------------------------------

    async def frame(self) -> dict[str, Any]:
        ctx = self.context
        model = ctx.model
        await refresh_manager_status(ctx, OPERATOR)
        agents = model.agents_view()
        risk = model.risk_view()
        records, store_error = await self._records()
        now = model.clock.now()
        try:
            grid = stress_grid(model.book, now)
            stress: dict[str, Any] | None = {
                "spot_shocks": list(grid.spot_shocks),
                "vol_shocks": list(grid.vol_shocks),
                "underlyings": {u: c.as_dict() for u, c in grid.underlyings.items()},
                "firm": grid.firm.as_dict(),
            }
        except (KeyError, ValueError) as error:  # nothing priced yet
            log.debug("api: no stress grid: %s", error)
            stress = None
        status = model.trading_status
        return {
            "at": now.isoformat(),
            "real": time.time(),
            "banner": banner(risk, agents, ctx.desk.connected, store_error),
            "trading": None if status is None else status.model_dump(mode="json"),
            "risk": risk.model_dump(mode="json"),
            "pnl": model.pnl_view().model_dump(mode="json"),
            "agents": agents.model_dump(mode="json"),
            "limits": model.limits_view().model_dump(mode="json"),
            "params": await self._params(),
            "stress": stress,
            **records,
        }

    async def _records(self) -> tuple[dict[str, list[Any]], str | None]:
        store = self.context.records

        def read() -> dict[str, list[Any]]:
            return {
                "orders": [o.model_dump(mode="json") for o in store.orders(limit=RECENT)],
                "fills": [f.model_dump(mode="json") for f in store.fills(limit=RECENT)],
                "decisions": [d.model_dump(mode="json") for d in store.decisions(limit=RECENT)],
            }

        try:
            return await run_in_threadpool(read), None
        except StoreUnavailable as error:
            return {"orders": [], "fills": [], "decisions": []}, str(error)

    async def _params(self) -> dict[str, Any]:
        """Each agent's live parameters in KV (null: none set) with the revision."""
        params: dict[str, Any] = {}
        for agent in AGENTS:
            with contextlib.suppress(DeskUnavailable):
                held = await self.context.desk.get(subjects.KV_AGENT_PARAMS, agent, AgentParams)
                params[agent] = {
                    "revision": 0 if held is None else held.revision,
                    "params": {} if held is None else held.value.overrides(),
                }
        return params
