"""The scenario file as typed, validated data: underlyings, models, chains, surfaces, events,
the book's initial positions and the client flow.

Every section is a frozen pydantic model that refuses unknown keys. Units: spots, strikes and
prices in currency; rates, dividend yields and vols as decimals per year (0.045 is 4.5 %);
durations as seconds or text with a unit (`90s`, `30m`, `6.5h`, `2d`); percentages where the
name says `pct`. Times of events are offsets from the scenario's start.

A new section (risk limits, agent parameters) is added as a typed optional field of `Scenario`
in this module, reviewed like any contract, never by letting unknown keys through.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hedgemesh.market import ssvi
from hedgemesh.wire.instruments import MAX_MONEY, MAX_QUANTITY, OptionRight
from hedgemesh.wire.state import FirmLimits, RiskLimits

#: Seconds per year: ACT/365, as `hedgemesh.quant.bsm`.
SECONDS_PER_YEAR = 365.0 * 86_400.0

_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, None: 1.0}


def parse_duration(value: Any) -> Any:
    """Seconds from a number or from text with a unit: `45`, `90s`, `30m`, `6.5h`, `2d`."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text such as 30m, not a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration: use seconds or e.g. 90s, 30m, 6.5h, 2d")
        return float(match["value"]) * _UNIT_S[match["unit"]]
    return value


Duration = Annotated[
    float, BeforeValidator(parse_duration), Field(ge=0.0, le=3650 * 86_400.0, allow_inf_nan=False)
]
"""A non-negative duration in seconds (at most ten years)."""

PositiveDuration = Annotated[Duration, Field(gt=0.0)]

Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Rate = Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
Correlation = Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
Vol = Annotated[float, Field(gt=0.0, le=5.0, allow_inf_nan=False)]
Symbol = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,48}$")]


