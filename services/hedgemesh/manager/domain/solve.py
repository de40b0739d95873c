"""The joint solve of one hedge cycle: how much of each proposal to take, and the underlying.

One underlying's cycle is a linear programme (`scipy.optimize.linprog`, HiGHS). Notation:
proposals i = 1..P with leg quantities Q[i, k] in instruments k = 0..K−1 (k = 0 is the
underlying itself); each instrument's greeks per unit G[k] = (delta, gamma, vega per vol
point, then the vega of each expiry bucket: an option's vega counts in its own bucket too);
the book's greeks before the cycle B; the net order per instrument n[k].

Variables: a scale s[i] ∈ [0, u[i]] per proposal (u from the checks before the solve: 0 for a
refused proposal, else 1), the net orders n[k] = p[k] − m[k] with p, m ≥ 0, and slacks.

    n[k] = Σ_i s[i] Q[i, k]                      for every option k ≥ 1 (netting)
    n[0] free                                    (the underlying closes the residual delta)
    r = B + Σ_k n[k] G[k]                        (the book's greeks after the cycle)

    minimise   Σ_k c[k] (p[k] + m[k])                                 expected spread and fees
             + λ Σ_{g = γ, ν} max(0, |r_g| − τ L_g) / L_g             residual risk, in limits
             + M Σ_g max(0, |r_g| − L_g) / L_g                        breaches of the underlying's
             + M Σ_g max(0, |F_g| − FL_g) / FL_g                      and the firm's limits
    subject to p[k], m[k] ≤ qmax[k]                                   order size and notional
               Σ_k (p[k] + m[k]) price[k] mult[k] ≤ gross notional cap
               Σ_k c[k] (p[k] + m[k]) ≤ the day's cost budget left
               Σ_{i of agent a} premium[i] s[i] ≤ agent a's budget left
               |r_g| ≤ |B_g| for every greek                          (REDUCING only)

with L = (delta band, gamma limit, vega limit, each bucket's vega limit), F = the firm's
dollar delta, dollar gamma per 1 % and vega (the other underlyings' plus this one's r scaled by
(S, S²/100, 1)), τ a small dead zone (risk within τ of flat counts as flat, so rounding noise
never scales a proposal), λ the risk weight (currency per whole limit of risk) and M ≫ λ the
breach weight. Limits are soft so that the programme is always feasible (s = 0, n = 0 is), yet
breached only where nothing affordable avoids it. The bucket vegas carry no risk term either,
only their limits: moving vega between buckets is the vega agent's call, within the limits.
Delta carries no risk term: the underlying
moves it into the band at the least cost (`Solution.net[0]`); the caller then takes it to its
target inside the band.

`attribute` says why a proposal got less than its bound: the first constraint, in a fixed
order, that is active and that more of it would push further.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

from hedgemesh.wire.codes import ReasonCode

__all__ = ["GREEKS", "Instruments", "Problem", "Solution", "attribute", "solve"]

GREEKS = ("delta", "gamma", "vega_per_vol_point")
"""Order of the greek axes in every array here."""
DELTA, GAMMA, VEGA = 0, 1, 2
#: The firm's limits cover the first three greeks; the rest are vega per expiry bucket.
FIRM_GREEKS = 3
#: Greeks with a risk term; the bucket vegas have their limits only (the agents shape them).
RISK_GREEKS = (GAMMA, VEGA)


def limit_code(g: int) -> ReasonCode:
    """The reason code of greek axis `g` (bucket vegas are vega)."""
    return (
        (ReasonCode.DELTA_LIMIT, ReasonCode.GAMMA_LIMIT)[g] if g < VEGA else ReasonCode.VEGA_LIMIT
    )


#: Tolerance on scale factors and on activity of constraints (relative).
TOL = 1e-7

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Instruments:
    """The instruments of a cycle; row 0 is the underlying. Per unit (one contract or one
    unit of the underlying): `greeks` (K, G): `GREEKS`, then vega per expiry bucket; `price`
    the fair value per unit of the underlying, `multiplier`, `cost` the expected spread and
    fees (currency), `max_quantity` the largest order (units), `cap_reason` which limit sets it.
    """

    symbols: tuple[str, ...]
    greeks: FloatArray
    price: FloatArray
    multiplier: FloatArray
    cost: FloatArray
    max_quantity: FloatArray
    cap_reason: tuple[ReasonCode, ...]

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def notional(self) -> FloatArray:
        """Notional of one unit: price × multiplier (currency)."""
        return self.price * self.multiplier


@dataclass(frozen=True, eq=False)
class Problem:
    """One cycle of one underlying; see the module doc for the symbols."""

    book: FloatArray
    """B (G,): the book's greeks before the cycle (orders in flight included)."""
    limits: FloatArray
    """L (G,): (delta band, gamma limit, vega limit, each bucket's vega limit)."""
    instruments: Instruments
    legs: FloatArray
    """Q (P, K): each proposal's quantity per instrument (column 0: the underlying)."""
    upper: FloatArray
    """u (P,): each proposal's largest scale."""
    premium: FloatArray
    """(P,): option premium of each proposal at scale 1 (currency)."""
    agents: tuple[str, ...]
    """(P,): each proposal's agent."""
    budget_left: dict[str, float] = field(default_factory=dict)
    """Premium each agent may still spend (missing: no budget constraint)."""
    max_gross_notional: float = math.inf
    max_cost: float = math.inf
    """Expected cost the underlying may still spend today (currency)."""
    firm_other: FloatArray | None = None
    """The firm's (dollar delta, dollar gamma per 1 %, vega) without this underlying."""
    firm_limits: FloatArray | None = None
    firm_factors: FloatArray = field(default_factory=lambda: np.ones(3))
    """This underlying's greeks × these = its part of the firm's figures: (S, S²/100, 1)."""
    reducing: bool = False
    risk_weight: float = 1e6
    breach_weight: float = 1e9
    dead_zone: float = 0.01

    @property
    def n_greeks(self) -> int:
        return len(self.book)

    def __post_init__(self) -> None:
        k = len(self.instruments)
        ng = self.instruments.greeks.shape[1]
        if len(self.book) != ng or len(self.limits) != ng or ng < FIRM_GREEKS:
            raise ValueError(f"book, limits and greeks must have the same {ng} (≥ 3) greeks")
        if self.legs.shape != (len(self.upper), k) or len(self.premium) != len(self.upper):
            raise ValueError(f"legs must be (P, {k}) with P = len(upper) = len(premium)")
        if len(self.agents) != len(self.upper):
            raise ValueError("one agent per proposal")


