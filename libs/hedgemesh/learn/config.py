"""The training config (YAML) of `hedgemesh train`, as typed, validated data.

    from hedgemesh.learn.config import load_train_config
    config = load_train_config("examples/learned/cao-gbm.yaml")
    config.backtest_config()   # the lab's config: paths, market, book, hedge options, costs

The environment is a backtest config (``backtest``, relative to this file): its path model,
market, book, hedge options and costs are what the policy is trained on, and its own seed and
``n_paths`` are the held-out episodes the policy is judged on (`hedgemesh.learn.report`).
Training and validation episodes come from two streams spawned from this config's ``seed``
(`numpy.random.SeedSequence.spawn`), which no ``default_rng(seed)`` draws: they never are the
held-out ones. Format, key by key: docs/learned.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import Field, PrivateAttr, ValidationError, model_validator

from hedgemesh.backtest.config import BacktestConfig, ConfigError, parse_config
from hedgemesh.policies.learned import spec
from hedgemesh.scenario.loader import StrictLoader, error_message, key_path
from hedgemesh.scenario.model import Name, Positive, Section

__all__ = ["TrainConfig", "load_train_config"]

Count = Annotated[int, Field(ge=64, le=1_000_000)]
Feature = Literal["gamma_trade", "vega_trade", "time_left", "vol"]
assert set(spec.FEATURES) == {"gamma_trade", "vega_trade", "time_left", "vol"}


class ObjectiveSpec(Section):
    """What training maximises on the episode P&L X: ``mean_std`` E[X] − k·std(X); ``cvar``
    −CVaR_level(X); ``entropic`` −(1/λ) log E[e^{−λX}] (λ = ``risk_aversion``, per currency)."""

    kind: Literal["mean_std", "cvar", "entropic"] = "mean_std"
    k: Annotated[float, Field(ge=0.0, le=100.0)] = 1.645
    level: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    risk_aversion: Annotated[float, Field(gt=0.0, le=100.0)] = 0.1


class NetworkSpec(Section):
    """``mlp``: ``layers`` tanh layers of ``hidden`` units on the current inputs; ``gru``: a
    GRU cell of ``hidden`` units carried across decisions (``layers`` unused)."""

    kind: Literal["mlp", "gru"] = "mlp"
    hidden: Annotated[int, Field(ge=2, le=256)] = 32
    layers: Annotated[int, Field(ge=1, le=4)] = 2


class EpisodesSpec(Section):
    """Episodes to train on, to validate on (early stopping), and to judge on (held out: the
    backtest config's paths, default its ``n_paths``)."""

    train: Count = 32_768
    validation: Count = 16_384
    held_out: Count | None = None


class OptimiserSpec(Section):
    """Adam on mini-batches; stop after ``patience`` epochs without a better validation
    objective (by more than ``min_delta``), or at ``max_epochs``; keep the best epoch."""

    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 3e-3
    batch: Annotated[int, Field(ge=16, le=1_000_000)] = 4096
    max_epochs: Annotated[int, Field(ge=1, le=10_000)] = 100
    patience: Annotated[int, Field(ge=1, le=1000)] = 8
    min_delta: Annotated[float, Field(ge=0.0)] = 0.0
    threads: Annotated[int, Field(ge=1, le=256)] = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"


class TrainConfig(Section):
    """A training run: the environment, what the policy sees and does, how it learns."""

    version: Literal[1] = 1
    name: Name | None = None
    description: str = ""
    backtest: Path = Field(description="The backtest config, relative to this file.")
    hedge: str = Field(description="The ladder hedge option (a name in its hedge_options).")
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
    episodes: EpisodesSpec = EpisodesSpec()
    objective: ObjectiveSpec = ObjectiveSpec()
    network: NetworkSpec = NetworkSpec()
    head: Literal["band", "fraction"] = "band"
    inputs: list[Feature] = Field(default=["gamma_trade", "time_left"], min_length=1)
    scale: Positive = Field(default=100.0, description="Units of the underlying per lot.")
    band_grid: list[Annotated[float, Field(ge=0.0, allow_inf_nan=False)]] = Field(
        default=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 25, 30, 40],
        min_length=1,
        max_length=200,
        description="Gamma bands (units per currency) tried for the tuned band.",
    )
    fraction_grid: list[Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
        min_length=1,
        max_length=200,
        description="Fractions of the gamma-neutral trade tried for the tuned fixed ratio.",
    )
    costs: dict[str, dict[str, Any] | None] | None = Field(
        default=None,
        description="Cost models replacing the backtest config's (training and held out).",
    )
    references: dict[str, float] = Field(
        default={}, description="Published scores to print beside (mean − k·std)."
    )
    optimiser: OptimiserSpec = OptimiserSpec()

    _base_dir: Path | None = PrivateAttr(default=None)
    _text: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _inputs(self) -> Self:
        if len(set(self.inputs)) != len(self.inputs):
            raise ValueError("inputs: an input is listed twice")
        return self

    def backtest_path(self) -> Path:
        base = self._base_dir
        return (
            self.backtest if self.backtest.is_absolute() or base is None else base / self.backtest
        )

    def backtest_config(self) -> BacktestConfig:
        """The environment: the backtest config with its policies and frontier left out (they
        may name this very checkpoint), its costs replaced by ``costs`` when given
        (ConfigError at ``backtest`` or ``costs``)."""
        path = self.backtest_path()
        key = "backtest"
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=StrictLoader)
            if not isinstance(data, dict):
                raise ConfigError("", "the top level must be a mapping of keys")
            data["policies"] = [{"kind": "no_hedge"}]
            data.pop("frontier", None)
            data.setdefault("name", re.sub(r"[^A-Za-z0-9_\-]", "-", path.stem)[:48])
            if self.costs is not None:
                data["costs"], key = self.costs, "costs"
            return parse_config(
                yaml.safe_dump(data), base_dir=path.resolve().parent, source=str(path)
            )
        except FileNotFoundError:
            raise ConfigError("backtest", f"no such file: {path}") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ConfigError("backtest", f"cannot read {path}: {error}") from None
        except ConfigError as error:
            raise ConfigError(key, str(error)) from None

    def digest(self) -> str:
        """SHA-256 of this config's text and of the environment it trains on (the backtest
        config as validated, its policies left out): the manifest's config hash."""
        environment = self.backtest_config().model_dump(mode="json", exclude={"name"})
        text = self._text + "\n---\n" + json.dumps(environment, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_train_config(path: str | Path, *, seed: int | None = None) -> TrainConfig:
    """Read and validate a training config (``seed`` overrides its own); `ConfigError` names
    the file and the key of the first problem."""
    file = Path(path)
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=StrictLoader)
    except FileNotFoundError:
        raise ConfigError("", "no such file", source=source) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(
            "", f"cannot read it: {' '.join(str(error).split())}", source=source
        ) from None
    if not isinstance(data, dict):
        raise ConfigError("", "the top level must be a mapping of keys", source=source)
    if "name" not in data and re.fullmatch(r"[A-Za-z0-9_\-]{1,48}", file.stem):
        data["name"] = file.stem
    if seed is not None:
        data["seed"] = seed
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        loc = first["loc"] if first["type"] == "missing" else (*first["loc"], -1)
        raise ConfigError(key_path(loc, data), error_message(first), source=source) from None
    config._base_dir = file.resolve().parent
    config._text = text
    try:
        config.backtest_config()
    except ConfigError as error:
        raise error.at(source) from None
    return config