class Section(BaseModel):
    """Base of every scenario section: frozen, unknown keys refused, no NaN or infinities."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# -- path models -------------------------------------------------------------------------------


class _Drift(Section):
    mu: Finite | None = Field(
        default=None,
        description="Drift of the price per year; default rate − div (risk neutral).",
    )


class GbmSpec(_Drift):
    """Geometric Brownian motion with vol `sigma`."""

    kind: Literal["gbm"]
    sigma: Vol


class HestonSpec(_Drift):
    """Heston: variance mean-reverting at `kappa` to `theta` with vol of variance `xi`."""

    kind: Literal["heston"]
    v0: Annotated[float, Field(ge=0.0, le=25.0)] = Field(description="Initial variance (vol²).")
    kappa: Positive = Field(description="Mean-reversion speed per year.")
    theta: Annotated[float, Field(gt=0.0, le=25.0)] = Field(description="Long-run variance.")
    xi: Positive = Field(description="Vol of variance.")
    rho: Correlation = Field(description="Spot–variance correlation.")


class SabrSpec(_Drift):
    """SABR: stochastic α (lognormal vol when beta = 1) with vol of vol `nu`."""

    kind: Literal["sabr"]
    alpha: Positive
    beta: Annotated[float, Field(ge=0.0, le=1.0)]
    rho: Correlation
    nu: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class MertonSpec(_Drift):
    """Merton jump-diffusion: diffusive vol `sigma`, `lam` jumps per year of log size
    N(jump_mean, jump_std²)."""

    kind: Literal["merton"]
    sigma: Annotated[float, Field(ge=0.0, le=5.0, allow_inf_nan=False)]
    lam: Annotated[float, Field(ge=0.0, le=1000.0, allow_inf_nan=False)]
    jump_mean: Annotated[float, Field(ge=-5.0, le=5.0, allow_inf_nan=False)]
    jump_std: Annotated[float, Field(ge=0.0, le=5.0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _some_variance(self) -> Self:
        if self.sigma == 0.0 and self.lam * (self.jump_mean**2 + self.jump_std**2) == 0.0:
            raise ValueError("sigma or the jumps must give the price some variance")
        return self

    @property
    def jump_variance(self) -> float:
        """Variance per year the jumps add, λ·(m² + s²) (vol²)."""
        return self.lam * (self.jump_mean**2 + self.jump_std**2)


class ReplaySpec(Section):
    """Prices replayed from a CSV file (relative paths are relative to the scenario file)."""

    kind: Literal["replay"]
    file: Path
    timestamp_column: str = "timestamp"
    price_column: str = "price"
    symbol_column: str | None = Field(
        default=None, description="When given, only the rows whose symbol is the underlying's."
    )

    @field_validator("file")
    @classmethod
    def _relative_to_the_scenario(cls, path: Path, info: ValidationInfo) -> Path:
        base = (info.context or {}).get("base_dir")
        return Path(base) / path if base is not None and not path.is_absolute() else path


ModelSpec = Annotated[
    GbmSpec | HestonSpec | SabrSpec | MertonSpec | ReplaySpec, Field(discriminator="kind")
]

#: Models whose own state carries the spot–vol dynamics (their default skew stickiness is 0).
STOCHASTIC_VOL_MODELS = frozenset({"heston", "sabr"})


# -- listed chain ------------------------------------------------------------------------------


class MoneynessStrikes(Section):
    """Strikes as multiples of the spot at listing, rounded to `round_to` (currency)."""

    moneyness: list[Annotated[float, Field(gt=0.0, le=10.0)]] = Field(min_length=1, max_length=200)
    round_to: Positive = 1.0


class AbsoluteStrikes(Section):
    """Strikes in currency, the same for every expiry."""

    absolute: list[Annotated[float, Field(gt=0.0, le=1e12)]] = Field(min_length=1, max_length=200)


def _strike_form(value: Any) -> str | None:
    """Which strike form a mapping is: by its `moneyness` or `absolute` key."""
    if isinstance(value, MoneynessStrikes | AbsoluteStrikes):
        return "moneyness" if isinstance(value, MoneynessStrikes) else "absolute"
    if isinstance(value, dict):
        forms = [form for form in ("moneyness", "absolute") if form in value]
        return forms[0] if len(forms) == 1 else None
    return None


class ChainSpec(Section):
    """The listed options of one underlying: expiries × strikes × rights."""

    expiries_days: list[Annotated[int, Field(ge=1, le=3650)]] = Field(
        min_length=1,
        max_length=32,
        description="Calendar days from the start's date; each expires at 21:00 UTC that day.",
    )
    strikes: Annotated[
        Annotated[MoneynessStrikes, Tag("moneyness")] | Annotated[AbsoluteStrikes, Tag("absolute")],
        Discriminator(
            _strike_form,
            custom_error_type="strike_form",
            custom_error_message="give exactly one of moneyness (with round_to) and absolute",
        ),
    ]
    rights: list[OptionRight] = Field(default=[OptionRight.CALL, OptionRight.PUT], min_length=1)
    multiplier: Annotated[float, Field(gt=0.0, le=1e6)] = 100.0
    tick_size: Annotated[float, Field(gt=0.0, le=1e6)] = 0.05
    roll: bool = Field(
        default=True,
        description="List a replacement when an expiry passes, the longest tenor later.",
    )

    @field_validator("expiries_days", "rights")
    @classmethod
    def _distinct(cls, values: list[Any]) -> list[Any]:
        if len(set(values)) != len(values):
            raise ValueError("must not repeat a value")
        return values

    @field_validator("strikes")
    @classmethod
    def _distinct_strikes(
        cls, strikes: MoneynessStrikes | AbsoluteStrikes
    ) -> MoneynessStrikes | AbsoluteStrikes:
        values = strikes.moneyness if isinstance(strikes, MoneynessStrikes) else strikes.absolute
        if len(set(values)) != len(values):
            raise ValueError("must not repeat a strike")
        return strikes


# -- implied-vol surface -----------------------------------------------------------------------


class SurfaceSpec(Section):
    """The base implied-vol surface, SSVI (Gatheral–Jacquier): ATM vols by tenor, the skew,
    and the power-law curvature φ(θ) = η θ^(−γ) (1 + θ)^(γ − 1) with correlation `rho`.

    Give the skew as `atm_skew` (dσ/dk at the money, vol per unit log-moneyness, at
    `skew_tenor_days`) or as `eta` directly, not both. Free of static arbitrage when
    η (1 + |ρ|) ≤ 2 and 0 < γ ≤ ½, which is checked here.
    """

    atm_vol: dict[Annotated[int, Field(ge=1, le=3650)], Vol] = Field(
        min_length=1, description="At-the-money implied vol by tenor in days."
    )
    rho: Annotated[float, Field(gt=-1.0, lt=1.0)] = Field(
        description="Skew direction and asymmetry of the smile (negative for equity indices)."
    )
    gamma: Annotated[float, Field(gt=0.0, le=0.5)] = 0.5
    skew_tenor_days: Annotated[int, Field(ge=1, le=3650)] = 30
    atm_skew: Finite | None = Field(
        default=None, description="dσ/dk at the money at `skew_tenor_days` (e.g. −0.8)."
    )
    eta: Annotated[float, Field(gt=0.0, le=100.0)] | None = None
    skew_stickiness: Annotated[float, Field(ge=-1.0, le=3.0)] | None = Field(
        default=None,
        description="How the ATM vol moves with spot: 0 sticky moneyness, 1 sticky strike "
        "(at the skew tenor). Default 1, or 0 for heston and sabr (their state moves it).",
    )

    @field_validator("atm_vol")
    @classmethod
    def _total_variance_increases(cls, vols: dict[int, float]) -> dict[int, float]:
        tenors = sorted(vols)
        for before, after in itertools.pairwise(tenors):
            if vols[after] ** 2 * after <= vols[before] ** 2 * before:
                raise ValueError(
                    f"total variance must increase with tenor: {before}d at {vols[before]} "
                    f"and {after}d at {vols[after]} is a calendar arbitrage"
                )
        return dict(sorted(vols.items()))

    @field_validator("atm_skew")
    @classmethod
    def _skew_arbitrage_free(cls, skew: float | None, info: ValidationInfo) -> float | None:
        if skew is None:
            return None
        vols, rho = info.data.get("atm_vol"), info.data.get("rho")
        gamma, tenor = info.data.get("gamma"), info.data.get("skew_tenor_days")
        if vols is None or rho is None or gamma is None or tenor is None:
            return skew  # reported on those keys
        if skew == 0.0 or rho == 0.0 or skew * rho < 0.0:
            raise ValueError("must be non-zero with the sign of rho (for rho = 0 give eta)")
        eta = _eta_for(vols, rho, gamma, tenor, skew)
        if eta * (1.0 + abs(rho)) > ssvi.MAX_ETA_ONE_PLUS_RHO:
            raise ValueError(
                f"too steep: it needs eta = {eta:.3g} and eta·(1 + |rho|) = "
                f"{eta * (1.0 + abs(rho)):.3g} > 2 admits butterfly arbitrage"
            )
        return skew

    @field_validator("eta")
    @classmethod
    def _eta_arbitrage_free(cls, eta: float | None, info: ValidationInfo) -> float | None:
        rho = info.data.get("rho")
        if eta is not None and rho is not None:
            if info.data.get("atm_skew") is not None:
                raise ValueError("give atm_skew or eta, not both")
            if eta * (1.0 + abs(rho)) > ssvi.MAX_ETA_ONE_PLUS_RHO:
                raise ValueError(
                    f"eta·(1 + |rho|) = {eta * (1.0 + abs(rho)):.3g} > 2 admits butterfly arbitrage"
                )
        return eta

    @model_validator(mode="after")
    def _skew_given(self) -> Self:
        if self.atm_skew is None and self.eta is None:
            raise ValueError("give atm_skew or eta")
        return self

    def term_structure(self) -> ssvi.AtmTermStructure:
        """The base ATM term structure (tenors in years)."""
        return ssvi.AtmTermStructure([d / 365.0 for d in self.atm_vol], list(self.atm_vol.values()))

    @property
    def resolved_eta(self) -> float:
        """η, given or implied by `atm_skew` at `skew_tenor_days`."""
        if self.eta is not None:
            return self.eta
        assert self.atm_skew is not None
        return _eta_for(self.atm_vol, self.rho, self.gamma, self.skew_tenor_days, self.atm_skew)


def _eta_for(
    vols: dict[int, float], rho: float, gamma: float, tenor_days: int, skew: float
) -> float:
    term = ssvi.AtmTermStructure([d / 365.0 for d in sorted(vols)], [vols[d] for d in sorted(vols)])
    tau = tenor_days / 365.0
    return ssvi.eta_for_skew(skew, tau, float(term.total_variance(tau)), rho, gamma)


# -- underlyings -------------------------------------------------------------------------------


class UnderlyingSpec(Section):
    """One underlying: its price model (or replay), rates, tick interval, chain and surface."""

    symbol: Symbol
    spot: Annotated[float, Field(gt=0.0, le=1e9)] | None = Field(
        default=None,
        description="Start price of a simulated model; a replay starts at its first price.",
    )
    rate: Rate = 0.0
    div: Rate = 0.0
    model: ModelSpec
    tick_interval: PositiveDuration = Field(
        default=5.0, description="Simulated time between ticks (not used by replay)."
    )
    chain: ChainSpec
    surface: SurfaceSpec

    @model_validator(mode="after")
    def _spot_iff_simulated(self) -> Self:
        replay = isinstance(self.model, ReplaySpec)
        if replay and self.spot is not None:
            raise ValueError("spot: a replay starts at its first price; leave spot out")
        if not replay and self.spot is None:
            raise ValueError(f"spot: is required for a {self.model.kind} model")
        return self

    @property
    def drift(self) -> float:
        """Drift of the simulated price per year: the model's `mu`, else rate − div."""
        mu = getattr(self.model, "mu", None)
        return self.rate - self.div if mu is None else mu

    @property
    def skew_stickiness(self) -> float:
        if self.surface.skew_stickiness is not None:
            return self.surface.skew_stickiness
        return 0.0 if self.model.kind in STOCHASTIC_VOL_MODELS else 1.0


