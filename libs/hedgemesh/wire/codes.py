"""Machine-readable codes shared by decisions, execution reports and control replies."""

from __future__ import annotations

from enum import StrEnum


class TradingState(StrEnum):
    """The desk's trading state (KV `trading_state`)."""

    ACTIVE = "ACTIVE"  # hedging normally
    REDUCING = "REDUCING"  # only orders that reduce risk
    HALTED = "HALTED"  # no orders at all


class ReasonCode(StrEnum):
    """Why a proposal was scaled or rejected, or an order rejected, cancelled or expired.

    A new code is a change of contract: add it here, regenerate the schemas, and review.
    """

    # Limits and budgets (manager).
    QUANTITY_EXCEEDS_MAXIMUM = "QUANTITY_EXCEEDS_MAXIMUM"
    NOTIONAL_EXCEEDS_MAXIMUM = "NOTIONAL_EXCEEDS_MAXIMUM"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"
    DELTA_LIMIT = "DELTA_LIMIT"
    GAMMA_LIMIT = "GAMMA_LIMIT"
    VEGA_LIMIT = "VEGA_LIMIT"
    PRICE_COLLAR = "PRICE_COLLAR"
    # Trading state.
    TRADING_HALTED = "TRADING_HALTED"
    TRADING_REDUCING = "TRADING_REDUCING"  # reducing only, and this would add risk
    # Inputs.
    STALE_MARKET_DATA = "STALE_MARKET_DATA"
    STALE_POSITIONS = "STALE_POSITIONS"
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    INVALID_REQUEST = "INVALID_REQUEST"
    DUPLICATE = "DUPLICATE"  # a proposal or order id seen before
    # Cycles and leadership.
    NETTED_OUT = "NETTED_OUT"  # other proposals of the cycle cancelled this one
    CYCLE_CLOSED = "CYCLE_CLOSED"  # arrived after its cycle was decided
    RISK_NOT_REDUCED = "RISK_NOT_REDUCED"  # (more of) it would not cut weighted risk by its cost
    STALE_EPOCH = "STALE_EPOCH"  # from a leader that has since been fenced off
    # Venue (execution).
    NO_LIQUIDITY = "NO_LIQUIDITY"
    MARKET_CLOSED = "MARKET_CLOSED"
    TIME_IN_FORCE = "TIME_IN_FORCE"  # IOC/FOK not (fully) fillable, or the order's time ran out
    CANCELLED_BY_REQUEST = "CANCELLED_BY_REQUEST"
    INSTRUMENT_EXPIRED = "INSTRUMENT_EXPIRED"
    # Pre-trade controls at the gateway (execution).
    ORDER_RATE_EXCEEDED = "ORDER_RATE_EXCEEDED"  # more orders in the window than allowed
    DAILY_NOTIONAL_EXCEEDED = "DAILY_NOTIONAL_EXCEEDED"  # the day's accepted notional is spent
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"  # the day's P&L of execution's fills is past the limit
    KILL_SWITCH = "KILL_SWITCH"  # the kill switch is engaged: nothing works, nothing is accepted
