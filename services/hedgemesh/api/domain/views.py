"""The JSON the API returns and accepts: one pydantic model per response (they make the
OpenAPI document) and per request body. Units are in the field descriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hedgemesh.wire.codes import ReasonCode, TradingState
from hedgemesh.wire.hedging import DecisionOutcome
from hedgemesh.wire.instruments import InstrumentKind, Side
from hedgemesh.wire.ops import PolicyStatus, Role, ServiceState
from hedgemesh.wire.orders import ExecStatus
from hedgemesh.wire.params import ParamValues, whole

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class View(BaseModel):
    """A response body: plain JSON, no unknown fields when read back."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorBody(View):
    """Every 4xx and 5xx: a machine-readable code and a message for a person."""

    error: str = Field(description="Machine-readable, e.g. NOT_FOUND, INVALID_REQUEST.")
    message: str = Field(description="What went wrong and what to do, for a person.")
    detail: Any = Field(default=None, description="Structured detail (validation errors).")


# -- positions ---------------------------------------------------------------------------------


class PositionView(View):
    instrument: str = Field(description="Canonical symbol, e.g. SPX-20261218-C-5000.")
    kind: InstrumentKind
    quantity: int = Field(description="Contracts or units; negative is short.")
    multiplier: float = Field(description="Units of the underlying per contract.")
    average_price: float | None = Field(description="Average opening price per unit.")
    mark_price: float | None = Field(description="The ledger's mark per unit.")
    realised_pnl: float = Field(description="Currency.")
    unrealised_pnl: float = Field(description="Currency, at the mark.")


class UnderlyingPositions(View):
    underlying: str
    as_of_seq: int = Field(description="Ledger events booked in this underlying.")
    as_of: datetime = Field(description="When the ledger made the snapshot.")
    cash: float = Field(description="Currency.")
    realised_pnl: float = Field(description="Net of fees (currency).")
    unrealised_pnl: float = Field(description="Currency.")
    fees: float = Field(description="Currency.")
    total_pnl: float = Field(description="Realised + unrealised (currency).")
    positions: list[PositionView]


class PositionsResponse(View):
    """The ledger's latest snapshot of each underlying."""

    underlyings: list[UnderlyingPositions]
    count: int = Field(description="Positions listed, all underlyings together.")


# -- risk --------------------------------------------------------------------------------------


class LimitCheck(View):
    """One figure against its limit."""

    name: str = Field(description="The limit, as in KV `limits` (e.g. max_abs_delta).")
    value: float = Field(description="The figure (signed), in the limit's unit.")
    limit: float | None = Field(description="None when no limit is set.")
    utilisation: float | None = Field(
        description="|value| / limit; None when there is no limit or the limit is 0."
    )
    breached: bool = Field(description="|value| > limit.")


class GreeksView(View):
    value: float = Field(description="Option premium held (currency).")
    delta: float | None = Field(description="Units of the underlying; None in the total.")
    gamma: float | None = Field(description="Delta per 1 currency unit of spot; None in total.")
    vega_per_point: float = Field(description="Currency per vol point.")
    theta_per_day: float = Field(description="Currency per calendar day.")
    dollar_delta: float = Field(description="Delta × spot (currency).")
    dollar_gamma_per_pct: float = Field(description="Gamma × spot² / 100 (currency).")


class BucketRisk(View):
    bucket: str = Field(description="Expiry bucket, e.g. 30-90d.")
    from_days: float
    to_days: float | None = Field(description="None for the last, open bucket.")
    greeks: GreeksView
    checks: list[LimitCheck] = Field(description="Vega against the underlying's vega limit.")


class UnderlyingRisk(View):
    underlying: str
    spot: float
    tick_age_s: float = Field(description="Age of the latest tick (clock seconds).")
    stale: bool = Field(description="Tick older than the limits' max_tick_age_s.")
    greeks: GreeksView
    checks: list[LimitCheck]
    buckets: list[BucketRisk]


class TotalRisk(View):
    greeks: GreeksView
    checks: list[LimitCheck] = Field(description="Against the firm limits (KV limits/firm).")


class RiskResponse(View):
    as_of: datetime = Field(description="The clock time the greeks are computed at.")
    trading_state: TradingState | None
    underlyings: list[UnderlyingRisk]
    total: TotalRisk
    unpriced: list[str] = Field(description="Underlyings with positions but no tick or surface.")


class TradeRow(BaseModel):
    """One holding entered as a client trade (`hedgemesh.market.bookfile`)."""

    model_config = ConfigDict(extra="forbid")

    instrument: str = Field(
        max_length=64, description="Canonical symbol: SPX, SPX-20261218-C-5000."
    )
    quantity: int = Field(description="Signed, the book's side: + bought, − sold; not 0.")
    price: float = Field(gt=0, allow_inf_nan=False, description="Per unit of the underlying.")
    counterparty: str | None = Field(default=None, max_length=128)
    multiplier: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    trade_id: str | None = Field(default=None, max_length=128)