# -- events ------------------------------------------------------------------------------------


class _Event(Section):
    at: Duration = Field(description="Offset from the start of the scenario.")
    underlyings: list[Symbol] | None = Field(
        default=None, min_length=1, description="Which underlyings; default all."
    )


class GapEvent(_Event):
    """The spot jumps by `pct` percent at `at`."""

    kind: Literal["gap"]
    pct: Annotated[float, Field(gt=-100.0, le=1000.0, allow_inf_nan=False)]


class VolSpikeEvent(_Event):
    """Vol × `multiplier` at `at`, decaying back with `half_life`; without one, a lasting
    shock to the model's vol state (Heston's variance reverts at its kappa)."""

    kind: Literal["vol_spike"]
    multiplier: Annotated[float, Field(gt=0.0, le=20.0, allow_inf_nan=False)]
    half_life: PositiveDuration | None = None


class LiquidityDroughtEvent(_Event):
    """The venue's depth × `depth_multiplier` from `at` for `duration`."""

    kind: Literal["liquidity_drought"]
    duration: PositiveDuration
    depth_multiplier: Annotated[float, Field(gt=0.0, lt=1.0)]


class AnnouncementEvent(_Event):
    """A scheduled announcement: until it passes, the expiries after it carry `event_vol`² of
    extra total variance (the market prices the move it may cause)."""

    kind: Literal["announcement"]
    name: Annotated[str, Field(min_length=1, max_length=120)]
    event_vol: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.0, description="Standard deviation of the log move priced in (decimal)."
    )


