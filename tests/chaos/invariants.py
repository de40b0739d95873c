"""The invariants every chaos scenario ends on, checked against a running cluster.

    report = await check_invariants(nats_url, database_url)   # counts and violations
    await assert_invariants(nats_url, database_url)           # fails listing every violation
    await assert_invariants(*cluster_urls(home))              # a `hedgemesh up` cluster

What is read: the order stream (`HEDGE_ORDERS`), the execution-report stream (`HEDGE_EXEC`),
the client trades (`HEDGE_TRADES`), the trading-state history (KV `trading_state`, every
revision kept), execution's store (`exec_orders`, `exec_reports`), the ledger's store
(`ledger_events`, `ledger_positions`) and the manager's routed orders (`mgr_orders`).

What must hold (each breach is one line in `InvariantReport.violations`):

1. no client order id twice: on the order stream (after JetStream de-duplication) and in
   execution's reports (one ACCEPTED and at most one final report per order, seqs 1..n);
2. every order on the stream reached execution, and reached a final state or is known open
   (stored, accepted, not final); every report stored is on the stream once, with the same
   content, and nothing is on the stream that the store does not hold;
3. fills agree three ways: on the stream = in execution's store = booked by the ledger (exec id,
   signed quantity, price); an order's fills add up to its cum quantity, never past its
   quantity; every client trade on the stream is booked once; each position is the sum of the
   trades and fills booked in it;
4. nothing accepted while HALTED (desk-wide or for the order's underlying): no accepted order
   that the manager published while halted, and no acceptance published later than
   `halt_grace_s` into a halt (an order already on its way when the halt came). Times are
   when JetStream stored each message (the one nats-server's clock, real time): the messages'
   own `ts` follow each service's clock, which may be accelerated or start in the past;
5. nothing accepted from a fenced leader: no accepted order whose epoch is lower than that of
   an order execution had received before it;
6. where the manager's store holds routed orders (`check_manager`): every order on the stream
   was routed by the manager (same epoch), and every order it marked published is on the stream
   (a leader killed after publishing and before storing is made good by its successor's
   reconciliation with the stream on take-over: `takeover.reconcile_orders`).

The checks that depend on work in flight (the outbox, the ledger's consumer) can fail for a
moment after the last order; `assert_invariants` re-checks until they hold or `settle_s` ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import nats
from pydantic import ValidationError
from sqlalchemy import select

from hedgemesh.store.db import make_engine, session_factory
from hedgemesh.store.execution import ExecutionRepository, StoredOrder
from hedgemesh.store.ledger import EventKind, LedgerEvent, LedgerRepository
from hedgemesh.store.models import ManagerOrderRow
from hedgemesh.wire import subjects
from hedgemesh.wire.book import ClientTrade
from hedgemesh.wire.codes import ReasonCode, TradingState
from hedgemesh.wire.orders import ExecStatus, ExecutionReport, Order
from hedgemesh.wire.state import TradingStatus

__all__ = [
    "InvariantReport",
    "assert_invariants",
    "check_invariants",
    "cluster_urls",
]

#: Desk-wide key of KV `trading_state` (an underlying's own key narrows it).
DESK_KEY = "desk"
#: Violations of one kind listed in full; beyond that, a count.
_MAX_LISTED = 20


@dataclass
class InvariantReport:
    """What was checked, and what did not hold."""

    orders_on_stream: int = 0
    orders_stored: int = 0
    orders_open: int = 0
    reports_on_stream: int = 0
    fills_on_stream: int = 0
    fills_stored: int = 0
    fills_booked: int = 0
    trades_booked: int = 0
    positions: int = 0
    trading_state_changes: int = 0
    undecodable: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def orders_checked(self) -> int:
        return max(self.orders_on_stream, self.orders_stored)

    @property
    def fills_checked(self) -> int:
        return max(self.fills_on_stream, self.fills_stored, self.fills_booked)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts().items())
        if self.ok:
            return f"invariants hold ({counts})"
        listed = "\n".join(f"  - {v}" for v in self.violations)
        return f"{len(self.violations)} invariant violations ({counts}):\n{listed}"


def cluster_urls(home: Path) -> tuple[str, str]:
    """(NATS URL, database URL) of a `hedgemesh up` cluster from its home folder: the database
    is the launcher's (`HEDGEMESH_DATABASE_URL` when set, else `<home>/hedgemesh.db`)."""
    cluster = json.loads((home / "cluster.json").read_text())
    default = f"sqlite:///{Path(cluster['home']) / 'hedgemesh.db'}"
    return cluster["nats_url"], os.environ.get("HEDGEMESH_DATABASE_URL", default)


