"""The store's tables, as SQLAlchemy 2 declarative models.

The migrations under `migrations/versions` create exactly these tables (a test compares them
with Alembic's autogenerate); never `create_all` them in a service.

Execution (`exec_*`):
- `exec_orders`: one row per client order id (the idempotency key: an order is never worked
  twice), the order's fields for queries, its working state (status, cum/leaves, average
  price, fees, last report seq, the algorithm's progress) and the raw wire `Order` JSON;
- `exec_reports`: every `ExecutionReport`, unique by `exec_id` and by (order, seq), with the
  raw JSON and `published_at`: an outbox, so a report stored but not yet on JetStream when the
  process died is published after the restart;
- `exec_switches`: execution's switches that survive a restart (the kill switch: engaged or
  not, why, by whom, when).

Ledger (`ledger_*`):
- `ledger_events`: every booked client trade and fill, unique by `event_id` (the trade id or
  the fill's exec id: the ledger's idempotency key), numbered per underlying (`seq`);
- `ledger_positions`: per instrument, signed quantity, average cost, realised P&L and fees;
- `ledger_accounts`: per underlying, cash, realised P&L, fees and the last `seq` booked.

Manager (`mgr_*`):
- `mgr_cycles`: one row per decided hedge cycle (the idempotency key of a decision: a cycle
  is decided and stored once, whichever leader does it), with the book's greeks before and
  after, the solver's outcome and the expected cost;
- `mgr_decisions`: one row per proposal (unique), its verdict, the premium charged to the
  agent's budget and the risk it removed, the raw `Decision` and `Proposal`, and
  `published_at` (an outbox, as `exec_reports`);
- `mgr_orders`: the orders a cycle routed, their expected cost per unit (what a fill costs the
  day's cost budget), the raw `Order`, `published_at` (outbox);
- `mgr_budget_periods`: each agent's budget per period: allocated, spent, risk removed, and
  the allocation chosen for the next period with the reason.

FIX gateway (`fix_*`, in execution):
- `fix_sessions`: per counterparty (SenderCompID), the next sequence number expected from it
  and the next we send, so that a restart resumes the session;
- `fix_messages`: every application message sent (type, body, first SendingTime), unique by
  (counterparty, seq), to answer a ResendRequest; and the execution report it came from
  (unique `exec_id`), so that each report goes out once, a restart sending what was stored but
  not yet sent (`seq` NULL: a report that maps to no message);
- `fix_requests`: every ClOrdID a counterparty used (unique per counterparty: a repeat is
  refused after a restart too), the kind (new, replace, cancel), execution's order it made or
  targets, and what a replace carries over from the order it replaced.

API (`api_*`):
- `api_audit`: every mutating REST call (a limit change, a control command): who (the token's
  name and role), what (method, path, body), the state before and after, when, and the status
  it was answered with (refusals too).

Money is a double (currency units), quantities 64-bit integers, times UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Deterministic constraint names, the same on every backend (and in the migrations).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = 128  # longest wire `Id`
SYMBOL = 96  # longest instrument symbol
UNDERLYING = 32
ENUM = 24  # statuses, sides, order types, reason codes (stored as their wire strings)
AUDIT_PATH = 512  # longest request path kept in the audit


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive timestamp {value!r}: store UTC-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: A surrogate key: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
SurrogateKey = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        datetime: UtcDateTime(),
        int: BigInteger(),
        float: Double(),
        dict[str, Any]: JSON(none_as_null=True),  # Python None is SQL NULL, not JSON null
    }


# -- execution ----------------------------------------------------------------------------------


class OrderRow(Base):
    """An order execution has received (or is working), keyed by its client order id."""

    __tablename__ = "exec_orders"

    client_order_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(ID), comment="The wire Order's id.")
    instrument: Mapped[str] = mapped_column(String(SYMBOL), comment="Canonical symbol.")
    underlying: Mapped[str] = mapped_column(String(UNDERLYING))
    side: Mapped[str] = mapped_column(String(ENUM))
    quantity: Mapped[int]
    order_type: Mapped[str] = mapped_column(String(ENUM))
    limit_price: Mapped[float | None]
    time_in_force: Mapped[str] = mapped_column(String(ENUM))
    algo: Mapped[dict[str, Any]] = mapped_column(comment="The wire algo: name and parameters.")
    epoch: Mapped[int] = mapped_column(comment="The manager leader's fencing token.")
    cycle_id: Mapped[str] = mapped_column(String(ID))
    status: Mapped[str | None] = mapped_column(
        String(ENUM), comment="Last reported ExecStatus; NULL until the first report."
    )
    final: Mapped[bool] = mapped_column(comment="No further report follows.")
    cum_quantity: Mapped[int]
    leaves_quantity: Mapped[int]
    avg_price: Mapped[float | None]
    fees: Mapped[float] = mapped_column(comment="Fees of all fills (currency).")
    last_seq: Mapped[int] = mapped_column(comment="Seq of the last report; 0 before the first.")
    reason_code: Mapped[str | None] = mapped_column(String(ENUM))
    algo_state: Mapped[dict[str, Any] | None] = mapped_column(
        comment="The algorithm's progress (slices sent, display refills), for a restart."
    )
    created_at: Mapped[datetime] = mapped_column(comment="The order's ts.")
    updated_at: Mapped[datetime] = mapped_column(comment="The last report's ts.")
    received_at: Mapped[datetime] = mapped_column(comment="When execution stored it.")
    raw: Mapped[str] = mapped_column(Text, comment="The wire Order JSON, as received.")

    __table_args__ = (
        Index(None, "final", "created_at"),
        Index(None, "underlying"),
        Index(None, "cycle_id"),
    )


class ReportRow(Base):
    """One execution report; `published_at` is NULL until it is on JetStream (outbox)."""

    __tablename__ = "exec_reports"

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    exec_id: Mapped[str] = mapped_column(String(ID), unique=True)
    message_id: Mapped[str] = mapped_column(String(ID), comment="The wire report's id.")
    client_order_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("exec_orders.client_order_id", ondelete="RESTRICT")
    )
    seq: Mapped[int] = mapped_column(Integer, comment="n-th report on its order, from 1.")
    status: Mapped[str] = mapped_column(String(ENUM))
    is_fill: Mapped[bool]
    last_quantity: Mapped[int | None]
    last_price: Mapped[float | None]
    cum_quantity: Mapped[int]
    leaves_quantity: Mapped[int]
    avg_price: Mapped[float | None]
    fees: Mapped[float]
    reason_code: Mapped[str | None] = mapped_column(String(ENUM))
    ts: Mapped[datetime]
    published_at: Mapped[datetime | None]
    raw: Mapped[str] = mapped_column(Text, comment="The wire ExecutionReport JSON.")

    __table_args__ = (
        UniqueConstraint("client_order_id", "seq"),
        Index(None, "published_at"),
    )


class SwitchRow(Base):
    """A control switch of execution that must survive a restart (the kill switch)."""

    __tablename__ = "exec_switches"

    name: Mapped[str] = mapped_column(String(ENUM), primary_key=True)
    engaged: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text, comment="Why, for a person.")
    changed_by: Mapped[str] = mapped_column(String(ID), comment="Who engaged or released it.")
    changed_at: Mapped[datetime]


# -- FIX gateway --------------------------------------------------------------------------------


class FixSessionRow(Base):
    """A FIX counterparty's session numbers."""

    __tablename__ = "fix_sessions"

    counterparty: Mapped[str] = mapped_column(String(ID), primary_key=True)
    next_in: Mapped[int] = mapped_column(comment="The next MsgSeqNum expected from it.")
    next_out: Mapped[int] = mapped_column(comment="The next MsgSeqNum we send it.")
    updated_at: Mapped[datetime]


