"""Load a scenario file: strict YAML, validation with key paths, and the checks that need more
than one key (replay files readable, initial positions listed)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hedgemesh.scenario.model import ReplaySpec, Scenario, ScenarioError

#: The scenario the project ships and the services run unless told otherwise.
DEFAULT_SCENARIO = Path(__file__).resolve().parents[3] / "scenarios" / "default.yaml"

#: Largest scenario file read (bytes): a scenario is configuration, not data.
#: A firm's book of 100,000 positions is about 8 MiB of YAML.
MAX_SCENARIO_BYTES = 16 * 1024 * 1024


class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML that refuses a key given twice in one mapping (plain YAML keeps the last).
    Shared by every YAML file hedgemesh reads (scenarios, backtest configs)."""


def _mapping_without_duplicates(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark
            )
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _mapping_without_duplicates,  # type: ignore[arg-type]
)


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and check a scenario file; raises `ScenarioError` naming the bad key."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise ScenarioError("", f"file of {size} bytes is over {MAX_SCENARIO_BYTES}")
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("", "no such file", source=str(file)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError("", f"cannot read it: {error}", source=str(file)) from None
    return parse_scenario(text, base_dir=file.resolve().parent, source=str(file))


def parse_scenario(text: str, *, base_dir: Path | None = None, source: str = "<text>") -> Scenario:
    """Validate scenario YAML `text`; relative replay paths are taken from `base_dir`."""
    try:
        data = yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ScenarioError("", f"not valid YAML: {_yaml_problem(error)}", source=source) from None
    if not isinstance(data, dict):
        raise ScenarioError("", "the top level must be a mapping of keys", source=source)
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as error:
        raise _first_error(error, data, source) from None
    except ScenarioError as error:
        raise ScenarioError(error.path, error.message, source=source) from None
    try:
        check_scenario(scenario)
    except ScenarioError as error:
        raise ScenarioError(error.path, error.message, source=source) from None
    return scenario


def _yaml_problem(error: yaml.YAMLError) -> str:
    """One line: what is wrong and where (line and column count from 1)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(error).split())


def check_scenario(scenario: Scenario) -> None:
    """The checks that need the market domain: every replay file reads, every initial option
    position is a listed instrument. Raises `ScenarioError`."""
    from hedgemesh.market.chain import ListedChain
    from hedgemesh.market.replay import ReplayError, read_ticks

    start_spots: dict[str, float] = {}
    for i, spec in enumerate(scenario.underlyings):
        if isinstance(spec.model, ReplaySpec):
            try:
                start_spots[spec.symbol] = float(read_ticks(spec.model, spec.symbol).prices[0])
            except ReplayError as error:
                raise ScenarioError(f"underlyings[{i}].model.file", str(error)) from None
        else:
            assert spec.spot is not None
            start_spots[spec.symbol] = spec.spot
    chains: dict[str, ListedChain] = {}  # one listing per underlying, not one per position
    for i, position in enumerate(scenario.positions):
        if not position.is_option or position.expiry_days is None:
            continue
        spec = scenario.underlying(position.underlying)
        chain = chains.get(spec.symbol) or chains.setdefault(
            spec.symbol, ListedChain.first_listing(spec, None, start_spots[spec.symbol])
        )
        strike = chain.strike_for(position.strike, position.moneyness, start_spots[spec.symbol])
        listed = chain.strikes_of_tenor(position.expiry_days)
        if strike not in listed:
            key = "strike" if position.strike is not None else "moneyness"
            raise ScenarioError(
                f"positions[{i}].{key}",
                f"strike {strike:g} is not listed for {spec.symbol} at {position.expiry_days} "
                f"days; listed: {', '.join(f'{k:g}' for k in listed)}",
            )


# -- error messages ----------------------------------------------------------------------------

_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def error_message(error: Mapping[str, Any]) -> str:
    """A pydantic error as a short phrase for a person (`must be > 0`, `is required`)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        return f"must be {sign} {ctx.get(key)}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"takes at most {ctx.get('max_length')} item(s)"
    if kind == "union_tag_invalid":
        tag, expected = ctx.get("tag"), ctx.get("expected_tags")
        return f"{ctx.get('discriminator')} {tag!r} is not one of {expected}"
    if kind == "union_tag_not_found":
        return f"needs {ctx.get('discriminator')}"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "finite_number":
        return "must be a finite number"
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


def key_path(loc: Sequence[int | str], data: Any) -> str:
    """`underlyings[0].model.kappa` from a pydantic location, dropping the parts that are not
    keys of the input (union members, discriminator tags)."""
    parts: list[str] = []
    node = data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            parts.append(f"[{part}]")
            node = node[part]
        elif isinstance(node, dict) and part in node:
            parts.append(f".{part}")
            node = node[part]
        elif last and not isinstance(part, int) and part not in ("[key]",):
            parts.append(f".{part}")
        elif part == "[key]":
            parts.append(" (key)")
    return "".join(parts).lstrip(".")


def _first_error(error: ValidationError, data: Any, source: str) -> ScenarioError:
    errors = error.errors(include_url=False)
    lines = [f"{key_path(e['loc'], data) or '(top level)'}: {error_message(e)}" for e in errors]
    first = errors[0]
    result = ScenarioError(key_path(first["loc"], data), error_message(first), source=source)
    if len(lines) > 1:
        result.args = (f"{source}: " + "; ".join(lines),)
    return result
