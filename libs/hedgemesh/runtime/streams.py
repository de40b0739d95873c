"""Every JetStream stream, KV bucket and durable consumer, declared in one place.

`ensure_streams` creates them or brings an existing one up to date, so every service may call
it at start-up (crash-only: start-up is recovery). `DurableConsumer` reads a stream through a
durable pull consumer and acknowledges a message only after its handler has done its work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue

from hedgemesh.runtime import metrics
from hedgemesh.runtime.bus import Envelope, Handler, M, Outcome
from hedgemesh.runtime.connection import nats_errors
from hedgemesh.runtime.deadletter import BadInput
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.wire import subjects
from hedgemesh.wire.base import MAX_PAYLOAD_BYTES
from hedgemesh.wire.ops import NATS_MAX_PAYLOAD_BYTES, ConsumerProgress

if TYPE_CHECKING:
    from hedgemesh.runtime.bus import Bus

log = logging.getLogger(__name__)

_DAY_S = 86_400.0
_GIB = 1024**3
#: Room for headers (`Nats-Msg-Id`, tracing) on top of the payload limit.
_HEADER_ALLOWANCE = 4096
_STREAM_CONFIG_CONFLICT = 10058  # "stream name already in use with a different configuration"


@dataclass(frozen=True)
class StreamSpec:
    """One stream: file storage, limits retention, old messages discarded first."""

    name: str
    subjects: tuple[str, ...]
    description: str
    max_age_s: float
    duplicate_window_s: float = 120.0
    max_bytes: int = _GIB
    max_msg_size: int = MAX_PAYLOAD_BYTES + _HEADER_ALLOWANCE

    def config(self, replicas: int = 1) -> api.StreamConfig:
        return api.StreamConfig(
            name=self.name,
            description=self.description,
            subjects=list(self.subjects),
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            discard=api.DiscardPolicy.OLD,
            max_age=self.max_age_s,
            max_bytes=self.max_bytes,
            max_msg_size=self.max_msg_size,
            duplicate_window=self.duplicate_window_s,
            num_replicas=replicas,
        )


@dataclass(frozen=True)
class BucketSpec:
    """One KV bucket (a stream underneath), `history` revisions kept per key."""

    name: str
    description: str
    history: int = 16
    max_value_size: int = 64 * 1024
    direct: bool = False
    """Direct gets (`$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`): a read names its key
    in the subject, so a permission can grant one key alone."""


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        name=subjects.STREAM_TRADES,
        subjects=(subjects.BOOK_TRADE,),
        description="Client trades into the book; the ledger's input, replayable.",
        max_age_s=30 * _DAY_S,
    ),
    StreamSpec(
        name=subjects.STREAM_ORDERS,
        subjects=(subjects.ALL_ORDERS,),
        description="Approved orders; Nats-Msg-Id is the client order id.",
        max_age_s=7 * _DAY_S,
    ),
    StreamSpec(
        name=subjects.STREAM_EXEC,
        subjects=(subjects.ALL_EXEC_REPORTS,),
        description="Execution reports: acks, fills, cancels, rejects.",
        max_age_s=30 * _DAY_S,
    ),
    StreamSpec(
        name=subjects.STREAM_DEADLETTER,
        subjects=(subjects.ALL_DEADLETTERS,),
        description="Rejected input with the reason; nothing rejected is lost.",
        max_age_s=30 * _DAY_S,
        max_bytes=_GIB // 4,
        max_msg_size=NATS_MAX_PAYLOAD_BYTES,
    ),
)

BUCKETS: tuple[BucketSpec, ...] = (
    BucketSpec(subjects.KV_LEASES, "Leadership leases with fencing epochs.", history=8),
    BucketSpec(subjects.KV_LIMITS, "Live risk limits per underlying."),
    BucketSpec(subjects.KV_TRADING_STATE, "ACTIVE / REDUCING / HALTED, desk-wide or per name."),
    BucketSpec(subjects.KV_AGENT_PARAMS, "Live agent parameters per agent.", direct=True),
    BucketSpec(
        subjects.KV_CLOCK, "The cluster's simulated clock (start, anchor, speed).", history=8
    ),
)


async def ensure_streams(js: JetStreamContext, *, replicas: int = 1) -> dict[str, KeyValue]:
    """Create every stream and bucket, or update one that exists; returns the buckets by name.

    Idempotent and safe to run from several services at once.
    """
    for spec in STREAMS:
        await _ensure_stream(js, spec.config(replicas))
    return {spec.name: await _ensure_bucket(js, spec, replicas) for spec in BUCKETS}


async def _ensure_stream(js: JetStreamContext, config: api.StreamConfig) -> None:
    name = config.name
    if name is None:  # nats-py types it Optional; JetStream needs one
        raise ValueError("a stream config needs a name")
    with nats_errors(f"ensure stream {name}"):
        try:
            held = (await js.stream_info(name)).config
            if _same(held, config, _STREAM_FIELDS):
                return  # nothing to change: a service without rights to update needs only info
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(config)
                return
            except nats.js.errors.BadRequestError as error:
                if error.err_code != _STREAM_CONFIG_CONFLICT:
                    raise  # otherwise another service created it in between: update below
        await js.update_stream(config)


#: What `ensure_streams` declares of a stream; a stream that has all of it is left alone.
_STREAM_FIELDS = (
    "description", "subjects", "retention", "storage", "discard", "max_age", "max_bytes",
    "max_msg_size", "duplicate_window", "num_replicas",
)  # fmt: skip


def _same(held: api.StreamConfig, wanted: api.StreamConfig, fields: tuple[str, ...]) -> bool:
    return all(getattr(held, name) == getattr(wanted, name) for name in fields)


def _bucket_is_current(config: api.StreamConfig, spec: BucketSpec, replicas: int) -> bool:
    return (
        config.description == spec.description
        and config.max_msgs_per_subject == spec.history
        and config.max_msg_size == spec.max_value_size
        and config.num_replicas == replicas
        and bool(config.allow_direct) == spec.direct
        and not config.allow_rollup_hdrs
    )


async def _ensure_bucket(js: JetStreamContext, spec: BucketSpec, replicas: int) -> KeyValue:
    with nats_errors(f"ensure bucket {spec.name}"):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            if _bucket_is_current((await js.stream_info(f"KV_{spec.name}")).config, spec, replicas):
                return await js.key_value(spec.name)  # only info: no right to create needed
        try:
            await js.create_key_value(
                bucket=spec.name,
                description=spec.description,
                history=spec.history,
                max_value_size=spec.max_value_size,
                storage=api.StorageType.FILE,
                replicas=replicas,
                direct=spec.direct,
            )
        except nats.js.errors.BadRequestError as error:
            if error.err_code != _STREAM_CONFIG_CONFLICT:
                raise
        # Created (nats-py allows rollups) or there with other settings: bring the ones
        # declared here up to date.
        info = await js.stream_info(f"KV_{spec.name}")
        config = info.config
        config.description = spec.description
        config.max_msgs_per_subject = spec.history
        config.max_msg_size = spec.max_value_size
        config.allow_direct = spec.direct
        # A `Nats-Rollup` publish would erase every other key of the bucket: refused.
        config.allow_rollup_hdrs = False
        await js.update_stream(config)
        return await js.key_value(spec.name)


async def newest_first(js: JetStreamContext, stream: str, limit: int) -> AsyncIterator[bytes]:
    """The payloads of `stream`'s newest `limit` messages, newest first (a deleted one is
    skipped): reading a stream back, e.g. to reconcile a store with it. Needs the right to
    `$JS.API.STREAM.MSG.GET.<stream>`."""
    with nats_errors(f"read {stream} back"):
        state = (await js.stream_info(stream)).state
        floor = max(state.first_seq, state.last_seq - limit + 1, 1)
        for seq in range(state.last_seq, floor - 1, -1):
            try:
                yield (await js.get_msg(stream, seq)).data or b""
            except nats.js.errors.NotFoundError:
                continue


PENDING = metrics.gauge(
    "consumer_pending_messages",
    "Messages a durable consumer has yet to receive, as of its latest delivery.",
    ["stream", "consumer"],
)


class DurableConsumer(Generic[M]):
    """A durable pull consumer feeding one typed handler, one message at a time, in stream
    order except for retries (a failed message is retried after later ones, not ahead of them).

    - handled: acknowledged after the handler returned;
    - bad input (undecodable, `Rejected`): dead-lettered, then terminated (never redelivered);
    - handler error: negatively acknowledged and redelivered after `retry_delay_s`, up to
      `max_deliver` attempts; the last failure is dead-lettered (`HANDLER_FAILED`) and terminated.

    A message whose dead letter could not be stored is left unacknowledged, so JetStream
    redelivers it after `ack_wait_s`. The dead letter's id is `<stream>-<seq>`, so a repeat is
    dropped by the dead-letter stream's duplicate window.
    """

    def __init__(
        self,
        bus: Bus,
        *,
        stream: str,
        durable: str,
        model: type[M],
        handler: Handler[M],
        subject: str | None = None,
        max_deliver: int = 5,
        ack_wait_s: float = 30.0,
        retry_delay_s: float = 1.0,
        fetch_timeout_s: float = 0.5,
    ) -> None:
        if max_deliver < 1:
            raise ValueError(f"max_deliver must be at least 1, got {max_deliver}")
        self.bus = bus
        self.stream = stream
        self.durable = subjects.token(durable)
        self.model = model
        self.handler = handler
        self.subject = subject
        self.max_deliver = max_deliver
        self.ack_wait_s = ack_wait_s
        self.retry_delay_s = retry_delay_s
        self.fetch_timeout_s = fetch_timeout_s
        self._sub: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def consumer_config(self) -> api.ConsumerConfig:
        return api.ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            filter_subject=self.subject,
            max_ack_pending=1000,
        )

    async def start(self) -> None:
        """Create (or update) the durable consumer and start pulling."""
        js = self.bus.js
        with nats_errors(f"create consumer {self.stream}/{self.durable}"):
            await js.add_consumer(self.stream, self.consumer_config())
            sub = await js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
        self._sub = sub
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(sub), name=f"consumer-{self.durable}")
        self.bus.on_stop_intake(self.stop)

    async def stop(self, timeout_s: float = 3.0) -> None:
        """Stop pulling; the message in hand is finished first (within `timeout_s`)."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except TimeoutError:
                await cancel_and_wait(self._task)
            self._task = None
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        while not self._stopping.is_set():
            try:
                messages = await sub.fetch(1, timeout=self.fetch_timeout_s)
            except nats.errors.TimeoutError:
                continue
            except Exception as error:  # link down, consumer gone: retry after a pause
                log.warning("%s/%s: fetch failed: %r", self.stream, self.durable, error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.fetch_timeout_s)
                continue
            for msg in messages:
                await self._process(msg)

    async def _process(self, msg: Msg) -> None:
        meta = msg.metadata
        PENDING.labels(stream=self.stream, consumer=self.durable).set(meta.num_pending)
        self.bus.stats.consumers[self.durable] = ConsumerProgress(
            stream=self.stream, seq=meta.sequence.stream, pending=meta.num_pending
        )
        envelope = Envelope(
            subject=msg.subject,
            headers=msg.headers or {},
            size=len(msg.data),
            delivered=meta.num_delivered,
            stream_seq=meta.sequence.stream,
        )
        dead_letter_id = f"{self.stream}-{meta.sequence.stream}"
        try:
            outcome = await self.bus.deliver(
                self.model, self.handler, msg.data, envelope, dead_letter_id=dead_letter_id
            )
            if outcome is Outcome.HANDLED:
                await msg.ack()
            elif outcome is Outcome.DEAD_LETTERED:
                await msg.term()
            elif meta.num_delivered >= self.max_deliver:
                await self.bus.dead_letter(
                    msg.subject,
                    msg.data,
                    msg.headers,
                    BadInput.HANDLER_FAILED.value,
                    f"handler failed on all {self.max_deliver} deliveries",
                    id=dead_letter_id,
                )
                await msg.term()
            else:
                await msg.nak(delay=self.retry_delay_s)
        except Exception:
            log.exception(
                "%s/%s: message %s left unacknowledged; redelivered after %s s",
                self.stream, self.durable, meta.sequence.stream, self.ack_wait_s,
            )  # fmt: skip