class FixMessageRow(Base):
    """An application message sent to a counterparty (kept for resend), or an execution report
    that maps to none (`seq` NULL)."""

    __tablename__ = "fix_messages"

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    counterparty: Mapped[str] = mapped_column(String(ID))
    seq: Mapped[int | None] = mapped_column(comment="MsgSeqNum; NULL: no message was sent.")
    msg_type: Mapped[str] = mapped_column(String(ENUM))
    body: Mapped[str] = mapped_column(Text, comment="The body fields, JSON [[tag, value], ...].")
    sent_at: Mapped[str] = mapped_column(String(ENUM), comment="The first SendingTime (52).")
    exec_id: Mapped[str | None] = mapped_column(
        String(ID), unique=True, comment="The execution report it came from."
    )

    __table_args__ = (UniqueConstraint("counterparty", "seq"),)


class FixRequestRow(Base):
    """A ClOrdID a counterparty used, and the order it made or targets."""

    __tablename__ = "fix_requests"

    counterparty: Mapped[str] = mapped_column(String(ID), primary_key=True)
    cl_ord_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    kind: Mapped[str] = mapped_column(String(ENUM))
    client_order_id: Mapped[str] = mapped_column(String(ID), comment="Execution's order.")
    orig_cl_ord_id: Mapped[str | None] = mapped_column(String(ID))
    order_qty: Mapped[int]
    carried_qty: Mapped[int] = mapped_column(comment="Filled under the ClOrdIDs it replaced.")
    carried_notional: Mapped[float] = mapped_column(comment="Σ price × quantity of those.")
    received_at: Mapped[datetime]

    __table_args__ = (Index(None, "client_order_id"),)