class TradesEntry(BaseModel):
    """Body of POST /v1/book/trades: positions entered as client trades."""

    model_config = ConfigDict(extra="forbid")

    trades: list[TradeRow] = Field(min_length=1, max_length=10_000)
    source: str | None = Field(
        default=None, max_length=256, description="Where they come from (named in errors)."
    )


class TradesBooked(View):
    booked: list[str] = Field(description="Trade ids sent to the ledger.")
    duplicates: list[str] = Field(description="Trade ids stored before: not booked again.")


# -- limits ------------------------------------------------------------------------------------


class LimitsEntry(View):
    key: str = Field(description="KV key: an underlying, or firm.")
    revision: int = Field(description="KV revision; send it back with a change (CAS).")
    changed_by: str
    changed_at: datetime
    limits: dict[str, float | None] = Field(
        description="Limit name → value (units in docs/api.md); null: not set."
    )


class LimitsResponse(View):
    underlyings: list[LimitsEntry]
    firm: LimitsEntry | None


class LimitChange(BaseModel):
    """Body of PUT /v1/limits/{name}."""

    model_config = ConfigDict(extra="forbid")

    value: float = Field(allow_inf_nan=False, strict=True, description="The new value.")
    revision: int | None = Field(
        default=None,
        ge=1,
        strict=True,
        description="The revision read from GET /v1/limits: refused with 409 if the limits "
        "changed since. Omit to change whatever is current (still compare-and-set).",
    )


class LimitChanged(View):
    name: str
    previous: float | None = Field(description="Null: it was not set.")
    entry: LimitsEntry


# -- agent parameters --------------------------------------------------------------------------


class AgentParamsChange(ParamValues):
    """Body of PUT /v1/agents/{agent}/params: the parameters to change (a field left out keeps
    its value; null: back to the agent's environment setting)."""

    model_config = ConfigDict(strict=True)

    revision: int | None = Field(
        default=None,
        ge=0,
        description="The revision read from GET /v1/agents/{agent}/params (0: none stored "
        "yet): refused with 409 if they changed since. Omit to change whatever is current.",
    )

    _whole_revision = field_validator("revision", mode="before")(whole)


class AgentParamsEntry(View):
    agent: str
    revision: int | None = Field(description="KV agent_params revision; null: none stored.")
    params: ParamValues = Field(description="Null: the agent's environment setting applies.")
    changed_by: str | None
    changed_at: datetime | None


# -- orders, fills, decisions ------------------------------------------------------------------


class OrderView(View):
    client_order_id: str
    instrument: str
    underlying: str
    side: Side
    quantity: int
    order_type: str
    limit_price: float | None
    time_in_force: str
    algo: dict[str, Any]
    cycle_id: str
    epoch: int
    status: ExecStatus | None = Field(description="None until execution's first report.")
    final: bool
    cum_quantity: int
    leaves_quantity: int
    avg_price: float | None
    fees: float
    reason_code: str | None
    created_at: datetime
    updated_at: datetime


class OrdersResponse(View):
    orders: list[OrderView] = Field(description="Newest first.")


class FillView(View):
    exec_id: str
    client_order_id: str
    instrument: str
    underlying: str
    side: Side
    status: ExecStatus
    last_quantity: int
    last_price: float
    cum_quantity: int
    avg_price: float | None
    fees: float
    cycle_id: str
    ts: datetime
    arrival_price: float | None = Field(
        default=None, description="The venue's mid when the order was first worked."
    )
    mid_after: float | None = Field(default=None, description="The venue's mid after the fill.")


class FillsResponse(View):
    fills: list[FillView] = Field(description="Newest first.")


class DecisionView(View):
    id: str
    proposal_id: str
    agent: str
    underlying: str
    cycle_id: str
    outcome: DecisionOutcome
    reason_code: ReasonCode | None = Field(description="Why scaled or rejected.")
    scale_factor: float = Field(description="Fraction of each leg approved.")
    detail: str
    epoch: int = Field(description="The deciding manager's leader epoch.")
    ts: datetime
    premium: float = Field(description="Premium charged to the agent's budget (currency).")
    risk_removed: float = Field(description="Σ cut in |greek| / limit over gamma and vega.")
    trigger: str = Field(description="What made the agent propose.")
    proposal_reason: str
    legs: dict[str, int] = Field(description="Proposed quantity by instrument (+ buys).")


class DecisionsResponse(View):
    decisions: list[DecisionView] = Field(description="Newest first.")


# -- audit -------------------------------------------------------------------------------------


class AuditView(View):
    """One mutating call (REST) or control command (NATS): who, what, the state before and
    after, when, the answer, and its link in the hash chain."""

    id: int = Field(description="Increasing; page back with `before_id`.")
    at: datetime = Field(description="When it was answered (UTC, real time).")
    actor: str = Field(description="The token's name; over NATS, the sending service.")
    role: str = Field(description="The token's role: viewer, operator or admin; nats.")
    origin: str = Field(default="api", description="The NATS user it came from (REST: api).")
    method: str = Field(description="The HTTP method, or NATS.")
    path: str = Field(description="The request path, or the control subject.")
    status: int = Field(description="The HTTP status it was answered with.")
    body: Any = Field(default=None, description="The request body (its JSON, else its text).")
    before: Any = Field(default=None, description="What it was to change, before.")
    after: Any = Field(default=None, description="The same, after (null: nothing changed).")
    hash: str = Field(
        default="", description="SHA-256 over the previous entry's hash and this one's fields."
    )


