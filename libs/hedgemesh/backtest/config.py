"""The backtest config file (YAML) as typed, validated data, and its loader.

    from hedgemesh.backtest import load_config
    config = load_config("examples/backtest/hull-delta.yaml", n_paths=2_000)
    config.built_policies()          # {name: Policy}, the objects the engine runs

A config says which paths (a model, or windows of a CSV price history), which market (rate,
dividend yield, the vol options are priced at), which book, which hedge options, costs and
policies, which band-width sweeps make the cost-versus-risk frontier, and the metrics and plot
options. The format, key by key, is in docs/backtest.md.

This module is the schema (the sections, `BacktestConfig`) and the loader; the engine's objects
are built by `hedgemesh.backtest.builders`. Loading refuses unknown keys, wrong types and values
out of range, and names the key of the first problem in a `ConfigError`
(``policies[1].half_width: must be finite and >= 0.0, got -1.0``). Policies, cost models and
hedge options are built while loading, through the same classes the engine runs
(`hedgemesh.policies.POLICIES`, `hedgemesh.backtest.costs.COST_MODELS`, `HedgeOption`), so their
own checks apply and are reported at the key; a CSV history is read while loading, so a bad
file is reported at ``paths.model.file``.

Units: days are calendar days (ACT/365, as `hedgemesh.quant.bsm`); rates, dividend yields and
vols are decimals per year (0.05 is 5 %); quantities are units of the underlying (− written).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from hedgemesh.backtest.books import (
    Book,
    OptionPosition,
    PoissonBook,
    StaticBook,
    insured_portfolio,
)
from hedgemesh.backtest.builders import (
    ConfigError,
    Sweep,
    build,
    build_costs,
    build_policies,
    build_sweeps,
    join,
    key_path_of,
)
from hedgemesh.backtest.costs import CompositeCost, CostModel
from hedgemesh.policies import HedgeOption, Policy
from hedgemesh.quant.bsm import DAYS_PER_YEAR
from hedgemesh.quant.history import HistoricalPrices, PriceFileError, load_prices_csv
from hedgemesh.quant.paths import PathModel, make_model
from hedgemesh.quant.surface import VolSurface
from hedgemesh.quant.svi import SviParams
from hedgemesh.scenario.loader import StrictLoader, error_message
from hedgemesh.scenario.model import (
    Finite,
    GbmSpec,
    HestonSpec,
    MertonSpec,
    Name,
    Positive,
    Rate,
    SabrSpec,
    Section,
)

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_PATH_POINTS",
    "BacktestConfig",
    "ConfigError",
    "Sweep",
    "load_config",
    "parse_config",
]

#: Largest config file read (bytes): a config is configuration, not data.
MAX_CONFIG_BYTES = 1024 * 1024
#: Most spot values one run simulates, n_paths × (steps + 1) (about 400 MB of float64).
MAX_PATH_POINTS = 50_000_000
#: Most paths in one run.
MAX_PATHS = 1_000_000

Days = Annotated[float, Field(gt=0.0, le=3650.0, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


# -- paths -------------------------------------------------------------------------------------


class CsvSpec(Section):
    """Windows of a historical price series: ``steps`` rows each, every ``stride`` rows."""

    kind: Literal["csv"]
    file: Path = Field(description="CSV file, relative to the config file.")
    date_column: str = "date"
    price_column: str | None = None
    stride: Annotated[int, Field(ge=1, le=100_000)] = 1
    rebase: Positive | None = Field(
        default=None, description="Scale each window to start at this price (currency)."
    )


ModelSpec = Annotated[
    GbmSpec | HestonSpec | SabrSpec | MertonSpec | CsvSpec, Field(discriminator="kind")
]


class GapSpec(Section):
    """Every price from ``at_days`` on times (1 + ``move``): a gap no hedge can trade through."""

    at_days: Days
    move: Annotated[float, Field(gt=-1.0, le=10.0, allow_inf_nan=False)]


class PathsSpec(Section):
    """Where the spot paths come from, and their time grid."""

    model: ModelSpec
    s0: Annotated[float, Field(gt=0.0, le=1e9)] | None = None
    horizon_days: Days | None = None
    steps: Annotated[int, Field(ge=1, le=100_000)] | None = None
    dt_days: Days | None = None
    antithetic: bool = False
    gap: GapSpec | None = None

    @model_validator(mode="after")
    def _grid(self) -> Self:
        if isinstance(self.model, CsvSpec):
            for key in ("s0", "horizon_days"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key}: a csv history gives it; leave {key} out")
            if self.steps is None:
                raise ValueError("steps: is required for a csv history (the window length)")
            if self.antithetic:
                raise ValueError("antithetic: a csv history has no shocks to negate")
            return self
        if self.s0 is None:
            raise ValueError(f"s0: is required for a {self.model.kind} model")
        if self.horizon_days is None:
            raise ValueError(f"horizon_days: is required for a {self.model.kind} model")
        if self.steps is not None and self.dt_days is not None:
            raise ValueError("dt_days: give steps or dt_days, not both")
        if self.steps is None:
            dt = self.dt_days or 1.0
            n = self.horizon_days / dt
            if abs(n - round(n)) > 1e-9 * max(n, 1.0) or round(n) < 1:
                key = "dt_days" if self.dt_days is not None else "horizon_days"
                raise ValueError(
                    f"{key}: {self.horizon_days:g} days is not a whole number of {dt:g}-day "
                    f"steps ({n:.4g}); give steps instead"
                )
        return self

    @property
    def is_history(self) -> bool:
        return isinstance(self.model, CsvSpec)

    def simulated_grid(self) -> tuple[int, float]:
        """(steps, dt in years) of a simulated model."""
        assert self.horizon_days is not None
        if self.steps is not None:
            return self.steps, self.horizon_days / self.steps / DAYS_PER_YEAR
        dt_days = self.dt_days or 1.0
        return round(self.horizon_days / dt_days), dt_days / DAYS_PER_YEAR


# -- market ------------------------------------------------------------------------------------


class SviSliceSpec(Section):
    """Raw SVI total variance w(k) = a + b(ρ(k − m) + √((k − m)² + σ²)) at one expiry."""

    expiry_days: Days
    a: Finite
    b: Finite
    rho: Finite
    m: Finite
    sigma: Finite


class SurfaceVolSpec(Section):
    """A fixed implied-vol surface of raw SVI slices, read sticky in moneyness."""

    svi: list[SviSliceSpec] = Field(min_length=1, max_length=32)


class HaganSpec(Section):
    """Where Hagan's formula is read: the strike (currency)."""

    strike: Annotated[float, Field(gt=0.0, le=1e12, allow_inf_nan=False)]