# -- ledger -------------------------------------------------------------------------------------


class LedgerEventRow(Base):
    """A booked client trade or fill; `event_id` (trade id or exec id) is booked at most once."""

    __tablename__ = "ledger_events"

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(ID), unique=True, comment="Trade or exec id.")
    kind: Mapped[str] = mapped_column(String(ENUM), comment="trade or fill.")
    message_id: Mapped[str] = mapped_column(String(ID), comment="The wire message's id.")
    underlying: Mapped[str] = mapped_column(String(UNDERLYING))
    seq: Mapped[int] = mapped_column(comment="Ledger sequence of the underlying, from 1.")
    instrument: Mapped[str] = mapped_column(String(SYMBOL))
    signed_quantity: Mapped[int] = mapped_column(comment="+ bought, − sold.")
    price: Mapped[float] = mapped_column(comment="Per unit of the underlying (currency).")
    fees: Mapped[float]
    cash: Mapped[float] = mapped_column(comment="Cash this event moved, fees included.")
    realised_pnl: Mapped[float] = mapped_column(comment="P&L it realised, net of its fees.")
    ts: Mapped[datetime] = mapped_column(comment="The trade's or report's ts.")
    booked_at: Mapped[datetime]
    raw: Mapped[str] = mapped_column(Text, comment="The wire ClientTrade or ExecutionReport.")

    __table_args__ = (UniqueConstraint("underlying", "seq"),)


class LedgerPositionRow(Base):
    """The book's holding of one instrument (kept when flat: its realised P&L stays)."""

    __tablename__ = "ledger_positions"

    instrument: Mapped[str] = mapped_column(String(SYMBOL), primary_key=True)
    underlying: Mapped[str] = mapped_column(String(UNDERLYING))
    spec: Mapped[dict[str, Any]] = mapped_column(comment="The wire Instrument (multiplier too).")
    quantity: Mapped[int] = mapped_column(comment="Signed: negative is short.")
    average_price: Mapped[float | None] = mapped_column(comment="Average cost; NULL when flat.")
    realised_pnl: Mapped[float] = mapped_column(comment="Closed P&L net of fees (currency).")
    fees: Mapped[float]
    updated_seq: Mapped[int] = mapped_column(comment="Ledger seq of the last change.")
    updated_at: Mapped[datetime]

    __table_args__ = (Index(None, "underlying"),)


class LedgerAccountRow(Base):
    """Cash and P&L of the book in one underlying, and how far its events are booked."""

    __tablename__ = "ledger_accounts"

    underlying: Mapped[str] = mapped_column(String(UNDERLYING), primary_key=True)
    cash: Mapped[float] = mapped_column(comment="From trades, fills and fees (currency).")
    realised_pnl: Mapped[float] = mapped_column(comment="Closed P&L net of fees (currency).")
    fees: Mapped[float]
    seq: Mapped[int] = mapped_column(comment="Events booked in this underlying.")
    last_message_id: Mapped[str | None] = mapped_column(String(ID))
    updated_at: Mapped[datetime]


# -- manager ------------------------------------------------------------------------------------


class CycleRow(Base):
    """A decided hedge cycle of one underlying; stored once (a replayed cycle is not)."""

    __tablename__ = "mgr_cycles"

    cycle_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    underlying: Mapped[str] = mapped_column(String(UNDERLYING))
    epoch: Mapped[int] = mapped_column(comment="The deciding manager leader's fencing token.")
    trigger: Mapped[str] = mapped_column(String(ENUM), comment="proposals or delta_band.")
    trading_state: Mapped[str] = mapped_column(String(ENUM))
    proposals: Mapped[int] = mapped_column(Integer, comment="Proposals decided in the cycle.")
    orders: Mapped[int] = mapped_column(Integer, comment="Orders routed.")
    expected_cost: Mapped[float] = mapped_column(comment="Spread and fees of the orders.")
    gross_notional: Mapped[float] = mapped_column(comment="Σ |qty| × price × multiplier.")
    greeks_before: Mapped[dict[str, Any]] = mapped_column(comment="The book's, in the cycle.")
    greeks_after: Mapped[dict[str, Any]] = mapped_column(comment="Expected after the orders.")
    solver: Mapped[dict[str, Any]] = mapped_column(comment="Method, status, objective.")
    decided_at: Mapped[datetime]

    __table_args__ = (Index(None, "underlying", "decided_at"), Index(None, "decided_at"))