async def assert_invariants(
    nats_url: str, database_url: str, *, settle_s: float = 15.0, **options: Any
) -> InvariantReport:
    """`check_invariants` until everything holds (returned), or fail after `settle_s` listing
    every violation of the last check."""
    deadline = time.monotonic() + settle_s
    while True:
        report = await check_invariants(nats_url, database_url, **options)
        if report.ok:
            return report
        if time.monotonic() > deadline:
            raise AssertionError(report.summary())
        await asyncio.sleep(0.25)


async def check_invariants(
    nats_url: str,
    database_url: str,
    *,
    check_manager: bool = True,
    halt_grace_s: float = 2.0,
) -> InvariantReport:
    """Read the streams and the stores once and check every invariant (module docstring)."""
    nc = await nats.connect(nats_url.split(","), connect_timeout=5, max_reconnect_attempts=5)
    try:
        js = nc.jetstream()
        raw_orders = await _stream(js, subjects.STREAM_ORDERS)
        raw_reports = await _stream(js, subjects.STREAM_EXEC)
        raw_trades = await _stream(js, subjects.STREAM_TRADES)
        raw_states = await _stream(js, f"KV_{subjects.KV_TRADING_STATE}")
    finally:
        await nc.close()
    facts = await asyncio.to_thread(_read_store, database_url, check_manager)
    return _check(
        _Streams(raw_orders, raw_reports, raw_trades, raw_states),
        facts,
        halt_grace=timedelta(seconds=halt_grace_s),
    )


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Msg:
    subject: str
    data: bytes
    stored_at: datetime  # when JetStream stored it (the server's clock)


async def _stream(js: Any, stream: str) -> list[_Msg]:
    """Every message the stream holds, in order (an ordered consumer from the first)."""
    try:
        state = (await js.stream_info(stream)).state
    except nats.js.errors.NotFoundError:
        return []
    if not state.messages:
        return []
    out: list[_Msg] = []
    sub = await js.subscribe(">", stream=stream, ordered_consumer=True)
    try:
        seq = 0
        while seq < state.last_seq:
            msg = await sub.next_msg(timeout=5)
            seq = msg.metadata.sequence.stream
            out.append(_Msg(msg.subject, bytes(msg.data), msg.metadata.timestamp))
    finally:
        await sub.unsubscribe()
    return out


@dataclass(frozen=True)
class _Streams:
    orders: list[_Msg]
    reports: list[_Msg]
    trades: list[_Msg]
    states: list[_Msg]


@dataclass(frozen=True)
class _Store:
    orders: list[StoredOrder]
    reports: list[ExecutionReport]  # in the order stored
    published: set[str]  # exec ids marked published
    events: list[LedgerEvent]
    positions: dict[str, int]
    manager_orders: dict[str, tuple[int, bool]] | None  # coid -> (epoch, published)


def _read_store(url: str, check_manager: bool) -> _Store:
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        execution = ExecutionRepository(sessions)
        ledger = LedgerRepository(sessions)
        reports = execution.reports()
        unpublished = {r.exec_id for r in execution.unpublished_reports(limit=1_000_000)}
        manager: dict[str, tuple[int, bool]] | None = None
        if check_manager:
            with sessions() as session:
                rows = session.execute(
                    select(
                        ManagerOrderRow.client_order_id,
                        ManagerOrderRow.epoch,
                        ManagerOrderRow.published_at,
                    )
                ).all()
            manager = {coid: (epoch, at is not None) for coid, epoch, at in rows} or None
        return _Store(
            orders=execution.orders(),
            reports=reports,
            published={r.exec_id for r in reports} - unpublished,
            events=ledger.events(),
            positions={p.symbol: p.quantity for p in ledger.positions()},
            manager_orders=manager,
        )
    finally:
        engine.dispose()