@dataclass(frozen=True, eq=False)
class Solution:
    """The solved cycle: `scale` (P,), `net` (K,) continuous net orders (net[0]: the
    underlying), `after` the greeks after, the solver's status and objective (currency)."""

    scale: FloatArray
    net: FloatArray
    after: FloatArray
    status: int
    message: str
    objective: float

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass
class _Layout:
    """Column offsets of the LP's variables."""

    p: int
    k: int
    g: int

    @property
    def s(self) -> slice:
        return slice(0, self.p)

    @property
    def plus(self) -> slice:
        return slice(self.p, self.p + self.k)

    @property
    def minus(self) -> slice:
        return slice(self.p + self.k, self.p + 2 * self.k)

    @property
    def risk(self) -> int:  # a_g for every greek but delta
        return self.p + 2 * self.k

    @property
    def breach(self) -> int:  # b_g for every greek
        return self.risk + len(RISK_GREEKS)

    @property
    def firm(self) -> int:  # f_delta, f_gamma, f_vega
        return self.breach + self.g

    @property
    def size(self) -> int:
        return self.firm + FIRM_GREEKS


def _scale(value: float) -> float:
    """A limit used as a denominator: a zero limit normalises by 1 instead."""
    return value if value > 0 else 1.0


def solve(problem: Problem, *, shortcut: bool = True) -> Solution:
    """Solve the cycle's programme (module doc); never raises for a feasible input.

    `shortcut`: first try `at_bounds`, which proves in microseconds the common case where
    every proposal is best taken whole; the LP runs only when it cannot.
    """
    if shortcut:
        quick = at_bounds(problem)
        if quick is not None:
            return quick
    inst = problem.instruments
    P, K = problem.legs.shape
    NG = problem.n_greeks
    lay = _Layout(P, K, NG)
    n = lay.size
    G = inst.greeks  # (K, 3)
    lam, big = problem.risk_weight, problem.breach_weight
    L = np.array([_scale(x) for x in problem.limits])

    # Objective, divided by the risk weight so that coefficients stay near 1.
    c = np.zeros(n)
    c[lay.plus] = c[lay.minus] = inst.cost / lam
    c[lay.risk : lay.risk + len(RISK_GREEKS)] = 1.0 / L[list(RISK_GREEKS)]
    c[lay.breach : lay.breach + NG] = (big / lam) / L
    firm = problem.firm_other is not None and problem.firm_limits is not None
    if firm:
        assert problem.firm_limits is not None
        FL = np.array([_scale(x) for x in problem.firm_limits])
        c[lay.firm : lay.firm + FIRM_GREEKS] = (big / lam) / FL

    rows: list[FloatArray] = []
    rhs: list[float] = []

    def greek_row(g: int, sign: float, factor: float = 1.0) -> FloatArray:
        """sign × factor × (r_g − B_g) as a row over the variables."""
        row = np.zeros(n)
        row[lay.plus] = sign * factor * G[:, g]
        row[lay.minus] = -sign * factor * G[:, g]
        return row

    B = problem.book
    for j, g in enumerate(RISK_GREEKS):
        slack = lay.risk + j
        dead = problem.dead_zone * problem.limits[g]
        for sign in (1.0, -1.0):  # ±r_g − a_g ≤ τL
            row = greek_row(g, sign)
            row[slack] = -1.0
            rows.append(row)
            rhs.append(dead - sign * B[g])
    for g in range(NG):  # ±r_g − b_g ≤ L_g
        for sign in (1.0, -1.0):
            row = greek_row(g, sign)
            row[lay.breach + g] = -1.0
            rows.append(row)
            rhs.append(problem.limits[g] - sign * B[g])
    if firm:
        assert problem.firm_other is not None and problem.firm_limits is not None
        for g in range(FIRM_GREEKS):  # ±F_g − f_g ≤ FL_g
            phi = problem.firm_factors[g]
            for sign in (1.0, -1.0):
                row = greek_row(g, sign, phi)
                row[lay.firm + g] = -1.0
                rows.append(row)
                rhs.append(problem.firm_limits[g] - sign * (problem.firm_other[g] + phi * B[g]))
    if problem.reducing:
        for g in range(NG):  # ±r_g ≤ |B_g|
            for sign in (1.0, -1.0):
                rows.append(greek_row(g, sign))
                rhs.append(abs(B[g]) - sign * B[g])
    if math.isfinite(problem.max_gross_notional):
        row = np.zeros(n)
        row[lay.plus] = row[lay.minus] = inst.notional
        rows.append(row)
        rhs.append(max(problem.max_gross_notional, 0.0))
    if math.isfinite(problem.max_cost):
        row = np.zeros(n)
        row[lay.plus] = row[lay.minus] = inst.cost
        rows.append(row)
        rhs.append(max(problem.max_cost, 0.0))
    for agent, left in sorted(problem.budget_left.items()):
        mine = np.array([a == agent for a in problem.agents])
        if mine.any() and math.isfinite(left):
            row = np.zeros(n)
            row[lay.s] = np.where(mine, problem.premium, 0.0)
            rows.append(row)
            rhs.append(max(left, 0.0))

    # Netting: Σ_i s_i Q_ik − p_k + m_k = 0 for the options (k ≥ 1).
    a_eq = np.zeros((K - 1, n))
    if K > 1:
        a_eq[:, lay.s] = problem.legs[:, 1:].T
        idx = np.arange(1, K)
        a_eq[idx - 1, lay.p + idx] = -1.0
        a_eq[idx - 1, lay.p + K + idx] = 1.0

    bounds = (
        [(0.0, float(u)) for u in problem.upper]
        + [(0.0, float(q)) for q in inst.max_quantity] * 2
        + [(0.0, None)] * (lay.size - lay.risk)
    )
    result = linprog(
        c,
        A_ub=np.array(rows) if rows else None,
        b_ub=np.array(rhs) if rhs else None,
        A_eq=a_eq if K > 1 else None,
        b_eq=np.zeros(K - 1) if K > 1 else None,
        bounds=bounds,
        method="highs",
    )
    if result.status != 0 or result.x is None:
        zero_net = np.zeros(K)
        return Solution(np.zeros(P), zero_net, B.copy(), int(result.status), result.message, 0.0)
    x = result.x
    scale = np.clip(x[lay.s], 0.0, problem.upper)
    net = x[lay.plus] - x[lay.minus]
    after = B + net @ G
    return Solution(scale, net, after, 0, result.message, float(result.fun) * lam)


