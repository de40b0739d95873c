"""The gamma-agent's decision: pure, no I/O.

Band: |gamma| of the underlying (units of the underlying per 1 currency unit of spot, the book's
`BookRisk.by_underlying.gamma`) above `band_fraction` × the limit `max_abs_gamma` breaches, and
so does dollar gamma per 1 % above `band_fraction` × `max_abs_dollar_gamma_per_pct` when that
limit is set; a hedge brings it back to the edge of ±`target_fraction` × the binding limit
(`RiskLimits.gamma_limit` at spot; on a price-move or timer trigger too, when it is outside
that inner band).

How much gamma: the policies library's `DeltaGamma` with `gamma_band` = the inner band, through
`policies.live.decide` (the backtester runs the same policy), on the book's options at their
surface vols and the listed `policy_tenor_days` at-the-money option (`select_listed`); the
gamma change it decides is the objective. Delta is left to the manager, which hedges the
residual with the underlying: the proposal holds option legs only.

Learned: with the setting (or live parameter) `policy` learned, the checkpoint's
`LearnedPolicy` decides the gamma change instead, through the same `policies.live.decide`, on
the listed option nearest the tenor it was trained on; `LearnedServing` hands the decision to
the band (above) when the checkpoint is missing or fails its checks, or the network answers
with non-finite or out-of-bounds trades or too slowly, and counts why (heartbeats, /v1/agents).

With what: listed options 2–45 days to expiry within one standard deviation of the money
(`policies.selection.eligible`), allocated in whole contracts at the cheapest expected cost
per unit of gamma (`policies.selection.allocate`; cost model in docs/agents.md), each leg at
most the ladder's shown depth and the limits' order size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hedgemesh.agentkit.domain.core import Plan, PlanContext, legs_from
from hedgemesh.agentkit.domain.rules import AgentRules
from hedgemesh.market.book_state import SECONDS_PER_YEAR
from hedgemesh.policies import DeltaGamma, HedgeOption, live, select_listed
from hedgemesh.policies.learned.serving import LearnedServing
from hedgemesh.policies.live import LiveHedge, LiveInput, LiveOption
from hedgemesh.quant.book import BookRisk
from hedgemesh.wire.hedging import Greeks
from hedgemesh.wire.instruments import OptionRight
from hedgemesh.wire.ops import HedgePolicy, PolicyStatus
from hedgemesh.wire.state import RiskLimits

__all__ = ["AGENT", "GammaSpecialist", "book_for_policy"]

AGENT = "gamma-agent"


def book_for_policy(ctx: PlanContext) -> tuple[list[LiveOption], float]:
    """The underlying's book as the live policy adapter takes it: its open options (strike,
    years to expiry from now, right, surface vol, units of the underlying) and its units of
    the underlying itself. Expired options are left out, as `BookState.risk` leaves them."""
    snapshot = ctx.book.snapshot(ctx.underlying)
    if snapshot is None:
        return [], 0.0
    held = [p for p in snapshot.positions if p.quantity != 0]
    options = [p for p in held if p.instrument.is_option]
    underlying = float(sum(p.quantity for p in held if not p.instrument.is_option))
    unit = ctx.book.greeks_per_unit([p.instrument for p in options], ctx.now)
    now_s = ctx.now.timestamp()
    book = []
    for position, vol in zip(options, unit.vol.tolist(), strict=True):
        instrument = position.instrument
        assert instrument.expiry is not None and instrument.strike is not None
        tau = (instrument.expiry.timestamp() - now_s) / SECONDS_PER_YEAR
        if tau > 0.0:
            units = position.quantity * instrument.multiplier
            book.append(
                LiveOption(instrument.strike, tau, instrument.right is OptionRight.CALL, vol, units)
            )
    return book, underlying


@dataclass(frozen=True)
class GammaSpecialist:
    """Gamma per underlying, hedged with shorter-dated listed options (see the module doc)."""

    policy_tenor_days: float = 14.0
    """Tenor of the at-the-money option `DeltaGamma` sizes the gamma change on."""
    agent: str = AGENT
    serving: LearnedServing | None = None
    """The learned policy, run when the rules' `policy` is learned (the band its fallback)."""

    def learning(self, rules: AgentRules) -> bool:
        return rules.policy == HedgePolicy.LEARNED and self.serving is not None

    def policy_status(self, rules: AgentRules) -> PolicyStatus:
        """The policy asked for, the one that decided last, decisions and band fallbacks."""
        serving, asked = self.serving, HedgePolicy(rules.policy)
        if serving is None:
            return PolicyStatus(asked=asked, last=None, decisions=0, fallbacks=0)
        last = serving.last
        return PolicyStatus(
            asked=asked,
            last=None if last is None else HedgePolicy(last.policy),
            decisions=serving.decisions,
            fallbacks=sum(serving.fallbacks.values()),
            reason=None if last is None else last.reason,
            detail="" if last is None else last.detail[:500],
        )

    def breached(self, risk: BookRisk, row: int, limits: RiskLimits, rules: AgentRules) -> bool:
        gamma = float(risk.by_underlying.gamma[row])
        dollar = float(risk.by_underlying.dollar_gamma_per_pct[row])
        dollar_limit = limits.max_abs_dollar_gamma_per_pct
        return abs(gamma) > rules.band_fraction * limits.max_abs_gamma or (
            dollar_limit is not None and abs(dollar) > rules.band_fraction * dollar_limit
        )

    def gamma_change(self, ctx: PlanContext, tenor_days: float) -> float:
        """The gamma change `DeltaGamma` (band = the inner band) decides, sized on the listed
        at-the-money option nearest `tenor_days`; 0 when none is listed."""
        s = ctx.rules
        options = ctx.candidates
        if len(options) == 0:
            return 0.0
        learning = self.learning(s)
        if learning:  # the option the checkpoint was trained to trade, when it is readable
            assert self.serving is not None
            tenor_days = self.serving.hedge_tenor_days or tenor_days
        is_call = bool(options.is_call.any())
        side = np.flatnonzero(options.is_call == is_call)
        time = ctx.now.timestamp() / SECONDS_PER_YEAR
        spec = HedgeOption(tenor_days=tenor_days, is_call=is_call, min_life_days=s.min_tenor_days)
        try:
            pick = select_listed(
                spec,
                ctx.tick.price,
                time,
                options.strike[side],
                time + options.tau_days[side] / 365.0,
            )
        except ValueError:  # nothing lives long enough
            return 0.0
        i = int(side[pick])
        hedge = LiveOption(
            float(options.strike[i]),
            float(options.tau_days[i] / 365.0),
            is_call,
            float(options.unit.vol[i]),
        )
        book, underlying = book_for_policy(ctx)
        limit = ctx.limits.gamma_limit(ctx.tick.price)
        policy = DeltaGamma(hedge=spec, gamma_band=s.target_fraction * limit)
        inp = LiveInput(
            time=time,
            spot=ctx.tick.price,
            rate=ctx.surface.rate,
            div=ctx.surface.div,
            vol=hedge.vol,
            hedges=[LiveHedge(ctx.underlying), LiveHedge(options.instruments[i].symbol, hedge)],
            book_options=book,
            book_underlying=underlying,
        )
        if learning:
            assert self.serving is not None
            decision = self.serving.decide(ctx.underlying, inp, policy).decision
        else:
            decision = live.decide(policy, inp)
        return decision.after.gamma - decision.before.gamma

    def plan(self, ctx: PlanContext) -> Plan | None:
        s = ctx.rules
        wanted = self.gamma_change(ctx, self.policy_tenor_days)
        if wanted == 0.0:
            return None
        options = ctx.candidates
        pool = options.take(options.near_the_money(s.min_tenor_days, s.max_tenor_days, s.max_sd))
        legs, brought = legs_from(ctx, wanted, "gamma", pool)
        if not legs:
            return None
        gamma = float(ctx.risk.by_underlying.gamma[ctx.row])
        limit = ctx.limits.gamma_limit(ctx.tick.price)
        contracts = sum(abs(leg.contracts) for leg in legs)
        reason = (
            f"gamma {gamma:+.4g} {'outside' if ctx.trigger == 'band_breach' else 're-hedged to'}"
            f" ±{s.band_fraction * limit:.4g} ({ctx.trigger}; limit {limit:g}): "
            f"{'buy' if wanted > 0 else 'sell'} {contracts} contracts in {len(legs)} legs "
            f"for {brought.gamma:+.4g} gamma (aim {wanted:+.4g}, to ±"
            f"{s.target_fraction * limit:.4g}); they bring vega {brought.vega_per_vol_point:+.4g}"
            f" per vol point and delta {brought.delta:+.4g}"
        )
        return Plan(
            legs=legs,
            objective=Greeks(delta=0.0, gamma=wanted, vega_per_vol_point=0.0),
            leg_greeks=brought,
            reason=reason,
        )