def _decode(
    messages: Iterable[_Msg], model: Any, report: InvariantReport
) -> list[tuple[Any, datetime]]:
    """The messages that decode, each with when it was stored."""
    out = []
    for msg in messages:
        try:
            out.append((model.from_json(msg.data), msg.stored_at))
        except (ValidationError, ValueError):
            report.undecodable += 1  # dead-lettered by the consumer: not an order or a fill
    return out


# -- checking ----------------------------------------------------------------------------------


def _check(streams: _Streams, store: _Store, *, halt_grace: timedelta) -> InvariantReport:
    report = InvariantReport()
    timed_orders = _decode(streams.orders, Order, report)
    timed_reports = _decode(streams.reports, ExecutionReport, report)
    orders: list[Order] = [o for o, _ in timed_orders]
    reports: list[ExecutionReport] = [r for r, _ in timed_reports]
    trades: list[ClientTrade] = [t for t, _ in _decode(streams.trades, ClientTrade, report)]
    report.orders_on_stream = len(orders)
    report.orders_stored = len(store.orders)
    report.orders_open = sum(1 for o in store.orders if not o.final)
    report.reports_on_stream = len(reports)
    report.fills_on_stream = sum(1 for r in reports if r.is_fill)
    report.fills_stored = sum(1 for r in store.reports if r.is_fill)
    report.fills_booked = sum(1 for e in store.events if e.kind is EventKind.FILL)
    report.trades_booked = sum(1 for e in store.events if e.kind is EventKind.TRADE)
    report.positions = len(store.positions)

    found: dict[str, list[str]] = defaultdict(list)
    _check_orders(orders, store, found)
    _check_reports(reports, store, found)
    _check_fills(reports, store, found)
    _check_positions(trades, store, found)
    halts = _halts(streams.states, report)
    _check_halts(timed_orders, timed_reports, halts, halt_grace, found)
    _check_fence(store, found)
    _check_manager(orders, store, found)
    for kind, lines in found.items():
        report.violations += [f"{kind}: {line}" for line in lines[:_MAX_LISTED]]
        if len(lines) > _MAX_LISTED:
            report.violations.append(f"{kind}: ... and {len(lines) - _MAX_LISTED} more")
    return report


def _check_orders(orders: list[Order], store: _Store, found: dict[str, list[str]]) -> None:
    stored = {o.client_order_id: o for o in store.orders}
    for coid, n in Counter(o.client_order_id for o in orders).items():
        if n > 1:
            found["order id twice on the stream"].append(f"{coid} ({n} times)")
    for o in orders:
        if o.client_order_id not in stored:
            found["order never reached execution"].append(o.client_order_id)
    on_stream = {o.client_order_id for o in orders}
    for coid, s in stored.items():
        if coid not in on_stream:
            found["stored order not on the stream"].append(coid)
        if not s.final and s.status is None:
            found["order neither final nor known open (never judged)"].append(coid)


def _check_reports(
    reports: list[ExecutionReport], store: _Store, found: dict[str, list[str]]
) -> None:
    for exec_id, n in Counter(r.exec_id for r in reports).items():
        if n > 1:
            found["report twice on the stream"].append(f"{exec_id} ({n} times)")
    on_stream = {r.exec_id: r for r in reports}
    stored = {r.exec_id: r for r in store.reports}
    for exec_id, r in stored.items():
        published = on_stream.get(exec_id)
        if published is None:
            found["stored report not on the stream"].append(exec_id)
        elif published != r:
            found["report on the stream differs from the stored one"].append(exec_id)
    for exec_id in on_stream.keys() - stored.keys():
        found["report on the stream not in execution's store"].append(exec_id)
    by_order: dict[str, list[ExecutionReport]] = defaultdict(list)
    for r in store.reports:
        by_order[r.client_order_id].append(r)
    orders = {o.client_order_id: o for o in store.orders}
    for coid, chain in by_order.items():
        chain.sort(key=lambda r: r.seq)
        _check_chain(coid, chain, orders.get(coid), found)


