"""Typed publish/subscribe over NATS, with bad input dead-lettered at the edge.

A handler receives a decoded, validated `WireModel` and an `Envelope` (subject, headers, ...).
Input that fails to decode, is too large, or that the handler refuses (`Rejected`, or a pydantic
`ValidationError`) goes to `hedge.v1.deadletter.<service>` as a `DeadLetter`, is counted and
logged, and the subscription carries on. Any other handler error is logged and counted: event
handlers log and continue. Command handlers (`serve_control`) always answer, `ok=false` with a
machine-readable reason when they cannot act.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Protocol, TypeVar

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from pydantic import ValidationError

from hedgemesh.runtime import metrics
from hedgemesh.runtime.clock import Clock, LiveClock
from hedgemesh.runtime.connection import drain, nats_errors
from hedgemesh.runtime.deadletter import classify, make_dead_letter
from hedgemesh.runtime.edge import EdgeSettings, SequenceGuard, check_future, check_known
from hedgemesh.runtime.errors import NoResponders, Rejected
from hedgemesh.runtime.latest import Conflator
from hedgemesh.wire import subjects
from hedgemesh.wire.base import PayloadTooLarge, WireModel
from hedgemesh.wire.ops import (
    OPERATOR_ORIGIN,
    ConsumerProgress,
    ControlAction,
    ControlCommand,
    ControlReply,
    DeadLetter,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=WireModel)
R = TypeVar("R", bound=WireModel)

MSG_ID_HEADER = "Nats-Msg-Id"
_DETAIL_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Envelope:
    """Where and how a message arrived."""

    subject: str
    headers: Mapping[str, str]
    size: int
    reply: str | None = None
    delivered: int = 1
    """Delivery attempt (JetStream redeliveries count up from 1; always 1 on core NATS)."""
    stream_seq: int | None = None
    """Sequence in its JetStream stream, for messages from a durable consumer."""
    origin: str | None = None
    """The sender's NATS user, for a control command (the last token of its subject)."""


Handler = Callable[[M, Envelope], Awaitable[None]]
ControlHandler = Callable[[ControlCommand, Envelope], Awaitable[ControlReply]]


class ControlAudit(Protocol):
    """Where a service records the control commands it serves (`hedgemesh.store.audit.
    ControlTrail`): `ready` raises when an entry cannot be written now."""

    async def ready(self) -> None: ...

    async def record(
        self, command: ControlCommand, origin: str, subject: str, reply: ControlReply
    ) -> None: ...


class Outcome(Enum):
    HANDLED = "handled"
    DEAD_LETTERED = "dead_lettered"
    FAILED = "failed"


DEAD_LETTERS = metrics.counter(
    "dead_letters_total", "Messages refused and dead-lettered, by error.", ["error"]
)
HANDLED = metrics.counter("messages_total", "Messages handled, by message kind.", ["kind"])
HANDLER_ERRORS = metrics.counter(
    "handler_errors_total", "Handlers that raised (logged, not dead-lettered).", ["kind"]
)
HANDLER_SECONDS = metrics.histogram(
    "handler_seconds", "Time to decode and handle one message, by kind.", ["kind"]
)


@dataclass(frozen=True)
class Rejection:
    """What `Bus.decode` returns for input it refused: the dead letter it published."""

    letter: DeadLetter


@dataclass
class BusStats:
    """Counters per subject, for health and metrics."""

    received: Counter[str] = field(default_factory=Counter)
    handled: Counter[str] = field(default_factory=Counter)
    handler_errors: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Rejections keyed by (subject, error class)."""
    consumers: dict[str, ConsumerProgress] = field(default_factory=dict)
    """Durable consumers by name: the last stream sequence handled and what was left behind."""

    def dead_letters_by_subject(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for (subject, _), count in self.dead_letters.items():
            totals[subject] += count
        return dict(totals)


@dataclass(frozen=True, slots=True)
class PublishAck:
    """JetStream's acknowledgement: where the message is stored, or that it was a duplicate."""

    stream: str
    seq: int
    duplicate: bool


def encode(message: WireModel) -> bytes:
    """The message as JSON, refusing what its consumers would not accept (over its type's
    `max_payload_bytes`)."""
    data = message.to_json()
    limit = type(message).max_payload_bytes
    if len(data) > limit:
        raise PayloadTooLarge(len(data), limit)
    return data


