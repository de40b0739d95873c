"""What a replica does when it takes over (and at start): recovery from the store.

- `restore`: budgets and the day's cost as the store has them (a predecessor's state);
- `record_predecessors`: cycles a predecessor published but died before storing, as this
  replica heard them standing by (`domain.heard`), stored;
- `reconcile_orders`: then the order stream itself, read back from its newest message: any
  order the store still lacks (a killed leader's last cycle, when it restarted and won the
  lease back before a standby heard anything) is stored as routed;
- `republish`: what a predecessor stored but never published is published: orders re-stamped
  with the new epoch (same client order ids), unless older than `outbox_max_age_s` (left
  unpublished in the store, dropped from the outbox and from the orders in flight), and the
  decisions. The leader's timer runs it too whenever the store holds something unpublished.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from hedgemesh.manager.adapters.outbox import Outbox
from hedgemesh.manager.domain.budgets import period_start
from hedgemesh.manager.domain.core import ManagerCore
from hedgemesh.runtime.bus import Bus
from hedgemesh.runtime.streams import newest_first
from hedgemesh.wire import subjects
from hedgemesh.wire.orders import Order

__all__ = ["flush", "reconcile_orders", "record_predecessors", "republish", "restore"]

#: How far back `reconcile_orders` reads the order stream, at most, and the run of stored
#: orders after which it stops (everything older was stored by the leaders before).
RECONCILE_MAX_MESSAGES = 5000
RECONCILE_KNOWN_RUN = 200
_PAGE = 100

log = logging.getLogger(__name__)


async def restore(core: ManagerCore, outbox: Outbox, now: datetime) -> None:
    """Budgets and the day's cost as the store has them."""
    engine, repo = core.engine, outbox.repo
    budgets = engine.budgets
    start = period_start(now, budgets.period_s)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    latest = await outbox.run(repo.latest_budget_periods)
    spending = await outbox.run(lambda: repo.spending_since(start))
    costs = await outbox.run(lambda: repo.cost_since(day))
    allocations = {a: p.next_allocation for a, p in latest.items() if p.period_end <= start}
    budgets.restore(
        allocations,
        {a: (sp.premium, sp.risk_removed) for a, sp in spending.items()},
        now=now,
    )
    engine.roll_cost_day(now)
    engine.cost_today = dict(costs)


async def record_predecessors(core: ManagerCore, outbox: Outbox, epoch: int, now: datetime) -> None:
    """Store the cycles a predecessor published but did not store."""
    repo, heard = outbox.repo, core.heard
    ids = heard.cycle_ids()
    stored = await outbox.run(lambda: {c for c in ids if repo.has_cycle(c)})
    unstored = heard.unstored(epoch, stored.__contains__, core.engine.trading.state.value)
    record = functools.partial(repo.record_cycle, published_at=now)
    for c in unstored:
        await outbox.run(functools.partial(record, c.cycle, c.decisions, c.orders))
    if unstored:
        log.warning("manager: stored %d cycles its predecessor published", len(unstored))
    core.stats["predecessor_cycles"] += len(unstored)


async def reconcile_orders(core: ManagerCore, outbox: Outbox, bus: Bus, now: datetime) -> int:
    """Store the orders on `HEDGE_ORDERS` that the store lacks (module doc), reading back from
    the newest until `RECONCILE_KNOWN_RUN` stored ones in a row (or `RECONCILE_MAX_MESSAGES`);
    how many were stored."""
    repo = outbox.repo
    missing: dict[str, Order] = {}
    page: list[Order] = []
    known_run = 0

    async def check(page: list[Order]) -> int:
        known = await outbox.run(lambda: repo.known_orders(o.client_order_id for o in page))
        run = 0
        for order in page:  # newest first
            if order.client_order_id in known:
                run += 1
            else:
                run = 0
                missing.setdefault(order.client_order_id, order)
        return run

    stream = newest_first(bus.js, subjects.STREAM_ORDERS, RECONCILE_MAX_MESSAGES)
    async with contextlib.aclosing(stream):
        async for payload in stream:
            with contextlib.suppress(ValueError):
                page.append(Order.from_json(payload))
            if len(page) == _PAGE:
                run = await check(page)
                known_run = known_run + run if run == len(page) else run
                page = []
                if known_run >= RECONCILE_KNOWN_RUN:
                    break
    if page:
        await check(page)
    core.stats["reconciliations"] += 1
    if not missing:
        return 0
    state_now = core.engine.trading.state.value
    orders = sorted(missing.values(), key=lambda o: o.ts)
    stored = await outbox.run(lambda: repo.record_routed(orders, trading_state=state_now, at=now))
    log.warning("manager: stored %d orders found on the order stream only", stored)
    core.stats["reconciled_orders"] += stored
    return stored


async def flush(outbox: Outbox, republish: Callable[[], Awaitable[None]]) -> None:
    """The leader's timer: store what is decided, then `republish()` if the store holds
    anything unpublished."""
    await outbox.store_pending()
    if await outbox.unpublished_orders(1) or await outbox.unpublished_decisions(1):
        await republish()


async def republish(
    core: ManagerCore,
    outbox: Outbox,
    bus: Bus,
    epoch: int,
    now: datetime,
    real: float,
    max_age_s: float,
) -> None:
    """Publish what the store holds unpublished (module doc); `real`: monotonic seconds, for
    the orders in flight."""
    inflight = core.engine.inflight
    max_age = timedelta(seconds=max_age_s)
    orders = await outbox.unpublished_orders()
    fresh = [o for o in orders if now - o.ts <= max_age]
    stale = [o for o in orders if now - o.ts > max_age]
    restamped = [
        o.model_copy(update={"epoch": epoch, "id": f"{o.client_order_id}-e{epoch}"}) for o in fresh
    ]
    taken: list[Order] = []  # the stream's copy is the re-stamped one (not a duplicate)
    if restamped and await outbox.publish_orders(bus, restamped, stored=taken):
        for o in restamped:
            inflight.on_order(o, real)
    elif restamped:
        fresh = []
    if stale:
        log.warning("manager: %d stored orders too old to route; dropped", len(stale))
        outbox.dropped.update(o.client_order_id for o in stale)
        inflight.forget(outbox.dropped)
    decisions = await outbox.unpublished_decisions()
    sent = [d for d in decisions if await outbox.publish_decisions(bus, [d])]
    coids = [o.client_order_id for o in fresh]
    await outbox.mark_published([d.id for d in sent], coids, now, restamped=taken)
    core.stats["republished_orders"] += len(fresh)
