"""One valid, deterministic example of every message kind, for the wire tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hedgemesh.wire import (
    MESSAGES,
    ControlAction,
    DecisionOutcome,
    ExecStatus,
    Greeks,
    HedgeLeg,
    HedgeTrigger,
    Iceberg,
    Instrument,
    OrderType,
    Position,
    ReasonCode,
    Role,
    ServiceState,
    Side,
    SviSlice,
    TimeInForce,
    TradingState,
    WireModel,
    client_order_id,
)

TS = datetime(2026, 6, 1, 14, 30, tzinfo=UTC)
EXPIRY = datetime(2026, 12, 18, 21, tzinfo=UTC)
SPOT = Instrument.spot("SPX")
CALL = Instrument.option("SPX", EXPIRY, 5000, "call")
PUT = Instrument.option("SPX", EXPIRY, 4950.5, "put")
CYCLE = "SPX-42"


def svi_slice(days: int, **overrides: float) -> SviSlice:
    fields: dict = {
        "expiry": TS + timedelta(days=days),
        "t": days / 365.0,
        "forward": 5010.0,
        "a": 0.01,
        "b": 0.1,
        "rho": -0.5,
        "m": 0.0,
        "sigma": 0.2,
    }
    return SviSlice(**{**fields, **overrides})


def position(**overrides: object) -> Position:
    fields = {
        "instrument": CALL,
        "quantity": -25,
        "average_price": 212.4,
        "mark_price": 210.0,
        "realised_pnl": 0.0,
        "unrealised_pnl": 6000.0,
    }
    return Position(**{**fields, **overrides})


def greeks(delta: float = -1250.0, gamma: float = 3.2, vega: float = 880.0) -> Greeks:
    return Greeks(delta=delta, gamma=gamma, vega_per_vol_point=vega)


def hedge_leg(**overrides: object) -> HedgeLeg:
    return HedgeLeg(**{"instrument": CALL, "quantity": 12, "limit_price": 215.0, **overrides})


#: The fields of each kind's example, `id` and `ts` aside.
FIELDS: dict[str, dict[str, object]] = {
    "tick": {
        "underlying": "SPX",
        "price": 5000.25,
        "seq": 7,
        "bid": 5000.0,
        "ask": 5000.5,
    },
    "surface": {
        "underlying": "SPX",
        "spot": 5000.25,
        "rate": 0.04,
        "div": 0.012,
        "slices": [svi_slice(30), svi_slice(90, a=0.02)],
        "seq": 3,
    },
    "client_trade": {
        "trade_id": "T-1",
        "instrument": CALL,
        "side": Side.SELL,
        "quantity": 25,
        "price": 212.4,
        "counterparty": "client-7",
    },
    "position_snapshot": {
        "underlying": "SPX",
        "positions": [
            position(),
            position(instrument=SPOT, quantity=1200, average_price=5001.0, unrealised_pnl=-900),
        ],
        "cash": -5_470_200.0,
        "realised_pnl": -12.5,
        "unrealised_pnl": 5100.0,
        "fees": 12.5,
        "as_of_seq": 2,
        "causation_id": "exec-9",
    },
    "proposal": {
        "agent": "gamma-agent",
        "epoch": 3,
        "underlying": "SPX",
        "cycle_id": CYCLE,
        "trigger": HedgeTrigger.BAND_BREACH,
        "reason": "gamma -4.1 outside the band ±2.5",
        "legs": [hedge_leg(), hedge_leg(instrument=PUT, quantity=-4, limit_price=None)],
        "expected_change": greeks(0.0, 3.2, 0.0),
        "leg_greeks": greeks(),
        "estimated_cost": 96.0,
        "tick_seq": 7,
        "positions_seq": 2,
        "causation_id": "msg-tick",
    },
    "decision": {
        "proposal_id": "msg-proposal",
        "agent": "gamma-agent",
        "underlying": "SPX",
        "cycle_id": CYCLE,
        "outcome": DecisionOutcome.SCALED,
        "reason_code": ReasonCode.GAMMA_LIMIT,
        "scale_factor": 0.5,
        "detail": "gamma limit leaves room for half",
        "epoch": 11,
    },
    "order": {
        "client_order_id": client_order_id(CYCLE, CALL),
        "instrument": CALL,
        "side": Side.BUY,
        "quantity": 6,
        "order_type": OrderType.LIMIT,
        "limit_price": 215.0,
        "time_in_force": TimeInForce.DAY,
        "algo": Iceberg(display_quantity=2),
        "cycle_id": CYCLE,
        "epoch": 11,
        "decision_ids": ["msg-decision"],
    },
    "execution_report": {
        "client_order_id": client_order_id(CYCLE, CALL),
        "exec_id": "exec-9",
        "seq": 2,
        "cycle_id": CYCLE,
        "instrument": CALL,
        "side": Side.BUY,
        "status": ExecStatus.PARTIALLY_FILLED,
        "order_quantity": 6,
        "cum_quantity": 2,
        "leaves_quantity": 4,
        "last_quantity": 2,
        "last_price": 214.8,
        "avg_price": 214.8,
        "fees": 1.3,
    },
    "heartbeat": {
        "service": "manager",
        "instance": "manager-1",
        "role": Role.LEADER,
        "state": ServiceState.READY,
        "seq": 99,
        "started_at": TS - timedelta(hours=1),
        "pid": 4242,
        "lag_ms": 1.5,
        "epoch": 11,
    },
    "dead_letter": {
        "service": "ledger",
        "subject": "hedge.v1.book.trade",
        "reason": "price: Input should be greater than 0",
        "error": "validation",
        "payload": '{"price": -1}',
        "payload_size": 13,
        "headers": {"Nats-Msg-Id": "T-9"},
    },
    "control_command": {
        "target": "manager",
        "action": ControlAction.SET_LIMIT,
        "issued_by": "operator-ann",
        "reason": "tighter gamma into the close",
        "params": {"underlying": "SPX", "max_abs_gamma": 2.0, "dry": True, "tags": [1, None]},
    },
    "control_reply": {
        "command_id": "msg-control_command",
        "target": "manager",
        "ok": True,
        "state": {"trading_state": "ACTIVE", "limits": {"max_abs_gamma": 2.0}},
    },
    "trading_status": {
        "state": TradingState.REDUCING,
        "reason": "drawdown",
        "changed_by": "operator-ann",
        "causation_id": "msg-control_command",
    },
    "risk_limits": {
        "underlying": "SPX",
        "max_abs_delta": 5000.0,
        "max_abs_gamma": 2.0,
        "max_abs_vega_per_vol_point": 50_000.0,
        "max_order_quantity": 500,
        "max_order_notional": 5e7,
        "daily_cost_budget": 25_000.0,
        "price_collar": 0.05,
        "max_tick_age_s": 2.0,
        "changed_by": "operator-ann",
    },
    "firm_limits": {
        "max_abs_dollar_delta": 2.5e7,
        "max_abs_dollar_gamma_per_pct": 5e6,
        "max_abs_vega_per_vol_point": 250_000.0,
        "max_gross_notional_per_cycle": 1e8,
        "changed_by": "operator-ann",
    },
    "position_snapshot_request": {
        "underlying": "SPX",
        "requested_by": "gamma-agent",
    },
    "agent_params": {
        "agent": "gamma-agent",
        "enabled": True,
        "band_fraction": 0.4,
        "target_fraction": 0.2,
        "max_legs": 4,
        "changed_by": "operator-ann",
    },
    "clock_record": {
        "start": "2026-06-01T13:30:00Z",
        "at": "2026-06-01T14:30:00Z",
        "anchor": 1780320600.0,
        "speed": 390.0,
        "segment": 2,
        "changed_by": "marketdata",
        "reason": "paced on the desk's lag",
    },
}


def example(kind: str, **overrides: object) -> WireModel:
    """The example message of `kind` (id `msg-<kind>`), with some fields changed."""
    fields = {"id": f"msg-{kind}", "ts": TS, **FIELDS[kind], **overrides}
    return MESSAGES[kind](**fields)


Path = tuple[str | int, ...]

#: Fields that hold free-form (finite) JSON: any type goes there.
FREE_FORM: dict[str, str] = {"control_command": "params", "control_reply": "state"}
#: Fields that hold timestamps.
TIMESTAMP_FIELDS = frozenset({"ts", "expiry", "started_at"})


def leaves(value: object, path: Path = ()) -> list[tuple[Path, object]]:
    """Every scalar inside a JSON value, with its path."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in leaves(item, (*path, i))]
    return [(path, value)]


def replaced(value: object, path: Path, new: object) -> object:
    """A copy of a JSON value with the item at `path` replaced by `new`."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {
            key: replaced(item, rest, new) if key == head else item for key, item in value.items()
        }
    assert isinstance(value, list)
    return [replaced(item, rest, new) if i == head else item for i, item in enumerate(value)]


def typed_leaves(kind: str) -> list[tuple[Path, object]]:
    """The leaves of the example of `kind` whose type the schema fixes (not free-form JSON)."""
    data = example(kind).model_dump(mode="json")
    return [(path, value) for path, value in leaves(data) if path[0] != FREE_FORM.get(kind)]
