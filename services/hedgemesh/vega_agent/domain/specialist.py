"""The vega-agent's decision: pure, no I/O.

Bands: the limit is `max_abs_vega_per_vol_point` of the underlying (currency per vol point).
Each expiry bucket of `BookRisk.by_bucket` (edges in days, `bucket_edges_days`) and the total
breach when their |vega| exceeds `band_fraction` × the limit; a hedge brings a breached
bucket back to the edge of ±`target_fraction` × the limit (`policies.selection.
vega_bucket_changes`, the policies' `into_band`). When the total is still outside its band
after the buckets' own hedges, the bucket holding `vega_tenor_days` (60–90 days by default;
or the nearest bucket that has options to trade) takes the rest, as far as its own band
allows. A bucket with no eligible listed option (the shortest, when every option in it is
closer than `min_tenor_days`) keeps its vega and only counts in the total. On a price-move
or timer trigger the same runs with the inner band as the trigger (anything outside ±target
is brought back).

With what: a bucket's vega is hedged with listed options whose expiry lies in that bucket
(the vega of an option stays in its bucket), at least `min_tenor_days` (20) out and within
0.75 standard deviations of the money, allocated in whole contracts at the cheapest expected
cost per unit of vega (`policies.selection.allocate`), legs shared out over the buckets up to
`max_legs`. The proposal reports the gamma the legs bring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hedgemesh.agentkit.domain.core import Leg, Plan, PlanContext
from hedgemesh.agentkit.domain.rules import AgentRules
from hedgemesh.policies.base import into_band
from hedgemesh.policies.selection import vega_bucket_changes
from hedgemesh.quant.book import BookRisk
from hedgemesh.wire.hedging import Greeks, HedgeTrigger
from hedgemesh.wire.state import RiskLimits

__all__ = ["AGENT", "VegaSpecialist", "bucket_changes"]

AGENT = "vega-agent"


def bucket_changes(
    vega: NDArray[np.float64],
    trigger: float,
    target: float,
    preferred: int,
    hedgeable: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """The vega change per bucket (see the module doc): breached `hedgeable` buckets back to
    ±target; then, if the total is still past ±trigger, the rest into the hedgeable bucket
    nearest `preferred` as far as that bucket stays within ±trigger. A bucket with no listed
    option to hedge it (`hedgeable` false) keeps its vega: the total makes up for it."""
    change = np.where(hedgeable, vega_bucket_changes(vega, trigger, target), 0.0)
    total = float(vega.sum() + change.sum())
    if abs(total) > trigger and hedgeable.any():
        inside, _ = into_band(np.array([total]), np.zeros(1), np.array([target]))
        rest = float(inside[0]) - total
        candidates = np.flatnonzero(hedgeable)
        b = int(candidates[np.argmin(np.abs(candidates - preferred))])
        held = float(vega[b] + change[b])
        room = float(np.clip(held + rest, -trigger, trigger)) - held
        if room * rest > 0.0:
            change[b] += room
    return change


@dataclass(frozen=True)
class VegaSpecialist:
    """Vega per expiry bucket, hedged with longer-dated listed options (see the module doc)."""

    vega_tenor_days: float = 75.0
    agent: str = AGENT

    def breached(self, risk: BookRisk, row: int, limits: RiskLimits, rules: AgentRules) -> bool:
        vega = risk.by_bucket.vega_per_point[row]
        band = rules.band_fraction * limits.max_abs_vega_per_vol_point
        return bool(np.any(np.abs(vega) > band) or abs(float(vega.sum())) > band)

    def plan(self, ctx: PlanContext) -> Plan | None:
        s = ctx.rules
        limit = ctx.limits.max_abs_vega_per_vol_point
        target = s.target_fraction * limit
        trigger = s.band_fraction * limit if ctx.trigger is HedgeTrigger.BAND_BREACH else target
        vega = np.asarray(ctx.risk.by_bucket.vega_per_point[ctx.row], np.float64)
        edges = np.asarray(ctx.risk.bucket_edges_days)
        preferred = int(np.searchsorted(edges, self.vega_tenor_days, side="right"))
        options = ctx.candidates
        near = options.near_the_money(s.min_tenor_days, s.max_tenor_days, s.max_sd)
        bucket_of = np.searchsorted(edges, options.tau_days, side="right")
        hedgeable = np.bincount(bucket_of[near], minlength=vega.size)[: vega.size] > 0
        change = bucket_changes(vega, trigger, target, preferred, hedgeable)
        if not np.any(change):
            return None
        legs: list[Leg] = []
        brought = Greeks(delta=0.0, gamma=0.0, vega_per_vol_point=0.0)
        labels = ctx.risk.bucket_labels
        notes: list[str] = []
        for b in np.flatnonzero(change):  # shortest bucket first
            pool = options.take(near & (bucket_of == b))
            allocation = ctx.allocate(float(change[b]), "vega_per_point", pool,
                                      s.max_legs - len(legs))  # fmt: skip
            bucket_legs, got = ctx.legs_of(allocation, pool)
            if not bucket_legs:
                continue
            brought = _plus(brought, got)
            legs.extend(bucket_legs)
            notes.append(
                f"{labels[b]} {vega[b]:+,.0f} → {vega[b] + got.vega_per_vol_point:+,.0f} "
                f"({sum(abs(leg.contracts) for leg in bucket_legs)} contracts)"
            )
        if not legs:
            return None
        reason = (
            f"vega per vol point outside ±{trigger:,.0f} ({ctx.trigger}; limit {limit:,.0f}, "
            f"total {vega.sum():+,.0f}): "
            + "; ".join(notes)
            + f"; the legs bring gamma {brought.gamma:+.4g} and delta {brought.delta:+.4g}"
        )
        return Plan(
            legs=tuple(legs),
            objective=Greeks(delta=0.0, gamma=0.0, vega_per_vol_point=float(change.sum())),
            leg_greeks=brought,
            reason=reason,
        )


def _plus(a: Greeks, b: Greeks) -> Greeks:
    return Greeks(
        delta=a.delta + b.delta,
        gamma=a.gamma + b.gamma,
        vega_per_vol_point=a.vega_per_vol_point + b.vega_per_vol_point,
    )