class AuditResponse(View):
    entries: list[AuditView] = Field(description="Newest first.")


# -- agents ------------------------------------------------------------------------------------


class InstanceView(View):
    instance: str
    role: Role
    state: ServiceState
    alive: bool = Field(description="A heartbeat within the API's heartbeat_stale_s.")
    last_heartbeat_age_s: float = Field(description="Real seconds since the last heartbeat.")
    epoch: int | None
    pid: int
    lag_ms: float
    params_revision: int | None = Field(
        default=None,
        description="An agent's live parameters in force (KV agent_params revision; None: its "
        "environment's settings).",
    )
    policy: PolicyStatus | None = Field(
        default=None,
        description="An agent's hedge policy: asked, last used, decisions and band fallbacks.",
    )


class ProposalSummary(View):
    id: str
    cycle_id: str
    underlying: str
    trigger: str
    reason: str
    legs: int
    expected_delta: float
    expected_gamma: float
    expected_vega_per_point: float
    estimated_cost: float
    ts: datetime
    age_s: float = Field(description="Real seconds since the API received it.")


class AgentView(View):
    service: str
    leader: str | None = Field(description="The instance leading, if any.")
    instances: list[InstanceView]
    last_proposal: ProposalSummary | None
    budget: dict[str, Any] | None = Field(description="From the manager's status reply.")


class ManagerView(View):
    available: bool
    detail: str
    state: dict[str, Any] = Field(description="The manager's status reply.")


class AgentsResponse(View):
    agents: list[AgentView]
    manager: ManagerView
    trading_state: TradingState | None


# -- P&L ---------------------------------------------------------------------------------------


class Attribution(View):
    """P&L by source over a window (currency, rounded to the cent): the components add up to
    `total` to the cent (`unexplained` takes the rounding)."""

    window_start: datetime | None = Field(
        default=None, description="The window's start (default: the trading day's start)."
    )
    since: datetime | None = Field(
        description="When the API began following (its baseline); None until priced. Before "
        "it, P&L is `not_followed`."
    )
    delta: float
    gamma: float = Field(
        description="½ Γ dS², or every order of spot beyond delta for a "
        "large move (full revaluation)."
    )
    vega: float
    vanna: float = Field(default=0.0, description="The cross term of spot and vol.")
    volga: float = Field(default=0.0, description="Orders of vol beyond vega.")
    theta: float
    transaction_costs: float = Field(description="Hedge fills against fair value.")
    new_trades: float = Field(description="Other (client) trades against fair value.")
    not_followed: float = Field(
        default=0.0,
        description="The ledger's P&L before the API began following, when the window starts "
        "earlier (not split by source).",
    )
    unexplained: float
    total: float = Field(description="The change of the book's value over the window.")


class UnderlyingPnlView(View):
    underlying: str
    total_pnl: float = Field(description="The ledger's realised + unrealised (currency).")
    realised_pnl: float
    unrealised_pnl: float
    fees: float
    hedge_pnl: float | None = Field(
        default=None,
        description="P&L of the hedges since the API followed: what the hedge fills bought, "
        "valued now, less what they cost (currency); the book without them made "
        "`attribution.total − hedge_pnl`. None while unpriced.",
    )
    attribution: Attribution


class PnlResponse(View):
    total_pnl: float = Field(description="The ledger's realised + unrealised, all underlyings.")
    hedge_pnl: float = Field(default=0.0, description="The hedges' P&L, all underlyings.")
    window_start: datetime | None = Field(
        default=None, description="The attribution's window start (query `since`)."
    )
    attribution: Attribution
    underlyings: list[UnderlyingPnlView]


# -- control and health ------------------------------------------------------------------------


class ControlRequest(BaseModel):
    """Optional body of the control commands."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=1024, description="Why, for the record.")


class ControlResult(View):
    ok: bool
    action: str
    command_id: str
    reason: str
    detail: str
    state: dict[str, Any] = Field(description="The manager's state after the command.")


class HealthResponse(View):
    status: str = Field(
        description="ok, or degraded: the API's own NATS or database (then HTTP 503), or the "
        "desk (HTTP 200; `causes` says why: a leader lagging, a consumer's backlog, stale "
        "decisions, a limit breached too long)."
    )
    nats_connected: bool
    database_reachable: bool
    detail: str
    causes: list[str] = Field(default_factory=list, description="Why the desk is degraded.")


class DeskResponse(View):
    """The desk as a whole: degraded or not, why, and the cluster's clock."""

    status: str = Field(description="ok or degraded.")
    causes: list[str] = Field(description="Every cause in force, for a person.")
    clock: dict[str, Any] | None = Field(
        description="The cluster's clock: speed now, ceiling, held, paced, reason, changed_by, "
        "segment, now (None: real time)."
    )
