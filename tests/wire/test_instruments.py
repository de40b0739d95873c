"""Instruments: the option-iff rules, the canonical symbol and parsing it back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hedgemesh.wire import Instrument, InstrumentKind, OptionRight, Side
from hedgemesh.wire.instruments import DEFAULT_OPTION_MULTIPLIER, _format_strike

EXPIRY = datetime(2026, 12, 18, 21, tzinfo=UTC)


@pytest.mark.parametrize("missing", ["expiry", "strike", "right"])
def test_given_an_option_without_one_of_its_fields_then_rejected(missing):
    fields = {"expiry": EXPIRY, "strike": 5000.0, "right": "call", missing: None}
    with pytest.raises(ValidationError, match="needs expiry, strike and right"):
        Instrument(underlying="SPX", kind="option", multiplier=100, **fields)


@pytest.mark.parametrize(
    "extra", [{"expiry": EXPIRY}, {"strike": 5000.0}, {"right": OptionRight.PUT}]
)
def test_given_the_underlying_with_an_option_field_then_rejected(extra):
    with pytest.raises(ValidationError, match="no expiry, strike or right"):
        Instrument(underlying="SPX", kind="underlying", multiplier=1, **extra)


def test_given_the_underlying_with_a_multiplier_other_than_one_then_rejected():
    with pytest.raises(ValidationError, match="multiplier must be 1"):
        Instrument(underlying="SPX", kind="underlying", multiplier=100)


def test_given_an_expiry_with_a_fraction_of_a_second_then_rejected():
    with pytest.raises(ValidationError, match="whole second"):
        Instrument.option("SPX", EXPIRY.replace(microsecond=1), 5000, "put")


@pytest.mark.parametrize("code", ["spx", "S-P", "1SPX", "", "S" * 33, "SP.X"])
def test_given_an_underlying_code_that_is_not_upper_case_alphanumeric_then_rejected(code):
    with pytest.raises(ValidationError, match="pattern"):
        Instrument.spot(code)


@pytest.mark.parametrize("strike", [0.0, -5.0])
def test_given_a_non_positive_strike_then_rejected(strike):
    with pytest.raises(ValidationError, match="greater than 0"):
        Instrument.option("SPX", EXPIRY, strike, "call")


@pytest.mark.parametrize(
    ("instrument", "symbol"),
    [
        (Instrument.spot("SPX"), "SPX"),
        (Instrument.option("SPX", EXPIRY, 5000, "call"), "SPX-20261218-C-5000"),
        (Instrument.option("SPX", EXPIRY, 4987.5, "put"), "SPX-20261218-P-4987.5"),
        (
            Instrument.option("ES_F", datetime(2026, 3, 20, 14, 30, 5, tzinfo=UTC), 0.25, "put"),
            "ES_F-20260320T143005Z-P-0.25",
        ),
        (Instrument.option("X", EXPIRY, 1e-5, "call"), "X-20261218-C-0.00001"),
        (Instrument.option("X", EXPIRY, 1e11, "call"), "X-20261218-C-100000000000"),
    ],
)
def test_given_an_instrument_then_its_symbol_is_canonical_and_parses_back(instrument, symbol):
    assert instrument.symbol == symbol == str(instrument)
    multiplier = instrument.multiplier if instrument.is_option else None
    assert Instrument.parse(symbol, multiplier=multiplier) == instrument


def test_given_a_symbol_without_a_multiplier_then_the_option_gets_the_default():
    assert Instrument.parse("SPX-20261218-C-5000").multiplier == DEFAULT_OPTION_MULTIPLIER
    assert Instrument.parse("SPX-20261218-C-5000", multiplier=10).multiplier == 10
    assert Instrument.parse("SPX").kind is InstrumentKind.UNDERLYING


@pytest.mark.parametrize(
    "symbol",
    [
        "SPX-20261218-C-5000.0",  # not the shortest strike
        "SPX-20261218-C-05000",
        "SPX-20261218T210000Z-C-5000",  # the standard time is written as a date only
        "SPX-20261218-X-5000",
        "SPX-20261318-C-5000",  # month 13
        "SPX-20261218-C-0",
        "SPX-20261218-C",
        "spx",
        "SPX ",
        "SPX-20261218-C-5e3",
        "",
    ],
)
def test_given_a_text_that_is_not_a_canonical_symbol_then_parse_raises_value_error(symbol):
    with pytest.raises(ValueError):
        Instrument.parse(symbol)


def test_given_the_underlying_symbol_with_a_multiplier_then_parse_refuses():
    with pytest.raises(ValueError, match="multiplier must be 1"):
        Instrument.parse("SPX", multiplier=100)


def test_given_a_side_then_its_sign_and_the_side_of_a_signed_quantity():
    assert (Side.BUY.sign, Side.SELL.sign) == (1, -1)
    assert (Side.of(3), Side.of(-3)) == (Side.BUY, Side.SELL)
    with pytest.raises(ValueError, match="no side"):
        Side.of(0)


@settings(max_examples=200, derandomize=True, database=None)
@given(
    underlying=st.from_regex(r"[A-Z][A-Z0-9_]{0,31}", fullmatch=True),
    expiry=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    strike=st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False),
    right=st.sampled_from(OptionRight),
)
def test_given_any_option_then_its_symbol_parses_back_to_it(underlying, expiry, strike, right):
    option = Instrument.option(underlying, expiry.replace(microsecond=0), strike, right)
    assert Instrument.parse(option.symbol) == option
    assert float(_format_strike(strike)) == strike