EventSpec = Annotated[
    GapEvent | VolSpikeEvent | LiquidityDroughtEvent | AnnouncementEvent,
    Field(discriminator="kind"),
]


# -- the book ----------------------------------------------------------------------------------


class PositionSpec(Section):
    """One initial position: the underlying itself (no expiry, strike or right), or a listed
    option by tenor, strike (currency, or `moneyness` × the start spot, rounded as the chain
    rounds) and right. `price` per unit defaults to the fair value at the start."""

    underlying: Symbol
    quantity: StrictInt = Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)
    expiry_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    strike: Annotated[float, Field(gt=0.0, le=1e12)] | None = None
    moneyness: Annotated[float, Field(gt=0.0, le=10.0)] | None = None
    right: OptionRight | None = None
    price: Annotated[float, Field(gt=0.0, le=1e12)] | None = None

    @field_validator("quantity")
    @classmethod
    def _non_zero(cls, quantity: int) -> int:
        if quantity == 0:
            raise ValueError("must not be zero")
        return quantity

    @model_validator(mode="after")
    def _option_or_underlying(self) -> Self:
        option_keys = (self.expiry_days, self.right)
        if all(value is None for value in (*option_keys, self.strike, self.moneyness)):
            return self
        if any(value is None for value in option_keys):
            raise ValueError("an option position needs expiry_days and right")
        if (self.strike is None) == (self.moneyness is None):
            raise ValueError("an option position needs exactly one of strike and moneyness")
        return self

    @property
    def is_option(self) -> bool:
        return self.expiry_days is not None


