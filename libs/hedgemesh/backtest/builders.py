"""From a backtest config's raw sections to the engine's objects, each error at its key.

`hedgemesh.backtest.config` holds the schema (the sections, `BacktestConfig`) and the loader;
it calls these while it validates: `build` (a dataclass of the engine, type-checked by
pydantic), `build_policies`, `build_sweeps` (the frontier), `build_costs`. Every refusal is a
`ConfigError` naming the key (``policies[1].half_width``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from hedgemesh.backtest.costs import COST_MODELS, CompositeCost, CostModel
from hedgemesh.policies import POLICIES, HedgeOption, Policy
from hedgemesh.scenario.loader import error_message, key_path

if TYPE_CHECKING:
    from hedgemesh.backtest.config import SweepSpec

__all__ = [
    "ConfigError",
    "Sweep",
    "build",
    "build_costs",
    "build_policies",
    "build_sweeps",
    "join",
    "key_path_of",
]


class ConfigError(Exception):
    """A config that cannot be run: ``path`` names the key (``policies[1].half_width``).

    Not a ValueError, so that it passes through pydantic's validators unchanged."""

    def __init__(self, path: str, message: str, *, source: str | None = None) -> None:
        self.path, self.message, self.source = path, message, source
        text = f"{path}: {message}" if path else message
        super().__init__(f"{source}: {text}" if source else text)

    def at(self, source: str) -> ConfigError:
        """The same error, said of the file ``source``."""
        return ConfigError(self.path, self.message, source=source)


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A built frontier sweep: the base policy's name and kind, the parameter, and one policy
    per value (names ``base[param=value]``)."""

    base: str
    kind: str
    param: str
    values: tuple[float, ...]
    policies: tuple[Policy, ...]


@cache
def _adapter(factory: type) -> TypeAdapter[Any]:
    return TypeAdapter(factory)


def build(factory: type, params: Mapping[str, Any] | None, at: str) -> Any:
    """``factory(**params)`` for a dataclass of the engine, type-checked by pydantic: an unknown
    key, a wrong type or a value its own checks refuse raises `ConfigError` at that key."""
    params = dict(params or {})
    fields = {f.name: f for f in dataclasses.fields(factory) if f.init}
    for key, value in params.items():
        if key not in fields:
            raise ConfigError(f"{at}.{key}", f"unknown key; known: {', '.join(sorted(fields))}")
        if isinstance(value, bool) and "bool" not in str(fields[key].type):
            raise ConfigError(f"{at}.{key}", f"must be a number, not {str(value).lower()}")
    try:
        return _adapter(factory).validate_python(params)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        path = join(at, key_path_of(first, params))
        if first["type"] != "value_error":
            raise ConfigError(path, error_message(first)) from None
        value = first["input"]
        keys = [k for k in value if k != "name"] if isinstance(value, Mapping) else []
        blamed, message = _blame(error_message(first), keys)
        raise ConfigError(join(path, blamed or ""), message) from None


def key_path_of(error: Any, data: Any) -> str:
    """``paths.model.sigma`` from a pydantic error: the parts of its location that are keys of
    the input (not union tags), and the key a "missing" error is about."""
    loc = error["loc"] if error["type"] == "missing" else (*error["loc"], -1)
    return key_path(loc, data)  # a trailing -1 keeps a union tag from being read as a key


def join(at: str, key: str) -> str:
    if not key:
        return at
    return f"{at}{key}" if key.startswith("[") else f"{at}.{key}"


def _blame(message: str, keys: list[str]) -> tuple[str | None, str]:
    """The key a check's message names first, and the message without its owner prefix
    ("delta_band: half_width must be >= 0" → ("half_width", "must be >= 0"))."""
    found: tuple[int, int, str] | None = None
    for key in keys:
        match = re.search(rf"\b{re.escape(key)}\b", message)
        if match and (found is None or match.start() < found[0]):
            found = (match.start(), match.end(), key)
    if found is None:
        return None, re.sub(r"^\w+:\s+", "", message)
    _, end, key = found
    rest = message[end:].strip()
    if rest.startswith("must"):
        return key, rest
    return key, re.sub(r"^\w+:\s+", "", message)


def _hedge(value: Any, hedges: Mapping[str, HedgeOption], at: str) -> HedgeOption:
    """A hedge option: the name of one in ``hedge_options``, or a mapping of its fields."""
    if isinstance(value, str):
        if value not in hedges:
            known = ", ".join(sorted(hedges)) or "none"
            raise ConfigError(at, f"no hedge option {value!r} in hedge_options (defined: {known})")
        return hedges[value]
    if isinstance(value, Mapping):
        option: HedgeOption = build(HedgeOption, value, at)
        return option
    raise ConfigError(at, "must be the name of a hedge option or a mapping of its fields")


def _policy(
    raw: Any, hedges: Mapping[str, HedgeOption], at: str, base_dir: Path | None = None
) -> Policy:
    if not isinstance(raw, Mapping):
        raise ConfigError(at, "must be a mapping with a kind and its parameters")
    params = dict(raw)
    kind = params.pop("kind", None)
    known = ", ".join(sorted(POLICIES))
    if kind is None:
        raise ConfigError(f"{at}.kind", f"is required; one of {known}")
    if not isinstance(kind, str) or kind not in POLICIES:
        raise ConfigError(f"{at}.kind", f"{kind!r} is not one of {known}")
    factory = POLICIES[kind]
    checkpoint = params.get("checkpoint")
    if isinstance(checkpoint, str) and base_dir is not None and not Path(checkpoint).is_absolute():
        params["checkpoint"] = str(base_dir / checkpoint)  # relative to the config's folder
    if "hedge" in params:
        params["hedge"] = _hedge(params["hedge"], hedges, f"{at}.hedge")
    if "hedges" in params:
        pair = params["hedges"]
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError(f"{at}.hedges", "needs two hedge options (names or mappings)")
        params["hedges"] = tuple(_hedge(h, hedges, f"{at}.hedges[{i}]") for i, h in enumerate(pair))
    policy: Policy = build(factory, params, at)  # type: ignore[arg-type]
    return policy


def build_policies(
    raws: list[dict[str, Any]], hedges: Mapping[str, HedgeOption], base_dir: Path | None = None
) -> dict:
    """The config's policies by name (a learned policy's checkpoint relative to ``base_dir``,
    the config's folder)."""
    built: dict[str, Policy] = {}
    for i, raw in enumerate(raws):
        policy = _policy(raw, hedges, f"policies[{i}]", base_dir)
        if policy.name in built:
            raise ConfigError(
                f"policies[{i}].name", f"{policy.name!r} is taken; give each policy a name"
            )
        built[policy.name] = policy
    return built


