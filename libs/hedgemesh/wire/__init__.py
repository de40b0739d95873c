"""Wire contracts: every message on NATS, its subject, and its exported JSON Schema.

No I/O here: the runtime publishes and subscribes, these modules say what travels.

Rules every message keeps (`base.WireModel`):
- frozen; unknown fields, wrong types ("1" for a number), NaN and infinities (the JSON
  literals `NaN`, `Infinity` included), naive timestamps and payloads over the size limit are
  rejected when decoding, with a `pydantic.ValidationError` (or `PayloadTooLarge`);
- an `id` (unique) and a `ts` (UTC) on every message; a class-level `kind` names the type in
  `MESSAGES`, in `decode(kind, data)` and in the schema file `schemas/<kind>.json`;
- units are in the field descriptions (and in the name where they are not obvious:
  `vega_per_vol_point`, `duration_s`); quantities are whole contracts or units of the
  underlying, prices are per unit of the underlying, money is in the book's currency.

Causation and correlation. Commands (`ClientTrade`, `Order`, `ControlCommand`) carry an `id`
and a `ts`; every event says what caused it:
- by a typed field where the cause is always of one kind: `Decision.proposal_id`,
  `Order.decision_ids`, `ExecutionReport.client_order_id`, `ControlReply.command_id`;
- otherwise by `causation_id`, the `id` of the message that directly caused it (the tick that
  fired a proposal's trigger, the trade or fill a position snapshot last applied, the command
  that set a trading state or limit); absent for source events (ticks, surfaces, heartbeats);
- the messages of one hedge cycle share its `cycle_id` (the correlation id): proposals,
  decisions, orders and execution reports.
Sequence numbers (`seq`, `tick_seq`, `as_of_seq`) order a producer's events and expose gaps.

Versioning: subjects carry the version (`hedge.v1.*`). A compatible change (a new optional
field, a new enum value) keeps it, but since decoders reject unknown fields, consumers must be
upgraded before producers send the new field. A breaking change moves to `hedge.v2`. The
JSON Schemas under `schemas/` are checked in, so every contract change shows in review;
`python -m hedgemesh.wire.schema` regenerates them, `--check` compares.
"""

from hedgemesh.wire import subjects
from hedgemesh.wire.base import (
    MAX_PAYLOAD_BYTES,
    Id,
    JsonValue,
    PayloadTooLarge,
    Seq,
    Token,
    UtcDatetime,
    WireModel,
    WireValue,
    new_id,
    utc_now,
)
from hedgemesh.wire.book import ClientTrade, Position, PositionSnapshot, PositionSnapshotRequest
from hedgemesh.wire.clock import CLUSTER_CLOCK_KEY, ClockRecord
from hedgemesh.wire.codes import ReasonCode, TradingState
from hedgemesh.wire.hedging import (
    Decision,
    DecisionOutcome,
    Greeks,
    HedgeLeg,
    HedgeTrigger,
    Proposal,
)
from hedgemesh.wire.instruments import (
    Instrument,
    InstrumentKind,
    OptionRight,
    Side,
)
from hedgemesh.wire.market import Surface, SviSlice, Tick
from hedgemesh.wire.ops import (
    ControlAction,
    ControlCommand,
    ControlReply,
    DeadLetter,
    Heartbeat,
    HedgePolicy,
    PolicyStatus,
    Role,
    ServiceState,
)
from hedgemesh.wire.orders import (
    Algo,
    ExecStatus,
    ExecutionReport,
    Iceberg,
    MarketableLimit,
    Order,
    OrderType,
    TimeInForce,
    Twap,
    client_order_id,
)
from hedgemesh.wire.params import AgentParams
from hedgemesh.wire.registry import MESSAGES, UnknownKind, decode
from hedgemesh.wire.state import FIRM_LIMITS_KEY, FirmLimits, RiskLimits, TradingStatus

__all__ = [
    "CLUSTER_CLOCK_KEY",
    "FIRM_LIMITS_KEY",
    "MAX_PAYLOAD_BYTES",
    "MESSAGES",
    "AgentParams",
    "Algo",
    "ClientTrade",
    "ClockRecord",
    "ControlAction",
    "ControlCommand",
    "ControlReply",
    "DeadLetter",
    "Decision",
    "DecisionOutcome",
    "ExecStatus",
    "ExecutionReport",
    "FirmLimits",
    "Greeks",
    "Heartbeat",
    "HedgeLeg",
    "HedgePolicy",
    "HedgeTrigger",
    "Iceberg",
    "Id",
    "Instrument",
    "InstrumentKind",
    "JsonValue",
    "MarketableLimit",
    "OptionRight",
    "Order",
    "OrderType",
    "PayloadTooLarge",
    "PolicyStatus",
    "Position",
    "PositionSnapshot",
    "PositionSnapshotRequest",
    "Proposal",
    "ReasonCode",
    "RiskLimits",
    "Role",
    "Seq",
    "ServiceState",
    "Side",
    "Surface",
    "SviSlice",
    "Tick",
    "TimeInForce",
    "Token",
    "TradingState",
    "TradingStatus",
    "Twap",
    "UnknownKind",
    "UtcDatetime",
    "WireModel",
    "WireValue",
    "client_order_id",
    "decode",
    "new_id",
    "subjects",
    "utc_now",
]
