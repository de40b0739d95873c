"""The venue's facts, in one place: per kind of book, the tick size, the contract multiplier,
the fees, and how the synthetic liquidity providers quote (spread, depth, refill). No I/O.

Execution runs its books on them; the manager's expected cost of an order (half spread and
fee) and the agents' cost model (`hedgemesh.policies.selection.LadderCost`, the same ladder
walked) read the same spec, so a change to the venue reaches every cost model at once.
`VENUE` holds the defaults; `hedgemesh.venue.settings.VenueSettings` (`HEDGEMESH_VENUE_*`)
is the one place a deployment changes them, read by every service that needs them.

    >>> VENUE.option.fee(quantity=10, price=12.5)
    5.0
    >>> VENUE.underlying.fee(quantity=100, price=5000.0)
    5.0
    >>> VENUE.option.half_spread_bp, VENUE.underlying.half_spread_bp
    (75.0, 2.0)
"""

from __future__ import annotations

from dataclasses import dataclass

from hedgemesh.venue.liquidity import LiquidityParams
from hedgemesh.wire.instruments import DEFAULT_OPTION_MULTIPLIER, Instrument

__all__ = ["VENUE", "BookSpec", "VenueSpec"]


@dataclass(frozen=True, slots=True)
class BookSpec:
    """One kind of book (the underlying's, or the listed options'): prices on a grid of
    `tick_size` (currency), `multiplier` units of the underlying per contract, a fee per fill of
    `fee_per_contract` per contract (currency) plus `fee_bp` basis points of the notional
    (quantity × price × multiplier), and the liquidity providers' ladder."""

    tick_size: float
    multiplier: float
    fee_per_contract: float
    fee_bp: float
    liquidity: LiquidityParams

    def __post_init__(self) -> None:
        if not self.tick_size > 0 or not self.multiplier > 0:
            raise ValueError("tick_size and multiplier must be > 0")
        if self.fee_per_contract < 0 or self.fee_bp < 0:
            raise ValueError("fees must be >= 0")

    @property
    def half_spread_bp(self) -> float:
        """Fair value to the touch (basis points, at the providers' reference vol)."""
        return self.liquidity.half_spread_bp

    def fee(self, quantity: float, price: float, multiplier: float | None = None) -> float:
        """The fee of a fill of `quantity` contracts (or units) at `price` (currency; the
        instrument's own `multiplier` when given, else the book's)."""
        m = self.multiplier if multiplier is None else multiplier
        return round(
            quantity * self.fee_per_contract + quantity * price * m * self.fee_bp * 1e-4, 9
        )


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """The underlying's books and the options' books."""

    underlying: BookSpec
    option: BookSpec

    def book(self, instrument: Instrument) -> BookSpec:
        """The spec of the book `instrument` trades in."""
        return self.option if instrument.is_option else self.underlying


#: An index's hedge instrument trades like its future: deep and quick to refill. About
#: 107,000 units on show over ten levels (≈ $535M on an SPX-like index at 5,000, some 2,100
#: E-mini contracts; the real touch alone often shows more), half of a sweep back within 10 s.
#: Even a drought (a quarter of the depth) and doubled vol leave about 19,000 units: a desk cuts
#: the 25,000 units of delta a 5 % gap leaves on a short-gamma book in one or two cycles.
#: Options: spreads in basis points of the premium are wider, sizes in contracts smaller; they
#: stay thin and wide.
VENUE = VenueSpec(
    underlying=BookSpec(
        tick_size=0.01,
        multiplier=1.0,
        fee_per_contract=0.0,
        fee_bp=0.1,
        liquidity=LiquidityParams(levels=10, top_size=20_000.0, size_decay=0.85, half_life_s=10.0),
    ),
    option=BookSpec(
        tick_size=0.01,
        multiplier=DEFAULT_OPTION_MULTIPLIER,
        fee_per_contract=0.5,
        fee_bp=0.0,
        liquidity=LiquidityParams(
            half_spread_bp=75.0, min_half_spread_ticks=1.0, level_step_bp=40.0, top_size=50.0
        ),
    ),
)