def _check_chain(
    coid: str,
    chain: list[ExecutionReport],
    stored: StoredOrder | None,
    found: dict[str, list[str]],
) -> None:
    """One order's reports: seqs 1..n, one acceptance, one final report (the last), fills that
    add up to cum and never past the quantity; the stored order agrees."""
    if [r.seq for r in chain] != list(range(1, len(chain) + 1)):
        found["report seqs not 1..n"].append(f"{coid}: {[r.seq for r in chain]}")
    accepted = sum(1 for r in chain if r.status is ExecStatus.ACCEPTED)
    if accepted > 1:
        found["order accepted twice (worked twice)"].append(f"{coid} ({accepted} times)")
    finals = [i for i, r in enumerate(chain) if r.is_terminal]
    if len(finals) > 1 or (finals and finals[0] != len(chain) - 1):
        found["order has a report after its final one"].append(coid)
    filled = sum(r.last_quantity or 0 for r in chain if r.is_fill)
    quantity = chain[0].order_quantity
    if filled > quantity:
        found["order filled past its quantity"].append(f"{coid}: {filled} > {quantity}")
    if filled != chain[-1].cum_quantity:
        found["fills do not add up to cum"].append(f"{coid}: {filled} != {chain[-1].cum_quantity}")
    if stored is not None and (stored.last_seq, stored.final) != (
        chain[-1].seq,
        chain[-1].is_terminal,
    ):
        found["stored order disagrees with its reports"].append(coid)


def _fill_key(r: ExecutionReport) -> tuple[str, int, float]:
    return r.instrument.symbol, r.signed_last_quantity, float(r.last_price or 0.0)


def _check_fills(
    reports: list[ExecutionReport], store: _Store, found: dict[str, list[str]]
) -> None:
    on_stream = {r.exec_id: _fill_key(r) for r in reports if r.is_fill}
    stored = {r.exec_id: _fill_key(r) for r in store.reports if r.is_fill}
    booked: dict[str, tuple[str, int, float]] = {}
    for e in store.events:
        if e.kind is EventKind.FILL:
            if e.event_id in booked:
                found["fill booked twice"].append(e.event_id)
            booked[e.event_id] = (e.instrument.symbol, e.signed_quantity, float(e.price))
    for name, side in (("on the stream", on_stream), ("booked by the ledger", booked)):
        for exec_id in stored.keys() - side.keys():
            found[f"fill stored by execution, not {name}"].append(exec_id)
        for exec_id in side.keys() - stored.keys():
            found[f"fill {name}, not stored by execution"].append(exec_id)
        for exec_id in stored.keys() & side.keys():
            if stored[exec_id] != side[exec_id]:
                found[f"fill {name} differs from execution's"].append(
                    f"{exec_id}: {side[exec_id]} != {stored[exec_id]}"
                )


def _check_positions(trades: list[ClientTrade], store: _Store, found: dict[str, list[str]]) -> None:
    booked = {e.event_id for e in store.events if e.kind is EventKind.TRADE}
    for trade_id in {t.trade_id for t in trades} - booked:
        found["client trade not booked"].append(trade_id)
    sums: dict[str, int] = defaultdict(int)
    for e in store.events:
        sums[e.instrument.symbol] += e.signed_quantity
    for symbol in sums.keys() | store.positions.keys():
        if sums.get(symbol, 0) != store.positions.get(symbol, 0):
            found["position is not trades + fills"].append(
                f"{symbol}: {store.positions.get(symbol, 0)} != {sums.get(symbol, 0)}"
            )


# -- halts and fences --------------------------------------------------------------------------

_Interval = tuple[datetime, datetime | None]  # [start, end); end None: still halted


