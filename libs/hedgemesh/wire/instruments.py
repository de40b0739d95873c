"""Instruments and the scalar types every trading message shares (prices, quantities, sides).

An `Instrument` is either the underlying itself or a European option on it. Its canonical
`symbol` names it in logs, stores and dashboards and parses back:

    >>> from datetime import datetime, UTC
    >>> spx = Instrument.option("SPX", datetime(2026, 12, 18, 21, tzinfo=UTC), 5000, "call")
    >>> spx.symbol
    'SPX-20261218-C-5000'
    >>> Instrument.parse("SPX-20261218-C-5000") == spx
    True
    >>> Instrument.spot("SPX").symbol
    'SPX'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from hedgemesh.wire.base import UtcDatetime, WireValue

#: Largest quantity in one message (contracts or units of the underlying).
MAX_QUANTITY = 1_000_000_000
#: Largest price, strike or multiplier (currency units); a sanity bound, not a market rule.
MAX_PRICE = 1e12
#: Largest amount of money in one field (currency units).
MAX_MONEY = 1e15

Underlying = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")]
"""An underlying's code: upper-case letters, digits and `_` (it is also a subject token)."""

Price = Annotated[float, Field(gt=0, le=MAX_PRICE)]
"""A price per unit (currency units): of the underlying, or an option's premium per unit of
the underlying (the cash of a contract is price × multiplier)."""

Money = Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY)]
"""An amount of money (currency units), signed."""

Cost = Annotated[float, Field(ge=0, le=MAX_MONEY)]
"""A non-negative amount of money (currency units): fees, estimated costs."""

Quantity = Annotated[int, Field(gt=0, le=MAX_QUANTITY)]
"""A positive whole quantity: contracts for an option, units (shares) for the underlying."""

SignedQuantity = Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
"""A signed whole quantity: positive is long (or buy), negative is short (or sell)."""


def _non_zero(value: int) -> int:
    if value == 0:
        raise ValueError("quantity must not be zero")
    return value


NonZeroQuantity = Annotated[SignedQuantity, AfterValidator(_non_zero)]
"""A signed whole quantity that is not zero."""


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1

    @classmethod
    def of(cls, signed_quantity: int) -> Side:
        """The side of a signed quantity (positive buys); zero has no side."""
        if signed_quantity == 0:
            raise ValueError("a zero quantity has no side")
        return cls.BUY if signed_quantity > 0 else cls.SELL


class InstrumentKind(StrEnum):
    UNDERLYING = "underlying"
    OPTION = "option"


class OptionRight(StrEnum):
    CALL = "call"
    PUT = "put"


#: An option whose symbol shows only a date expires at this time (UTC) of that day:
#: 16:00 in New York in winter, the US close.
STANDARD_EXPIRY_TIME = time(21, 0)
#: Contracts per option unless told otherwise (units of the underlying per contract).
DEFAULT_OPTION_MULTIPLIER = 100.0

_SYMBOL = re.compile(
    r"(?P<underlying>[A-Z][A-Z0-9_]{0,31})"
    r"(?:-(?P<date>\d{8})(?:T(?P<time>\d{6})Z)?-(?P<right>[CP])-(?P<strike>\d+(?:\.\d+)?))?"
)
_RIGHT_LETTER = {OptionRight.CALL: "C", OptionRight.PUT: "P"}


