"""Every cross-field rule of every message, and the bounds that carry meaning."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import ValidationError
from wire_examples import CALL, TS, example, hedge_leg, position, svi_slice

from hedgemesh.wire import (
    DecisionOutcome,
    ExecStatus,
    Iceberg,
    Instrument,
    MarketableLimit,
    OrderType,
    ReasonCode,
    TimeInForce,
    Twap,
    decode,
)
from hedgemesh.wire.hedging import MAX_LEGS


def _rejects(kind: str, match: str, **overrides: object) -> None:
    with pytest.raises(ValidationError, match=match):
        example(kind, **overrides)


# Tick


def test_given_bid_above_ask_then_the_tick_is_rejected():
    _rejects("tick", "above ask", bid=5000.5, ask=5000.25)


@pytest.mark.parametrize(("bid", "ask"), [(5000.0, 5000.0), (None, 5000.5), (5000.0, None)])
def test_given_a_locked_or_one_sided_quote_then_the_tick_is_accepted(bid, ask):
    tick = example("tick", bid=bid, ask=ask)
    assert (tick.bid, tick.ask) == (bid, ask)


@pytest.mark.parametrize("price", [0.0, -1.0])
def test_given_a_non_positive_price_then_the_tick_is_rejected(price):
    _rejects("tick", "greater than 0", price=price)


def test_given_a_negative_or_beyond_int64_seq_then_the_tick_is_rejected():
    _rejects("tick", "greater than or equal to 0", seq=-1)
    _rejects("tick", "less than or equal to", seq=2**63)


# SVI slices and surfaces


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("b", -0.01, "greater than or equal to 0"),
        ("rho", 1.0, "less than 1"),
        ("rho", -1.0, "greater than -1"),
        ("sigma", 0.0, "greater than 0"),
        ("t", 0.0, "greater than 0"),
        ("forward", 0.0, "greater than 0"),
    ],
)
def test_given_an_svi_parameter_out_of_its_domain_then_rejected(field, value, match):
    with pytest.raises(ValidationError, match=match):
        svi_slice(30, **{field: value})


def test_given_a_negative_minimum_total_variance_then_the_slice_is_rejected():
    # a + b·sigma·√(1 − rho²) = -0.02 + 0.1·0.2·√0.75 = -0.00268
    with pytest.raises(ValidationError, match="negative"):
        svi_slice(30, a=-0.02)


def test_given_a_minimum_total_variance_of_zero_or_within_rounding_then_the_slice_is_accepted():
    b, sigma, rho = 0.1, 0.2, -0.5
    a = -b * sigma * math.sqrt(1 - rho * rho)
    assert svi_slice(30, a=a, b=b, sigma=sigma, rho=rho).min_total_variance == pytest.approx(0.0)
    assert svi_slice(30, a=a - 5e-13, b=b, sigma=sigma, rho=rho).min_total_variance < 0
    with pytest.raises(ValidationError, match="negative"):
        svi_slice(30, a=a - 1e-9, b=b, sigma=sigma, rho=rho)


def test_given_slices_out_of_expiry_order_then_the_surface_is_rejected():
    _rejects("surface", "strictly increasing", slices=[svi_slice(90), svi_slice(30)])


def test_given_two_slices_of_one_expiry_then_the_surface_is_rejected():
    _rejects("surface", "strictly increasing", slices=[svi_slice(30), svi_slice(30)])


def test_given_later_expiry_but_not_larger_t_then_the_surface_is_rejected():
    _rejects("surface", "strictly increasing", slices=[svi_slice(30), svi_slice(90, t=0.05)])


def test_given_a_slice_expired_at_the_surface_time_then_the_surface_is_rejected():
    expired = svi_slice(30).model_copy(update={"expiry": TS})
    _rejects("surface", "at or before", slices=[expired, svi_slice(90)])


def test_given_no_slices_then_the_surface_is_rejected():
    _rejects("surface", "at least 1 item", slices=[])


def test_given_an_absurd_rate_then_the_surface_is_rejected():
    _rejects("surface", "less than or equal to 1", rate=1.5)


# Book


@pytest.mark.parametrize("quantity", [0, -5])
def test_given_a_non_positive_quantity_then_the_client_trade_is_rejected(quantity):
    _rejects("client_trade", "greater than 0", quantity=quantity)


def test_given_a_client_trade_then_its_signed_quantity_follows_the_book_side():
    assert example("client_trade").signed_quantity == -25
    assert example("client_trade", side="buy").signed_quantity == 25


def test_given_a_flat_position_with_an_average_price_then_rejected():
    with pytest.raises(ValidationError, match="average_price"):
        position(quantity=0)


def test_given_an_open_position_without_an_average_price_then_rejected():
    with pytest.raises(ValidationError, match="average_price"):
        position(average_price=None)


def test_given_a_flat_position_without_an_average_price_then_accepted():
    assert position(quantity=0, average_price=None, unrealised_pnl=0.0).quantity == 0


def test_given_a_position_in_another_underlying_then_the_snapshot_is_rejected():
    ndx = Instrument.spot("NDX")
    _rejects("position_snapshot", "not on SPX", positions=[position(instrument=ndx)])


def test_given_one_instrument_twice_then_the_snapshot_is_rejected():
    _rejects("position_snapshot", "twice", positions=[position(), position(quantity=3)])


def test_given_a_snapshot_then_total_pnl_adds_realised_and_unrealised():
    assert example("position_snapshot").total_pnl == pytest.approx(-12.5 + 5100.0)


# Hedging


def test_given_a_zero_quantity_leg_then_rejected():
    with pytest.raises(ValidationError, match="must not be zero"):
        hedge_leg(quantity=0)


def test_given_a_leg_then_its_side_follows_the_sign():
    assert (hedge_leg(quantity=3).side, hedge_leg(quantity=-3).side) == ("buy", "sell")


def test_given_no_legs_or_too_many_then_the_proposal_is_rejected():
    _rejects("proposal", "at least 1 item", legs=[])
    strikes = [
        hedge_leg(instrument=CALL.model_copy(update={"strike": 4000.0 + i})) for i in range(33)
    ]
    assert len(strikes) > MAX_LEGS
    _rejects("proposal", "at most 32 items", legs=strikes)


def test_given_a_leg_on_another_underlying_then_the_proposal_is_rejected():
    _rejects("proposal", "not on SPX", legs=[hedge_leg(instrument=Instrument.spot("NDX"))])


def test_given_one_instrument_in_two_legs_then_the_proposal_is_rejected():
    _rejects("proposal", "twice", legs=[hedge_leg(), hedge_leg(quantity=-1)])


def test_given_an_unknown_trigger_then_the_proposal_is_rejected():
    _rejects("proposal", "band_breach", trigger="whim")


def test_given_a_negative_estimated_cost_then_the_proposal_is_rejected():
    _rejects("proposal", "greater than or equal to 0", estimated_cost=-1.0)


@pytest.mark.parametrize(
    ("outcome", "scale", "reason"),
    [
        (DecisionOutcome.APPROVED, 1.0, None),
        (DecisionOutcome.SCALED, 0.25, ReasonCode.BUDGET_EXHAUSTED),
        (DecisionOutcome.REJECTED, 0.0, ReasonCode.TRADING_HALTED),
    ],
)
def test_given_a_consistent_outcome_scale_and_reason_then_the_decision_is_accepted(
    outcome, scale, reason
):
    decision = example("decision", outcome=outcome, scale_factor=scale, reason_code=reason)
    assert (decision.outcome, decision.scale_factor, decision.reason_code) == (
        outcome,
        scale,
        reason,
    )


@pytest.mark.parametrize(
    ("outcome", "scale", "reason", "match"),
    [
        (DecisionOutcome.APPROVED, 1.0, ReasonCode.GAMMA_LIMIT, "reason code"),
        (DecisionOutcome.APPROVED, 0.5, None, "does not fit"),
        (DecisionOutcome.SCALED, 0.5, None, "reason code"),
        (DecisionOutcome.SCALED, 1.0, ReasonCode.GAMMA_LIMIT, "does not fit"),
        (DecisionOutcome.SCALED, 0.0, ReasonCode.GAMMA_LIMIT, "does not fit"),
        (DecisionOutcome.REJECTED, 0.0, None, "reason code"),
        (DecisionOutcome.REJECTED, 0.1, ReasonCode.PRICE_COLLAR, "does not fit"),
        (DecisionOutcome.SCALED, 1.5, ReasonCode.GAMMA_LIMIT, "less than or equal to 1"),
    ],
)
def test_given_an_inconsistent_outcome_scale_or_reason_then_the_decision_is_rejected(
    outcome, scale, reason, match
):
    _rejects("decision", match, outcome=outcome, scale_factor=scale, reason_code=reason)


def test_given_a_reason_code_that_is_not_in_the_contract_then_rejected():
    _rejects("decision", "QUANTITY_EXCEEDS_MAXIMUM", reason_code="BECAUSE")


# Orders


def test_given_a_limit_order_without_a_price_then_rejected():
    _rejects("order", "limit price is required", limit_price=None)


def test_given_a_market_order_with_a_price_then_rejected():
    _rejects(
        "order", "limit price is required", order_type="market", algo=Twap(duration_s=60, slices=3)
    )


@pytest.mark.parametrize("algo", [MarketableLimit(), Iceberg(display_quantity=2)])
def test_given_a_market_order_worked_as_a_limit_algo_then_rejected(algo):
    _rejects(
        "order", "needs a limit order", order_type=OrderType.MARKET, limit_price=None, algo=algo
    )


@pytest.mark.parametrize("tif", [TimeInForce.IOC, TimeInForce.FOK])
@pytest.mark.parametrize("algo", [Twap(duration_s=60, slices=3), Iceberg(display_quantity=2)])
def test_given_an_algo_over_time_with_an_immediate_time_in_force_then_rejected(algo, tif):
    _rejects("order", "works over time", algo=algo, time_in_force=tif)


def test_given_a_marketable_limit_ioc_then_accepted():
    order = example("order", algo=MarketableLimit(), time_in_force=TimeInForce.IOC)
    assert order.algo.name == "marketable_limit"


def test_given_an_iceberg_showing_the_whole_order_then_rejected():
    _rejects("order", "less than the whole", algo=Iceberg(display_quantity=6))


def test_given_a_twap_with_more_slices_than_units_then_rejected():
    _rejects("order", "more slices than units", algo=Twap(duration_s=60, slices=7))


def test_given_repeated_or_no_decision_ids_then_the_order_is_rejected():
    _rejects("order", "repeat", decision_ids=["d-1", "d-1"])
    _rejects("order", "at least 1 item", decision_ids=[])


def test_given_an_unknown_algo_then_the_order_is_rejected():
    data = example("order").model_dump(mode="json")
    data["algo"] = {"name": "vwap"}
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        decode("order", json.dumps(data))


def test_given_an_order_then_its_signed_quantity_follows_the_side():
    assert example("order").signed_quantity == 6
    assert example("order", side="sell").signed_quantity == -6


# Execution reports

_ACK = {
    "status": ExecStatus.ACCEPTED,
    "cum_quantity": 0,
    "leaves_quantity": 6,
    "last_quantity": None,
    "last_price": None,
    "avg_price": None,
    "fees": 0.0,
}
_FILLED = {
    **_ACK,
    "status": ExecStatus.FILLED,
    "cum_quantity": 6,
    "leaves_quantity": 0,
    "last_quantity": 4,
    "last_price": 215.0,
    "avg_price": 214.93,
}
_CANCELLED_AFTER_FILL = {**_ACK, "status": ExecStatus.CANCELLED, "cum_quantity": 2}
_CANCELLED_AFTER_FILL.update(leaves_quantity=0, avg_price=214.8)
_REJECTED = {**_ACK, "status": ExecStatus.REJECTED, "leaves_quantity": 0}
_REJECTED["reason_code"] = ReasonCode.STALE_EPOCH


@pytest.mark.parametrize(
    "fields",
    [
        _ACK,
        _FILLED,
        _CANCELLED_AFTER_FILL,
        {**_CANCELLED_AFTER_FILL, "reason_code": ReasonCode.CANCELLED_BY_REQUEST},
        {**_CANCELLED_AFTER_FILL, "status": ExecStatus.EXPIRED},
        _REJECTED,
    ],
    ids=["accepted", "filled", "cancelled", "cancelled-with-reason", "expired", "rejected"],
)
def test_given_a_consistent_report_then_accepted(fields):
    report = example("execution_report", **fields)
    assert report.is_terminal == (fields["status"] != ExecStatus.ACCEPTED)
    assert report.is_fill == (fields["last_quantity"] is not None)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"last_quantity": None}, "iff the report is a fill"),
        ({"last_price": None}, "iff the report is a fill"),
        ({**_ACK, "last_quantity": 1, "last_price": 1.0}, "iff the report is a fill"),
        ({**_ACK, "fees": 0.5}, "only with a fill"),
        ({"avg_price": None}, "avg_price"),
        ({**_ACK, "avg_price": 1.0}, "avg_price"),
        ({"cum_quantity": 7, "leaves_quantity": 0}, "more than the order"),
        ({"last_quantity": 3}, "exceeds the filled total"),
        ({**_ACK, "reason_code": ReasonCode.NO_LIQUIDITY}, "gives no reason"),
        ({**_FILLED, "reason_code": ReasonCode.NO_LIQUIDITY}, "gives no reason"),
        ({**_ACK, "leaves_quantity": 5}, "break the rule"),
        ({"leaves_quantity": 3}, "break the rule"),
        ({"cum_quantity": 6, "leaves_quantity": 0}, "break the rule"),
        ({**_FILLED, "cum_quantity": 5, "leaves_quantity": 1}, "break the rule"),
        ({**_FILLED, "leaves_quantity": 1}, "break the rule"),
        ({**_CANCELLED_AFTER_FILL, "leaves_quantity": 4}, "break the rule"),
        ({**_CANCELLED_AFTER_FILL, "status": "expired", "leaves_quantity": 4}, "break the rule"),
        ({**_REJECTED, "reason_code": None}, "break the rule"),
        ({**_REJECTED, "cum_quantity": 1, "avg_price": 1.0}, "break the rule"),
        ({"seq": 0}, "greater than or equal to 1"),
    ],
)
def test_given_an_inconsistent_report_then_rejected(fields, match):
    _rejects("execution_report", match, **fields)


def test_given_a_fill_then_the_signed_last_quantity_is_the_position_change():
    assert example("execution_report").signed_last_quantity == 2
    assert example("execution_report", side="sell").signed_last_quantity == -2
    assert example("execution_report", **_ACK).signed_last_quantity == 0


# Operational messages and state


@pytest.mark.parametrize("service", ["ledger.v2", "led ger", "*", ">", ""])
def test_given_a_service_name_that_is_not_a_subject_token_then_the_heartbeat_is_rejected(service):
    _rejects("heartbeat", "pattern", service=service)


def test_given_a_price_collar_outside_zero_to_one_then_the_limits_are_rejected():
    _rejects("risk_limits", "greater than 0", price_collar=0.0)
    _rejects("risk_limits", "less than or equal to 1", price_collar=1.5)


def test_given_an_unknown_trading_state_then_the_status_is_rejected():
    _rejects("trading_status", "ACTIVE", state="PAUSED")