def at_bounds(problem: Problem) -> Solution | None:
    """The solution with every scale at its bound, when that is provably optimal; else None.

    Taking every proposal up to its bound u (and the underlying to the delta band's edge) is
    optimal when, there, no constraint is active, no term of the objective sits on a kink (a
    net order at zero, a greek at flat, at the dead zone, at a limit), and the objective's
    gradient in every scale is negative: the programme is convex, so a point where moving any
    scale down only costs more is the minimum. Anything else goes to the LP.
    """
    inst = problem.instruments
    u = problem.upper
    if not (u > 0).any():
        return None
    G = inst.greeks
    B = problem.book
    net = u @ problem.legs
    net[0] = 0.0
    pre = B + net @ G
    band = problem.limits[DELTA]
    g0 = G[0, DELTA]
    h = 0.0
    if abs(pre[DELTA]) > band:
        if g0 <= 0:
            return None
        h = (math.copysign(band, pre[DELTA]) - pre[DELTA]) / g0
    net[0] = h
    after = B + net @ G

    def near(value: float, point: float) -> bool:
        return abs(value - point) <= TOL * max(abs(point), 1.0)

    def inside(value: float, cap: float) -> bool:  # strictly within a cap (inf: none)
        return math.isinf(cap) or value < cap - TOL * max(abs(cap), 1.0)

    used = u > 0
    moved: NDArray[np.bool_] = np.asarray((np.abs(problem.legs[used]) > 0).any(axis=0))
    moved[0] = h != 0.0
    if any(near(float(x), 0.0) for x in net[moved]) or not all(
        inside(abs(float(net[k])), float(inst.max_quantity[k])) or net[k] == 0.0
        for k in range(len(inst))
    ):
        return None
    if not inside(float(inst.notional @ np.abs(net)), problem.max_gross_notional):
        return None
    if not inside(float(inst.cost @ np.abs(net)), problem.max_cost):
        return None
    for agent, left in problem.budget_left.items():
        mine = np.array([a == agent for a in problem.agents])
        if (problem.premium[mine] @ u[mine]) > 0 and not inside(
            float(problem.premium[mine] @ u[mine]), left
        ):
            return None
    if problem.reducing and any(not inside(abs(after[g]), abs(B[g])) for g in range(len(B))):
        return None
    if h == 0.0 and not inside(abs(pre[DELTA]), band):
        return None
    lam, big = problem.risk_weight, problem.breach_weight
    L = np.array([_scale(x) for x in problem.limits])
    weight = np.zeros(len(B))  # d objective / d greek, away from kinks
    objective = float(inst.cost @ np.abs(net))
    for g in range(1, len(B)):
        r, dead, lim = after[g], problem.dead_zone * problem.limits[g], problem.limits[g]
        if near(abs(r), lim) or (g in RISK_GREEKS and (near(abs(r), 0.0) or near(abs(r), dead))):
            return None
        if g in RISK_GREEKS and abs(r) > dead:
            weight[g] += lam / L[g] * math.copysign(1.0, r)
            objective += lam * (abs(r) - dead) / L[g]
        if abs(r) > lim:
            weight[g] += big / L[g] * math.copysign(1.0, r)
            objective += big * (abs(r) - lim) / L[g]
    if problem.firm_other is not None and problem.firm_limits is not None:
        firm = problem.firm_other + problem.firm_factors * after[:FIRM_GREEKS]
        for g in range(FIRM_GREEKS):
            FL = problem.firm_limits[g]
            if near(abs(firm[g]), FL) or (g == DELTA and abs(firm[g]) > FL):
                return None
            if abs(firm[g]) > FL:
                slope = big / _scale(FL) * problem.firm_factors[g] * math.copysign(1.0, firm[g])
                weight[g] += slope  # (only the first three axes: delta, gamma, vega)
                objective += big * (abs(firm[g]) - FL) / _scale(FL)
    d = problem.legs[:, 1:] @ G[1:]  # greeks per unit of each scale, before the underlying
    gradient = problem.legs[:, 1:] @ (inst.cost[1:] * np.sign(net[1:])) + d @ weight
    if h != 0.0:  # the underlying follows: d|h|/ds = −sign(h) d_delta / g0
        gradient += inst.cost[0] * (-math.copysign(1.0, h)) * d[:, DELTA] / g0
    if (gradient[used] >= -TOL * max(lam, 1.0) * 1e-6).any():
        return None
    return Solution(u.copy(), net, after, 0, "every proposal at its bound", objective)


