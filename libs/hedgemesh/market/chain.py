"""The listed options of one underlying: expiries × strikes × rights, as wire `Instrument`s.

Listing. At the start every tenor of the chain spec is listed: it expires at 21:00 UTC
(`STANDARD_EXPIRY_TIME`, so symbols read `SPX-20240109-P-4900`) that many calendar days after
the start's date. Strikes are the spec's absolute strikes, or its moneyness levels times the
spot at listing rounded to `round_to` (duplicates after rounding are listed once).

Rolling. An option leaves the chain once its expiry is not after now (expired options drop:
they are not quoted, published or traded any more; a position in one is the ledger's to
settle). With `roll` (the default), an expiry that leaves is replaced by one the longest tenor
later (the same weekday for weekly tenors), listed with strikes around the spot at that time,
so the number of expiries stays constant. Without it the chain shrinks, and an underlying
whose last expiry has passed has no surface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property

from hedgemesh.scenario.model import ChainSpec, MoneynessStrikes, UnderlyingSpec
from hedgemesh.wire.instruments import STANDARD_EXPIRY_TIME, Instrument, OptionRight

__all__ = [
    "ListedChain",
    "ListedExpiry",
    "expiry_on",
    "listed_strikes",
    "multiple_of",
    "round_to",
]


def expiry_on(day: date) -> datetime:
    """The standard expiry instant of a day: 21:00 UTC."""
    return datetime.combine(day, STANDARD_EXPIRY_TIME, tzinfo=UTC)


def multiple_of(units: int, step: float) -> float:
    """units × step as the shortest clean decimal (4987.5, not 4987.499999999999)."""
    return float(Decimal(units) * Decimal(repr(step)))


def round_to(value: float, step: float) -> float:
    """`value` rounded to the nearest multiple of `step` (a clean decimal)."""
    return multiple_of(round(value / step), step)


def listed_strikes(spec: ChainSpec, spot: float) -> tuple[float, ...]:
    """The strikes listed at `spot`: increasing, positive, each once."""
    if isinstance(spec.strikes, MoneynessStrikes):
        step = spec.strikes.round_to
        raw = [round_to(m * spot, step) for m in spec.strikes.moneyness]
    else:
        raw = list(spec.strikes.absolute)
    return tuple(sorted({k for k in raw if k > 0.0}))


@dataclass(frozen=True, slots=True)
class ListedExpiry:
    """One listed expiry with its strikes. `tenor_days` is the spec tenor of the listing slot it
    fills (a rolled replacement keeps the slot of the expiry it replaced)."""

    expiry: datetime
    strikes: tuple[float, ...]
    tenor_days: int


@dataclass(frozen=True)
class ListedChain:
    """The chain of one underlying at one time (immutable; `rolled` gives the next one)."""

    underlying: str
    spec: ChainSpec
    expiries: tuple[ListedExpiry, ...]
    _index: dict[str, Instrument] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.expiries, key=lambda e: e.expiry))
        object.__setattr__(self, "expiries", ordered)
        object.__setattr__(self, "_index", {i.symbol: i for i in self.instruments})

    @classmethod
    def first_listing(
        cls, spec: UnderlyingSpec, origin: datetime | None, spot: float
    ) -> ListedChain:
        """The chain at the start (`origin`; a fixed date when None, for checks that only need
        the strikes), strikes around `spot`."""
        day = (origin or datetime(2000, 1, 3, tzinfo=UTC)).astimezone(UTC).date()
        strikes = listed_strikes(spec.chain, spot)
        expiries = tuple(
            ListedExpiry(expiry_on(day + timedelta(days=d)), strikes, d)
            for d in spec.chain.expiries_days
        )
        return cls(spec.symbol, spec.chain, expiries)

    @cached_property
    def instruments(self) -> tuple[Instrument, ...]:
        """Every listed option, by expiry, then strike, then right (spec order)."""
        return tuple(
            Instrument.option(self.underlying, e.expiry, k, right, self.spec.multiplier)
            for e in self.expiries
            for k in e.strikes
            for right in self.spec.rights
        )

    @property
    def expiry_times(self) -> tuple[datetime, ...]:
        return tuple(e.expiry for e in self.expiries)

    def __contains__(self, instrument: object) -> bool:
        return isinstance(instrument, Instrument) and instrument.symbol in self._index

    def get(self, symbol: str) -> Instrument | None:
        """The listed instrument of a canonical symbol, or None."""
        return self._index.get(symbol)

    def strikes_of_tenor(self, tenor_days: int) -> tuple[float, ...]:
        for e in self.expiries:
            if e.tenor_days == tenor_days:
                return e.strikes
        return ()

    def expiry_of_tenor(self, tenor_days: int) -> datetime:
        for e in self.expiries:
            if e.tenor_days == tenor_days:
                return e.expiry
        raise KeyError(f"no expiry of tenor {tenor_days} days on {self.underlying}")

    def strike_for(self, strike: float | None, moneyness: float | None, spot: float) -> float:
        """An absolute strike as given, or moneyness × spot rounded as the chain rounds."""
        if strike is not None:
            return strike
        if moneyness is None:
            raise ValueError("give a strike or a moneyness")
        step = self.spec.strikes.round_to if isinstance(self.spec.strikes, MoneynessStrikes) else 0
        return round_to(moneyness * spot, step) if step else moneyness * spot

    def option(self, tenor_days: int, strike: float, right: OptionRight) -> Instrument:
        """The listed option of a tenor, strike and right; KeyError when it is not listed."""
        instrument = Instrument.option(
            self.underlying, self.expiry_of_tenor(tenor_days), strike, right, self.spec.multiplier
        )
        if instrument not in self:
            raise KeyError(f"{instrument.symbol} is not listed")
        return instrument

    def rolled(self, now: datetime, spot: float) -> ListedChain:
        """The chain at `now`: expiries at or before now dropped and, with `roll`, each replaced
        by one the longest tenor later with strikes around `spot`. Returns self when nothing
        expired."""
        alive = tuple(e for e in self.expiries if e.expiry > now)
        if len(alive) == len(self.expiries):
            return self
        if not self.spec.roll:
            return ListedChain(self.underlying, self.spec, alive)
        step = timedelta(days=max(self.spec.expiries_days))
        taken = {e.expiry for e in alive}
        strikes = listed_strikes(self.spec, spot)
        fresh: list[ListedExpiry] = []
        for gone in (e for e in self.expiries if e.expiry <= now):
            replacement = gone.expiry + step
            while replacement <= now or replacement in taken:
                replacement += step
            taken.add(replacement)
            fresh.append(ListedExpiry(replacement, strikes, gone.tenor_days))
        return ListedChain(self.underlying, self.spec, alive + tuple(fresh))

    def filter(
        self, *, max_expiry: datetime, strike_range: tuple[float, float]
    ) -> tuple[Instrument, ...]:
        """The listed options expiring by `max_expiry` with strikes inside `strike_range`."""
        lo, hi = strike_range
        return tuple(
            i
            for i in self.instruments
            if i.expiry is not None
            and i.expiry <= max_expiry
            and i.strike is not None
            and lo <= i.strike <= hi
        )
