"""The policies by name, for the config loader: ``make("whalley_wilmott", cost=0.001)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from hedgemesh.policies.base import Policy
from hedgemesh.policies.delta import (
    DeltaBand,
    DeltaInterval,
    DeltaMove,
    Leland,
    NoHedge,
    PortfolioInsurance,
    WhalleyWilmott,
    Zakamouline,
)
from hedgemesh.policies.gamma import DeltaGamma, DeltaGammaVega, DeltaVega
from hedgemesh.policies.instruments import HedgeOption
from hedgemesh.policies.learned import LearnedPolicy

__all__ = ["POLICIES", "make"]

POLICIES: dict[str, Callable[..., Policy]] = {
    cls.kind: cls
    for cls in (
        NoHedge,
        DeltaInterval,
        DeltaMove,
        DeltaBand,
        WhalleyWilmott,
        Zakamouline,
        Leland,
        DeltaGamma,
        DeltaVega,
        DeltaGammaVega,
        PortfolioInsurance,
        LearnedPolicy,
    )
}
"""Policy kind → factory (the config class itself); keyword arguments are its parameters."""


def _hedge_option(value: Any) -> HedgeOption:
    if isinstance(value, HedgeOption):
        return value
    if isinstance(value, Mapping):
        return HedgeOption(**value)
    raise TypeError(f"a hedge option is a mapping of HedgeOption fields, got {value!r}")


def make(kind: str, params: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Policy:
    """The policy ``kind`` with ``params`` (and keyword arguments), from plain data: a mapping
    given for ``hedge`` (a list of two for ``hedges``) becomes a `HedgeOption`. Unknown kinds
    and parameters raise ValueError naming what is known."""
    factory = POLICIES.get(kind)
    if factory is None:
        raise ValueError(f"unknown policy {kind!r}; known: {', '.join(sorted(POLICIES))}")
    values = {**(params or {}), **kwargs}
    known = {f.name for f in fields(factory)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{kind}: unknown parameter(s) {unknown}; known: {sorted(known)}")
    if "hedge" in values:
        values["hedge"] = _hedge_option(values["hedge"])
    if "hedges" in values:
        values["hedges"] = tuple(_hedge_option(v) for v in values["hedges"])
    return factory(**values)