def _numeric_fields(policy: Policy) -> list[str]:
    """The parameters of a policy a sweep can vary: those typed as numbers."""
    return [
        f.name
        for f in dataclasses.fields(policy)
        if f.init and re.search(r"\b(float|int)\b", str(f.type))
    ]


def build_sweeps(
    specs: list[SweepSpec], policies: Mapping[str, Policy], hedges: Mapping[str, HedgeOption]
) -> tuple[Sweep, ...]:
    sweeps = []
    names = set(policies)
    for j, spec in enumerate(specs):
        at = f"frontier[{j}]"
        if isinstance(spec.policy, str):
            if spec.policy not in policies:
                raise ConfigError(
                    f"{at}.policy", f"no policy named {spec.policy!r}; listed: {sorted(policies)}"
                )
            base = policies[spec.policy]
        else:
            base = _policy(spec.policy, hedges, f"{at}.policy")
        numeric = _numeric_fields(base)
        if spec.param not in numeric:
            raise ConfigError(
                f"{at}.param",
                f"{base.kind} has no numeric parameter {spec.param!r}; it has {sorted(numeric)}",
            )
        params = {f.name: getattr(base, f.name) for f in dataclasses.fields(base) if f.init}
        variants = []
        for k, value in enumerate(spec.values):
            name = f"{base.name}[{spec.param}={value:g}]"
            if name in names:
                raise ConfigError(f"{at}.values[{k}]", f"gives the policy {name!r} twice")
            names.add(name)
            try:
                variant = build(type(base), {**params, spec.param: value, "name": name}, at)
            except ConfigError as error:
                raise ConfigError(f"{at}.values[{k}]", error.message) from None
            variants.append(variant)
        sweeps.append(Sweep(base.name, base.kind, spec.param, tuple(spec.values), tuple(variants)))
    return tuple(sweeps)


def build_costs(specs: Mapping[str, Mapping[str, Any] | None]) -> CostModel:
    parts = []
    for key, params in specs.items():
        if key not in COST_MODELS:
            raise ConfigError(
                f"costs.{key}", f"unknown cost model; known: {', '.join(sorted(COST_MODELS))}"
            )
        parts.append(build(COST_MODELS[key], params, f"costs.{key}"))
    return CompositeCost(tuple(parts))