class HaganVolSpec(Section):
    """One implied vol per path and step, Hagan's SABR vol at a fixed strike for the time left
    to the paths' end, for every option (Cao et al.'s SABR setup; a sabr model only)."""

    hagan: HaganSpec


class MarketSpec(Section):
    """Rates and the vol options are priced at: a number, ``path`` (the paths' own vol: SABR's
    α, Heston's √v), ``heston`` (Heston's term structure) or an SVI surface. Default: GBM's
    sigma, Merton's total vol, Heston's term structure, SABR's α; required for csv."""

    rate: Rate = 0.0
    div: Rate = 0.0
    vol: (
        Annotated[float, Field(ge=0.0, le=5.0, allow_inf_nan=False)]
        | Literal["path", "heston"]
        | SurfaceVolSpec
        | HaganVolSpec
        | None
    ) = None

    @field_validator("vol", mode="before")
    @classmethod
    def _vol_word(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in ("path", "heston"):
            raise ValueError(
                f"{value!r} is not a vol: give a number, 'path', 'heston', {{svi: [...]}} "
                "or {hagan: {strike: K}}"
            )
        return value


# -- the book ----------------------------------------------------------------------------------


class OptionSpec(Section):
    """A European option: ``quantity`` units of the underlying (− written), a strike in
    currency or ``moneyness`` × each path's first spot, life in days from the start."""

    quantity: Finite
    expiry_days: Days
    strike: Annotated[float, Field(gt=0.0, le=1e12)] | None = None
    moneyness: Annotated[float, Field(gt=0.0, le=10.0)] | None = None
    is_call: bool = True

    @model_validator(mode="after")
    def _one_strike(self) -> Self:
        if self.quantity == 0.0:
            raise ValueError("quantity: must not be zero")
        if (self.strike is None) == (self.moneyness is None):
            raise ValueError("strike: give a strike or a moneyness, one of the two")
        return self

    def position(self) -> OptionPosition:
        return OptionPosition(
            quantity=self.quantity,
            expiry=self.expiry_days / DAYS_PER_YEAR,
            strike=self.strike,
            moneyness=self.moneyness,
            is_call=self.is_call,
        )


class OptionBookSpec(OptionSpec):
    """One option."""

    kind: Literal["option"]

    def book(self, seed: int) -> Book:
        return StaticBook(options=(self.position(),))


class PositionsBookSpec(Section):
    """Options (and units of the underlying) all held from the start."""

    kind: Literal["positions"]
    options: list[OptionSpec] = Field(default=[], max_length=1000)
    underlying: Finite = 0.0

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.options and self.underlying == 0.0:
            raise ValueError("options: the book holds nothing")
        return self

    def book(self, seed: int) -> Book:
        return StaticBook(
            options=tuple(o.position() for o in self.options), underlying=self.underlying
        )


class PoissonBookSpec(Section):
    """Client trades arriving at random (Poisson) times on top of ``initial`` options."""

    kind: Literal["poisson"]
    trades_per_year: Annotated[float, Field(ge=0.0, le=100_000.0)]
    tenors_days: list[Days] = Field(default=[30.0, 60.0, 90.0], min_length=1)
    moneyness: tuple[Positive, Positive] = (0.9, 1.1)
    call_probability: Probability = 0.5
    sell_probability: Probability = 0.7
    sizes: list[Positive] = Field(default=[100.0], min_length=1)
    initial: list[OptionSpec] = Field(default=[], max_length=1000)
    underlying: Finite = 0.0
    seed: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="Seed of the trades; default the config's seed."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.moneyness[0] > self.moneyness[1]:
            raise ValueError("moneyness: the lower bound is above the upper")
        return self

    def book(self, seed: int) -> Book:
        return PoissonBook(
            trades_per_year=self.trades_per_year,
            tenors_days=tuple(self.tenors_days),
            moneyness=self.moneyness,
            call_probability=self.call_probability,
            sell_probability=self.sell_probability,
            sizes=tuple(self.sizes),
            initial=StaticBook(
                options=tuple(o.position() for o in self.initial), underlying=self.underlying
            ),
            seed=seed if self.seed is None else self.seed,
        )


class InsuredBookSpec(Section):
    """What a portfolio insurer owes: ``units`` shares, each with a put at ``strike``."""

    kind: Literal["insured_portfolio"]
    units: Annotated[float, Field(gt=0.0, le=1e12)]
    strike: Annotated[float, Field(gt=0.0, le=1e12)]
    expiry_days: Days

    def book(self, seed: int) -> Book:
        return insured_portfolio(
            units=self.units, strike=self.strike, expiry=self.expiry_days / DAYS_PER_YEAR
        )


BookSpec = Annotated[
    OptionBookSpec | PositionsBookSpec | PoissonBookSpec | InsuredBookSpec,
    Field(discriminator="kind"),
]


# -- frontier, metrics, plots ------------------------------------------------------------------


class SweepSpec(Section):
    """One policy run at several values of one parameter (a band width, a risk aversion, an
    interval): the points of the cost-versus-risk frontier."""

    policy: str | dict[str, Any] = Field(
        description="A listed policy's name, or a policy mapping (kind and parameters)."
    )
    param: str
    values: list[Finite] = Field(min_length=2, max_length=50)


class MetricsSpec(Section):
    """Options of the figures: k of mean − k·std, and the VaR/CVaR levels (95 % and 99 % are
    always reported)."""

    k: Annotated[float, Field(ge=0.0, le=100.0)] = 1.0
    levels: list[Annotated[float, Field(gt=0.0, lt=1.0)]] = Field(
        default=[0.95, 0.99], min_length=1, max_length=10
    )

    def all_levels(self) -> tuple[float, ...]:
        return tuple(sorted({0.95, 0.99, *self.levels}))


class PlotsSpec(Section):
    """Which PNG plots to write and how."""

    enabled: bool = True
    sample_path: Annotated[int, Field(ge=0)] = 0
    bins: Annotated[int, Field(ge=10, le=400)] = 60
    currency: Annotated[str, Field(min_length=1, max_length=8)] = "USD"
    """Named on every money axis (the paths' prices are in it)."""


# -- the config --------------------------------------------------------------------------------


class BacktestConfig(Section):
    """A whole backtest: paths, market, book, hedge options, costs, policies, frontier sweeps,
    metrics and plots (docs/backtest.md)."""

    version: Literal[1] = 1
    name: Name | None = Field(default=None, description="A label; default the file's stem.")
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
    n_paths: Annotated[int, Field(ge=2, le=MAX_PATHS)] | None = Field(
        default=None, description="Paths (simulated: required; csv: at most this many windows)."
    )
    paths: PathsSpec
    market: MarketSpec = MarketSpec()
    book: BookSpec
    hedge_options: dict[Name, dict[str, Any]] = Field(default={}, max_length=50)
    costs: dict[str, dict[str, Any] | None] = Field(default={}, max_length=10)
    policies: list[dict[str, Any]] = Field(min_length=1, max_length=50)
    frontier: list[SweepSpec] = Field(default=[], max_length=10)
    metrics: MetricsSpec = MetricsSpec()
    plots: PlotsSpec = PlotsSpec()

    _base_dir: Path | None = PrivateAttr(default=None)
    _prices: HistoricalPrices | None = PrivateAttr(default=None)
    _policies: dict[str, Policy] = PrivateAttr(default_factory=dict)
    _sweeps: tuple[Sweep, ...] = PrivateAttr(default=())
    _costs: CostModel = PrivateAttr(default_factory=CompositeCost)

    def model_post_init(self, context: Any) -> None:
        base = (context or {}).get("base_dir") if isinstance(context, Mapping) else None
        self._base_dir = None if base is None else Path(base)
        hedges = {
            name: build(HedgeOption, params, f"hedge_options.{name}")
            for name, params in self.hedge_options.items()
        }
        self._policies = build_policies(self.policies, hedges, self._base_dir)
        self._sweeps = build_sweeps(self.frontier, self._policies, hedges)
        self._costs = build_costs(self.costs)
        if isinstance(self.paths.model, CsvSpec):
            self._prices = self._read_prices(self.paths.model)
        self._check_sizes()
        self._check_vol()

    # -- what the runner uses ----------------------------------------------------------------

    def built_policies(self) -> dict[str, Policy]:
        """The listed policies by name, in the config's order."""
        return dict(self._policies)

    def sweeps(self) -> tuple[Sweep, ...]:
        return self._sweeps

    def cost_model(self) -> CostModel:
        return self._costs

    def prices(self) -> HistoricalPrices | None:
        """The CSV history (None for a simulated model)."""
        return self._prices

    def path_model(self) -> PathModel | None:
        """The simulated model with its drift (``mu``, default rate − div); None for csv."""
        spec = self.paths.model
        if isinstance(spec, CsvSpec):
            return None
        params = spec.model_dump(exclude={"kind", "mu"})
        mu = self.market.rate - self.market.div if spec.mu is None else spec.mu
        try:
            return make_model(spec.kind, mu=mu, **params)
        except ValueError as error:
            raise ConfigError("paths.model", str(error)) from None

    def grid(self) -> tuple[int, float]:
        """(steps, dt in years) of every path."""
        if self._prices is not None:
            assert self.paths.steps is not None
            return self.paths.steps, self._prices.dt
        return self.paths.simulated_grid()

    def path_count(self) -> int:
        """Paths the run has: n_paths, or the csv windows (at most n_paths)."""
        if self._prices is None:
            assert self.n_paths is not None
            return self.n_paths
        assert self.paths.steps is not None
        model = self.paths.model
        assert isinstance(model, CsvSpec)
        windows = (len(self._prices) - 1 - self.paths.steps) // model.stride + 1
        return windows if self.n_paths is None else min(windows, self.n_paths)

    def gap_step(self) -> int | None:
        """The step the gap happens at (the nearest to ``at_days``), or None."""
        gap = self.paths.gap
        if gap is None:
            return None
        _, dt = self.grid()
        return round(gap.at_days / (dt * DAYS_PER_YEAR))

    def surface(self) -> VolSurface | None:
        """The SVI surface of ``market.vol`` (None when the vol is not a surface)."""
        vol = self.market.vol
        if not isinstance(vol, SurfaceVolSpec):
            return None
        params = [
            build(SviParams, s.model_dump(exclude={"expiry_days"}), f"market.vol.svi[{i}]")
            for i, s in enumerate(vol.svi)
        ]
        expiries = [s.expiry_days / DAYS_PER_YEAR for s in vol.svi]
        try:
            surface = VolSurface(expiries, params, spot=1.0)  # read in moneyness: no forward
        except ValueError as error:
            raise ConfigError("market.vol.svi", str(error)) from None
        report = surface.check_arbitrage()
        if not report.ok:
            raise ConfigError("market.vol.svi", f"admits static arbitrage: {report.describe()}")
        return surface

    def with_overrides(self, *, n_paths: int | None = None, seed: int | None = None) -> Self:
        """The same config with another n_paths or seed (validated again)."""
        data = self.model_dump(mode="python", exclude_unset=True)
        if n_paths is not None:
            data["n_paths"] = n_paths
        if seed is not None:
            data["seed"] = seed
        return _validate(type(self), data, self._base_dir)

    def resolve(self, path: Path) -> Path:
        """A path of the config (a csv file) relative to the config's folder."""
        return path if path.is_absolute() or self._base_dir is None else self._base_dir / path

    # -- checks that need more than one key --------------------------------------------------

    def _read_prices(self, spec: CsvSpec) -> HistoricalPrices:
        dt = None if self.paths.dt_days is None else self.paths.dt_days / DAYS_PER_YEAR
        try:
            prices = load_prices_csv(
                self.resolve(spec.file), spec.date_column, spec.price_column, dt=dt
            )
        except FileNotFoundError:
            raise ConfigError("paths.model.file", f"no such file: {spec.file}") from None
        except (PriceFileError, OSError, UnicodeDecodeError) as error:
            raise ConfigError("paths.model.file", str(error)) from None
        steps = self.paths.steps
        assert steps is not None
        if steps >= len(prices):
            raise ConfigError(
                "paths.steps",
                f"a window of {steps} steps needs {steps + 1} prices; the file has {len(prices)}",
            )
        return prices

    def _check_sizes(self) -> None:
        if self._prices is None and self.n_paths is None:
            raise ConfigError("n_paths", f"is required for a {self.paths.model.kind} model")
        n = self.path_count()
        steps, _ = self.grid()
        if n < 2:
            raise ConfigError("n_paths", f"needs at least 2 paths, the history gives {n}")
        if n * (steps + 1) > MAX_PATH_POINTS:
            raise ConfigError(
                "n_paths",
                f"{n} paths of {steps} steps is over {MAX_PATH_POINTS:,} spot values; "
                "use fewer paths or steps",
            )
        if self.paths.antithetic and n % 2:
            raise ConfigError("n_paths", f"must be even with antithetic paths, got {n}")
        if self.plots.enabled and self.plots.sample_path >= n:
            raise ConfigError("plots.sample_path", f"must be below the {n} paths")
        step = self.gap_step()
        if step is not None and not 1 <= step <= steps:
            raise ConfigError("paths.gap.at_days", f"falls at step {step}, outside 1..{steps}")

    def _check_vol(self) -> None:
        vol, kind = self.market.vol, self.paths.model.kind
        if vol is None and kind == "csv":
            raise ConfigError("market.vol", "is required for a csv history (e.g. 0.2)")
        if vol == "path" and kind not in ("heston", "sabr"):
            raise ConfigError("market.vol", f"'path' needs a heston or sabr model, not {kind}")
        if isinstance(vol, HaganVolSpec) and kind != "sabr":
            raise ConfigError("market.vol", f"'hagan' needs a sabr model, not {kind}")
        if vol == "heston" and kind != "heston":
            raise ConfigError("market.vol", f"'heston' needs a heston model, not {kind}")
        if vol is None and isinstance(self.paths.model, SabrSpec) and self.paths.model.beta < 1:
            raise ConfigError(
                "market.vol", "is required for sabr with beta < 1 (its alpha is no lognormal vol)"
            )
        self.surface()


# -- loading -----------------------------------------------------------------------------------


def load_config(
    path: str | Path, *, n_paths: int | None = None, seed: int | None = None
) -> BacktestConfig:
    """Read and validate a config file (``n_paths`` and ``seed`` override the file's); raises
    `ConfigError` naming the file and the bad key. Relative csv files are read from the
    config's folder."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                "", f"file of {size} bytes is over {MAX_CONFIG_BYTES}", source=str(file)
            )
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("", "no such file", source=str(file)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError("", f"cannot read it: {error}", source=str(file)) from None
    return parse_config(
        text,
        base_dir=file.resolve().parent,
        source=str(file),
        name=file.stem,
        n_paths=n_paths,
        seed=seed,
    )


def parse_config(
    text: str,
    *,
    base_dir: Path | None = None,
    source: str = "<text>",
    name: str | None = None,
    n_paths: int | None = None,
    seed: int | None = None,
) -> BacktestConfig:
    """Validate config YAML ``text``; ``name`` is the default name, ``n_paths`` and ``seed``
    override the text's."""
    try:
        data = yaml.load(text, Loader=StrictLoader)  # a SafeLoader that refuses repeated keys
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or " ".join(str(error).split())
        raise ConfigError("", f"not valid YAML: {problem}{where}", source=source) from None
    if not isinstance(data, dict):
        raise ConfigError("", "the top level must be a mapping of keys", source=source)
    if name is not None and "name" not in data and re.fullmatch(r"[A-Za-z0-9_\-]{1,48}", name):
        data["name"] = name
    for key, value in (("n_paths", n_paths), ("seed", seed)):
        if value is not None:
            data[key] = value
    try:
        return _validate(BacktestConfig, data, base_dir)
    except ConfigError as error:
        raise error.at(source) from None


def _validate(cls: type[BacktestConfig], data: dict[str, Any], base_dir: Path | None) -> Any:
    try:
        return cls.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        path, message = key_path_of(first, data), error_message(first)
        inner = re.match(r"^([a-z_0-9]+): (.*)$", message, flags=re.DOTALL)
        if inner and first["type"] == "value_error":  # a section's check naming its own key
            path, message = join(path, inner[1]) if path else inner[1], inner[2]
        raise ConfigError(path, message) from None