def _halts(states: list[_Msg], report: InvariantReport) -> dict[str, list[_Interval]]:
    """HALTED intervals per KV key (`desk` or an underlying), by when each status was stored."""
    changes: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    prefix = f"$KV.{subjects.KV_TRADING_STATE}."
    for msg in states:
        key = msg.subject.removeprefix(prefix)
        if not msg.data:  # a delete or purge: no state, so not halted (from an unknown time)
            continue
        try:
            status = TradingStatus.from_json(msg.data)
        except (ValidationError, ValueError):
            report.undecodable += 1
            continue
        report.trading_state_changes += 1
        changes[key].append((msg.stored_at, status.state is TradingState.HALTED))
    intervals: dict[str, list[_Interval]] = {}
    for key, seq in changes.items():
        seq.sort(key=lambda c: c[0])
        spans: list[_Interval] = []
        start: datetime | None = None
        for at, halted in seq:
            if halted and start is None:
                start = at
            elif not halted and start is not None:
                spans.append((start, at))
                start = None
        if start is not None:
            spans.append((start, None))
        intervals[key] = spans
    return intervals


def _halted_since(
    halts: dict[str, list[_Interval]], underlying: str, at: datetime
) -> datetime | None:
    """When the halt covering `at` for `underlying` (desk-wide or its own) began, else None."""
    for key in (DESK_KEY, underlying):
        for start, end in halts.get(key, []):
            if start <= at and (end is None or at < end):
                return start
    return None


def _check_halts(
    orders: list[tuple[Order, datetime]],
    reports: list[tuple[ExecutionReport, datetime]],
    halts: dict[str, list[_Interval]],
    grace: timedelta,
    found: dict[str, list[str]],
) -> None:
    if not halts:
        return
    published: dict[str, datetime] = {}
    for order, at in orders:
        published.setdefault(order.client_order_id, at)
    for r, at in reports:
        if r.status is not ExecStatus.ACCEPTED:
            continue
        coid, underlying = r.client_order_id, r.instrument.underlying
        sent = published.get(coid)
        if sent is not None and _halted_since(halts, underlying, sent) is not None:
            found["order published while HALTED was accepted"].append(coid)
            continue
        began = _halted_since(halts, underlying, at)
        if began is not None and at - began > grace:
            found["order accepted while HALTED"].append(
                f"{coid} at {at.isoformat()} (halted since {began.isoformat()})"
            )


def _check_fence(store: _Store, found: dict[str, list[str]]) -> None:
    """No accepted order whose epoch is below that of an order received before it (an order
    refused as STALE_EPOCH does not raise the fence)."""
    first: dict[str, ExecutionReport] = {}
    for r in store.reports:
        first.setdefault(r.client_order_id, r)
    accepted = {r.client_order_id for r in store.reports if r.status is ExecStatus.ACCEPTED}
    fence = 0
    fence_from = ""
    for stored in sorted(store.orders, key=lambda o: (o.received_at, o.client_order_id)):
        coid, epoch = stored.client_order_id, stored.order.epoch
        if coid in accepted and epoch < fence:
            found["order from a fenced leader accepted"].append(
                f"{coid} (epoch {epoch}, after {fence_from} of epoch {fence})"
            )
        opening = first.get(coid)
        stale = opening is not None and opening.reason_code is ReasonCode.STALE_EPOCH
        if not stale and epoch > fence:
            fence, fence_from = epoch, coid


def _check_manager(orders: list[Order], store: _Store, found: dict[str, list[str]]) -> None:
    routed = store.manager_orders
    if routed is None:
        return
    on_stream = {o.client_order_id: o for o in orders}
    for coid, o in on_stream.items():
        if coid not in routed:
            found["order on the stream not routed by the manager"].append(coid)
        elif routed[coid][0] != o.epoch:
            found["order's epoch differs from the manager's"].append(coid)
    for coid, (_, published) in routed.items():
        if published and coid not in on_stream:
            found["order the manager published is not on the stream"].append(coid)
