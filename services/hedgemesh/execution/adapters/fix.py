"""The FIX 4.4 acceptor: asyncio TCP around the pure session layer and order translation.

One task per connection reads bytes, frames them (`Framer`), and hands each frame to its
`FixSession`; what comes back is applied here: messages numbered are **stored, then
written** (`FixRepository.save`: the counterparty's numbers and the application messages, in
one transaction, before a byte leaves), ResendRequests answered from the store, application
messages handed to the order handlers. Everything that numbers a message holds one lock, so
numbers go out in order whichever task (a connection, its timer, execution's reports) sends.

Orders take execution's own path: `FixRepository.insert_new` stores the order with its ClOrdID
(a ClOrdID is used once, across restarts), then `ExecutionComponent.work` judges it with the
same pre-trade controls and kill switch as an order from NATS. Execution's reports come back
through the outbox once stored (`on_stored`), become ExecutionReports (`FixOrders`), and are
numbered, stored and sent to the counterparty, or kept for its ResendRequest when it is not
connected. At start-up, reports stored but never turned into a message (the process died in
between) are sent first.

The number expected from a counterparty is stored behind what was handled: a message whose
order was not yet stored when the process died is asked for again after the restart (a
resent NewOrderSingle whose ClOrdID is known, with PossDupFlag, is dropped: never booked
twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hedgemesh.execution.domain.fix.codec import FixMessage, Framer, Garbled, Tag
from hedgemesh.execution.domain.fix.orders import (
    FixOrders,
    Refusal,
    cancel_reject_body,
    internal_id,
    order_from,
    rejection_body,
)
from hedgemesh.execution.domain.fix.session import (
    Close,
    Deliver,
    Effect,
    FixSession,
    Ignored,
    LoggedOn,
    MsgType,
    Outbound,
    Replay,
    Send,
    SeqState,
    SessionConfig,
    State,
)
from hedgemesh.records.fix import FixRequest, RequestKind, SentMessage
from hedgemesh.runtime import metrics
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.store.fix import FixRepository
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.orders import ExecStatus, ExecutionReport

if TYPE_CHECKING:
    from hedgemesh.execution.adapters.component import ExecutionComponent

log = logging.getLogger(__name__)

_READ = 1 << 16
#: Longest wait between two looks at a session's timers (real seconds).
_TIMER_MAX_S = 1.0
_FINAL_ORD_STATUS = {
    ExecStatus.FILLED: "2",
    ExecStatus.CANCELLED: "4",
    ExecStatus.REJECTED: "8",
    ExecStatus.EXPIRED: "C",
}
CXL_TOO_LATE, CXL_UNKNOWN, CXL_BROKER, CXL_DUPLICATE = 0, 1, 2, 6

MESSAGES = metrics.counter(
    "fix_messages_total", "FIX messages, by direction and MsgType.", ["direction", "msg_type"]
)
REPORT_ERRORS = metrics.counter(
    "fix_report_errors_total", "Rounds of execution reports not sent to FIX (the store failed)."
)
REFUSED = metrics.counter(
    "fix_refused_by_counterparty_total", "Messages of ours a FIX counterparty answered with Reject."
)
DROPPED = metrics.counter(
    "fix_dropped_total", "FIX frames dropped without an answer, by why.", ["reason"]
)


class _Available(Mapping[str, SeqState]):
    """The counterparties a new connection may log on as: configured, not connected now."""

    def __init__(self, gateway: FixGateway) -> None:
        self._gateway = gateway

    def __getitem__(self, key: str) -> SeqState:
        if key in self._gateway.connections:
            raise KeyError(key)
        return self._gateway.seqs[key]

    def __iter__(self) -> Iterator[str]:
        return (k for k in self._gateway.seqs if k not in self._gateway.connections)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Connection:
    def __init__(self, session: FixSession, writer: asyncio.StreamWriter) -> None:
        self.session = session
        self.writer = writer
        self.peer = writer.get_extra_info("peername")


class FixGateway:
    """The acceptor (see the module docstring). `port` is the one listened on, once started."""

    def __init__(
        self, component: ExecutionComponent, config: SessionConfig, host: str, port: int
    ) -> None:
        self.component = component
        self.config = config
        self.host = host
        self.port = port
        self.seqs: dict[str, SeqState] = {}
        self.safe_in: dict[str, int] = {}
        """Per counterparty: the number stored as expected next (behind anything unhandled)."""
        self.connections: dict[str, _Connection] = {}
        self.orders = FixOrders()
        self.stats: Counter[str] = Counter()
        self.repo: FixRepository | None = None
        self._lock = asyncio.Lock()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reports: asyncio.Queue[list[ExecutionReport]] = asyncio.Queue()
        self._report_task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, repo: FixRepository) -> None:
        self.repo = repo
        stored = repo.sessions()
        for name in self.config.passwords:
            next_in, next_out = stored.get(name, (1, 1))
            self.seqs[name] = SeqState(name, next_in, next_out)
            self.safe_in[name] = next_in
        unsent = repo.unsent_reports()
        # the requests of working orders, and of those with reports to send (finished or not)
        for request in repo.requests({r.client_order_id for r in unsent}) + repo.working_requests():
            self.orders.learn(request)
        if unsent:
            self._reports.put_nowait(unsent)
        self._report_task = asyncio.create_task(self._send_reports(), name="fix-reports")
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info(
            "execution: FIX 4.4 acceptor on %s:%d as %s for %s (%d reports to send)",
            self.host,
            self.port,
            self.config.comp_id,
            ", ".join(sorted(self.seqs)) or "no counterparty",
            len(unsent),
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections.values()):
            connection.writer.close()
        for task in list(self._tasks):
            await cancel_and_wait(task)
        await cancel_and_wait(self._report_task)
        self._report_task = None
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    def state(self) -> dict[str, object]:
        """For `status`: each counterparty's numbers and whether it is connected."""
        return {
            "port": self.port,
            "sessions": {
                name: {
                    "connected": name in self.connections,
                    "next_in": seqs.next_in,
                    "next_out": seqs.next_out,
                }
                for name, seqs in sorted(self.seqs.items())
            },
            **dict(self.stats),
        }

    # -- execution's reports -----------------------------------------------------------------

    def on_stored(self, reports: list[ExecutionReport]) -> None:
        """Reports just stored by execution's outbox (called on the event loop)."""
        mine = [r for r in reports if r.counterparty is not None]
        if mine:
            self._reports.put_nowait(mine)

    async def _send_reports(self) -> None:
        while True:
            batch = await self._reports.get()
            while not self._reports.empty():
                batch += self._reports.get_nowait()
            try:
                await self._report(batch)
            except Exception:  # the store failed: retried with what came meanwhile
                log.exception("FIX: %d execution reports not sent; retrying", len(batch))
                self.stats["report_errors"] += 1
                REPORT_ERRORS.inc()
                await asyncio.sleep(0.5)
                self._reports.put_nowait(batch)

    async def _report(self, reports: list[ExecutionReport]) -> None:
        async with self._lock:
            at = datetime.now(UTC)
            by_party: dict[str, tuple[list[Send], list[SentMessage]]] = {}
            for report in reports:
                found = self.orders.message_for(report)
                if found is None:
                    continue
                request, body = found
                party = request.counterparty
                if party not in self.seqs:
                    log.error("FIX: report %s for unknown counterparty %s", report.exec_id, party)
                    continue
                sends, kept = by_party.setdefault(party, ([], []))
                if body is None:
                    kept.append(
                        SentMessage(party, None, MsgType.EXECUTION_REPORT, (), "", report.exec_id)
                    )
                    continue
                send = self._outbound(party).message(MsgType.EXECUTION_REPORT, body, at)
                sends.append(send)
                kept.append(send.kept(party, report.exec_id))
            for party, (sends, kept) in by_party.items():
                await self._flush(party, sends, kept)

    # -- connections -------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        loop = asyncio.get_running_loop()
        connection = _Connection(FixSession(self.config, _Available(self), loop.time()), writer)
        timers = asyncio.create_task(self._timers(connection), name="fix-timers")
        framer = Framer()
        try:
            while connection.session.state is not State.CLOSED:
                data = await reader.read(_READ)
                if not data:
                    break
                await self._on_frames(connection, list(framer.feed(data)))
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            log.info("FIX: connection from %s lost: %s", connection.peer, error)
        except Exception:
            log.exception("FIX: connection from %s failed", connection.peer)
            self.stats["connection_errors"] += 1
        finally:
            party = connection.session.counterparty
            if party is not None and self.connections.get(party) is connection:
                del self.connections[party]
                log.info("FIX: %s disconnected", party)
            await cancel_and_wait(timers)
            writer.close()
            self._tasks.discard(task)

    async def _timers(self, connection: _Connection) -> None:
        loop = asyncio.get_running_loop()
        session = connection.session
        while session.state is not State.CLOSED:
            wait = min(max(session.next_wakeup() - loop.time(), 0.01), _TIMER_MAX_S)
            await asyncio.sleep(wait)
            async with self._lock:
                effects = session.on_time(loop.time(), datetime.now(UTC))
                deliveries = await self._apply(connection, effects)
            assert not deliveries
        connection.writer.close()

    async def _on_frames(self, connection: _Connection, frames: list[FixMessage | Garbled]) -> None:
        loop = asyncio.get_running_loop()
        session = connection.session
        async with self._lock:
            effects: list[Effect] = []
            for frame in frames:
                effects += session.on_frame(frame, loop.time(), datetime.now(UTC))
            deliveries = await self._apply(connection, effects)
        party = session.counterparty
        if party is None:
            return
        for message in deliveries:
            MESSAGES.labels(direction="in", msg_type=message.msg_type or "?").inc()
            await self._on_application(party, message)
        if deliveries:
            async with self._lock:
                self.safe_in[party] = self.seqs[party].next_in
                await self._flush(party, [], [])

    async def _apply(self, connection: _Connection, effects: list[Effect]) -> list[FixMessage]:
        """Apply a session's effects (holding the lock): store and write what it sends,
        answer ResendRequests; return the application messages to handle."""
        session = connection.session
        sends: list[Send] = []
        deliveries: list[FixMessage] = []
        close: str | None = None
        reset = False
        for effect in effects:
            if isinstance(effect, Send):
                sends.append(effect)
            elif isinstance(effect, Deliver):
                deliveries.append(effect.message)
            elif isinstance(effect, Replay):
                party = session.counterparty
                assert party is not None and self.repo is not None
                repo = self.repo
                read = functools.partial(repo.messages, party, effect.begin, effect.end)
                stored = await self.component.store.run(read)
                sends += session.replay(stored, effect.begin, effect.end, datetime.now(UTC))
                self.stats["resends"] += 1
            elif isinstance(effect, LoggedOn):
                self.connections[effect.counterparty] = connection
                reset = effect.reset
                log.info("FIX: %s logged on from %s", effect.counterparty, connection.peer)
                self.stats["logons"] += 1
            elif isinstance(effect, Close):
                close = effect.reason
            elif isinstance(effect, Ignored):
                who = session.counterparty or connection.peer
                if effect.reason.startswith("Reject of our"):  # it refused what we sent
                    self.stats["rejected_by_counterparty"] += 1
                    REFUSED.inc()
                    log.error("FIX: %s refused a message of ours: %s", who, effect.reason)
                    continue
                DROPPED.labels(reason=effect.reason.split(":")[0]).inc()
                self.stats["dropped"] += 1
                log.info("FIX: %s: %s", who, effect.reason)
        party = session.counterparty
        if party is not None and party in self.seqs:
            if not deliveries:
                self.safe_in[party] = self.seqs[party].next_in
            else:
                first = deliveries[0].seq or self.safe_in[party]
                self.safe_in[party] = min(self.seqs[party].next_in, first)
            if reset:
                self.safe_in[party] = self.seqs[party].next_in
            kept = [s.kept(party) for s in sends if s.keep and not s.replay]
            await self._flush(party, sends, kept, reset=reset, writer=connection.writer)
        elif sends:  # a refused logon: the answer goes out, nothing is stored
            await self._write(connection.writer, sends)
        if close is not None:
            log.info("FIX: closing %s: %s", party or connection.peer, close)
            with contextlib.suppress(ConnectionError):
                await connection.writer.drain()
            connection.writer.close()
        return deliveries

    async def _flush(
        self,
        party: str,
        sends: list[Send],
        kept: list[SentMessage],
        *,
        reset: bool = False,
        writer: asyncio.StreamWriter | None = None,
    ) -> None:
        """Store the counterparty's numbers and `kept`, then write `sends` (holding the lock)
        to `writer`, or to its connection when it has one."""
        repo = self.repo
        assert repo is not None
        seqs = self.seqs[party]
        next_in, next_out = self.safe_in[party], seqs.next_out
        await self.component.store.run(
            lambda: repo.save(party, next_in, next_out, kept, reset=reset)
        )
        if writer is None:
            connection = self.connections.get(party)
            writer = None if connection is None else connection.writer
        if writer is not None and sends:
            await self._write(writer, sends)

    async def _write(self, writer: asyncio.StreamWriter, sends: list[Send]) -> None:
        for send in sends:
            MESSAGES.labels(direction="out", msg_type=send.msg_type).inc()
        if writer.is_closing():
            return
        writer.write(b"".join(s.raw for s in sends))
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    def _outbound(self, party: str) -> Outbound:
        return Outbound(self.config.comp_id, self.seqs[party])

    async def _answer(self, party: str, msg_type: str, body: Sequence[tuple[int, object]]) -> None:
        """An application answer of ours (a reject), numbered, stored and sent."""
        async with self._lock:
            send = self._outbound(party).message(msg_type, body, datetime.now(UTC))
            await self._flush(party, [send], [send.kept(party)])

    # -- application messages ----------------------------------------------------------------

    async def _on_application(self, party: str, message: FixMessage) -> None:
        kind = message.msg_type
        try:
            if kind == MsgType.NEW_ORDER_SINGLE:
                await self._new_order(party, message)
            elif kind == MsgType.ORDER_CANCEL_REQUEST:
                await self._cancel(party, message)
            elif kind == MsgType.ORDER_CANCEL_REPLACE_REQUEST:
                await self._replace(party, message)
        except Exception:
            log.exception("FIX: %s from %s failed", kind, party)
            self.stats["application_errors"] += 1
            body = [
                (Tag.REF_SEQ_NUM, message.seq or 0),
                (Tag.REF_MSG_TYPE, kind),
                (Tag.BUSINESS_REJECT_REASON, 0),
                (Tag.TEXT, "not processed: an internal error (see the gateway's log)"),
            ]
            await self._answer(party, MsgType.BUSINESS_MESSAGE_REJECT, body)

    def _duplicate(self, party: str, message: FixMessage) -> bool:
        """A ClOrdID seen before: True when it is a possible resend (dropped silently)."""
        self.stats["duplicate_clordid"] += 1
        self.component.engine.controls.count(ReasonCode.DUPLICATE)
        resent = message.poss_dup or message.get(Tag.POSS_RESEND) == "Y"
        log.info("FIX: %s ClOrdID %s seen before%s", party, message.get(Tag.CL_ORD_ID),
                 " (a resend: dropped)" if resent else "")  # fmt: skip
        return resent

    async def _new_order(self, party: str, message: FixMessage) -> None:
        at = self._at()
        order = order_from(message, party, at)
        if isinstance(order, Refusal):
            self.stats["refused"] += 1
            exec_id = f"rej-{internal_id(party, message.get(Tag.CL_ORD_ID) or '')}-{message.seq}"
            body = rejection_body(message, order, exec_id, at)
            await self._answer(party, MsgType.EXECUTION_REPORT, body)
            return
        cl_ord_id = message.get(Tag.CL_ORD_ID) or ""
        request = FixRequest(
            party, cl_ord_id, RequestKind.NEW, order.client_order_id, None, order.quantity, at
        )
        if order.client_order_id not in self.orders.made:
            self.orders.learn(request)
            repo = self.repo
            assert repo is not None
            if await self.component.store.run(lambda: repo.insert_new(order, request)):
                self.stats["orders"] += 1
                self.component.work(order)
                return
            self.orders.forget(request)
        if not self._duplicate(party, message):
            refusal = Refusal(6, f"ClOrdID {cl_ord_id} was used before")
            exec_id = f"dup-{order.client_order_id}-{message.seq}"
            await self._answer(
                party, MsgType.EXECUTION_REPORT, rejection_body(message, refusal, exec_id, at)
            )

    def _target(self, party: str, message: FixMessage) -> tuple[str, FixRequest] | str:
        """The working order a cancel or replace names (OrigClOrdID), or why not (the
        OrderCancelReject's text; the status looked up in the store)."""
        orig = message.get(Tag.ORIG_CL_ORD_ID) or ""
        target = internal_id(party, orig)
        made = self.orders.made.get(target)
        if made is not None and self.component.engine.knows(target):
            return target, made
        return target

    async def _cancel_reject(
        self, party: str, message: FixMessage, target: str, reason: int, text: str
    ) -> None:
        exec_repo = self.component.repo
        assert exec_repo is not None
        stored = await self.component.store.run(lambda: exec_repo.get_order(target))
        if stored is None:
            status, order_id = "8", "NONE"
            if reason == CXL_TOO_LATE:
                reason, text = CXL_UNKNOWN, f"unknown order {message.get(Tag.ORIG_CL_ORD_ID)}"
        else:
            status, order_id = (
                _FINAL_ORD_STATUS.get(stored.status or ExecStatus.REJECTED, "0"),
                target,
            )
        self.stats["cancel_rejects"] += 1
        body = cancel_reject_body(
            message, order_id=order_id, ord_status=status, reason=reason, text=text
        )
        await self._answer(party, MsgType.ORDER_CANCEL_REJECT, body)

    async def _cancel(self, party: str, message: FixMessage) -> None:
        found = self._target(party, message)
        if isinstance(found, str):
            await self._cancel_reject(
                party, message, found, CXL_TOO_LATE, "the order is not working"
            )
            return
        target, made = found
        request = FixRequest(
            party, message.get(Tag.CL_ORD_ID) or "", RequestKind.CANCEL, target, made.cl_ord_id,
            made.order_qty, self._at(),
        )  # fmt: skip
        repo = self.repo
        assert repo is not None
        if not await self.component.store.run(lambda: repo.insert_request(request)):
            if not self._duplicate(party, message):
                text = f"ClOrdID {request.cl_ord_id} was used before"
                await self._cancel_reject(party, message, target, CXL_DUPLICATE, text)
            return
        self.orders.learn(request)
        reports = self.component.cancel(target, f"cancelled by {party} ({request.cl_ord_id})")
        if not reports:  # it finished while the request was stored
            self.orders.forget(request)
            await self._cancel_reject(
                party, message, target, CXL_TOO_LATE, "the order is not working"
            )
        self.stats["cancels"] += 1

    async def _replace(self, party: str, message: FixMessage) -> None:
        repo = self.repo
        assert repo is not None
        cl_ord_id = message.get(Tag.CL_ORD_ID) or ""
        used = await self.component.store.run(lambda: repo.request(party, cl_ord_id))
        found = self._target(party, message)
        if used is not None:
            if not self._duplicate(party, message):
                text = f"ClOrdID {cl_ord_id} was used before"
                original = internal_id(party, message.get(Tag.ORIG_CL_ORD_ID) or "")
                await self._cancel_reject(party, message, original, CXL_DUPLICATE, text)
            return
        if isinstance(found, str):
            await self._cancel_reject(
                party, message, found, CXL_TOO_LATE, "the order is not working"
            )
            return
        target, made = found
        # from here to the cancel nothing awaits: the filled quantity cannot move under us
        working = self.component.engine.orders[target].order
        if message.get(Tag.SIDE) != ("1" if working.side.sign > 0 else "2") or (
            message.get(Tag.SYMBOL) != working.instrument.symbol
        ):
            await self._cancel_reject(
                party, message, target, CXL_BROKER, "a replace cannot change the side or the symbol"
            )
            return
        filled, notional = self.component.engine.filled(target)
        carried = made.carried_qty + filled
        total = message.get(Tag.ORDER_QTY) or ""
        if not total.isdigit() or int(total) <= carried:
            text = f"OrderQty {total} must be above the {carried} filled"
            await self._cancel_reject(party, message, target, CXL_BROKER, text)
            return
        order = order_from(message, party, self._at(), quantity=int(total) - carried)
        if isinstance(order, Refusal):
            await self._cancel_reject(party, message, target, CXL_BROKER, order.text)
            return
        request = FixRequest(
            party, cl_ord_id, RequestKind.REPLACE, order.client_order_id, made.cl_ord_id,
            int(total), order.ts, carried, made.carried_notional + notional,
        )  # fmt: skip
        self.orders.learn(request)
        self.component.cancel(target, f"replaced by {cl_ord_id}")
        if not await self.component.store.run(lambda: repo.insert_new(order, request)):
            log.error("FIX: replace %s of %s could not be stored", cl_ord_id, party)
            self.orders.forget(request)
            return
        self.stats["replaces"] += 1
        self.component.work(order)

    def _at(self) -> datetime:
        return datetime.fromtimestamp(self.component.now(), UTC)