class SizeSpec(Section):
    """Contracts per client trade: geometric with mean `mean` (≥ 1), at most `max`."""

    mean: Annotated[float, Field(ge=1.0, le=1e6)] = 10.0
    max: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] = 100


class ClientFlowSpec(Section):
    """Poisson client trades in the listed options, priced at fair value ± a spread."""

    rate_per_hour: Annotated[float, Field(gt=0.0, le=360_000.0)] = Field(
        description="Trades per hour of simulated time, all underlyings together."
    )
    underlyings: list[Symbol] | None = Field(default=None, min_length=1)
    max_expiry_days: Annotated[float, Field(gt=0.0)] = 90.0
    moneyness: tuple[Positive, Positive] = Field(
        default=(0.9, 1.1), description="Strike / spot range of the options clients trade."
    )
    size: SizeSpec = SizeSpec()
    client_buys_probability: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.5, description="Chance a client buys (the book sells)."
    )
    half_spread_pct: Annotated[float, Field(ge=0.0, le=50.0)] = Field(
        default=1.0, description="The book's edge, in percent of fair value (at least a tick)."
    )
    counterparties: list[Name] = Field(default=["client-1", "client-2", "client-3"], min_length=1)

    @field_validator("moneyness")
    @classmethod
    def _ordered(cls, bounds: tuple[float, float]) -> tuple[float, float]:
        if bounds[0] > bounds[1]:
            raise ValueError("the lower bound is above the upper")
        return bounds


# -- risk limits and budgets -------------------------------------------------------------------

Money = Annotated[float, Field(ge=0.0, le=MAX_MONEY, allow_inf_nan=False)]
"""A non-negative amount of currency (or of a greek), finite."""


class UnderlyingLimitsSpec(Section):
    """Limits of one underlying: the seed of KV `limits/<UND>` (wire `RiskLimits`). Greeks in
    the units of `hedgemesh.quant.book`: delta in units of the underlying, gamma in delta per
    1 currency unit of spot, vega in currency per vol point."""

    max_abs_delta: Money
    max_abs_gamma: Money
    max_abs_dollar_gamma_per_pct: Money | None = Field(
        default=None,
        description="Gamma × spot² / 100 (currency per 1 % move), beside max_abs_gamma: both "
        "bind, and this one compares across underlyings.",
    )
    max_abs_vega_per_vol_point: Money
    max_order_quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] = Field(
        description="Contracts or units per order."
    )
    max_order_notional: Money = Field(description="quantity × price × multiplier per order.")
    daily_cost_budget: Money = Field(description="Expected spread and fees per day.")
    price_collar: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        default=0.05, description="Largest distance of a limit price from fair value (fraction)."
    )
    max_tick_age: Annotated[Duration, Field(gt=0.0, le=86_400.0)] = Field(
        default=30.0, description="Older market data is stale: nothing is hedged on it."
    )

    def risk_limits(self, underlying: str, changed_by: str) -> RiskLimits:
        """The wire value of KV `limits/<underlying>`."""
        values = self.model_dump(exclude={"max_tick_age"})
        return RiskLimits(
            underlying=underlying,
            max_tick_age_s=self.max_tick_age,
            changed_by=changed_by,
            **values,
        )


class FirmLimitsSpec(Section):
    """Desk-wide limits, all underlyings together (currency): the seed of KV `limits/firm`."""

    max_abs_dollar_delta: Money
    max_abs_dollar_gamma_per_pct: Money
    max_abs_vega_per_vol_point: Money
    max_gross_notional_per_cycle: Money

    def firm_limits(self, changed_by: str) -> FirmLimits:
        """The wire value of KV `limits/firm`."""
        return FirmLimits(changed_by=changed_by, **self.model_dump())


class BudgetsSpec(Section):
    """The agents' capital budgets: option premium each may spend per period, re-allocated at
    the end of every period toward the agent that removed the most risk per unit of premium."""

    period: PositiveDuration = Field(default=3600.0, description="Budget period (clock time).")
    agents: dict[Name, Money] = Field(
        min_length=1, max_length=64, description="Premium per period by agent (currency)."
    )
    floor_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.2, description="Each agent keeps at least this fraction of an equal share."
    )
    reallocation_rate: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        default=0.5, description="How far each period moves the budgets toward the target."
    )