class DecisionRow(Base):
    """The manager's decision on one proposal (one per proposal id)."""

    __tablename__ = "mgr_decisions"

    decision_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(String(ID), unique=True)
    cycle_id: Mapped[str] = mapped_column(String(ID))
    agent: Mapped[str] = mapped_column(String(ID))
    underlying: Mapped[str] = mapped_column(String(UNDERLYING))
    outcome: Mapped[str] = mapped_column(String(ENUM))
    reason_code: Mapped[str | None] = mapped_column(String(ENUM))
    scale_factor: Mapped[float]
    premium: Mapped[float] = mapped_column(comment="Charged to the agent's budget (currency).")
    risk_removed: Mapped[float] = mapped_column(comment="Σ of |greek| cut, in limits.")
    epoch: Mapped[int]
    ts: Mapped[datetime] = mapped_column(comment="The decision's ts.")
    published_at: Mapped[datetime | None]
    raw: Mapped[str] = mapped_column(Text, comment="The wire Decision JSON.")
    proposal: Mapped[str] = mapped_column(Text, comment="The wire Proposal JSON.")

    __table_args__ = (
        Index(None, "agent", "ts"),
        Index(None, "underlying", "ts"),
        Index(None, "cycle_id"),
        Index(None, "ts"),
        Index(None, "published_at"),
    )


class ManagerOrderRow(Base):
    """An order the manager routed (the same client order id whichever leader routes it)."""

    __tablename__ = "mgr_orders"

    client_order_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    cycle_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("mgr_cycles.cycle_id", ondelete="RESTRICT")
    )
    underlying: Mapped[str] = mapped_column(String(UNDERLYING))
    instrument: Mapped[str] = mapped_column(String(SYMBOL))
    side: Mapped[str] = mapped_column(String(ENUM))
    quantity: Mapped[int]
    limit_price: Mapped[float | None]
    unit_cost: Mapped[float] = mapped_column(comment="Expected spread and fees per unit.")
    epoch: Mapped[int]
    ts: Mapped[datetime]
    published_at: Mapped[datetime | None]
    raw: Mapped[str] = mapped_column(Text, comment="The wire Order JSON.")

    __table_args__ = (
        Index(None, "cycle_id"),
        Index(None, "published_at"),
        Index(None, "underlying", "ts"),
    )


class BudgetPeriodRow(Base):
    """One agent's budget over one period, and the allocation chosen for the next."""

    __tablename__ = "mgr_budget_periods"

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(String(ID))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    allocated: Mapped[float] = mapped_column(comment="Premium it could spend (currency).")
    spent: Mapped[float] = mapped_column(comment="Premium approved (currency).")
    risk_removed: Mapped[float] = mapped_column(comment="Σ of |greek| cut, in limits.")
    efficiency: Mapped[float | None] = mapped_column(comment="Risk removed per 1e6 of premium.")
    floor: Mapped[float] = mapped_column(comment="The least it can be given (currency).")
    next_allocation: Mapped[float] = mapped_column(comment="For the following period.")
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("agent", "period_start"), Index(None, "period_end"))


# -- api ----------------------------------------------------------------------------------------


class AuditRow(Base):
    """One mutating REST call, or control command over NATS, and its outcome (appended, never
    changed: triggers refuse UPDATE and DELETE; each row's `hash` chains it to the one before)."""

    __tablename__ = "api_audit"

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(comment="When the call was answered.")
    actor: Mapped[str] = mapped_column(String(ID), comment="The token's name.")
    role: Mapped[str] = mapped_column(String(ENUM))
    method: Mapped[str] = mapped_column(String(ENUM))
    path: Mapped[str] = mapped_column(String(AUDIT_PATH))
    body: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), comment="The request's.")
    before: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    after: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    status: Mapped[int] = mapped_column(Integer, comment="The HTTP status answered.")
    origin: Mapped[str] = mapped_column(
        String(ID), server_default="api", comment="The NATS user that sent it (REST: api)."
    )
    prev_hash: Mapped[str] = mapped_column(String(64), server_default="")
    hash: Mapped[str] = mapped_column(String(64), server_default="", comment="SHA-256 chain.")

    __table_args__ = (Index(None, "at"), Index(None, "actor", "at"))


class AuditHeadRow(Base):
    """The audit chain's head: how many rows and the last one's hash (one row, id 1). Appending
    updates it first, which serialises appenders; `verify` checks the rows end where it says."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, comment="Rows appended so far.")
    hash: Mapped[str] = mapped_column(String(64), comment="The last row's hash.")
