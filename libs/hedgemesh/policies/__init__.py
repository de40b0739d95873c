"""Hedge policies: pure decisions over numpy arrays, written once for the live agents and the
backtester ("one decision, one place").

A policy is a frozen, validated config (`Policy` subclasses, by kind in `POLICIES`) whose
``decide(state) -> Decision`` maps a `HedgeState` of n paths (n = 1 live, 10^5 in a backtest)
to target holdings of its hedge instruments (column 0 the underlying, then its listed
`HedgeOption` s). Per-policy memory (last hedge time and spot) is explicit: `HedgeMemory` in
the state, `remember` after a decision. `hedgemesh.policies.live` is the adapter for one state
built from plain numbers. No I/O, no NATS. Formulas and references: docs/policies.md.
"""

from hedgemesh.policies import live
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
    zakamouline_band,
)
from hedgemesh.policies.gamma import DeltaGamma, DeltaGammaVega, DeltaVega
from hedgemesh.policies.instruments import HedgeOption, roll_due, select, select_listed
from hedgemesh.policies.registry import POLICIES, make
from hedgemesh.policies.state import (
    Decision,
    Exposure,
    HedgeMemory,
    HedgeState,
    OptionSet,
    remember,
)

__all__ = [
    "POLICIES",
    "Decision",
    "DeltaBand",
    "DeltaGamma",
    "DeltaGammaVega",
    "DeltaInterval",
    "DeltaMove",
    "DeltaVega",
    "Exposure",
    "HedgeMemory",
    "HedgeOption",
    "HedgeState",
    "Leland",
    "NoHedge",
    "OptionSet",
    "Policy",
    "PortfolioInsurance",
    "WhalleyWilmott",
    "Zakamouline",
    "live",
    "make",
    "remember",
    "roll_due",
    "select",
    "select_listed",
    "zakamouline_band",
]