class Bus:
    """One service's typed view of a NATS connection."""

    def __init__(
        self,
        nc: Client,
        service: str,
        *,
        clock: Clock | None = None,
        request_timeout_s: float = 2.0,
        edge: EdgeSettings | None = None,
    ) -> None:
        self.service = subjects.token(service)
        #: The edge checks needing state (future timestamps, sequence order): `runtime.edge`.
        self.edge = edge or EdgeSettings()
        self._known = self.edge.known_underlyings
        self.clock = clock or LiveClock()
        self.request_timeout_s = request_timeout_s
        self.stats = BusStats()
        self._nc = nc
        self._js = nc.jetstream(timeout=request_timeout_s)
        self._subscriptions: list[Subscription] = []
        self._intake_stoppers: list[Callable[[], Awaitable[None]]] = []
        self.latest = Conflator(self.service)
        """The newest message per subject of the conflated subscriptions (`subscribe_latest`)."""

    @property
    def connected(self) -> bool:
        return self._nc.is_connected

    @property
    def nc(self) -> Client:
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        return self._js

    # -- publishing --------------------------------------------------------------------------

    async def publish(
        self,
        subject: str,
        message: WireModel,
        *,
        msg_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Publish on core NATS (fire and forget). `msg_id` sets `Nats-Msg-Id`, which a stream
        capturing the subject uses to drop duplicates."""
        all_headers = {**(headers or {}), **({MSG_ID_HEADER: msg_id} if msg_id else {})}
        with nats_errors(f"publish to {subject}"):
            await self._nc.publish(subject, encode(message), headers=all_headers or None)

    async def js_publish(
        self,
        subject: str,
        message: WireModel,
        *,
        msg_id: str | None = None,
        timeout_s: float | None = None,
    ) -> PublishAck:
        """Publish to JetStream and wait for the stream to store it.

        `msg_id` (default: the message's own id) goes in `Nats-Msg-Id`; a second publish with
        the same id inside the stream's duplicate window is not stored again and comes back
        with `duplicate=True`.
        """
        return await self._js_publish(subject, encode(message), msg_id or message.id, timeout_s)

    async def _js_publish(
        self, subject: str, data: bytes, msg_id: str, timeout_s: float | None
    ) -> PublishAck:
        with nats_errors(f"JetStream publish to {subject}"):
            ack = await self._js.publish(
                subject,
                data,
                timeout=timeout_s or self.request_timeout_s,
                headers={MSG_ID_HEADER: msg_id},
            )
        return PublishAck(stream=ack.stream, seq=ack.seq, duplicate=bool(ack.duplicate))

    # -- dead letters ------------------------------------------------------------------------

    async def dead_letter(
        self,
        subject: str,
        payload: bytes,
        headers: Mapping[str, str] | None,
        error: str,
        reason: str,
        *,
        id: str | None = None,
    ) -> DeadLetter:
        """Count, log and publish a rejected message to `hedge.v1.deadletter.<service>`.

        Stored through JetStream (waiting for the stream's ack) so that a durable consumer may
        acknowledge the original only once its dead letter is safe. Raises `NatsUnavailable`
        when it cannot be stored.
        """
        letter = make_dead_letter(
            service=self.service,
            subject=subject,
            payload=payload,
            headers=headers,
            error=error,
            reason=reason,
            id=id,
            ts=self.clock.now(),
        )
        self.stats.dead_letters[(subject, letter.error)] += 1
        DEAD_LETTERS.labels(error=letter.error).inc()
        log.warning(
            "%s: dead letter %s from %s: %s: %s",
            self.service, letter.id, subject, letter.error, letter.reason[:200],
        )  # fmt: skip
        try:
            await self._js_publish(
                subjects.deadletter(self.service), letter.to_json(), letter.id, None
            )
        except NoResponders:
            log.warning("%s: no dead-letter stream; %s not stored", self.service, letter.id)
        return letter

    # -- subscribing -------------------------------------------------------------------------

    async def decode(
        self,
        model: type[M],
        payload: bytes,
        envelope: Envelope,
        *,
        dead_letter_id: str | None = None,
        sequence: SequenceGuard | None = None,
    ) -> M | Rejection:
        """Decode `payload` as `model`; bad input — and, given `sequence` (one per subscription),
        a tick or surface out of sequence — is dead-lettered and a `Rejection` returned (a
        distinct type, so that a `DeadLetter` decoded as the model is never mistaken for one)."""
        self.stats.received[envelope.subject] += 1
        try:
            message = model.from_json(payload)
            check_known(message, self._known)
            check_future(message, self.clock.now(), self.edge.max_future_s)
            if sequence is not None:
                sequence.admit(message)
            return message
        except (ValidationError, PayloadTooLarge, Rejected) as error:
            verdict = classify(error)
            assert verdict is not None
            letter = await self.dead_letter(
                envelope.subject, payload, envelope.headers, *verdict, id=dead_letter_id
            )
            return Rejection(letter)

    async def deliver(
        self,
        model: type[M],
        handler: Handler[M],
        payload: bytes,
        envelope: Envelope,
        *,
        dead_letter_id: str | None = None,
        sequence: SequenceGuard | None = None,
    ) -> Outcome:
        """Decode, validate and hand one message on; what a subscription does per message.
        `sequence` (one per subscription) refuses ticks and surfaces out of sequence."""
        started = time.perf_counter()
        message = await self.decode(
            model, payload, envelope, dead_letter_id=dead_letter_id, sequence=sequence
        )
        if isinstance(message, Rejection):
            return Outcome.DEAD_LETTERED
        return await self._handle(
            model, handler, message, payload, envelope, started, dead_letter_id=dead_letter_id
        )

    async def _handle(
        self,
        model: type[M],
        handler: Handler[M],
        message: M,
        payload: bytes,
        envelope: Envelope,
        started: float,
        *,
        dead_letter_id: str | None = None,
    ) -> Outcome:
        """Hand a decoded message on (`deliver`'s second half): a refusal is dead-lettered."""
        try:
            await handler(message, envelope)
        except Exception as error:
            verdict = classify(error)
            if verdict is None:
                self.stats.handler_errors[envelope.subject] += 1
                HANDLER_ERRORS.labels(kind=model.kind).inc()
                log.exception("%s: handler failed on %s", self.service, envelope.subject)
                return Outcome.FAILED
            await self.dead_letter(
                envelope.subject, payload, envelope.headers, *verdict, id=dead_letter_id
            )
            return Outcome.DEAD_LETTERED
        self.stats.handled[envelope.subject] += 1
        HANDLED.labels(kind=model.kind).inc()
        HANDLER_SECONDS.labels(kind=model.kind).observe(time.perf_counter() - started)
        return Outcome.HANDLED

    async def subscribe(
        self, subject: str, model: type[M], handler: Handler[M], *, queue: str = ""
    ) -> Subscription:
        """Deliver every message on `subject` (wildcards allowed) to `handler`, in order.

        `queue` shares the subject among the members of a queue group.
        """
        sequenced = self.edge.check_sequence and model.sequence_key is not None
        sequence = SequenceGuard() if sequenced else None

        async def on_message(msg: Msg) -> None:
            try:
                await self.deliver(model, handler, msg.data, _envelope(msg), sequence=sequence)
            except Exception:
                log.exception("%s: could not dead-letter a message on %s", self.service, subject)

        return await self._subscribe(subject, queue, on_message)

    async def subscribe_latest(
        self, subject: str, model: type[M], handler: Handler[M]
    ) -> Subscription:
        """Like `subscribe`, for state (ticks, surfaces): only the newest valid message of each
        subject is handed on; one that a newer replaced before `handler` got to it is skipped
        (`hedgemesh.runtime.latest`). Every message is decoded on arrival: a malformed one is
        dead-lettered whether or not a newer one follows."""
        sequenced = self.edge.check_sequence and model.sequence_key is not None
        sequence = SequenceGuard() if sequenced else None
        latest, kind = self.latest, model.kind

        async def on_message(msg: Msg) -> None:
            # Decoded and sequence-checked on arrival, so that every malformed or out-of-
            # sequence message is dead-lettered, not only the newest: only valid ones are held
            # and may be conflated.
            data, envelope = msg.data, _envelope(msg)
            try:
                message = await self.decode(model, data, envelope, sequence=sequence)
            except Exception:
                log.exception("%s: could not dead-letter a message on %s", self.service, subject)
                return
            if isinstance(message, Rejection):
                return

            def handle() -> Awaitable[Outcome]:
                started = time.perf_counter()
                return self._handle(model, handler, message, data, envelope, started)

            latest.offer(msg.subject, kind, handle)

        return await self._subscribe(subject, "", on_message)

    async def _subscribe(
        self, subject: str, queue: str, on_message: Callable[[Msg], Awaitable[None]]
    ) -> Subscription:
        with nats_errors(f"subscribe to {subject}"):
            subscription = await self._nc.subscribe(subject, queue=queue, cb=on_message)
        self._subscriptions.append(subscription)
        await self.flush()
        return subscription

    async def flush(self, timeout_s: float | None = None) -> None:
        """Return once everything sent so far has reached the server (so a subscription made
        before is live for every publisher). A no-op while disconnected: what is pending goes out
        on reconnect.

        Two PING/PONG round trips: nats-py writes a flush's PING straight to the socket, ahead
        of commands still queued for its flusher task, so one PONG alone proves nothing about a
        SUB queued just before. By the first PONG the flusher has written them; the second PING
        follows them on the wire.
        """
        if not self._nc.is_connected:
            return
        timeout = timeout_s or self.request_timeout_s
        with nats_errors("flush"):
            for _ in range(2):
                # nats-py annotates `timeout` as int; it is seconds for asyncio.wait_for.
                await self._nc.flush(timeout)  # type: ignore[arg-type]

    # -- request / reply ---------------------------------------------------------------------

    async def request(
        self,
        subject: str,
        message: WireModel,
        reply_model: type[R],
        *,
        timeout_s: float | None = None,
    ) -> R:
        """Send a request and decode its reply. Raises `NoResponders` when nobody serves the
        subject, `NatsUnavailable` on timeout, `ValidationError` on a malformed reply."""
        timeout = timeout_s or self.request_timeout_s
        with nats_errors(f"request on {subject}"):
            msg = await self._nc.request(subject, encode(message), timeout=timeout)
        return reply_model.from_json(msg.data)

    async def command(
        self, command: ControlCommand, *, timeout_s: float | None = None
    ) -> ControlReply:
        """Send a control command on `hedge.v1.control.<target>.<action>.<service>` (this bus's
        service is the origin: the server lets a user send only under its own name) and await
        its reply."""
        return await self.request(
            command.subject_for(self.service), command, ControlReply, timeout_s=timeout_s
        )

    async def serve_control(
        self,
        target: str,
        handler: ControlHandler,
        *,
        queue: str = "",
        audit: ControlAudit | None = None,
    ) -> Subscription:
        """Answer control commands for `target` (`hedge.v1.control.<target>.>`).

        The handler's envelope carries the command's `origin`, the sender's user from the
        subject. Undecodable commands are dead-lettered and answered `ok=false` with the error
        class (`INVALID_JSON`, `INVALID_MESSAGE`, `PAYLOAD_TOO_LARGE`); a command for another
        target gets `WRONG_TARGET`, one whose action is not its subject's `WRONG_SUBJECT`; a
        handler raising `Rejected(code)` answers with that code, one raising anything else with
        `INTERNAL_ERROR`.

        With an `audit`, every command that may change something (not `status`) is recorded
        once, accepted or refused, with its origin, unless it came from the api (which audited
        it with the operator it authenticated). The audit fails closed: when `audit.ready()`
        fails the command is refused (`AUDIT_UNAVAILABLE`) before the handler runs.
        """
        target = subjects.token(target)

        async def on_message(msg: Msg) -> None:
            try:
                reply = await self._answer(target, handler, msg.data, _envelope(msg), audit)
                if msg.reply:
                    await self._nc.publish(msg.reply, reply.to_json())
            except Exception:
                log.exception("%s: could not answer a control command", self.service)

        return await self._subscribe(subjects.control_served(target), queue, on_message)

    async def _answer(
        self,
        target: str,
        handler: ControlHandler,
        payload: bytes,
        envelope: Envelope,
        audit: ControlAudit | None = None,
    ) -> ControlReply:
        def refusal(command_id: str, code: str, detail: str) -> ControlReply:
            return ControlReply(
                command_id=command_id,
                target=target,
                ok=False,
                reason=code[:64],
                detail=detail[:_DETAIL_LIMIT],
                ts=self.clock.now(),
            )

        command = await self.decode(ControlCommand, payload, envelope)
        if isinstance(command, Rejection):
            return refusal("unknown", command.letter.error, command.letter.reason)
        if command.target != target:
            return refusal(command.id, "WRONG_TARGET", f"for {command.target}, sent to {target}")
        parts = subjects.control_parts(envelope.subject)
        if parts is None or parts[1] != command.action.value:
            detail = f"{command.action.value} sent on {envelope.subject}"
            return refusal(command.id, "WRONG_SUBJECT", detail)
        envelope = replace(envelope, origin=parts[2])
        audited = (
            audit is not None
            and parts[2] != OPERATOR_ORIGIN
            and command.action is not ControlAction.STATUS
        )
        if audited:
            assert audit is not None
            try:
                await audit.ready()
            except Exception as error:
                log.error(
                    "%s: the audit trail cannot be written; %s from %s refused: %s",
                    self.service, command.action, parts[2], error,
                )  # fmt: skip
                return refusal(command.id, "AUDIT_UNAVAILABLE", f"not audited, not done: {error}")
        try:
            reply = await handler(command, envelope)
            self.stats.handled[envelope.subject] += 1
        except (Rejected, ValidationError) as error:
            verdict = classify(error)
            assert verdict is not None
            reply = refusal(command.id, *verdict)
        except Exception as error:
            self.stats.handler_errors[envelope.subject] += 1
            log.exception("%s: control handler failed on %s", self.service, command.action)
            reply = refusal(command.id, "INTERNAL_ERROR", f"{type(error).__name__}: {error}")
        if audited:
            assert audit is not None
            try:
                await audit.record(command, parts[2], envelope.subject, reply)
            except Exception:
                log.exception(
                    "%s: %s from %s answered ok=%s, but its audit entry was not stored",
                    self.service, command.action, parts[2], reply.ok,
                )  # fmt: skip
        return reply

    # -- shutdown ----------------------------------------------------------------------------

    def on_stop_intake(self, stop: Callable[[], Awaitable[None]]) -> None:
        """Have `stop_intake` call `stop` (latest first): how a durable consumer stops pulling
        and finishes the message in hand."""
        self._intake_stoppers.append(stop)

    async def stop_intake(self, timeout_s: float = 3.0) -> None:
        """Take no more input: durable consumers stop pulling and every subscription made here
        drains (handlers in flight finish, within `timeout_s`). Publishing still works."""
        stoppers, self._intake_stoppers = self._intake_stoppers, []
        for stop in reversed(stoppers):
            try:
                await stop()
            except Exception:
                log.exception("%s: stopping a consumer failed", self.service)
        subscriptions, self._subscriptions = self._subscriptions, []
        if subscriptions:
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(self._drain_one(s) for s in subscriptions)), timeout_s
                )
            except TimeoutError:
                log.warning("%s: handlers still busy after %s s", self.service, timeout_s)
        await self.latest.stop()

    async def _drain_one(self, subscription: Subscription) -> None:
        with contextlib.suppress(nats.errors.Error):
            if self._nc.is_connected:
                await subscription.drain()
            else:
                await subscription.unsubscribe()

    async def close(self, timeout_s: float = 3.0) -> None:
        """Stop the intake, then drain the connection (flushing what was published) and close."""
        await self.stop_intake(timeout_s)
        await drain(self._nc, timeout_s)


def actor_of(command: ControlCommand, envelope: Envelope) -> str:
    """Who asked for `command`, for the trail and the state it changes: the operator the api
    names, else the sending service, both from the authenticated origin (`serve_control` sets
    it); `Rejected` for a command that did not arrive on a control subject."""
    if envelope.origin is None:
        raise Rejected("WRONG_SUBJECT", f"{envelope.subject} is not a control subject")
    return command.actor(envelope.origin)


def _envelope(msg: Msg) -> Envelope:
    return Envelope(
        subject=msg.subject, headers=msg.headers or {}, size=len(msg.data), reply=msg.reply or None
    )