def _format_strike(strike: float) -> str:
    """The shortest decimal that reads back as the same float, without exponent or `.0`."""
    text = f"{Decimal(repr(strike)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class Instrument(WireValue):
    """The underlying itself, or a European option on it.

    Rules: an option has `expiry` (a whole second), `strike` and `right`; the underlying has none
    of them and a multiplier of 1. Hashable, so it can key a dict when netting.
    """

    underlying: Underlying = Field(description="Code of the underlying, e.g. SPX.")
    kind: InstrumentKind = Field(description="The underlying itself, or an option on it.")
    expiry: UtcDatetime | None = Field(
        default=None, description="Option expiry (UTC, whole seconds); none for the underlying."
    )
    strike: Annotated[float, Field(gt=0, le=MAX_PRICE)] | None = Field(
        default=None, description="Option strike (currency units); none for the underlying."
    )
    right: OptionRight | None = Field(
        default=None, description="Call or put; none for the underlying."
    )
    multiplier: float = Field(
        gt=0,
        le=MAX_PRICE,
        description="Units of the underlying per contract: 1 for the underlying, usually 100 "
        "for an option.",
    )

    @model_validator(mode="after")
    def _option_fields_iff_option(self) -> Self:
        option_fields = (self.expiry, self.strike, self.right)
        if self.kind is InstrumentKind.OPTION:
            if any(value is None for value in option_fields):
                raise ValueError("an option needs expiry, strike and right")
            assert self.expiry is not None
            if self.expiry.microsecond:
                raise ValueError("an option's expiry must be a whole second")
        else:
            if any(value is not None for value in option_fields):
                raise ValueError("the underlying has no expiry, strike or right")
            if self.multiplier != 1:
                raise ValueError("the underlying's multiplier must be 1")
        return self

    @classmethod
    def spot(cls, underlying: str) -> Self:
        """The underlying itself."""
        return cls(underlying=underlying, kind=InstrumentKind.UNDERLYING, multiplier=1.0)

    @classmethod
    def option(
        cls,
        underlying: str,
        expiry: datetime,
        strike: float,
        right: OptionRight | str,
        multiplier: float = DEFAULT_OPTION_MULTIPLIER,
    ) -> Self:
        """A European option (`right` is `call` or `put`)."""
        return cls(
            underlying=underlying,
            kind=InstrumentKind.OPTION,
            expiry=expiry,
            strike=strike,
            right=OptionRight(right),
            multiplier=multiplier,
        )

    @property
    def is_option(self) -> bool:
        return self.kind is InstrumentKind.OPTION

    @property
    def symbol(self) -> str:
        """Canonical name: `SPX`, `SPX-20261218-C-5000`, or `SPX-20261218T143000Z-P-4987.5` for
        an expiry other than `STANDARD_EXPIRY_TIME`. The multiplier is not part of it."""
        if self.expiry is None or self.strike is None or self.right is None:
            return self.underlying
        e = self.expiry
        when = f"{e.year:04d}{e.month:02d}{e.day:02d}"
        if e.time() != STANDARD_EXPIRY_TIME:
            when += f"T{e.hour:02d}{e.minute:02d}{e.second:02d}Z"
        return f"{self.underlying}-{when}-{_RIGHT_LETTER[self.right]}-{_format_strike(self.strike)}"

    @classmethod
    def parse(cls, symbol: str, multiplier: float | None = None) -> Self:
        """The instrument a canonical `symbol` names; raises `ValueError` for any other text.

        `multiplier` defaults to 1 for the underlying and `DEFAULT_OPTION_MULTIPLIER` for options.
        """
        match = _SYMBOL.fullmatch(symbol)
        if match is None:
            raise ValueError(f"not an instrument symbol: {symbol!r}")
        if match["date"] is None:
            instrument = cls.spot(match["underlying"])
            if multiplier not in (None, 1):
                raise ValueError("the underlying's multiplier must be 1")
        else:
            d, t = match["date"], match["time"] or STANDARD_EXPIRY_TIME.strftime("%H%M%S")
            expiry = datetime(
                int(d[:4]), int(d[4:6]), int(d[6:]), int(t[:2]), int(t[2:4]), int(t[4:]), tzinfo=UTC
            )
            instrument = cls.option(
                match["underlying"],
                expiry,
                float(match["strike"]),
                OptionRight.CALL if match["right"] == "C" else OptionRight.PUT,
                DEFAULT_OPTION_MULTIPLIER if multiplier is None else multiplier,
            )
        if instrument.symbol != symbol:
            raise ValueError(
                f"not canonical: {symbol!r} (the canonical form is {instrument.symbol!r})"
            )
        return instrument

    def __str__(self) -> str:
        return self.symbol


def require_one_underlying(instruments: Iterable[Instrument], underlying: str) -> None:
    """Raise `ValueError` unless every instrument is on `underlying` and no symbol repeats."""
    seen: set[str] = set()
    for instrument in instruments:
        if instrument.underlying != underlying:
            raise ValueError(f"{instrument} is not on {underlying}")
        if instrument.symbol in seen:
            raise ValueError(f"{instrument} appears twice")
        seen.add(instrument.symbol)