class LimitsSpec(Section):
    """Initial risk limits (seeded into KV `limits` with create, so an operator's later change
    is never overwritten) and the agents' budgets."""

    firm: FirmLimitsSpec | None = None
    underlyings: dict[Symbol, UnderlyingLimitsSpec] = Field(default={}, max_length=512)
    budgets: BudgetsSpec | None = None


# -- the scenario ------------------------------------------------------------------------------


class ClockSpec(Section):
    speed: Annotated[float, Field(gt=0.0, le=10_000.0)] = Field(
        default=1.0, description="Simulated seconds per real second (390: a 6.5 h day a minute)."
    )


class ScenarioError(Exception):
    """A scenario that cannot be used: `path` names the key (`underlyings[0].model.kappa`)."""

    def __init__(self, path: str, message: str, *, source: str | None = None) -> None:
        self.path = path
        self.message = message
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{path}: {message}" if path else f"{where}{message}")


class Scenario(Section):
    """A whole scenario: what the market does, what the book holds, what clients trade."""

    version: Literal[1] = 1
    name: Name
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
    start: AwareDatetime | None = Field(
        default=None, description="Start time (UTC); default: the clock's time at start-up."
    )
    horizon: PositiveDuration = Field(
        default=86_400.0, description="How long the scenario is meant to run."
    )
    clock: ClockSpec = ClockSpec()
    underlyings: list[UnderlyingSpec] = Field(min_length=1, max_length=512)
    events: list[EventSpec] = Field(default=[], max_length=1000)
    positions: list[PositionSpec] = Field(default=[], max_length=200_000)
    client_flow: ClientFlowSpec | None = None
    limits: LimitsSpec | None = None

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        symbols = [u.symbol for u in self.underlyings]
        for i, symbol in enumerate(symbols):
            if symbol in symbols[:i]:
                raise ScenarioError(f"underlyings[{i}].symbol", f"{symbol} is listed twice")
        known = set(symbols)

        def check(path: str, names: list[str] | None) -> None:
            for j, name in enumerate(names or ()):
                if name not in known:
                    raise ScenarioError(
                        f"{path}[{j}]", f"unknown underlying {name!r}; known: {sorted(known)}"
                    )

        for i, event in enumerate(self.events):
            check(f"events[{i}].underlyings", event.underlyings)
        for i, position in enumerate(self.positions):
            if position.underlying not in known:
                raise ScenarioError(
                    f"positions[{i}].underlying",
                    f"unknown underlying {position.underlying!r}; known: {sorted(known)}",
                )
            spec = self.underlying(position.underlying)
            if position.expiry_days is not None and (
                position.expiry_days not in spec.chain.expiries_days
            ):
                raise ScenarioError(
                    f"positions[{i}].expiry_days",
                    f"{position.expiry_days} is not a listed tenor of {spec.symbol}: "
                    f"{spec.chain.expiries_days}",
                )
            if position.right is not None and position.right not in spec.chain.rights:
                raise ScenarioError(
                    f"positions[{i}].right", f"{spec.symbol} lists only {spec.chain.rights}"
                )
        if self.client_flow is not None:
            check("client_flow.underlyings", self.client_flow.underlyings)
        if self.limits is not None:
            for name in self.limits.underlyings:
                if name not in known:
                    raise ScenarioError(
                        f"limits.underlyings.{name}",
                        f"unknown underlying {name!r}; known: {sorted(known)}",
                    )
        return self

    def underlying(self, symbol: str) -> UnderlyingSpec:
        for spec in self.underlyings:
            if spec.symbol == symbol:
                return spec
        raise KeyError(f"no underlying {symbol!r} in scenario {self.name!r}")

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(u.symbol for u in self.underlyings)

    def events_for(self, symbol: str) -> list[EventSpec]:
        """The events that apply to one underlying, in time order (stable for equal times)."""
        mine = [e for e in self.events if e.underlyings is None or symbol in e.underlyings]
        return sorted(mine, key=lambda e: e.at)

    def origin(self, now: datetime) -> datetime:
        """When offset 0 is: the scenario's `start`, else `now` (timezone-aware)."""
        if self.start is not None:
            return self.start
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now