def attribute(problem: Problem, solution: Solution, i: int) -> ReasonCode:
    """Why proposal `i` got less than its bound `upper[i]` (call only when it did): the first
    active constraint that more of it would push further, in the order budget, day's cost,
    order size or notional, gross notional, reducing-only, limits (underlying, then firm);
    else NETTED_OUT when alone it would have been taken further, RISK_NOT_REDUCED otherwise."""
    inst = problem.instruments
    q = problem.legs[i].copy()
    net = solution.net
    G = inst.greeks
    d = q[1:] @ G[1:]  # the change of greeks per unit of scale, before the underlying
    room0 = inst.max_quantity[0] - abs(net[0])
    if room0 > TOL * max(inst.max_quantity[0], 1.0):  # the underlying absorbs the delta
        q[0] = -d[DELTA] / G[0, DELTA] if G[0, DELTA] else 0.0
    else:
        q[0] = 0.0
    d = q @ G

    def active(value: float, cap: float) -> bool:
        return math.isfinite(cap) and value >= cap - TOL * max(abs(cap), 1.0)

    agent = problem.agents[i]
    if problem.premium[i] > 0 and agent in problem.budget_left:
        mine = np.array([a == agent for a in problem.agents])
        if active(float(problem.premium[mine] @ solution.scale[mine]), problem.budget_left[agent]):
            return ReasonCode.BUDGET_EXHAUSTED
    grows = np.sign(net) * q > 0  # more of it would enlarge these orders
    grows |= (np.abs(net) <= TOL) & (q != 0)
    enlarges = bool(grows.any())
    if enlarges and active(float(inst.cost @ np.abs(net)), problem.max_cost):
        return ReasonCode.BUDGET_EXHAUSTED
    for k in np.flatnonzero(grows):
        if active(abs(net[k]), inst.max_quantity[k]):
            return inst.cap_reason[k]
    if enlarges and active(float(inst.notional @ np.abs(net)), problem.max_gross_notional):
        return ReasonCode.NOTIONAL_EXCEEDS_MAXIMUM
    after = solution.after
    pushes = np.sign(after) * d > 0
    if problem.reducing:
        for g in np.flatnonzero(pushes):
            if active(abs(after[g]), abs(problem.book[g])):
                return ReasonCode.TRADING_REDUCING
    for g in np.flatnonzero(pushes):
        if active(abs(after[g]), problem.limits[g]):
            return limit_code(int(g))
    if problem.firm_other is not None and problem.firm_limits is not None:
        firm = problem.firm_other + problem.firm_factors * after[:FIRM_GREEKS]
        pushed = np.sign(firm) * problem.firm_factors * d[:FIRM_GREEKS] > 0
        for g in np.flatnonzero(pushed):
            if active(abs(firm[g]), problem.firm_limits[g]):
                return limit_code(int(g))
    if len(problem.upper) > 1:
        alone_upper = np.where(np.arange(len(problem.upper)) == i, problem.upper, 0.0)
        alone = solve(replace(problem, upper=alone_upper))
        if alone.ok and alone.scale[i] > solution.scale[i] + 1e-6:
            return ReasonCode.NETTED_OUT
    return ReasonCode.RISK_NOT_REDUCED
