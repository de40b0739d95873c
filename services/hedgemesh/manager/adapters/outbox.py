"""The manager's store and what it publishes: decided cycles stored in the order decided, orders
to JetStream (`Nats-Msg-Id` = client order id) and decisions to `hedge.v1.decision.<agent>`.

A cycle's orders and decisions are published first, then the cycle is stored with
`published_at` (or without, when NATS failed: the timer re-publishes from the store). Storing
runs off the path of the next message, on the store's own thread, one cycle at a time; a store
failure keeps the outcome in memory and retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine as DbEngine

from hedgemesh.manager.domain.engine import CycleOutcome
from hedgemesh.records.decisions import BudgetPeriod, DecisionRecord
from hedgemesh.runtime.bus import Bus
from hedgemesh.runtime.errors import NatsUnavailable
from hedgemesh.store.db import migrate
from hedgemesh.store.decisions import DecisionRepository
from hedgemesh.wire.hedging import Decision
from hedgemesh.wire.orders import Order

__all__ = ["Outbox"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Outbox:
    """The decision store (`repo` on its own thread) and the publishing of what it holds."""

    def __init__(self, repo: DecisionRepository, db: DbEngine, url: str, stats: Counter[str]):
        self.repo = repo
        self.stats = stats
        self.dropped: set[str] = set()
        """Stored orders never published and too old to route: left unpublished in the store
        (the truth), skipped by the outbox, not in flight."""
        self._db, self._url = db, url
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="manager-store")
        self._lock = asyncio.Lock()
        self._unstored: list[tuple[CycleOutcome, datetime | None]] = []

    async def run(self, call: Callable[[], T]) -> T:
        """Run a store call on the store's own thread (one at a time, in order)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def migrate(self) -> None:
        url = self._url
        await self.run(lambda: migrate(url))

    async def close(self) -> None:
        """Store what is left if the store lets us, then let go of it."""
        if self._unstored:
            with contextlib.suppress(Exception):
                await self.store_pending()
        self._pool.shutdown(wait=True)
        self._db.dispose()

    # -- publishing --------------------------------------------------------------------------

    async def publish_orders(
        self, bus: Bus, orders: list[Order], stored: list[Order] | None = None
    ) -> bool:
        """Publish `orders` on the order stream (msg id = client order id); whether every one
        was acknowledged. `stored` gets those the stream took as new (not duplicates)."""
        if not orders:
            return True
        results = await asyncio.gather(
            *(bus.js_publish(o.publish_subject, o, msg_id=o.client_order_id) for o in orders),
            return_exceptions=True,
        )
        if stored is not None:
            stored.extend(
                o
                for o, r in zip(orders, results, strict=True)
                if not isinstance(r, BaseException) and not r.duplicate
            )
        failed = [r for r in results if isinstance(r, BaseException)]
        for error in failed:
            log.warning("manager: order not published (will retry from the store): %s", error)
        self.stats["duplicate_orders"] += sum(
            1 for r in results if not isinstance(r, BaseException) and r.duplicate
        )
        return not failed

    async def publish_decisions(self, bus: Bus, decisions: list[Decision]) -> bool:
        ok = True
        for decision in decisions:
            try:
                await bus.publish(decision.publish_subject, decision)
            except NatsUnavailable as error:
                ok = False
                log.warning("manager: decision %s not published: %s", decision.id, error)
        return ok

    # -- storing -----------------------------------------------------------------------------

    def queue(self, outcome: CycleOutcome, published_at: datetime | None) -> None:
        """A decided cycle to store (`store_pending`), `published_at` None when NATS failed."""
        self._unstored.append((outcome, published_at))

    async def store_pending(self) -> None:
        """Store decided cycles in the order decided (one writer at a time); on a failure the
        rest wait for the next call."""
        repo = self.repo
        async with self._lock:
            while self._unstored:
                outcome, published_at = self._unstored[0]
                try:
                    await self.run(
                        functools.partial(
                            repo.record_cycle,
                            outcome.cycle,
                            outcome.decisions,
                            outcome.orders,
                            published_at=published_at,
                            unit_costs=outcome.unit_costs,
                        )
                    )
                except Exception:
                    self.stats["store_errors"] += 1
                    log.exception(
                        "manager: storing cycle %s failed; will retry", outcome.cycle.cycle_id
                    )
                    return
                self._unstored.pop(0)

    async def record_budgets(self, periods: list[BudgetPeriod]) -> None:
        """A closed budget period's reallocations (a failure raises: the timer logs it)."""
        repo = self.repo
        await self.run(lambda: repo.record_budget_periods(periods))

    async def store_decision(self, record: DecisionRecord, published_at: datetime | None) -> None:
        """One decision outside a cycle (a late proposal's): stored, a failure logged."""
        stored = DecisionRecord(record.decision, record.proposal, published_at=published_at)
        try:
            await self.run(lambda: self.repo.record_decision(stored))
        except Exception:
            log.exception("manager: could not store the late decision %s", record.decision.id)

    # -- what the store holds unpublished ----------------------------------------------------

    async def unpublished_orders(self, limit: int = 1000) -> list[Order]:
        """Stored orders never published, oldest first, less those dropped as too old."""
        repo, dropped = self.repo, self.dropped
        orders = await self.run(lambda: repo.unpublished_orders(limit + len(dropped)))
        return [o for o in orders if o.client_order_id not in dropped][:limit]

    async def unpublished_decisions(self, limit: int | None = None) -> list[Decision]:
        repo = self.repo
        if limit is None:
            return await self.run(repo.unpublished_decisions)
        return await self.run(lambda: repo.unpublished_decisions(limit))

    async def mark_published(
        self,
        decision_ids: list[str],
        client_order_ids: list[str],
        at: datetime,
        restamped: list[Order] | None = None,
    ) -> None:
        repo = self.repo
        await self.run(
            lambda: repo.mark_published(
                decision_ids=decision_ids,
                client_order_ids=client_order_ids,
                at=at,
                restamped=restamped or (),
            )
        )
